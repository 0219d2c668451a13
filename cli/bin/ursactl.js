#!/usr/bin/env node
// `npx ursactl ...` from the repository. The CLI is short-lived and its start-up matters less than the zone
// agent's, so it runs its TypeScript through tsx rather than from a prebuilt bundle.
const { register } = await import('tsx/esm/api');
register();
await import('../src/main.ts');
