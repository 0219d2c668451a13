/**
 * Cloudflare Workers entry: the same app as on Node, with dependencies from bindings. PostgreSQL is reached
 * through Hyperdrive with one client per request (Workers may not share sockets between requests).
 * Migrations are never applied from here: run `npm run db:migrate` against the database instead.
 */
import { createApp } from './app.js';
import { openPostgres } from './store/postgres.js';
import { createStores } from './stores.js';

export interface WorkerEnv {
  HYPERDRIVE?: { connectionString: string };
  DEFAULT_TENANT?: string;
  /** Secret (`wrangler secret put URSA_OPERATOR_TOKEN`): bearer token for `/_operator/*`. */
  URSA_OPERATOR_TOKEN?: string;
  /** "false" turns off Kuma's default policies for new meshes. */
  MESH_DEFAULTS?: string;
}

interface ExecutionContextLike {
  waitUntil(promise: Promise<unknown>): void;
  passThroughOnException(): void;
}

let app: ReturnType<typeof createApp> | undefined;

export default {
  fetch(request: Request, env: WorkerEnv, ctx: ExecutionContextLike): Response | Promise<Response> {
    app ??= createApp({
      // One id per isolate, shaped like Kuma's instance ids (random values are only allowed inside handlers).
      instanceId: `workerd-${crypto.randomUUID().slice(0, 4)}`,
      hostname: 'workerd',
      defaultTenant: env.DEFAULT_TENANT ?? 'default',
      openStores: (bindings: unknown) => {
        const hyperdrive = (bindings as WorkerEnv).HYPERDRIVE;
        if (!hyperdrive) throw new Error('the HYPERDRIVE binding is missing: see README, "Running in workerd"');
        // Never end this client inside the Worker: closing raises "Stream was cancelled"; it dies with the request.
        return createStores(openPostgres(hyperdrive.connectionString, { max: 1, workerSafe: true }).db);
      },
      // A Worker has no loopback clients: every request needs a token.
      auth: { loopbackAdmin: false, operatorToken: env.URSA_OPERATOR_TOKEN, isLoopback: () => false },
      meshDefaults: env.MESH_DEFAULTS !== 'false',
      config: { runtime: 'workerd', defaultTenant: env.DEFAULT_TENANT ?? 'default', operatorToken: env.URSA_OPERATOR_TOKEN ? '****' : null, meshDefaults: env.MESH_DEFAULTS !== 'false' },
    });
    return app.fetch(request, env, ctx as never);
  },
};
