#!/usr/bin/env node
// `npx zone-agent ...` from the repository: runs the TypeScript entry through tsx, no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
