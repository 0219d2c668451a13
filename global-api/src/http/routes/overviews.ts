/** Overviews that merge a resource with its insight (owned by the overviews work; see app.ts). */
import type { Hono } from 'hono';
import type { AppEnv } from '../env.js';

export function mountOverviewRoutes(_app: Hono<AppEnv>): void {}
