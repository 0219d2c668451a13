/**
 * `npm run check:worker-bundle`: builds the Worker exactly as `wrangler deploy` would (`--dry-run`, offline, no
 * login) and fails when a Node-only module slipped into it. A Node tool (never imported by the Worker).
 *
 * It reads esbuild's metafile of that build:
 * - the modules the bundle leaves to the runtime (`node:*`, `cloudflare:*`): only an allow-list is accepted,
 *   what `nodejs_compat` provides and postgres.js (its `workerd` build) and the Worker itself need;
 * - the files bundled into it: PGlite, `ws`, `@hono/node-server`, drizzle's migrators (they read files), the
 *   Node entry, the zone agent, ... must not be among them (some of them resolve to browser stubs that would
 *   only throw at run time, so the imports alone do not show them).
 *
 *   tsx global-api/src/worker/check-bundle.ts [--config wrangler.jsonc] [--json]
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const WRANGLER = join(ROOT, 'node_modules/.bin/wrangler');
export const DEFAULT_CONFIG = join(ROOT, 'global-api/wrangler.jsonc');

/**
 * Runtime modules the Worker may import. postgres.js (workerd build) needs buffer, events, stream and
 * cloudflare:sockets; the KDS waker needs async_hooks. The others are harmless under `nodejs_compat` and
 * commonly pulled in by libraries; anything else (fs, child_process, os, http, worker_threads, ...) is not.
 */
export const ALLOWED_RUNTIME_MODULES: ReadonlySet<string> = new Set([
  'node:async_hooks',
  'node:buffer',
  'node:crypto',
  'node:events',
  'node:net',
  'node:stream',
  'node:string_decoder',
  'node:tls',
  'node:util',
]);

