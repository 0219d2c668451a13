/**
 * Mounts the zone API routes of the xDS part (through the app's `extraRoutes`, which run before the app's
 * authentication, so each route authenticates itself with the same rules as every other route):
 * dataplane tokens (`tokens-routes.ts`) and the inspect endpoints (`inspect.ts`). The inspect module pulls
 * in the Envoy protos and the policy engine, the agent's largest module graph, so it is loaded on the first
 * inspect request rather than before the API can answer (start-up time, `main.ts`).
 */
import type { Hono } from 'hono';
import { type AppEnv, authenticate, type AuthOptions } from '@ursa/core';
import type { InspectDeps } from './inspect.js';
import type { DataplaneTokens } from './tokens.js';
import { mountDataplaneTokenRoutes } from './tokens-routes.js';

export interface XdsRouteDeps extends InspectDeps {
  readonly auth: AuthOptions;
  readonly tokens: DataplaneTokens;
  /** Set when the agent runs standalone: it then issues zone tokens for its ingresses/egresses. */
  readonly standaloneZone?: string;
}

export function mountXdsRoutes(app: Hono<AppEnv>, deps: XdsRouteDeps): void {
  mountDataplaneTokenRoutes(app, deps);
  const authed = authenticate(deps.auth, deps.tenant);
  app.get('/meshes/:mesh/dataplanes/:name/_config', authed, async (c) => (await import('./inspect.js')).inspectConfig(c, deps, c.req.param('mesh'), c.req.param('name')));
  app.get('/meshes/:mesh/dataplanes/:name/_policies', authed, async (c) => (await import('./inspect.js')).inspectPolicies(c, deps, c.req.param('mesh'), c.req.param('name')));
}
