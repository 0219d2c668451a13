/**
 * Everything of the zone agent after its first DNS answer: opens the zone's persisted state (embedded
 * Postgres under the data directory), serves the zone API from it, starts the local parts (DNS on the live
 * table, ingress bookkeeping, xDS) and keeps a KDS session with the global in the background, so a zone
 * started while the global is down still serves its last state. `main.ts` loads this module only once the
 * resolver answers from the persisted answers (its imports are most of the agent's start-up CPU).
 */
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { Database, Logger } from '@ursa/core';
import type { ZoneConfig } from './config.js';
import { sinceStart } from './store/open.js';
import type { Stop } from './component.js';
import { createResolver, type Resolver } from './dns/resolver.js';
import { VipBoard } from './dns/vip-board.js';
import type { KdsClient as KdsClientType } from './kds/client.js';
import type { XdsHandle } from './xds/component.js';
import type { ZoneMetrics } from './metrics.js';

/**
 * Loaded while PGlite opens (its wasm compiles off the main thread, so the two overlap). xDS (the Envoy
 * protos: the largest module graph), which neither DNS nor the API needs, loads only once both serve.
 */
const loadServingParts = () =>
  Promise.all([
    import('@hono/node-server'),
    import('@hono/node-server/conninfo'),
    import('@ursa/core'),
    import('./dns/component.js'),
    import('./ingress/component.js'),
    import('./kds/client.js'),
    import('./kds/state.js'),
    import('./xds/inspect-routes.js'),
    import('./xds/tokens.js'),
  ]);

export interface AgentStart {
  readonly config: ZoneConfig;
  readonly log: Logger;
  readonly instanceId: string;
  /** The resolver `main.ts` opened on the persisted answers, if there were any. */
  readonly resolver?: Resolver;
  /** Those answers' file text (the DNS component does not rewrite an unchanged table). */
  readonly persistedText?: string;
  /** The resolver thread's entry (see `ResolverOptions.workerUrl`). */
  readonly dnsWorker: URL;
  /** The zone's database, opening since the process started (`store/open.ts`). */
  readonly database: Promise<Database>;
}

/**
 * Start-up phases, as `/ready` reports them: `starting` while the local parts start (the API already
 * serves from the database; DNS may still answer from the persisted answers), `ready` once all of them run.
 */
type Phase = 'starting' | 'ready';

