/**
 * The control plane's HTTP app, shared by both planes. One factory builds it from its dependencies; it never
 * touches `process`, the filesystem or any Node-only module, so the same app runs under @hono/node-server and
 * in workerd. What only one plane serves (the global's KDS server and zone-token routes, the zone's `/ready`
 * and xDS inspection) is plugged in by that plane through `publicRoutes` and `planeRoutes`.
 */
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { authenticate, type AuthOptions } from './http/auth.js';
import { createLogger, type Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { AppEnv, Stores } from './http/env.js';
import { ApiError, newTraceId, toErrorResponse } from './http/errors.js';
import { mountIndexRoute, mountMetaRoutes } from './http/routes/meta.js';
import { mountGlobalInsightRoute } from './http/routes/global-insight.js';
import { mountGuiRoutes } from './http/routes/gui.js';
import { mountOpenApiRoute } from './http/routes/openapi.js';
import { mountOverviewRoutes } from './http/routes/overviews.js';
import { mountResourceRoutes, type Plane } from './http/routes/resources.js';
import { mountTokenRoutes } from './http/routes/tokens.js';
import { mountMeshInsightRoutes } from './http/routes/mesh-insights.js';
import { mountUnmodelledRoutes } from './http/routes/unmodelled.js';
import { mountDataplaneInspectRoutes } from './http/routes/dataplane-inspect.js';
import { mountDataplaneLayoutRoute } from './http/routes/dataplane-layout.js';
import { mountKriRoute } from './http/routes/kri.js';
import { mountPolicyDataplanesRoute } from './http/routes/policy-dataplanes.js';

export type { AppEnv, Stores };

export interface AppDeps {
  /** This process (or isolate): `<hostname>-<4 hex>` as Kuma names control-plane instances. */
  readonly instanceId: string;
  readonly hostname: string;
  /** The tenant loopback admin and the operator act for. */
  readonly defaultTenant: string;
  /**
   * Opens the stores for one request, given the runtime's bindings: Node hands back its shared stores, a
   * Worker opens one short-lived client per request. Called at most once per request, and only when a
   * route needs the database.
   */
  readonly openStores: (bindings: unknown) => Stores;
  readonly auth: AuthOptions;
  /** Create Kuma's default policies with each new Mesh. */
  readonly meshDefaults: boolean;
  /** The effective configuration with secrets masked, served at `/config`. */
  readonly config: Readonly<Record<string, unknown>>;
  /** The global plane (default), or a zone agent's API. */
  readonly plane?: Plane;
  /**
   * The plane's routes that authenticate on their own or not at all (the global's KDS, which takes zone
   * tokens; the zone agent's `/ready`, `/healthz`), mounted before API-token authentication.
   */
  readonly publicRoutes?: (app: Hono<AppEnv>) => void;
  /**
   * The plane's routes behind API-token authentication (the global's zone-token routes), mounted before the
   * generic resource routes so that their paths win.
   */
  readonly planeRoutes?: (app: Hono<AppEnv>) => void;
  /** Where the API logs (unexpected errors); by default info and above to the console. */
  readonly log?: Logger;
  /**
   * Browser origins allowed to call the API (CORS: preflight answered, headers sent), e.g. a Kuma GUI served
   * elsewhere. Empty or unset: no CORS headers at all (same-origin only).
   */
  readonly corsOrigins?: readonly string[];
  /** Counts requests (`api_server_http_*` on Node's `/metrics`); none on Workers. */
  readonly metrics?: Metrics;
}

export function createApp(deps: AppDeps) {
  const app = new Hono<AppEnv>();
  const log = (deps.log ?? createLogger({ level: 'info', name: 'api' })).child('api');

  app.onError((err, c) => toErrorResponse(c, err, c.var.errorTitle ?? 'Bad Request'));
  app.notFound((c) => toErrorResponse(c, new ApiError(404, 'Not Found', `no route for ${c.req.method} ${c.req.path}`), 'Not Found'));

  app.use('*', async (c, next) => {
    let stores: Stores | undefined;
    c.set('stores', () => (stores ??= deps.openStores(c.env)));
    c.set('tenant', deps.defaultTenant);
    c.set('log', log);
    const traceId = newTraceId();
    c.set('traceId', traceId);
    const started = Date.now();
    await next();
    // Every request at debug, with the trace id its error body carries as `instance`. Not info: zones long-poll
    // and probes hit the API all the time, and info is what a default start shows (zones, start-up, failures);
    // a failed request (5xx) is logged at error anyway, under the same trace id.
    deps.metrics?.httpRequest(c.req.method, c.req.routePath, c.res.status, (Date.now() - started) / 1000);
    if (log.enabled('debug')) log.debug('request', { method: c.req.method, path: c.req.path, status: c.res.status, durationMs: Date.now() - started, traceId, tenant: c.var.tenant });
  });

  // Before everything else: a preflight (OPTIONS, no credentials) must be answered without authentication.
  if (deps.corsOrigins && deps.corsOrigins.length > 0) {
    const origins = [...deps.corsOrigins];
    app.use('*', cors({ origin: (o) => (origins.includes(o) || origins.includes('*') ? o : null), credentials: true, maxAge: 600 }));
  }

  const meta = { instanceId: deps.instanceId, hostname: deps.hostname, config: deps.config };
  // Registered before authentication: Kuma serves its index to anyone.
  mountIndexRoute(app, meta);
  // Data plane proxies belong to zone agents; say so plainly instead of a confusing 404 or 401.
  app.all('/envoy.service.*', (c) =>
    toErrorResponse(c, new ApiError(400, 'Bad Request', 'the global control plane does not serve data plane proxies (xDS): connect Envoy to its zone agent'), 'Bad Request'),
  );
  // The dashboard's shell holds no data: the page authenticates its API calls as any client does.
  mountGuiRoutes(app, { mode: deps.plane?.kind === 'zone' ? 'zone' : 'global' });
  deps.publicRoutes?.(app);
  app.use('*', authenticate(deps.auth, deps.defaultTenant));
  mountMetaRoutes(app, meta);
  mountOpenApiRoute(app);
  mountGlobalInsightRoute(app);
  deps.planeRoutes?.(app);
  mountTokenRoutes(app, deps.auth);
  // Overviews before the generic routes: `/meshes/{mesh}/dataplanes/_overview` must not be read as a name.
  mountOverviewRoutes(app);
  // Kuma's computed insights and the types Ursa does not model, before the generic routes for the same reason.
  mountMeshInsightRoutes(app);
  mountUnmodelledRoutes(app);
  mountDataplaneLayoutRoute(app);
  if (deps.plane?.kind !== 'zone') mountDataplaneInspectRoutes(app);
  mountKriRoute(app, deps.plane ?? { kind: 'global' });
  mountPolicyDataplanesRoute(app);
  mountResourceRoutes(app, { meshDefaults: deps.meshDefaults, plane: deps.plane ?? { kind: 'global' } });
  return app;
}
