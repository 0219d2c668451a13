#!/usr/bin/env node
// `npx zone-agent ...` from the repository. Runs the prebuilt bundle (`npm run build`, also run by
// `npm install`), which starts about a second faster than compiling TypeScript on the fly; falls back to
// the TypeScript entry through tsx when the bundle is missing.
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/main.mjs', import.meta.url);
if (existsSync(bundle)) {
  await import(bundle.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.js');
}
