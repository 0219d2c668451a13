/**
 * Prebuilds the zone agent into `zone-agent/dist/main.mjs` and its chunks under `dist/chunks/` (git-ignored;
 * run by `prepare` and before the tests). Compiling TypeScript at start-up costs about a second of CPU, and
 * a restarted agent must answer DNS within 2 s: the bin runs this bundle. Packages stay external (PGlite
 * loads its wasm from its own directory); only our code is bundled: the zone agent's and the workspace
 * packages it imports. Code splitting keeps every dynamic `import()` lazy: `main.mjs` itself holds only what
 * answers DNS from the persisted answers, the rest loads after (see `main.ts`); `dns-worker.mjs` is the
 * resolver's thread (`src/dns/resolver-worker.ts`), `dns-udp-child.mjs` its extra UDP answering processes
 * (`src/dns/udp-child.ts`), `xds-child.mjs` the xDS serving processes (`src/xds/procs/child.ts`).
 *
 * The build fails when the bundle holds code that is the global's alone (see `checkZoneBundle`), or when the
 * start-up path loads more than it may (see `checkStartPath`). It also compiles the native addons (the
 * resolver's batched UDP I/O, the malloc tuning: `build-native.ts`), which the bundle loads from `native/build/`.
 */
import { build, type Metafile } from 'esbuild';
import { buildAddons } from './build-native.js';
import { rm } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Bundled files that belong to the global plane; the zone agent must never carry them. */
export const GLOBAL_ONLY: readonly { readonly pattern: RegExp; readonly what: string }[] = [
  { pattern: /^global-api\//, what: "the global plane's code (KDS server, zone-token routes, entries)" },
  { pattern: /(^|\/)kds\/(session|feed-cache|keeper|registry|ws|routes|token-routes)\.ts$/, what: 'the KDS server side' },
];

/** Names every bundled input the zone agent must not carry; empty when the bundle is clean. */
export function checkZoneBundle(meta: Pick<Metafile, 'inputs'>): string[] {
  const out: string[] = [];
  for (const input of Object.keys(meta.inputs)) {
    const hit = GLOBAL_ONLY.find((f) => f.pattern.test(input));
    if (hit) out.push(`the zone bundle holds ${input}: ${hit.what}`);
  }
  return out;
}

/** Third-party packages the start-up path (`main.mjs` and what it imports statically) may load. */
export const START_PATH_PACKAGES: ReadonlySet<string> = new Set(['dns-packet']);

/**
 * Names what the start-up path loads beyond node's built-ins and `START_PATH_PACKAGES`: every third-party
 * import reached through static imports (dynamic ones load later) from the entry and from the resolver's
 * thread (`dns-worker.mjs`). Empty when it is small.
 */
export function checkStartPath(meta: Pick<Metafile, 'outputs'>): string[] {
  const entries = ['main', 'dns-worker'].map((name) => ({ name, file: Object.keys(meta.outputs).find((o) => new RegExp(`(^|/)${name}\\.mjs$`).test(o)) }));
  const missing = entries.filter((e) => !e.file).map((e) => `the build has no ${e.name}.mjs`);
  if (missing.length > 0) return missing;
  const out: string[] = [];
  const seen = new Set<string>();
  const walk = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const i of meta.outputs[file]?.imports ?? []) {
      if (i.kind !== 'import-statement') continue;
      if (!i.external) walk(i.path);
      else if (!i.path.startsWith('node:') && !builtinModules.includes(i.path) && !START_PATH_PACKAGES.has(i.path)) out.push(`the start-up path (${file}) loads ${i.path}: import it dynamically, after the resolver answers`);
    }
  };
  for (const e of entries) walk(e.file!);
  return out;
}

const root = fileURLToPath(new URL('..', import.meta.url));

/** Bundles the agent into `outdir` (`main.mjs`, `chunks/`) and returns esbuild's metafile (paths relative to the repository). */
export async function buildZoneAgent(outdir = `${root}zone-agent/dist`): Promise<Metafile> {
  // Chunk names carry content hashes: drop the previous build's, or they pile up.
  await rm(join(outdir, 'chunks'), { recursive: true, force: true });
  const result = await build({
    // The resolver's thread is an entry of its own: `main.ts` starts it as `dist/dns-worker.mjs`.
    entryPoints: { main: `${root}zone-agent/src/main.ts`, 'dns-worker': `${root}zone-agent/src/dns/resolver-worker.ts`, 'dns-udp-child': `${root}zone-agent/src/dns/udp-child.ts`, 'xds-child': `${root}zone-agent/src/xds/procs/child.ts` },
    outdir,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    splitting: true,
    absWorkingDir: root,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    plugins: [thirdPartyExternal],
    metafile: true,
    sourcemap: 'linked',
    logLevel: 'warning',
  });
  return result.metafile;
}

async function main(): Promise<void> {
  const started = performance.now();
  const [metafile, addon] = await Promise.all([buildZoneAgent(), buildAddons()]);
  const violations = [...checkZoneBundle(metafile), ...checkStartPath(metafile)];
  if (violations.length > 0) {
    for (const v of violations) console.error(`zone-agent/build: ${v}`);
    process.exit(1);
  }
  console.log(`zone-agent/build: zone-agent/dist/main.mjs, dns-worker.mjs, dns-udp-child.mjs, xds-child.mjs and ${Object.keys(metafile.outputs).filter((o) => o.endsWith('.mjs')).length - 4} chunks in ${Math.round(performance.now() - started)} ms (${Object.keys(metafile.inputs).length} files, no global-only code, a small start-up path); ${addon}`);
}

/**
 * Third-party packages stay external (esbuild's `packages: 'external'` would also leave out our workspace
 * packages, which are TypeScript source that plain Node cannot load): `@ursa/*` and relative paths are bundled.
 */
const thirdPartyExternal = {
  name: 'third-party-external',
  setup(b: import('esbuild').PluginBuild) {
    b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@ursa/') ? undefined : { path: args.path, external: true }));
  },
};

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
