/** `GET /openapi.json`: our own API, described from the descriptor table (`../openapi/document.ts`). */
import type { Hono } from 'hono';
import type { AppEnv } from '../env.js';
import { openApiText } from '../openapi/document.js';

export function mountOpenApiRoute(app: Hono<AppEnv>): void {
  app.get('/openapi.json', (c) => c.body(openApiText(), 200, { 'content-type': 'application/json; charset=UTF-8' }));
}
