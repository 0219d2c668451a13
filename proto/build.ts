/**
 * Protobuf code generation: `npx tsx proto/build.ts` (also `npm run build`, and
 * `npm install` / `npm ci` through the `prepare` script).
 *
 * Generates TypeScript with ts-proto (driven by buf) into the git-ignored
 * folder proto/gen/ from:
 *   1. Envoy's xDS protos, taken only from node_modules/@grpc/grpc-js-xds/deps/
 *      (envoy-api, xds, googleapis, protoc-gen-validate). No third-party .proto
 *      is committed: the import closure of ENVOY_ENTRIES is copied into a
 *      throw-away buf workspace under node_modules/.cache/ursa-proto/.
 *   2. Our own .proto files under proto/ (e.g. proto/kds.proto -> proto/gen/kds.ts).
 *
 * Idempotent: proto/gen/ is replaced as a whole, and only after generation
 * succeeded. Prints one summary line; exits non-zero with a message on failure.
 * Imports nothing from the project, only Node built-ins.
 */
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const started = performance.now();

const PROTO_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(PROTO_DIR, '..');
const GEN_DIR = join(PROTO_DIR, 'gen');
const NODE_MODULES = join(REPO_ROOT, 'node_modules');
const DEPS_DIR = join(NODE_MODULES, '@grpc', 'grpc-js-xds', 'deps');
const CACHE_DIR = join(NODE_MODULES, '.cache', 'ursa-proto');
const BIN_SUFFIX = process.platform === 'win32' ? '.cmd' : '';
const BUF = join(NODE_MODULES, '.bin', `buf${BIN_SUFFIX}`);
const TS_PROTO_PLUGIN = join(NODE_MODULES, '.bin', `protoc-gen-ts_proto${BIN_SUFFIX}`);

/** Proto roots bundled with @grpc/grpc-js-xds, in import-resolution order. */
const DEP_ROOTS = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'];

/** Envoy files we generate code for; everything they import comes along. */
const ENVOY_ENTRIES = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/http/rbac/v3/rbac.proto',
  'envoy/service/secret/v3/sds.proto',
  // Sidecar and zone ingress generation (zone-agent/src/xds/generate/).
  'envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto',
  'envoy/extensions/filters/listener/original_dst/v3/original_dst.proto',
  'envoy/extensions/filters/network/rbac/v3/rbac.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  // MeshFaultInjection, MeshRateLimit, MeshAccessLog, MeshTrace (zone-agent/src/xds/policy/fragments/).
  'envoy/extensions/filters/http/fault/v3/fault.proto',
  'envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.proto',
  'envoy/extensions/filters/network/local_ratelimit/v3/local_rate_limit.proto',
  'envoy/extensions/access_loggers/file/v3/file.proto',
  // Imports opentelemetry/proto/common/v1/common.proto, which the bundle lacks: see proto/opentelemetry/.
  'envoy/extensions/access_loggers/open_telemetry/v3/logs_service.proto',
  'envoy/config/trace/v3/zipkin.proto',
  'envoy/config/trace/v3/datadog.proto',
  'envoy/config/trace/v3/opentelemetry.proto',
];

/**
 * ts-proto options (see node_modules/ts-proto/README.markdown). The output
 * type-checks under our strict tsconfig (strict, noUncheckedIndexedAccess,
 * verbatimModuleSyntax) without any @ts-nocheck.
 *  - outputServices=grpc-js: service definitions + clients for @grpc/grpc-js
 *  - importSuffix=.js: ESM/NodeNext relative imports
 *  - useOptionals=messages: message-typed fields are `field?: T`
 *  - oneof=unions-value: oneofs as `{ $case: 'x'; value: T }` ADTs (the variant
 *    ts-proto recommends over `oneof=unions`)
 */
const TS_PROTO_OPTIONS = [
  'outputServices=grpc-js',
  'esModuleInterop=true',
  'env=node',
  'useOptionals=messages',
  'oneof=unions-value',
  'importSuffix=.js',
];

