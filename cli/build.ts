/**
 * Prebuilds `ursactl` into `cli/dist/ursactl.mjs` (git-ignored; run by `prepare`, `build` and before the
 * tests). Compiling the TypeScript through tsx on every call costs about a second of CPU per command, which
 * a CLI run in scripts and loops (and the tests, dozens of calls) pays every time. Third-party packages stay
 * external; only our code (the CLI and the `@ursa/*` sources it imports) is bundled.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export async function buildCli(outfile = `${root}cli/dist/ursactl.mjs`): Promise<void> {
  await build({
    entryPoints: [`${root}cli/src/main.ts`],
    outfile,
    absWorkingDir: root,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    logLevel: 'warning',
    plugins: [
      {
        name: 'third-party-external',
        setup(b) {
          b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@ursa/') ? undefined : { path: args.path, external: true }));
        },
      },
    ],
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = performance.now();
  await buildCli();
  console.log(`cli/build: cli/dist/ursactl.mjs in ${Math.round(performance.now() - started)} ms`);
}
