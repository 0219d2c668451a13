/**
 * The tiny JSONPath subset descriptors use for tag maps (`$.networking.inbound[*].tags`): dotted fields and
 * `[*]` over arrays. Visits every object found at the path; missing parts simply match nothing.
 */
export function forEachAtPath(root: unknown, path: string, visit: (obj: Record<string, unknown>) => void): void {
  const steps = path
    .replace(/^\$\.?/, '')
    .split('.')
    .flatMap((seg) => (seg.endsWith('[*]') ? [seg.slice(0, -3), '*'] : [seg]))
    .filter((s) => s !== '');
  const walk = (node: unknown, i: number) => {
    if (node === null || typeof node !== 'object') return;
    if (i === steps.length) {
      if (!Array.isArray(node)) visit(node as Record<string, unknown>);
      return;
    }
    const step = steps[i]!;
    if (step === '*') {
      if (Array.isArray(node)) for (const item of node) walk(item, i + 1);
      return;
    }
    walk((node as Record<string, unknown>)[step], i + 1);
  };
  walk(root, 0);
}
