/**
 * A global whose database cannot be reached answers every request that needs it with 503 and Kuma's error body
 * (HTTP API), or with a retryable KDS `unavailable` error (long-poll and WebSocket); never a 500, and nothing of
 * the driver's error reaches the client. Both ways the global opens PostgreSQL are covered: Node's shared pool,
 * and the Worker's client per request (`max: 1`, no prepared statements), which in a Worker is what a dropped
 * Hyperdrive connection looks like. The database is a real socket on 127.0.0.1 that refuses, resets, or accepts
 * and hangs up; no PostgreSQL is needed.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, createStores, decodeFrames, encodeFrame, openPostgres, type Stores, UNAVAILABLE_DETAIL, type Waker } from '@ursa/core';
import { startupGuardedSockets } from '@ursa/core/node';
import { createGlobalApp, StreamDriver } from '@ursa/global-api';
import { Frame, PollRequest } from '@ursa/proto/gen/kds.js';
import { freePort } from '@ursa/test-support/process.js';
import { rawHello } from '@ursa/test-support/kds-hello.js';

/** A zone token that parses (tenant, zone, id, expiry); checking its signature needs the database. */
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const ZONE_TOKEN = `${b64({ alg: 'HS256', kid: 'k1' })}.${b64({ tenant: 'default', zone: 'zone-1', jti: 'j1', exp: 4102444800, scope: 'zone' })}.${b64('sig')}`;

const noWaker: Waker = { subscribe: () => () => {}, close: async () => {} };
/** The warnings each failure logs are expected here. */
const quiet = createLogger({ level: 'error', name: 'test' });
const INTERNALS = /failed query|params:|select .* from|insert into|CONNECTION_[A-Z]|CONNECT_TIMEOUT|ECONN|postgres|127\.0\.0\.1/i;

type Mode = 'refuses' | 'resets' | 'hangs up';

/** A "database" on 127.0.0.1 that refuses connections (nothing listens), resets them, or accepts and closes them. */
async function deadDatabase(mode: Mode): Promise<{ url: string; close: () => Promise<void> }> {
  if (mode === 'refuses') return { url: `postgres://postgres@127.0.0.1:${await freePort()}/ursa`, close: async () => {} };
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s.once('close', () => sockets.delete(s)));
    if (mode === 'resets') s.resetAndDestroy();
    else s.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  // `server.close` waits for every connection to end; a client that never reads our FIN (a pool socket
  // postgres.js has paused) would hold it open and the suite's hook would time out, so ours are destroyed.
  const close = () =>
    new Promise<void>((r) => {
      server.close(() => r());
      for (const s of sockets) s.destroy();
    });
  return { url: `postgres://postgres@127.0.0.1:${port}/ursa`, close };
}

const clients = {
  'Node (shared pool)': (url: string) => {
    const stores = createStores(openPostgres(url, { socket: startupGuardedSockets() }).db);
    return () => stores;
  },
  'Worker (a client per request, as through Hyperdrive)': (url: string) => () => createStores(openPostgres(url, { max: 1, workerSafe: true }).db),
} satisfies Record<string, (url: string) => () => Stores>;

for (const mode of ['refuses', 'resets', 'hangs up'] as const) {
  for (const [client, open] of Object.entries(clients)) {
    // A Worker's database is Hyperdrive, which answers for it; a server hanging up mid-startup is Node's case
    // (a proxy whose database is gone), guarded by its sockets (startupGuardedSockets).
    if (mode === 'hangs up' && client.startsWith('Worker')) continue;
    describe(`global whose database ${mode}, ${client}`, () => {
      let db: Awaited<ReturnType<typeof deadDatabase>>;
      let app: ReturnType<typeof createGlobalApp>;
      let openStores: () => Stores;

      beforeAll(async () => {
        db = await deadDatabase(mode);
        openStores = open(db.url);
        app = createGlobalApp({
          instanceId: 'test-0000',
          hostname: 'test',
          defaultTenant: 'default',
          openStores,
          auth: { loopbackAdmin: true, isLoopback: () => true },
          meshDefaults: true,
          config: {},
          kds: { waker: noWaker, heartbeatMs: 1000, leaseTtlMs: 3000 },
          log: quiet,
        });
      });
      afterAll(() => db.close());

      const kumaError = async (res: Response, title: string) => {
        const text = await res.text();
        expect(res.status, text).toBe(503);
        expect(JSON.parse(text)).toMatchObject({ type: '/std-errors', status: 503, title, detail: UNAVAILABLE_DETAIL, details: UNAVAILABLE_DETAIL });
        expect(text).not.toMatch(INTERNALS);
      };

      it('HTTP: a read, a write and a token check are 503 with Kuma\'s body titled by operation', async () => {
        await kumaError(await app.request('/meshes/default/meshtimeouts'), 'Could not retrieve resources');
        await kumaError(await app.request('/meshes/default'), 'Could not retrieve a resource');
        const put = await app.request('/meshes/m1', { method: 'PUT', body: JSON.stringify({ type: 'Mesh', name: 'm1' }), headers: { 'content-type': 'application/json' } });
        await kumaError(put, 'Could not create or update a resource');
        // Checking a bearer token needs the database too; no operation is named yet.
        await kumaError(await app.request('/meshes', { headers: { authorization: `Bearer ursa_0123456789abcdef_${'a'.repeat(43)}` } }), 'Service Unavailable');
      });

      it('KDS long-poll: 503 with an Error frame `unavailable`', async () => {
        const res = await app.request('/kds/v1/poll?wait=0', { method: 'POST', body: PollRequest.encode({ hello: rawHello({ zone: 'zone-1', token: ZONE_TOKEN }), rejections: [], snapshotRevision: 0 }).finish() });
        expect(res.status).toBe(503);
        const [frame] = decodeFrames(new Uint8Array(await res.arrayBuffer())).frames;
        expect(frame?.body).toMatchObject({ $case: 'error', value: { code: 'unavailable' } });
        expect(JSON.stringify(frame)).not.toMatch(INTERNALS);
      });

      it('KDS WebSocket: an Error frame `unavailable`, then close 1013 (try again later)', async () => {
        const sent: Frame[] = [];
        let closed: { code?: number; reason?: string } | undefined;
        const stores = openStores();
        const driver = new StreamDriver(
          { send: (d) => sent.push(Frame.decode(d)), close: (code, reason) => (closed = { code, reason }) },
          { session: { resources: stores.resources, kds: stores.kds, zoneTokens: stores.zoneTokens, instanceId: 'test-0000', heartbeatMs: 1000, leaseTtlMs: 3000 }, waker: noWaker, log: quiet },
        );
        driver.receive(encodeFrame({ body: { $case: 'hello', value: rawHello({ zone: 'zone-1', token: ZONE_TOKEN }) } }));
        const deadline = Date.now() + 15_000;
        while (!closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        expect(closed?.code).toBe(1013);
        expect(sent.map((f) => f.body)).toEqual([{ $case: 'error', value: { code: 'unavailable', message: expect.any(String) } }]);
        expect(JSON.stringify(sent)).not.toMatch(INTERNALS);
        driver.closed();
      });
    });
  }
}
