#!/usr/bin/env node
// `npx ursactl ...` from the repository. Runs the prebuilt bundle (`cli/build.ts`, run by `npm install`),
// which starts about a second faster than compiling TypeScript on every call; falls back to the TypeScript
// entry through tsx when the bundle is missing.
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/ursactl.mjs', import.meta.url);
if (existsSync(bundle)) {
  await import(bundle.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
