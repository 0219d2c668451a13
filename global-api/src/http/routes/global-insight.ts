/** `GET /global-insight`: counts across the tenant. */
import type { Hono } from 'hono';
import type { AppEnv } from '../env.js';

export function mountGlobalInsightRoute(_app: Hono<AppEnv>): void {}
