/**
 * Prebuilds the zone agent into `zone-agent/dist/main.mjs` (git-ignored; run by `prepare` and before the
 * tests). Compiling TypeScript at start-up costs about a second of CPU, and a restarted agent must answer
 * DNS and its API within 2 s: the bin runs this bundle. Packages stay external (PGlite loads its wasm from
 * its own directory); only our code is bundled: the zone agent's and the workspace packages it imports.
 *
 * The build fails when the bundle holds code that is the global's alone (see `checkZoneBundle`).
 */
import { build, type Metafile } from 'esbuild';
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

const root = fileURLToPath(new URL('..', import.meta.url));

/** Bundles the agent to `outfile` and returns esbuild's metafile (inputs relative to the repository). */
export async function buildZoneAgent(outfile = `${root}zone-agent/dist/main.mjs`): Promise<Metafile> {
  const result = await build({
    entryPoints: [`${root}zone-agent/src/main.ts`],
    outfile,
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
  const metafile = await buildZoneAgent();
  const violations = checkZoneBundle(metafile);
  if (violations.length > 0) {
    for (const v of violations) console.error(`zone-agent/build: ${v}`);
    process.exit(1);
  }
  console.log(`zone-agent/build: zone-agent/dist/main.mjs in ${Math.round(performance.now() - started)} ms (${Object.keys(metafile.inputs).length} files, no global-only code)`);
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