/** Bundled files that must never be in the Worker: a pattern over the repository-relative path, and why. */
export const FORBIDDEN_FILES: readonly { readonly pattern: RegExp; readonly what: string }[] = [
  { pattern: /node_modules\/@electric-sql\/pglite\//, what: 'PGlite (embedded Postgres, Node only)' },
  { pattern: /node_modules\/ws\//, what: 'ws (Node WebSocket library; in a Worker it is a stub that throws)' },
  { pattern: /node_modules\/@hono\/node-server\//, what: '@hono/node-server (Node HTTP server)' },
  { pattern: /node_modules\/drizzle-orm\/(.+\/)?migrator\.js$/, what: "drizzle's migrator (reads migration files: run `npm run db:migrate` instead)" },
  { pattern: /node_modules\/drizzle-kit\//, what: 'drizzle-kit (development tool)' },
  { pattern: /node_modules\/(tsx|esbuild|wrangler|vitest)\//, what: 'a build or test tool' },
  { pattern: /node_modules\/@grpc\//, what: 'gRPC (Node only)' },
  { pattern: /node_modules\/dns-packet\//, what: "dns-packet (the zone agent's DNS server)" },
  { pattern: /node_modules\/unenv\//, what: "an unenv polyfill (a Node API workerd lacks: it would throw when called)" },
  { pattern: /^global-api\/src\/(node|config)\.ts$/, what: 'the Node entry or its configuration' },
  { pattern: /^global-api\/src\/migrate-cli\.ts$/, what: 'the migration command' },
  { pattern: /^core\/src\/(node|store\/(migrate|pglite))\.ts$/, what: "a Node-only store module of @ursa/core (migrations, PGlite)" },
  { pattern: /^zone-agent\//, what: 'zone-agent code' },
  { pattern: /^(test|bench)\//, what: 'test or benchmark code' },
];

interface Metafile {
  inputs: Record<string, { bytes: number; imports: { path: string; kind: string; external?: boolean; original?: string }[] }>;
  outputs: Record<string, { bytes: number; imports: { path: string; kind: string; external?: boolean }[] }>;
}

export interface BundleReport {
  readonly ok: boolean;
  readonly bytes: number;
  /** Runtime modules the bundle imports (sorted). */
  readonly runtimeModules: readonly string[];
  readonly violations: readonly string[];
}

const NODE_BUILTIN = /^(assert|async_hooks|buffer|child_process|cluster|console|constants|crypto|dgram|diagnostics_channel|dns|domain|events|fs|http|http2|https|inspector|module|net|os|path|perf_hooks|process|punycode|querystring|readline|repl|stream|string_decoder|sys|timers|tls|trace_events|tty|url|util|v8|vm|wasi|worker_threads|zlib)(\/.*)?$/;

/** `fs` and `node:fs` are the same module to workerd: compare them by their `node:` name. */
function runtimeName(path: string): string {
  return !path.startsWith('node:') && NODE_BUILTIN.test(path) ? `node:${path}` : path;
}

/** Checks a metafile; `baseDir` is the directory esbuild's paths are relative to (the config's). */
export function checkMetafile(meta: Metafile, baseDir: string): BundleReport {
  const violations: string[] = [];
  const rel = (p: string) => relative(ROOT, resolve(baseDir, p)).split('\\').join('/');
  const runtime = new Map<string, Set<string>>();
  for (const [file, input] of Object.entries(meta.inputs)) {
    for (const imp of input.imports) {
      // `<runtime>` is esbuild's own helpers, not a module.
      if (!imp.external || imp.path.startsWith('<')) continue;
      const name = runtimeName(imp.path);
      if (!runtime.has(name)) runtime.set(name, new Set());
      runtime.get(name)!.add(rel(file));
    }
  }
  for (const output of Object.values(meta.outputs)) {
    for (const imp of output.imports) if (imp.external && !imp.path.startsWith('<') && !runtime.has(runtimeName(imp.path))) runtime.set(runtimeName(imp.path), new Set());
  }
  for (const [name, importers] of [...runtime].sort(([a], [b]) => a.localeCompare(b))) {
    if (ALLOWED_RUNTIME_MODULES.has(name) || name.startsWith('cloudflare:')) continue;
    const by = [...importers].slice(0, 3).join(', ');
    violations.push(`imports ${name}, which a Worker must not use${by ? ` (imported by ${by})` : ''}`);
  }
  // Who bundled a file: the first input that imports it, to point at the edge to cut.
  const importerOf = new Map<string, string>();
  for (const [file, input] of Object.entries(meta.inputs)) for (const imp of input.imports) if (!imp.external && !importerOf.has(imp.path)) importerOf.set(imp.path, file);
  const reported = new Set<string>();
  for (const file of Object.keys(meta.inputs)) {
    const path = rel(file);
    const rule = FORBIDDEN_FILES.find((r) => r.pattern.test(path));
    if (!rule || reported.has(rule.what)) continue;
    reported.add(rule.what);
    const by = importerOf.get(file);
    violations.push(`bundles ${path}: ${rule.what}${by ? ` (imported by ${rel(by)})` : ''}`);
  }
  const bytes = Object.entries(meta.outputs)
    .filter(([f]) => !f.endsWith('.map'))
    .reduce((n, [, o]) => n + o.bytes, 0);
  return { ok: violations.length === 0, bytes, runtimeModules: [...runtime.keys()].sort(), violations };
}

/** Builds the Worker of `config` with `wrangler deploy --dry-run` into a temporary directory and checks it. */
export async function checkWorkerBundle(config = DEFAULT_CONFIG): Promise<BundleReport> {
  const out = await mkdtemp(join(tmpdir(), 'ursa-worker-bundle-'));
  try {
    const metafile = join(out, 'meta.json');
    const env = { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', CI: '1', NO_COLOR: '1', FORCE_COLOR: '0' };
    const build = await new Promise<{ code: number; output: string }>((done) => {
      execFile(WRANGLER, ['deploy', '--dry-run', '--config', config, '--outdir', join(out, 'dist'), '--metafile', metafile], { env, cwd: ROOT, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
        done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, output: `${stdout}${stderr}` }),
      );
    });
    if (build.code !== 0 || !(await stat(metafile).catch(() => undefined))) {
      return { ok: false, bytes: 0, runtimeModules: [], violations: [`wrangler could not build the Worker (exit ${build.code}):\n${build.output.trim()}`] };
    }
    return checkMetafile(JSON.parse(await readFile(metafile, 'utf8')) as Metafile, dirname(resolve(config)));
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const i = args.indexOf('--config');
  const config = i >= 0 ? args[i + 1] : undefined;
  if (i >= 0 && !config) {
    process.stderr.write('check-bundle: --config needs a path\n');
    process.exit(2);
  }
  const report = await checkWorkerBundle(config ? resolve(config) : DEFAULT_CONFIG);
  if (args.includes('--json')) process.stdout.write(`${JSON.stringify(report)}\n`);
  else if (report.ok) {
    console.log(`worker bundle OK: ${(report.bytes / 1024).toFixed(0)} KiB, runtime modules: ${report.runtimeModules.join(', ') || 'none'}`);
  } else {
    console.error(`worker bundle check FAILED (${relative(process.cwd(), config ? resolve(config) : DEFAULT_CONFIG)}):`);
    for (const v of report.violations) console.error(`  - ${v}`);
  }
  process.exitCode = report.ok ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error('check-bundle: failed:', err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
