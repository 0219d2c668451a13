/**
 * The zone agent: `zone-agent --global-url URL --zone NAME --token-file FILE`. Opens the zone's persisted
 * state (embedded Postgres under the data directory), serves the zone API from it at once, and keeps a KDS
 * session with the global in the background, so a zone started while the global is down still serves its
 * last state. SIGTERM/SIGINT stop it gracefully.
 */
import { randomBytes } from 'node:crypto';
import { access, constants, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { migrate, openPglite } from '@ursa/core/node';
import { createLogger, VERSION } from '@ursa/core';
import { ConfigError, helpText, parseZoneConfig, type ZoneConfig } from './config.js';
import type { Stop } from './component.js';
import type { KdsClient } from './kds/client.js';
import type { XdsHandle } from './xds/component.js';

/**
 * Start-up order matters: a restarted agent must answer DNS and its API from the persisted state within
 * 2 s (`test/zone-outage.test.ts`). Loading every module, then opening the database, then starting xDS
 * before the DNS sockets took ~2.7 s of CPU before the first answer (2-vCPU VM). So only what opens the
 * database is loaded up front; the rest loads while PGlite starts (its wasm compiles off the main thread),
 * and xDS (the Envoy protos: the largest module graph), which neither DNS nor the API needs, only once
 * both serve: ~2.1 s of CPU, of which ~1 s is tsx compiling TypeScript at run time.
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

async function main(): Promise<void> {
  let config: ZoneConfig;
  try {
    const parsed = parseZoneConfig(process.argv.slice(2), process.env);
    if (parsed.help) {
      process.stdout.write(`${helpText()}\n`);
      return;
    }
    config = parsed.config;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`zone-agent: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  // The token is re-read on every connect (so it can be rotated in place), but a file that cannot be read at
  // all is a typo, not a rotation in progress: say so now instead of retrying forever.
  if (config.tokenFile) {
    try {
      await access(config.tokenFile, constants.R_OK);
    } catch (err) {
      process.stderr.write(`zone-agent: --token-file: cannot read ${config.tokenFile} (${(err as NodeJS.ErrnoException).code ?? String(err)})\n`);
      process.exit(2);
    }
  }
  // zap-console lines like kuma-cp's, the zone named in every one (several agents may share a terminal or a log).
  const logger = createLogger({ level: config.logLevel, name: `zone-agent[${config.zone}]` });
  const log = logger;
  const instanceId = `${hostname()}-${randomBytes(2).toString('hex')}`;
  log.info(`starting ${VERSION} (${instanceId}), ${config.globalUrl ? `federated with ${config.globalUrl} over ${config.transport}` : 'standalone'}, data in ${config.dataDir}`);

  const openDatabase = async () => {
    const db = await openPglite(`${config.dataDir}/db`);
    await migrate(db);
    return db;
  };
  const [database, [{ serve }, { getConnInfo }, { createApp, notifyWaker, createStores, ApiError }, { startDns }, { startIngressBookkeeping }, { KdsClient }, { LOCAL, ZoneSyncState }, { mountXdsRoutes }, { DataplaneTokens }]] = await Promise.all([
    openDatabase(),
    loadServingParts(),
  ]);
  const stores = createStores(database.db);
  const waker = await notifyWaker(database);
  const state = new ZoneSyncState(stores.resources);

  let client: KdsClient | undefined;
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
      configJson: JSON.stringify({ zone: config.zone, transport: config.transport, apiPort: config.apiPort }),
      onLocalChange: (l) => waker.subscribe(LOCAL, () => l()),
      backoff: { baseMs: Math.min(500, config.reconnectMaxMs), maxMs: config.reconnectMaxMs },
      // The embedded database aborted: this process can no longer be trusted with it. Exit; a restart
      // recovers the database from its WAL and resumes sync from the cursor written with the data.
      onFatal: (err) => {
        log.error(`fatal: ${err.message}; exiting so a restart can recover the database`);
        process.exit(70);
      },
      log: log.child('kds'),
    });
  }

  const auth = { loopbackAdmin: true, isLoopback: (c: Parameters<typeof getConnInfo>[0]) => /^(127\.|::1$|::ffff:127\.)/.test(getConnInfo(c).remote.address ?? '') };
  // Dataplane tokens are signed with keys in the zone's own database; the xDS server verifies them.
  const dataplaneTokens = new DataplaneTokens(stores.kds, LOCAL);
  /** Set once the xDS server is up (the inspect endpoints read its snapshot cache). */
  let xdsHandle: XdsHandle | undefined;
  const app = createApp({
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
      r.get('/ready', (c) => c.json({ ready: true, zone: config.zone, kds: kds() }));
      r.get('/healthz', (c) => c.json({ ok: true }));
      mountXdsRoutes(r, { auth, tenant: LOCAL, zone: config.zone, store: stores.resources, tokens: dataplaneTokens, xds: () => xdsHandle });
    },
    // Zone tokens belong to the global. Here they would also reach the zone's own signing keys (its
    // dataplane-token keys share that table), so a retire would void every dataplane token.
    planeRoutes: (r) => {
      r.all('/tokens/zone/*', () => {
        throw new ApiError(400, 'Bad Request', 'zone tokens are issued by the global control plane: use POST /tokens/zone there');
      });
    },
  });
  const server = serve({ fetch: app.fetch, hostname: config.apiHost, port: config.apiPort }, (info) => log.info(`zone API listening on http://${config.apiHost}:${info.port}`));
  // Local parts first: they serve from the persisted state whether or not the global is reachable.
  const deps = { config, store: stores.resources, waker, log, db: database.db };
  const stops: Stop[] = [await startDns(deps), await startIngressBookkeeping(deps)];
  const { startXds } = await import('./xds/component.js');
  stops.push(await startXds(deps, { tokens: dataplaneTokens, instanceId, onReady: (h) => (xdsHandle = h) }));
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

main().catch((err) => {
  console.error('zone-agent: failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
