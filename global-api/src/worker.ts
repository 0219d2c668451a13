/**
 * Cloudflare Workers entry: the same app as on Node, with dependencies from bindings. PostgreSQL is reached
 * through Hyperdrive with one client per request (Workers may not share sockets between requests).
 * Migrations are never applied from here: run `npm run db:migrate` against the database instead.
 *
 * KDS is served both ways a zone agent speaks it:
 * - HTTP long-poll (`/kds/v1/poll`, `/kds/v1/push`; `--transport poll`): each waiting poll watches its
 *   tenant over its own request's client (`worker/request-scope.ts`);
 * - WebSocket (`/kds/v1/stream`; `--transport ws`): relayed (`worker/kds-relay.ts`) to the tenant's KDS hub,
 *   a Durable Object serving all of that tenant's stream sessions (`worker/kds-hub.ts`; `KDS_HUB_SHARDS` hubs
 *   per tenant, by zone name, `worker/hub-shards.ts`). Every write made through the Worker rings the
 *   tenant's hubs after commit, since Hyperdrive cannot NOTIFY.
 * Zone tokens, the zone registry, leases, deletion and disabling are the same code as on Node.
 */
import { createGlobalApp } from './app.js';
import { ConfigError, createLogger, type Stores, TOKEN_CACHE_MS } from '@ursa/core';
import { ZoneSession } from './kds/session.js';
import type { WorkerEnv } from './worker/env.js';
import { openHyperdrive } from './worker/hyperdrive.js';
import { ringHubs } from './worker/hub-shards.js';
import { relayKdsStream } from './worker/kds-relay.js';
import { newRequestScope, requestScopes, requestWaker, withRequestScope } from './worker/request-scope.js';
import { ringingStores, type ExecutionContextLike } from './worker/runtime.js';
import { maskedSettings, workerSettings, type WorkerSettings } from './worker/settings.js';

export type { WorkerEnv };
// The Durable Object class must be exported by the Worker's main module (wrangler.jsonc `durable_objects`).
export { KdsHub } from './worker/kds-hub.js';

/** One client per request; with `ctx`, every committed write zones receive rings the tenant's KDS hubs (after the response). */
function openStores(env: WorkerEnv, ctx?: ExecutionContextLike): Stores {
  const stores = openHyperdrive(env.HYPERDRIVE, 1);
  const hubs = env.KDS_HUB;
  if (!hubs || !ctx) return stores;
  // `config` is read before any request opens stores (fetch below).
  const shards = config?.kdsHubShards ?? 1;
  return ringingStores(stores, ZoneSession.interest(), (tenant) => ctx.waitUntil(ringHubs(hubs, tenant, shards)));
}

function buildApp(env: WorkerEnv) {
  const settings = workerSettings(env as Record<string, unknown>);
  return createGlobalApp({
    // One id per isolate, shaped like Kuma's instance ids (random values are only allowed inside handlers).
    instanceId: `workerd-${crypto.randomUUID().slice(0, 4)}`,
    hostname: 'workerd',
    defaultTenant: settings.defaultTenant,
    // The request's scope opens the client, so the KDS waker uses the same one.
    openStores: (bindings: unknown) => (requestScopes.getStore() ?? newRequestScope(() => openStores(bindings as WorkerEnv))).stores(),
    // A Worker has no loopback clients: every request needs a token.
    auth: { loopbackAdmin: false, operatorToken: settings.operatorToken, isLoopback: () => false, tokenCacheMs: Math.min(TOKEN_CACHE_MS, settings.kdsHeartbeatMs) },
    meshDefaults: settings.meshDefaults,
    corsOrigins: settings.corsOrigins,
    config: maskedSettings(settings),
    log: createLogger({ level: settings.logLevel, format: settings.logFormat, name: 'global' }),
    kds: {
      waker: requestWaker({ intervalMs: settings.kdsPollIntervalMs, kinds: ZoneSession.interest() }),
      heartbeatMs: settings.kdsHeartbeatMs,
      leaseTtlMs: settings.zoneLeaseMs,
    },
  });
}

let app: ReturnType<typeof createGlobalApp> | undefined;
let config: WorkerSettings | undefined;

export default {
  async fetch(request: Request, env: WorkerEnv, ctx: ExecutionContextLike): Promise<Response> {
    try {
      config ??= workerSettings(env as Record<string, unknown>);
      app ??= buildApp(env);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      // A bad variable: say which, on every request, until it is fixed (no app is built from it).
      console.error(`ursa: bad Worker configuration: ${err.message}`);
      return Response.json({ type: '/std-errors', status: 500, title: 'Internal Server Error', detail: `bad Worker configuration: ${err.message}` }, { status: 500 });
    }
    if (new URL(request.url).pathname === '/kds/v1/stream') return kdsStream(request, env, config!);
    const scope = newRequestScope(() => openStores(env, ctx));
    return withRequestScope(scope, () => app!.fetch(request, env, ctx as never));
  },
};

/** The WebSocket KDS endpoint: relayed to the tenant's hub; anything but an upgrade is told what to send. */
function kdsStream(request: Request, env: WorkerEnv, s: WorkerSettings): Response {
  if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
    return Response.json(
      { type: '/std-errors', status: 426, title: 'Upgrade Required', detail: '/kds/v1/stream is a WebSocket endpoint: send Upgrade: websocket (or use /kds/v1/poll)' },
      { status: 426, headers: { upgrade: 'websocket' } },
    );
  }
  if (!env.KDS_HUB) {
    return Response.json({ type: '/std-errors', status: 501, title: 'Not Implemented', detail: 'the KDS_HUB Durable Object binding is missing: zones must use --transport poll' }, { status: 501 });
  }
  return relayKdsStream({ hubs: env.KDS_HUB, defaultTenant: s.defaultTenant, helloWithinMs: 3 * s.kdsHeartbeatMs, shards: s.kdsHubShards });
}
