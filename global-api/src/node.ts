/**
 * Node entry: `npm start`. Reads flags and `URSA_*` variables, opens PostgreSQL (DATABASE_URL) or embedded
 * PGlite under the data directory, applies migrations, and serves the app on 127.0.0.1:5681 by default.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { serve, upgradeWebSocket } from '@hono/node-server';
import { WebSocketServer } from 'ws';
import { getConnInfo } from '@hono/node-server/conninfo';
import { createGlobalApp } from './app.js';
import { ConfigError, describeConfig, helpText, maskedConfig, parseConfig } from './config.js';
import { createLogger, createStores, type Database, notifyWaker, openPostgres, PRODUCT, TOKEN_CACHE_MS, VERSION } from '@ursa/core';
import { migrate, openPglite, startupGuardedSockets } from '@ursa/core/node';
import { StreamTracker } from './kds/ws.js';
import { startRelay } from './kds/relay.js';
import { FeedCache } from './kds/feed-cache.js';
import { keeperIntervalMs, LeaseKeeper } from './kds/keeper.js';
import { createGlobalMetrics } from './metrics.js';

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`ursa: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  if (parsed.help) {
    process.stdout.write(`${helpText()}\n`);
    return;
  }
  const config = parsed.config;
  const log = createLogger({ level: config.logLevel, format: config.logFormat, name: 'global' });
  const kdsLog = log.child('kds');
  const instanceId = `${hostname()}-${randomBytes(2).toString('hex')}`;
  const tracker = new StreamTracker();
  log.info(`${PRODUCT} global ${VERSION} (${instanceId}) config: ${describeConfig(config)}`);

  const database: Database = config.databaseUrl ? openPostgres(config.databaseUrl, { socket: startupGuardedSockets() }) : await openPglite(`${config.dataDir}/db`);
  await migrate(database);
  // The store reports its calls to the metrics, which read the feed revision from the store: late-bound.
  let metrics: ReturnType<typeof createGlobalMetrics> | undefined;
  const stores = createStores(database.db, { observe: (op, kind, s) => metrics?.storeOperation(op, kind, s) });
  metrics = createGlobalMetrics({ instanceId, defaultTenant: config.defaultTenant, resources: stores.resources, kds: stores.kds });
  const waker = await notifyWaker(database);
  // On PostgreSQL other replicas may hold a zone's session: forwarded requests reach them through the database.
  const relay = database.backend === 'postgres' ? await startRelay(database, instanceId, tracker, kdsLog) : undefined;
  const app = createGlobalApp({
    instanceId,
    hostname: hostname(),
    defaultTenant: config.defaultTenant,
    openStores: () => stores,
    // A token revoked on another replica stops working here within a heartbeat (at most TOKEN_CACHE_MS).
    auth: { loopbackAdmin: config.loopbackAdmin, operatorToken: config.operatorToken, isLoopback: (c) => isLoopback(getConnInfo(c).remote.address), tokenCacheMs: Math.min(TOKEN_CACHE_MS, config.kdsHeartbeatMs) },
    meshDefaults: config.meshDefaults,
    corsOrigins: config.corsOrigins,
    log,
    metrics,
    config: maskedConfig(config),
    // A proxy's xds/stats/clusters asked of its zone through its session, here or on another replica.
    forward: { instanceId, tracker, remote: relay },
    kds: {
      // LISTEN/NOTIFY: every replica on PostgreSQL, in-process on PGlite.
      waker,
      feed: new FeedCache(stores.resources, waker),
      // Checks every live session's zone token (revoked, expired, key retired) at least once a heartbeat.
      keeper: new LeaseKeeper(database.db, config.zoneLeaseMs, keeperIntervalMs(config.zoneLeaseMs, config.kdsHeartbeatMs), kdsLog),
      heartbeatMs: config.kdsHeartbeatMs,
      leaseTtlMs: config.zoneLeaseMs,
      upgradeWebSocket: upgradeWebSocket as never,
      tracker,
      onEnd: (e) => kdsLog.info('session ended', { zone: e.zone ?? '(before hello)', code: e.code, message: e.message }),
      log: kdsLog,
      metrics,
    },
  });
  // `/metrics` (Prometheus text) beside the app, without a token, as kuma-cp serves it on its diagnostics port.
  const fetch = async (req: Request, env: unknown) => {
    if (req.method === 'GET' && new URL(req.url).pathname === '/metrics') {
      const m = await metrics.render();
      return new Response(m.body, { headers: { 'content-type': m.contentType } });
    }
    return app.fetch(req, env);
  };

  const wss = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 * 1024 });
  const server = serve({ fetch, hostname: config.host, port: config.port, websocket: { server: wss } }, (info) => {
    log.info(`${PRODUCT} global API listening on http://${config.host}:${info.port} (store: ${database.backend})`);
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: shutting down`);
    // End KDS sessions cleanly first: their zones go Offline at once and reconnect to another replica.
    tracker
      .closeAll()
      .catch(() => {})
      .finally(() => {
        for (const ws of wss.clients) ws.terminate();
        server.close(() => {
          database.close().finally(() => process.exit(0));
        });
      });
    // Open keep-alive connections must not hold the process forever.
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

function isLoopback(address: string | undefined): boolean {
  return address !== undefined && (address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.'));
}

main().catch((err) => {
  console.error('ursa: failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