export async function runAgent(start: AgentStart): Promise<void> {
  const { config, log, instanceId } = start;
  const [database, [{ serve }, { getConnInfo }, { createApp, notifyWaker, createStores, ApiError, VERSION }, { startDns }, { startIngressBookkeeping }, { KdsClient }, { LOCAL, ZoneSyncState }, { mountXdsRoutes }, { DataplaneTokens }]] = await Promise.all([
    start.database,
    loadServingParts().then((m) => (log.debug(`modules loaded at ${sinceStart()} ms`), m)),
  ]);
  // Store calls are timed from the first scrape on, like requests (`metrics` loads then).
  let metrics: ZoneMetrics | undefined;
  const stores = createStores(database.db, { observe: (op, kind, s) => metrics?.storeOperation(op, kind, s) });
  const waker = await notifyWaker(database);
  const state = new ZoneSyncState(stores.resources);

  let client: KdsClientType | undefined;
  if (config.globalUrl) {
    const tokenFile = config.tokenFile!;
    client = new KdsClient({
      globalUrl: config.globalUrl,
      zone: config.zone,
      tenant: config.tenant,
      token: () => readFile(tokenFile, 'utf8'),
      transport: config.transport,
      state,
      instanceId,
      agentVersion: VERSION,
      // Kuma's zone CP sends its whole config; the GUI reads `environment`, `store.type` and
      // `dpServer.authn.dpProxy.type` from it (the zone detail page). PGlite is PostgreSQL, so `postgres`.
      configJson: JSON.stringify({
        environment: 'universal',
        mode: 'zone',
        multizone: { zone: { name: config.zone } },
        store: { type: 'postgres' },
        dpServer: { authn: { dpProxy: { type: config.dataplaneAuth ? 'dpToken' : 'none' } } },
        zone: config.zone,
        transport: config.transport,
        apiPort: config.apiPort,
      }),
      onLocalChange: (l) => waker.subscribe(LOCAL, () => l()),
      backoff: { baseMs: Math.min(500, config.reconnectMaxMs), maxMs: config.reconnectMaxMs },
      // The embedded database aborted: this process can no longer be trusted with it. Exit; a restart
      // recovers the database from its WAL and resumes sync from the cursor written with the data.
      onFatal: (err) => {
        log.error(`fatal: ${err.message}; exiting so a restart can recover the database`);
        process.exit(70);
      },
      log: log.child('kds'),
      // The global's forwarded `xds` of a proxy (Kuma's XDSConfigRequest), from this agent's snapshot cache.
      inspect: async (req) => (await import('./xds/inspect-answer.js')).answerInspect({ tenant: LOCAL, zone: config.zone, store: stores.resources, xds: () => xdsHandle }, req),
    });
  }

  let phase: Phase = 'starting';
  const resolver = config.dnsPort === 0 ? undefined : (start.resolver ?? (await createResolver(config, log.child('dns'), { workerUrl: start.dnsWorker })));
  /** Where DNS answers come from: `persisted` (the last run's answers), `live` (the database), `starting`, `off`. */
  const dnsSource = () => (resolver ? (resolver.source ?? 'starting') : 'off');

  const auth = { loopbackAdmin: true, isLoopback: (c: Parameters<typeof getConnInfo>[0]) => /^(127\.|::1$|::ffff:127\.)/.test(getConnInfo(c).remote.address ?? '') };
  // Dataplane tokens are signed with keys in the zone's own database; the xDS server verifies them. A
  // federated zone also checks the global's zone tokens with the public keys synced as GlobalSecrets.
  const globalSecret = async (name: string) => {
    const r = await stores.resources.get(LOCAL, { kind: 'GlobalSecret', name });
    const data = r?.spec.data;
    return typeof data === 'string' ? Buffer.from(data, 'base64').toString('utf8') : undefined;
  };
  const dataplaneTokens = new DataplaneTokens(stores.kds, LOCAL, config.zone, config.globalUrl ? globalSecret : undefined);
  /** Set once the xDS server is up (the inspect endpoints read its snapshot cache). */
  let xdsHandle: XdsHandle | undefined;
  /** Loaded on the first `GET /metrics` (prom-client is not on the start-up path). */
  const app = createApp({
    metrics: { httpRequest: (...a) => metrics?.httpRequest(...a), kdsStream() {}, kdsResponseSent() {}, zoneApplied() {} },
    instanceId,
    hostname: hostname(),
    defaultTenant: LOCAL,
    openStores: () => stores,
    auth,
    meshDefaults: false,
    config: { zone: config.zone, globalUrl: config.globalUrl ?? null, transport: config.transport },
    plane: { kind: 'zone', zone: config.zone, federated: Boolean(config.globalUrl) },
    publicRoutes: (r) => {
      const kds = () => (client ? { federated: true, ...client.status } : { federated: false });
      // 503 until every local part runs: a caller that waits for /ready gets DNS from the database (not the
      // last run's answers), the ingress bookkeeping and xDS.
      r.get('/ready', (c) => c.json({ ready: phase === 'ready', phase, zone: config.zone, dns: dnsSource(), kds: kds() }, phase === 'ready' ? 200 : 503));
      r.get('/healthz', (c) => c.json({ ok: true }));
      r.get('/metrics', async (c) => {
        metrics ??= (await import('./metrics.js')).createZoneMetrics({ instanceId, zone: config.zone, kds: () => client?.status, xdsStreams: () => xdsHandle?.streams() ?? 0, certExpiry: () => xdsHandle?.certExpiry() ?? new Map(), dnsStats: async () => resolver?.stats() });
        const m = await metrics.render();
        return c.body(m.body, 200, { 'content-type': m.contentType });
      });
      mountXdsRoutes(r, { auth, tenant: LOCAL, zone: config.zone, store: stores.resources, tokens: dataplaneTokens, xds: () => xdsHandle, standaloneZone: config.globalUrl ? undefined : config.zone });
    },
    // Zone tokens belong to the global (a standalone agent issues only POST /tokens/zone for its proxies,
    // `xds/tokens-routes.ts`). Here they would also reach the zone's own signing keys (its dataplane-token
    // keys share that table), so a retire would void every dataplane token.
    planeRoutes: (r) => {
      r.all('/tokens/zone/*', () => {
        throw new ApiError(400, 'Bad Request', 'zone tokens are issued by the global control plane: use POST /tokens/zone there');
      });
    },
  });
  const server = serve({ fetch: app.fetch, hostname: config.apiHost, port: config.apiPort }, (info) => log.info(`zone API listening on http://${config.apiHost}:${info.port} (${sinceStart()} ms after start)`));
  // Local parts first: they serve from the persisted state whether or not the global is reachable.
  const deps = { config, store: stores.resources, waker, log, db: database.db, vips: new VipBoard() };
  const stops: Stop[] = [];
  stops.push(await startDns(deps, { resolver, persistedText: start.persistedText }));
  stops.push(await startIngressBookkeeping(deps));
  // xDS (the Envoy protos: the largest module graph) loads only now: neither DNS nor the API needs it.
  const { startXds } = await import('./xds/component.js');
  // Counted from the first scrape on, like the API's requests (prom-client loads with it).
  const xdsMetrics = { response: (t: string) => metrics?.response(t), request: (c: 'ACK' | 'NACK', t: string) => metrics?.request(c, t), generation: (ms: number, ok: boolean) => metrics?.generation(ms, ok) };
  stops.push(await startXds(deps, { tokens: dataplaneTokens, instanceId, onReady: (h) => (xdsHandle = h), metrics: xdsMetrics }));
  phase = 'ready';
  log.debug(`ready at ${sinceStart()} ms`);
  client?.start();

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: shutting down`);
    setTimeout(() => process.exit(0), 5000).unref();
    await client?.stop();
    for (const s of stops.reverse()) await s().catch(() => {});
    server.close();
    await waker.close();
    await database.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