/** Directories under proto/ that never contain our own .proto sources. */
const SKIP_OWN_DIRS = new Set(['gen', 'node_modules', 'src']);

class BuildError extends Error {}

function listProtos(dir: string, skip: ReadonlySet<string> = new Set()): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const full = join(d, entry.name);
      if (entry.isDirectory()) {
        if (d === dir && skip.has(entry.name)) continue;
        walk(full);
      } else if (entry.isFile() && entry.name.endsWith('.proto')) {
        out.push(relative(dir, full).split(sep).join('/'));
      }
    }
  };
  walk(dir);
  return out.sort();
}

function countFiles(dir: string, suffix: string): number {
  let n = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) n += countFiles(full, suffix);
    else if (entry.name.endsWith(suffix)) n += 1;
  }
  return n;
}

const IMPORT_RE = /^\s*import\s+(?:public\s+|weak\s+)?"([^"]+)"\s*;/gm;

function importsOf(source: string): string[] {
  return [...source.matchAll(IMPORT_RE)].map((m) => m[1] as string);
}

/**
 * The bundled validate.proto predates the envoy-api snapshot, which uses
 * `StringRules.ignore_empty` (field 26 upstream). Add it to the build copy.
 */
function patchValidateProto(source: string): string {
  const eol = source.includes('\r\n') ? '\r\n' : '\n';
  const start = source.indexOf('message StringRules {');
  if (start < 0) throw new BuildError('validate/validate.proto: message StringRules not found, cannot patch');
  const close = source.slice(start).search(/\r?\n\}/);
  if (close < 0) throw new BuildError('validate/validate.proto: end of message StringRules not found');
  const at = start + close;
  const body = source.slice(start, at);
  if (/\bignore_empty\b/.test(body)) return source;
  return `${source.slice(0, at)}${eol}${eol}    // Added by proto/build.ts (field exists upstream; bundled copy is older).${eol}    optional bool ignore_empty = 26;${source.slice(at)}`;
}

interface Located {
  /** import path, e.g. envoy/config/core/v3/base.proto */
  name: string;
  /** absolute path of the source file */
  file: string;
}

