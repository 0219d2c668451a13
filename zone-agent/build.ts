/**
 * Prebuilds the zone agent into `zone-agent/dist/main.mjs` (git-ignored; run by `prepare` and before the
 * tests). Compiling TypeScript at start-up costs about a second of CPU, and a restarted agent must answer
 * DNS and its API within 2 s: the bin runs this bundle. Packages stay external (PGlite loads its wasm from
 * its own directory); only our code is bundled.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const started = performance.now();
await build({
  entryPoints: [`${root}zone-agent/src/main.ts`],
  outfile: `${root}zone-agent/dist/main.mjs`,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
});
console.log(`zone-agent/build: zone-agent/dist/main.mjs in ${Math.round(performance.now() - started)} ms`);
