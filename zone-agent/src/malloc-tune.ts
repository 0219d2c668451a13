/**
 * Fixes glibc's mmap threshold for this process (`--malloc-mmap-threshold`, native addon
 * `native/malloc-tune.c`, compiled by `build.ts`): large response buffers are then mmapped and given back on
 * free instead of staying in the heap arenas. At 2,000 proxies with 1.3 MB of configuration each, the agent's
 * RSS after its cold start went from 3.2 GB to 1.1 GB with it (README, Performance, xDS). Without the addon
 * (not built, not glibc) the process runs with glibc's defaults, and says so.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * Where the compiled addon is, seen from this module: the source (`src/`) and the bundle's entries (`dist/*.mjs`)
 * are one level below `zone-agent/`, the bundle's chunks (`dist/chunks/`) two.
 */
const CANDIDATES = ['../native/build/malloc-tune.node', '../../native/build/malloc-tune.node'];

/** Sets the threshold (bytes; 0 leaves glibc's own); says whether it did, and why not, for the start-up log. */
export function tuneMalloc(bytes: number): { applied: boolean; note: string } {
  const not = (why: string) => ({ applied: false, note: `mmap threshold not set: ${why}` });
  if (bytes === 0) return not("--malloc-mmap-threshold 0 keeps glibc's dynamic one");
  if (process.platform !== 'linux') return not(`glibc's setting, and this is ${process.platform}`);
  const file = CANDIDATES.map((c) => fileURLToPath(new URL(c, import.meta.url))).find((f) => existsSync(f));
  if (!file) return not('zone-agent/native/build/malloc-tune.node is not built (zone-agent/build.ts compiles it)');
  try {
    const native = createRequire(import.meta.url)(file) as { setMmapThreshold(bytes: number): boolean };
    return native.setMmapThreshold(bytes) ? { applied: true, note: `mmap threshold ${bytes} bytes` } : not('mallopt refused it');
  } catch (err) {
    return not(`${file} does not load (${(err as Error).message})`);
  }
}
