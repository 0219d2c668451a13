/**
 * The global plane's HTTP app. One factory builds it from its dependencies; it never touches `process`,
 * the filesystem or any Node-only module, so the same app runs under @hono/node-server and in workerd.
 */
import { Hono } from 'hono';
import type { ResourceStore } from './store/resource-store.js';
import { BASED_ON_KUMA, PRODUCT, VERSION } from './version.js';

export interface AppDeps {
  /** This process (or isolate): `<hostname>-<4 hex>` as Kuma names control-plane instances. */
  readonly instanceId: string;
  readonly hostname: string;
  /** The tenant served when a request names none (tenant tokens come with the HTTP API). */
  readonly defaultTenant: string;
  /**
   * Opens the store for one request, given the runtime's bindings: Node hands back its shared store, a
   * Worker opens one short-lived client per request. Called at most once per request, and only by routes
   * that need the database.
   */
  readonly openStore: (bindings: unknown) => ResourceStore;
}

export type AppEnv = { Variables: { tenant: string; store: () => ResourceStore } };

export function createApp(deps: AppDeps) {
  const app = new Hono<AppEnv>();

  app.use('*', async (c, next) => {
    c.set('tenant', deps.defaultTenant);
    let store: ResourceStore | undefined;
    c.set('store', () => (store ??= deps.openStore(c.env)));
    await next();
  });

  // Kuma's index: product, version and instance; `clusterId` is the tenant being served, since each tenant
  // of the hosted plane is, to its users, a control plane of its own.
  app.get('/', (c) =>
    c.json({
      hostname: deps.hostname,
      tagline: PRODUCT,
      product: PRODUCT,
      version: VERSION,
      basedOnKuma: BASED_ON_KUMA,
      instanceId: deps.instanceId,
      clusterId: c.get('tenant'),
      gui: 'The gui is not available in Ursa yet',
    }),
  );

  return app;
}