function main(): void {
  for (const [what, path] of [
    ['buf (devDependency @bufbuild/buf)', BUF],
    ['protoc-gen-ts_proto (devDependency ts-proto)', TS_PROTO_PLUGIN],
    ['xDS protos (devDependency @grpc/grpc-js-xds)', DEPS_DIR],
  ] as const) {
    if (!existsSync(path)) {
      throw new BuildError(`${what} not found at ${relative(REPO_ROOT, path)}; run \`npm ci\` (dev dependencies are required)`);
    }
  }

  // Our own protos resolve first, then the bundled roots; google/protobuf/* comes with buf.
  const ownFiles = listProtos(PROTO_DIR, SKIP_OWN_DIRS);
  const roots = [PROTO_DIR, ...DEP_ROOTS.map((r) => join(DEPS_DIR, r))];
  const locate = (name: string): string | undefined => {
    for (const root of roots) {
      const file = join(root, name);
      if (existsSync(file) && statSync(file).isFile()) return file;
    }
    return undefined;
  };

  const missingEntries = ENVOY_ENTRIES.filter((e) => !existsSync(join(DEPS_DIR, 'envoy-api', e)));
  if (missingEntries.length > 0) {
    throw new BuildError(`entry files missing from the bundled envoy-api: ${missingEntries.join(', ')}`);
  }

  // Import closure of entries + own files.
  const closure = new Map<string, Located>();
  const queue: Array<{ name: string; from: string }> = [
    ...ownFiles.map((name) => ({ name, from: 'proto/' })),
    ...ENVOY_ENTRIES.map((name) => ({ name, from: 'ENVOY_ENTRIES' })),
  ];
  const unresolved: string[] = [];
  for (let item = queue.shift(); item; item = queue.shift()) {
    if (closure.has(item.name)) continue;
    const file = item.name.startsWith('google/protobuf/') ? undefined : locate(item.name);
    if (!file) {
      // Well-known types are provided by buf itself.
      if (!item.name.startsWith('google/protobuf/')) unresolved.push(`${item.name} (imported by ${item.from})`);
      continue;
    }
    closure.set(item.name, { name: item.name, file });
    for (const dep of importsOf(readFileSync(file, 'utf8'))) queue.push({ name: dep, from: relative(REPO_ROOT, file) });
  }
  if (unresolved.length > 0) throw new BuildError(`unresolved proto imports:\n  ${unresolved.join('\n  ')}`);

  // Throw-away buf workspace: <ws>/protos (single module), <ws>/out (generated code).
  mkdirSync(CACHE_DIR, { recursive: true });
  // Sweep workspaces left behind by killed runs (live concurrent runs are younger than this).
  for (const entry of readdirSync(CACHE_DIR)) {
    const dir = join(CACHE_DIR, entry);
    if (entry.startsWith('run-') && Date.now() - statSync(dir).mtimeMs > 10 * 60_000) {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const ws = mkdtempSync(join(CACHE_DIR, 'run-'));
  try {
    const srcDir = join(ws, 'protos');
    const outDir = join(ws, 'out');
    for (const { name, file } of closure.values()) {
      const dest = join(srcDir, name);
      mkdirSync(dirname(dest), { recursive: true });
      if (name === 'validate/validate.proto') writeFileSync(dest, patchValidateProto(readFileSync(file, 'utf8')));
      else cpSync(file, dest);
    }
    writeFileSync(join(ws, 'buf.yaml'), 'version: v2\nmodules:\n  - path: protos\n');
    writeFileSync(
      join(ws, 'buf.gen.yaml'),
      [
        'version: v2',
        'plugins:',
        `  - local: ${JSON.stringify(TS_PROTO_PLUGIN)}`,
        // One plugin run for all files; the default (one node process per directory) is ~6x slower.
        '    strategy: all',
        `    out: ${JSON.stringify(outDir)}`,
        '    opt:',
        ...TS_PROTO_OPTIONS.map((o) => `      - ${JSON.stringify(o)}`),
        '',
      ].join('\n'),
    );

    const result = spawnSync(BUF, ['generate', '--template', 'buf.gen.yaml', '--error-format', 'text'], {
      cwd: ws,
      encoding: 'utf8',
      env: { ...process.env, BUF_CACHE_DIR: process.env.BUF_CACHE_DIR ?? join(CACHE_DIR, 'buf-cache') },
    });
    if (result.error) throw new BuildError(`could not run buf: ${result.error.message}`);
    if (result.status !== 0) {
      // Point diagnostics at the real sources instead of the throw-away workspace copies.
      const output = `${result.stdout}${result.stderr}`
        .trim()
        .replace(/protos\/([\w./-]+\.proto)/g, (m, name: string) => {
          const file = closure.get(name)?.file;
          return file ? relative(REPO_ROOT, file).split(sep).join('/') : m;
        });
      throw new BuildError(`buf generate exited with ${result.status ?? result.signal}:\n${output}`);
    }
    const generated = existsSync(outDir) ? countFiles(outDir, '.ts') : 0;
    if (generated === 0) throw new BuildError('buf generate succeeded but produced no .ts files');

    // Swap in the new tree only now, so a failed build never leaves a half-written proto/gen/.
    rmSync(GEN_DIR, { recursive: true, force: true });
    try {
      renameSync(outDir, GEN_DIR);
    } catch {
      cpSync(outDir, GEN_DIR, { recursive: true });
    }

    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(
      `proto/build: generated ${generated} TypeScript files in proto/gen/ from ${closure.size} .proto files ` +
        `(${ownFiles.length} own, ${closure.size - ownFiles.length} xDS) in ${seconds}s`,
    );
  } finally {
    rmSync(ws, { recursive: true, force: true });
  }
}

try {
  main();
} catch (err) {
  const message = err instanceof BuildError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
  console.error(`proto/build: FAILED: ${message}`);
  process.exit(1);
}
