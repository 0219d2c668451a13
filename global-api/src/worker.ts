/**
 * Cloudflare Workers entry: the same app as on Node, with dependencies from bindings. PostgreSQL is reached
 * through Hyperdrive with one client per request (Workers may not share sockets between requests).
 * Migrations are never applied from here: run `npm run db:migrate` against the database instead.
 *
 * KDS is served over HTTP long-poll (`/kds/v1/poll`, `/kds/v1/push`; zone agents with `--transport poll`).
 * Each waiting poll watches its tenant over its own request's client (`worker/request-scope.ts`): no
 * process-wide feed cache or lease keeper, as isolates share nothing between requests. Zone tokens, the zone
 * registry, leases, deletion and disabling are the same code as on Node.
 */
import { createApp } from './app.js';
import { ConfigError } from './options.js';
import { ZoneSession } from './kds/session.js';
import { openPostgres } from './store/postgres.js';
import { createStores } from './stores.js';
import { newRequestScope, requestScopes, requestWaker, withRequestScope } from './worker/request-scope.js';
import { maskedSettings, workerSettings } from './worker/settings.js';

export interface WorkerEnv {
  HYPERDRIVE?: { connectionString: string };
  DEFAULT_TENANT?: string;
  /** Secret (`wrangler secret put URSA_OPERATOR_TOKEN`): bearer token for `/_operator/*`. */
  URSA_OPERATOR_TOKEN?: string;
  /** "false" turns off Kuma's default policies for new meshes. */
  MESH_DEFAULTS?: string;
  /** KDS heartbeat in ms (default 5000). */
  KDS_HEARTBEAT_MS?: string;
  /** How long a zone stays Online after its last renewal, in ms (default 15000). */
  ZONE_LEASE_MS?: string;
  /** How often a waiting long-poll reads its tenant's revision, in ms (default 500). */
  KDS_POLL_INTERVAL_MS?: string;
}

interface ExecutionContextLike {
  waitUntil(promise: Promise<unknown>): void;
  passThroughOnException(): void;
}

function openStores(env: WorkerEnv) {
  const hyperdrive = env.HYPERDRIVE;
  if (!hyperdrive) throw new Error('the HYPERDRIVE binding is missing: see README, "Running on Cloudflare Workers"');
  // Never end this client inside the Worker: closing raises "Stream was cancelled"; it dies with the request.
  return createStores(openPostgres(hyperdrive.connectionString, { max: 1, workerSafe: true }).db);
}

function buildApp(env: WorkerEnv) {
  const settings = workerSettings(env as Record<string, unknown>);
  return createApp({
    // One id per isolate, shaped like Kuma's instance ids (random values are only allowed inside handlers).
    instanceId: `workerd-${crypto.randomUUID().slice(0, 4)}`,
    hostname: 'workerd',
    defaultTenant: settings.defaultTenant,
    // The request's scope opens the client, so the KDS waker uses the same one.
    openStores: (bindings: unknown) => (requestScopes.getStore() ?? newRequestScope(() => openStores(bindings as WorkerEnv))).stores(),
    // A Worker has no loopback clients: every request needs a token.
    auth: { loopbackAdmin: false, operatorToken: settings.operatorToken, isLoopback: () => false },
    meshDefaults: settings.meshDefaults,
    config: maskedSettings(settings),
    kds: {
      waker: requestWaker({ intervalMs: settings.kdsPollIntervalMs, kinds: ZoneSession.interest() }),
      heartbeatMs: settings.kdsHeartbeatMs,
      leaseTtlMs: settings.zoneLeaseMs,
    },
  });
}

let app: ReturnType<typeof createApp> | undefined;

export default {
  async fetch(request: Request, env: WorkerEnv, ctx: ExecutionContextLike): Promise<Response> {
    try {
      app ??= buildApp(env);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      // A bad variable: say which, on every request, until it is fixed (no app is built from it).
      console.error(`ursa: bad Worker configuration: ${err.message}`);
      return Response.json({ type: '/std-errors', status: 500, title: 'Internal Server Error', detail: `bad Worker configuration: ${err.message}` }, { status: 500 });
    }
    const scope = newRequestScope(() => openStores(env));
    return withRequestScope(scope, () => app!.fetch(request, env, ctx as never));
  },
};
