/**
 * Kuma v2.14.3's own test data as test cases (`test/fixtures/kuma-v2.14.3/`, see its README):
 * - API-server cases: `<case>.input.yaml` starts with action lines `#<path> <status> [method=X]`, then the
 *   resources the store holds before the first request (Kuma's universal YAML, `---`-separated); request
 *   bodies and expected bodies are `<case>[_NN].request.json` / `<case>[_NN].golden.json` (`_NN` when the case
 *   has more than one action), as `pkg/api-server/api_server_suite_test.go` reads them.
 * - Validator cases: `validators/<Kind>.json`, extracted from Kuma's validator tests by `extract.ts`.
 * - `not-applicable.json`: Kuma cases left out, each with the reason.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const KUMA_FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'kuma-v2.14.3');

export interface ApiAction {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** The JSON body sent (PUT/POST), as text. */
  readonly request?: string;
  /** The expected body as text, or undefined when Kuma expects an empty body. */
  readonly golden?: string;
}

export interface ApiCase {
  /** Path under `api-server/`, without `.input.yaml`. */
  readonly id: string;
  /** What the store holds before the first request, in Kuma's universal YAML shape. */
  readonly seed: readonly Record<string, unknown>[];
  readonly actions: readonly ApiAction[];
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? walk(join(dir, f)) : [join(dir, f)]));
}

const readIf = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : undefined);

export function apiCases(): ApiCase[] {
  const root = join(KUMA_FIXTURES, 'api-server');
  return walk(root)
    .filter((f) => f.endsWith('.input.yaml'))
    .sort()
    .map((file) => {
      const text = readFileSync(file, 'utf8');
      const lines: string[] = [];
      for (const line of text.split('\n')) {
        if (!line.startsWith('#')) break;
        if (line.startsWith('#/')) lines.push(line);
      }
      const base = file.slice(0, -'.input.yaml'.length);
      const actions = lines.map((line, i) => {
        const [path, status, ...opts] = line.replace(/^[#\s]+/, '').trim().split(' ');
        const method = opts.find((o) => o.startsWith('method='))?.slice('method='.length) ?? 'GET';
        const suffix = lines.length > 1 ? `_${String(i).padStart(2, '0')}` : '';
        return {
          method,
          path: path!,
          status: Number(status),
          request: method === 'PUT' || method === 'POST' ? readFileSync(`${base}${suffix}.request.json`, 'utf8') : undefined,
          golden: readIf(`${base}${suffix}.golden.json`),
        };
      });
      const seed = parseAllDocuments(text)
        .map((d) => d.toJS() as Record<string, unknown> | null)
        .filter((d): d is Record<string, unknown> => d !== null && typeof d === 'object');
      return { id: relative(root, base), seed, actions };
    });
}

/** Base endpoints Kuma's test compares with a golden file (`endpoints_table_test.go`): GET, 200. */
export function baseEndpointCases(): ApiCase[] {
  return ['/_resources', '/policies', '/who-am-i'].map((path) => ({
    id: `base_endpoints${path}`,
    seed: [],
    actions: [{ method: 'GET', path, status: 200, golden: readFileSync(join(KUMA_FIXTURES, 'api-server', 'base_endpoints', `${path.replace(/\//g, '')}.golden.json`), 'utf8') }],
  }));
}

export interface ValidatorCase {
  readonly kind: string;
  readonly name: string;
  readonly table: string;
  readonly valid: boolean;
  readonly yaml: string;
  readonly violations: readonly { field: string; message: string }[];
}

export function validatorCases(): ValidatorCase[] {
  const dir = join(KUMA_FIXTURES, 'validators');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .flatMap((f) => {
      const doc = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { kind: string; cases: Omit<ValidatorCase, 'kind'>[] };
      return doc.cases.map((c) => ({ ...c, kind: doc.kind }));
    });
}

export interface NotApplicable {
  /** Kuma's test data path (folder or case), relative to `pkg/api-server/testdata`. */
  readonly case: string;
  /** Request/response pairs in it. */
  readonly actions: number;
  readonly reason: string;
}

export function notApplicable(): NotApplicable[] {
  return JSON.parse(readFileSync(join(KUMA_FIXTURES, 'not-applicable.json'), 'utf8')) as NotApplicable[];
}

/** As Kuma's test does: the server's address becomes `{{address}}`, every timestamp the zero time. */
export function normalizeBody(text: string, address: string): string {
  return text.split(address).join('{{address}}').replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d[^"]+/g, '0001-01-01T00:00:00Z');
}
