/**
 * KDS over WebSocket on Cloudflare Workers: the global plane in workerd (`wrangler dev`, a real child process),
 * stream sessions relayed by the Worker to the tenant's KDS hub (a Durable Object, global-api/src/worker/
 * kds-hub.ts), PostgreSQL 15 through the Hyperdrive binding, and two real zone-agent processes: one over
 * WebSocket, one over long-poll.
 *
 * Always runs: the relay's routing (in Node), and in workerd without a database what is refused before any
 * database is read (not an upgrade, a first frame that is no Hello, a text frame, an absent token, silence).
 * With DATABASE_URL: zone token refusal on both transports, tenant isolation, and the end-to-end suite
 * (sync both ways, a restart of wrangler dev as a deploy, zone deletion).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Frame, Frames, PollRequest, type Hello } from '@ursa/proto/gen/kds.js';
import { type Database, encodeFrame, ResourceStore, TokenStore } from '@ursa/core';
import { hubName, routeOf, sendableCloseCode, shardOf, tenantOf } from '@ursa/global-api';
import { call } from '@ursa/test-support/api.js';
import { postgresBackend } from '@ursa/test-support/backends.js';
import { removeDirs, startZoneAgent, type ZoneProc } from '@ursa/test-support/cluster.js';
import { meshTimeoutBody as mt } from '@ursa/test-support/fixtures.js';
import { errorOf, rawHello } from '@ursa/test-support/kds-hello.js';
import { freePort } from '@ursa/test-support/process.js';
import { startWorkerd, type Workerd } from '@ursa/test-support/workerd.js';
import { kdsReady, onlineZones, snapshotBytes as snapshotSize, webDataplane as dataplane, welcomes as welcomesOf, zoneHasTimeout } from '@ursa/test-support/worker-kds.js';
import { eventually } from '@ursa/test-support/zone.js';

const DATABASE_URL = process.env.DATABASE_URL;

const hello = rawHello;
const helloFrame = (h: Partial<Hello>) => encodeFrame({ body: { $case: 'hello', value: hello(h) } });
/** A token-shaped string claiming `tenant` (unsigned: only the relay's routing reads it). */
const claiming = (tenant: string) => `e30.${Buffer.from(JSON.stringify({ tenant })).toString('base64url')}.sig`;

interface RawSession {
  readonly frames: Frame[];
  /** Resolves with the close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;
  send(data: Uint8Array | string): void;
  close(): void;
}

/** A bare KDS WebSocket client (the `ws` library, as the zone agent uses), for what an agent never sends. */
async function rawStream(url: string): Promise<RawSession> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/kds/v1/stream`);
  const frames: Frame[] = [];
  ws.on('message', (d: Buffer) => frames.push(Frame.decode(d)));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { frames, closed, send: (d) => ws.send(d), close: () => ws.close() };
}

/** Resolves with the close, or fails after `ms`. */
async function closedWithin(s: RawSession, ms: number): Promise<{ code: number; reason: string }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`socket still open after ${ms} ms; frames: ${JSON.stringify(s.frames.map((f) => f.body?.$case))}`)), ms)));
  try {
    return await Promise.race([s.closed, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A stream session that sends `first` and is refused: the Error frame, then the close. */
async function refusedStream(url: string, first: Uint8Array | string): Promise<{ code: string; message: string; close: number }> {
  const s = await rawStream(url);
  s.send(first);
  const closed = await closedWithin(s, 10_000);
  const err = errorOf(s.frames);
  expect(err, `an Error frame before the close (${closed.code} ${closed.reason})`).toBeDefined();
  return { code: err!.code, message: err!.message, close: closed.code };
}

/** A long-poll that is refused: the status and its Error frame. */
async function refusedPoll(url: string, h: Partial<Hello>): Promise<{ status: number; code: string; message: string }> {
  const res = await fetch(`${url}/kds/v1/poll?wait=0`, { method: 'POST', body: PollRequest.encode({ hello: hello(h), rejections: [], snapshotRevision: 0 }).finish() });
  const err = errorOf(Frames.decode(new Uint8Array(await res.arrayBuffer())).frames);
  expect(err, `an Error frame in the ${res.status} answer`).toBeDefined();
  return { status: res.status, code: err!.code, message: err!.message };
}

describe('WebSocket KDS relay routing (in Node)', () => {
  it("picks the hub by the tenant the zone token claims, else Hello's tenant, else the default", () => {
    expect(tenantOf(helloFrame({ token: claiming('acme') }).slice().buffer, 'default')).toBe('acme');
    expect(tenantOf(helloFrame({ token: claiming('acme'), tenant: 'globex' }).slice().buffer, 'default')).toBe('acme');
    expect(tenantOf(helloFrame({ token: 'not-a-jwt', tenant: 'globex' }).slice().buffer, 'default')).toBe('globex');
    expect(tenantOf(helloFrame({ token: '' }).slice().buffer, 'default')).toBe('default');
    expect(tenantOf(encodeFrame({ body: { $case: 'heartbeat', value: { revision: 1 } } }).slice().buffer, 'default')).toBe('default');
    expect(tenantOf(new Uint8Array([0xff, 0xff, 0xff]).buffer, 'default')).toBe('default');
    expect(tenantOf('hello', 'default')).toBe('default');
    expect(tenantOf(helloFrame({ token: claiming('x'.repeat(500)) }).slice().buffer, 'default')).toBe('default');
  });

  it("with KDS_HUB_SHARDS, picks the zone's hub by a stable hash of its name, spread evenly", () => {
    expect(routeOf(helloFrame({ token: claiming('acme'), zone: 'zone-7' }).slice().buffer, 'default')).toEqual({ tenant: 'acme', zone: 'zone-7' });
    expect(routeOf('hello', 'default')).toEqual({ tenant: 'default', zone: '' });
    // One shard keeps the hub named by the tenant alone (the objects a deployment had before sharding).
    expect([shardOf('zone-7', 1), hubName('acme', 0, 1), hubName('acme', 3, 4)]).toEqual([0, 'acme', 'acme#3']);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) counts[shardOf(`zone-${i}`, 4)]! += 1;
    for (const c of counts) expect(c, JSON.stringify(counts)).toBeGreaterThan(800);
    expect(shardOf('zone-7', 4)).toBe(shardOf('zone-7', 4));
  });

  it('never relays a close code that may not be sent', () => {
    expect([1005, 1006, 1015, undefined, 999, 2000].map(sendableCloseCode)).toEqual([1000, 1011, 1011, 1000, 1011, 1011]);
    expect([1000, 1001, 1008, 1011, 4000].map(sendableCloseCode)).toEqual([1000, 1001, 1008, 1011, 4000]);
  });
});

describe('WebSocket KDS in workerd: refused before any database read', () => {
  let worker: Workerd;
  beforeAll(async () => {
    worker = await startWorkerd({ vars: { KDS_HEARTBEAT_MS: '300' } });
  }, 90_000);
  afterAll(async () => worker?.stop());

  it('a plain GET is 426 with a Kuma error body naming the upgrade', async () => {
    const r = await call(worker.url, 'GET', '/kds/v1/stream');
    expect(r.status).toBe(426);
    expect(r.body).toMatchObject({ type: '/std-errors', status: 426, title: 'Upgrade Required' });
    expect(r.body.detail).toContain('Upgrade: websocket');
  });

  it('a first frame that is no Hello, an undecodable one, a text one: bad-frame, then close 1008', async () => {
    const notHello = await refusedStream(worker.url, encodeFrame({ body: { $case: 'heartbeat', value: { revision: 0 } } }));
    expect(notHello).toEqual({ code: 'bad-frame', message: 'the first frame must be hello, got heartbeat', close: 1008 });
    const garbage = await refusedStream(worker.url, new Uint8Array([0xff, 0xff, 0xff, 0xff]));
    expect(garbage.code).toBe('bad-frame');
    expect(garbage.close).toBe(1008);
    const text = await refusedStream(worker.url, 'hello');
    expect(text).toEqual({ code: 'bad-frame', message: 'text message received: KDS frames are binary protobuf messages', close: 1008 });
  });

  it('an absent zone token is refused on both transports with the same message', async () => {
    const message = 'hello.token is empty: the global requires a zone token (POST /tokens/zone)';
    expect(await refusedStream(worker.url, helloFrame({ token: '' }))).toEqual({ code: 'unauthenticated', message, close: 1008 });
    expect(await refusedPoll(worker.url, { token: '' })).toEqual({ status: 401, code: 'unauthenticated', message });
  });

  it('a socket that never says hello is ended after three heartbeats', async () => {
    const s = await rawStream(worker.url);
    const began = Date.now();
    const closed = await closedWithin(s, 10_000);
    expect(closed.code).toBe(1008);
    expect(errorOf(s.frames)).toEqual({ code: 'unauthenticated', message: 'no hello within 900 ms of connecting' });
    expect(Date.now() - began).toBeGreaterThanOrEqual(800);
  });
});

const zoneIngress = (port: number) => ({ type: 'ZoneIngress', name: 'ingress', networking: { address: '10.0.0.1', advertisedAddress: '192.0.2.10', port, advertisedPort: port } });

if (DATABASE_URL) {
  describe('KDS over WebSocket and long-poll against the global in workerd (PostgreSQL through Hyperdrive)', () => {
    const LEASE_MS = 2000;
    // Two hubs per tenant: zones are spread over both by name (the default, one, is what bench/worker.ts runs).
    const SHARDS = 2;
    const vars = { ZONE_LEASE_MS: String(LEASE_MS), KDS_HEARTBEAT_MS: '500', KDS_POLL_INTERVAL_MS: '250', KDS_HUB_SHARDS: String(SHARDS) };
    /** zone -> transport: one of each. */
    const TRANSPORTS = { 'zone-ws': 'ws', 'zone-lp': 'poll' } as const;
    type ZoneName = keyof typeof TRANSPORTS;
    const ZONES = Object.keys(TRANSPORTS) as ZoneName[];
    let db: { database: Database; dispose: () => Promise<void> } | undefined;
    let port = 0;
    let worker: Workerd | undefined;
    const earlierOutput: string[] = [];
    const tokens = { acme: '', globex: '' };
    const zones: Partial<Record<ZoneName, ZoneProc>> = {};

    const api = (method: string, path: string, body?: unknown, token = tokens.acme) => call(worker!.url, method, path, { body, token });
    const ready = (zone: ZoneName) => kdsReady(zones[zone]!);
    const zoneHas = (zone: ZoneName, name: string, timeout: string) => zoneHasTimeout(zones[zone]!, name, timeout);
    const welcomes = (zone: ZoneName) => welcomesOf(zones[zone]!);
    const zoneToken = async (zone: string, token = tokens.acme) => {
      const r = await api('POST', '/tokens/zone', { zone, validFor: 3600 }, token);
      expect(r.status).toBe(201);
      return r.body as { id: string; token: string };
    };

    beforeAll(async () => {
      db = await postgresBackend(DATABASE_URL).open(); // a fresh database, migrated (the Worker never migrates)
      const store = new TokenStore(db.database.db);
      for (const t of ['acme', 'globex'] as const) {
        await store.createTenant(t);
        tokens[t] = (await store.issue(t, { name: 'admin', role: 'admin' })).token;
      }
      port = await freePort();
      worker = await startWorkerd({ port, databaseUrl: db.database.url, vars });
      expect((await api('PUT', '/meshes/default', { type: 'Mesh', name: 'default' })).status).toBe(201);
      await Promise.all(
        ZONES.map(async (name) => {
          const { token } = await zoneToken(name);
          zones[name] = await startZoneAgent({ name, globalUrl: worker!.url, token, transport: TRANSPORTS[name] });
        }),
      );
    }, 120_000);

    afterAll(async () => {
      await Promise.all(Object.values(zones).map((z) => z.stop()));
      await worker?.stop();
      await db?.dispose();
      await removeDirs(Object.values(zones).map((z) => z.dataDir));
    });

    it('both zones connect (one over WebSocket through the hub, one over long-poll), are Online and get the mesh in a snapshot', async () => {
      await eventually('2 zones online', async () => onlineZones((await api('GET', '/zones/_overview')).body).length === 2, 30_000);
      for (const z of ZONES) await eventually(`${z} has the mesh`, async () => (await call(zones[z]!.url, 'GET', '/meshes/default')).status === 200, 20_000);
      expect(welcomes('zone-ws')[0]).toMatch(/connected to workerd-hub-[0-9a-f]{4} \(ws, snapshot, inventory from 0\)/);
      expect(welcomes('zone-lp')[0]).toMatch(/\(poll, snapshot/);
    });

    it('a policy created through the Worker reaches both zones, and its update and deletion too', async () => {
      const began = Date.now();
      expect((await api('PUT', '/meshes/default/meshtimeouts/slow', mt('slow', '3s'))).status).toBe(201);
      await eventually('zone-ws has slow', () => zoneHas('zone-ws', 'slow', '3s'), 20_000);
      const wsMs = Date.now() - began;
      await eventually('zone-lp has slow', () => zoneHas('zone-lp', 'slow', '3s'), 20_000);
      // The write rang the hub: not the 25 s poll wait, nor a string of heartbeats.
      expect(wsMs).toBeLessThan(5000);
      await api('PUT', '/meshes/default/meshtimeouts/slow', mt('slow', '9s'));
      await Promise.all(ZONES.map((z) => eventually(`${z} has slow=9s`, () => zoneHas(z, 'slow', '9s'), 20_000)));
      expect((await api('DELETE', '/meshes/default/meshtimeouts/slow')).status).toBe(200);
      await Promise.all(ZONES.map((z) => eventually(`${z} lost slow`, async () => (await call(zones[z]!.url, 'GET', '/meshes/default/meshtimeouts/slow')).status === 404, 20_000)));
    });

    it("with two hubs per tenant, a zone on the other hub gets the Worker's writes and the first hub's own writes", { timeout: 90_000 }, async () => {
      // A second WebSocket zone whose name hashes to the other hub than zone-ws's.
      const name = ['zone-s1', 'zone-s2', 'zone-s3', 'zone-s4'].find((n) => shardOf(n, SHARDS) !== shardOf('zone-ws', SHARDS))!;
      const { token } = await zoneToken(name);
      const other = await startZoneAgent({ name, globalUrl: worker!.url, token, transport: 'ws' });
      try {
        await eventually(`${name} has the mesh`, async () => (await call(other.url, 'GET', '/meshes/default')).status === 200, 30_000);
        const hubOf = (lines: string[]) => /connected to (workerd-hub-[0-9a-f]{4})/.exec(lines.at(-1) ?? '')?.[1];
        expect(hubOf(welcomesOf(other)), 'served by another hub (Durable Object) than zone-ws').not.toBe(hubOf(welcomes('zone-ws')));
        // A write through the Worker rings both hubs: both zones have it at once, not after a heartbeat.
        const began = Date.now();
        expect((await api('PUT', '/meshes/default/meshtimeouts/sharded', mt('sharded', '6s'))).status).toBe(201);
        await Promise.all([eventually('zone-ws has sharded', () => zoneHas('zone-ws', 'sharded', '6s'), 20_000), eventually(`${name} has sharded`, () => zoneHasTimeout(other, 'sharded', '6s'), 20_000)]);
        expect(Date.now() - began).toBeLessThan(5000);
        // A write made by zone-ws's hub (its zone's ingress, which every other zone receives) reaches the other hub's zone.
        expect((await call(zones['zone-ws']!.url, 'PUT', '/zoneingresses/shard-ingress', { body: { ...zoneIngress(10003), name: 'shard-ingress' } })).status).toBe(201);
        await eventually(`${name} has zone-ws's ingress`, async () =>
          ((await call(other.url, 'GET', '/zoneingresses')).body.items as { labels?: Record<string, string> }[]).some((i) => i.labels?.['kuma.io/zone'] === 'zone-ws'),
        20_000);
        expect((await call(zones['zone-ws']!.url, 'DELETE', '/zoneingresses/shard-ingress')).status).toBe(200);
        expect((await api('DELETE', '/meshes/default/meshtimeouts/sharded')).status).toBe(200);
      } finally {
        await other.stop();
        await removeDirs([other.dataDir]);
      }
      // Leave the zone list as the other tests expect it (a WebSocket zone is deletable as soon as its agent stops).
      await eventually(`${name} deleted`, async () => (await api('DELETE', `/zones/${name}`)).status === 200, 20_000);
    });

    it('a write that bypasses the Worker (another global on the same database) still reaches both zones, unrung', async () => {
      // Written straight into the database, as a Node global or a tool sharing it would: nothing rings the hub.
      await new ResourceStore(db!.database.db).upsert('acme', { kind: 'MeshTimeout', mesh: 'default', name: 'side-door', spec: mt('side-door', '4s').spec });
      const began = Date.now();
      await eventually('zone-ws has side-door', () => zoneHas('zone-ws', 'side-door', '4s'), 20_000);
      // Found by the hub's revision watch (250 ms here), or at the latest by a heartbeat's re-read of the feed.
      expect(Date.now() - began).toBeLessThan(5000);
      await eventually('zone-lp has side-door', () => zoneHas('zone-lp', 'side-door', '4s'), 20_000);
    });

    it("zone inventory reaches the Worker's API from both zones, and each zone's ingress reaches the other", { timeout: 90_000 }, async () => {
      for (const z of ZONES) expect((await call(zones[z]!.url, 'PUT', '/meshes/default/dataplanes/web-1', { body: dataplane('web-1') })).status).toBe(201);
      expect((await call(zones['zone-ws']!.url, 'PUT', '/zoneingresses/ingress', { body: zoneIngress(10001) })).status).toBe(201);
      expect((await call(zones['zone-lp']!.url, 'PUT', '/zoneingresses/ingress', { body: zoneIngress(10002) })).status).toBe(201);
      for (const z of ZONES) {
        await eventually(`web-1 of ${z} on the global`, async () => (await api('GET', `/meshes/default/dataplanes?filter[labels.kuma.io/zone]=${z}`)).body.total === 1, 40_000);
        const dp = (await api('GET', `/meshes/default/dataplanes?filter[labels.kuma.io/zone]=${z}`)).body.items[0];
        expect(dp.labels).toMatchObject({ 'kuma.io/origin': 'zone', 'kuma.io/zone': z, 'kuma.io/display-name': 'web-1' });
        expect(dp.networking.inbound[0].tags['kuma.io/zone']).toBe(z);
      }
      // zone-ws's ingress was written by the hub (rings its own sessions and the revision moves for the polls);
      // zone-lp's by a push through the Worker (which rings the hub).
      const remoteIn = async (at: ZoneName, from: ZoneName) =>
        ((await call(zones[at]!.url, 'GET', '/zoneingresses')).body.items as { labels?: Record<string, string> }[]).some((i) => i.labels?.['kuma.io/origin'] === 'global' && i.labels?.['kuma.io/zone'] === from);
      await eventually('zone-lp has the ingress of zone-ws', () => remoteIn('zone-lp', 'zone-ws'), 40_000);
      await eventually('zone-ws has the ingress of zone-lp', () => remoteIn('zone-ws', 'zone-lp'), 40_000);
    });

    it('a wrong, absent, revoked or foreign zone token is refused on both transports, with the same error', async () => {
      const { token: good } = await zoneToken('zone-t');
      const tampered = `${good.slice(0, -4)}${good.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
      const revoked = await zoneToken('zone-r');
      expect((await api('DELETE', `/tokens/zone/${revoked.id}`)).status).toBe(200);
      const { token: foreign } = await zoneToken('zone-t', tokens.globex);
      const cases: { what: string; hello: Partial<Hello>; code: string; status: number; message: RegExp }[] = [
        { what: 'absent', hello: { zone: 'zone-t', token: '' }, code: 'unauthenticated', status: 401, message: /hello\.token is empty/ },
        { what: 'malformed', hello: { zone: 'zone-t', token: 'not-a-token' }, code: 'unauthenticated', status: 401, message: /malformed/ },
        { what: 'tampered', hello: { zone: 'zone-t', token: tampered }, code: 'unauthenticated', status: 401, message: /signature is not valid/ },
        { what: 'for another zone', hello: { zone: 'zone-u', token: good }, code: 'forbidden', status: 403, message: /for zone "zone-t", not "zone-u"/ },
        { what: 'revoked', hello: { zone: 'zone-r', token: revoked.token }, code: 'unauthenticated', status: 401, message: /revoked/ },
        { what: "another tenant's, naming this one", hello: { zone: 'zone-t', token: foreign, tenant: 'acme' }, code: 'forbidden', status: 403, message: /another tenant/ },
      ];
      for (const c of cases) {
        const stream = await refusedStream(worker!.url, helloFrame(c.hello));
        const poll = await refusedPoll(worker!.url, c.hello);
        expect(stream.code, c.what).toBe(c.code);
        expect(stream.message, c.what).toMatch(c.message);
        expect(stream.close, c.what).toBe(1008);
        expect(poll, c.what).toEqual({ status: c.status, code: c.code, message: stream.message });
      }
      // None of them created a zone.
      const names = ((await api('GET', '/zones')).body.items as { name: string }[]).map((z) => z.name).sort();
      expect(names).toEqual(['zone-lp', 'zone-ws']);
    });

    it("revoking a live WebSocket session's token ends it within a lease-keeper tick", async () => {
      const issued = await zoneToken('zone-rv');
      const s = await rawStream(worker!.url);
      s.send(helloFrame({ zone: 'zone-rv', token: issued.token }));
      await eventually('welcome', () => s.frames.some((f) => f.body?.$case === 'welcome'), 10_000);
      expect((await api('DELETE', `/tokens/zone/${issued.id}`)).status).toBe(200);
      const closed = await closedWithin(s, 10_000);
      expect(closed.code).toBe(1008);
      expect(errorOf(s.frames)).toEqual({ code: 'unauthenticated', message: 'the zone token was revoked' });
    });

    it("tenant isolation: a zone of another tenant, on the same Worker, receives that tenant's configuration only", async () => {
      expect((await api('PUT', '/meshes/other', { type: 'Mesh', name: 'other', skipCreatingInitialPolicies: ['*'] }, tokens.globex)).status).toBe(201);
      const { token } = await zoneToken('zone-g', tokens.globex);
      const s = await rawStream(worker!.url);
      s.send(helloFrame({ zone: 'zone-g', token }));
      await eventually('a complete snapshot', () => s.frames.some((f) => f.body?.$case === 'delta' && f.body.value.snapshot && f.body.value.complete), 10_000);
      const keys = s.frames.flatMap((f) => (f.body?.$case === 'delta' ? f.body.value.upserts.map((u) => `${u.key?.kind}/${u.key?.mesh}/${u.key?.name}`) : []));
      // Its own mesh, and the public half of its own zone-token signing key (published for its zones; the
      // token just issued created it); nothing of acme's.
      expect(keys.filter((k) => !k.startsWith('GlobalSecret//zone-token-'))).toEqual(['Mesh//other']);
      expect(keys.filter((k) => k.startsWith('GlobalSecret//zone-token-signing-public-key-'))).toHaveLength(1);
      s.close();
      await closedWithin(s, 5000);
      // And acme's zones never saw globex's mesh.
      expect((await call(zones['zone-ws']!.url, 'GET', '/meshes/other')).status).toBe(404);
    });

    it('a disabled WebSocket zone is cut off and refused, and comes back when enabled', async () => {
      expect((await api('PUT', '/zones/zone-ws', { type: 'Zone', name: 'zone-ws', enabled: false })).status).toBe(200);
      await eventually('zone-ws refused', async () => {
        const r = await ready('zone-ws');
        return r.connected === false && /zone-disabled/.test(r.lastError ?? '');
      }, 20_000);
      await api('PUT', '/meshes/default/meshtimeouts/while-disabled', mt('while-disabled', '2s'));
      await eventually('zone-lp has while-disabled', () => zoneHas('zone-lp', 'while-disabled', '2s'), 20_000);
      // zone-lp no longer sees the disabled zone's ingress.
      await eventually('zone-lp dropped the ingress of zone-ws', async () =>
        !((await call(zones['zone-lp']!.url, 'GET', '/zoneingresses')).body.items as { labels?: Record<string, string> }[]).some((i) => i.labels?.['kuma.io/zone'] === 'zone-ws'),
      20_000);
      expect(await zoneHas('zone-ws', 'while-disabled', '2s')).toBe(false);
      expect((await api('PUT', '/zones/zone-ws', { type: 'Zone', name: 'zone-ws', enabled: true })).status).toBe(200);
      await eventually('zone-ws back with while-disabled', () => zoneHas('zone-ws', 'while-disabled', '2s'), 30_000);
    });

    it('after a restart of wrangler dev (as a deploy cuts every socket) both zones resume: no snapshot either way', { timeout: 120_000 }, async () => {
      // Enough content that a resent snapshot would show: 40 policies.
      for (let i = 0; i < 40; i++) expect((await api('PUT', `/meshes/default/meshtimeouts/bulk-${i}`, mt(`bulk-${i}`, `${i + 1}s`))).status).toBe(201);
      await Promise.all(ZONES.map((z) => eventually(`${z} has bulk-39`, () => zoneHas(z, 'bulk-39', '40s'), 30_000)));
      // What a snapshot of this mesh costs: the bytes a fresh WebSocket session of a never-synced zone receives.
      const probe = await zoneToken('zone-c');
      const snapshotBytes = await snapshotSize(worker!.url, probe.token, 'ws', 'bulk-39');
      expect(snapshotBytes).toBeGreaterThan(5000);

      const before = Object.fromEntries(await Promise.all(ZONES.map(async (z) => [z, { ready: await ready(z), welcomes: welcomes(z).length }] as const)));
      await worker!.stop();
      earlierOutput.push(worker!.child.output());
      await Promise.all(ZONES.map((z) => eventually(`${z} disconnected`, async () => (await ready(z)).connected === false, 20_000)));
      worker = await startWorkerd({ port, databaseUrl: db!.database.url, vars });

      expect((await api('PUT', '/meshes/default/meshtimeouts/after-restart', mt('after-restart', '7s'))).status).toBe(201);
      await Promise.all(ZONES.map((z) => eventually(`${z} has after-restart`, () => zoneHas(z, 'after-restart', '7s'), 30_000)));
      for (const z of ZONES) {
        const now = await ready(z);
        expect(now.connected).toBe(true);
        expect(now.sessions).toBeGreaterThan(before[z]!.ready.sessions);
        // The Welcome of each new session said "resume" (downstream continues from the zone's revision) with the
        // inventory revision the global had applied (upstream continues too), and few bytes came in.
        const lines = welcomes(z).slice(before[z]!.welcomes);
        expect(lines.length, `${z}: a new session after the restart`).toBeGreaterThan(0);
        for (const line of lines) {
          expect(line).toContain(`(${TRANSPORTS[z]}, resume`);
          expect(line).not.toMatch(/inventory from 0\)/);
        }
        const received = now.bytesIn - before[z]!.ready.bytesIn;
        expect(received, `${z} received ${received} B after the restart; a snapshot is ${snapshotBytes} B`).toBeLessThan(snapshotBytes / 4);
        console.log(`${z} (${TRANSPORTS[z]}): ${received} B received across the restart and one change; a snapshot of the mesh is ${snapshotBytes} B`);
      }
      // Nor was the zones' inventory resent: still exactly one web-1 per zone on the global.
      for (const z of ZONES) expect((await api('GET', `/meshes/default/dataplanes?filter[labels.kuma.io/zone]=${z}`)).body.total).toBe(1);
    });

    it('a zone cannot be deleted while connected; once its agent stops it can: over WebSocket at once, over long-poll when its lease runs out', { timeout: 90_000 }, async () => {
      for (const z of ZONES) {
        const refused = await api('DELETE', `/zones/${z}`);
        expect(refused.status, z).toBe(400);
        expect(refused.body.invalid_parameters[0]).toMatchObject({ field: 'zone', reason: 'unable to delete Zone, Zone CP is still connected, please shut it down first' });
      }
      const took: Partial<Record<ZoneName, number>> = {};
      await Promise.all(
        ZONES.map(async (z) => {
          await zones[z]!.stop();
          const stopped = Date.now();
          // Over WebSocket the closed socket ends the session and its lease at once. An abandoned long-poll keeps
          // renewing until its wait (25 s) ends or a change wakes it (request.signal does not abort in local
          // workerd: docs/architecture.md); here the WebSocket zone's deletion, which removes its ingress, does.
          await eventually(`${z} deletable`, async () => (await api('DELETE', `/zones/${z}`)).status === 200, 25_000 + LEASE_MS + 10_000);
          took[z] = Date.now() - stopped;
        }),
      );
      expect(took['zone-ws']!, 'the WebSocket zone did not wait for its lease').toBeLessThan(LEASE_MS);
      for (const z of ZONES) {
        expect((await api('GET', `/meshes/default/dataplanes?filter[labels.kuma.io/zone]=${z}`)).body.total, z).toBe(0);
        expect((await api('GET', `/zone-insights/${z}`)).status, z).toBe(404);
      }
      console.log(`deletable after the agent stopped: ${JSON.stringify(took)} ms (lease ${LEASE_MS} ms)`);
    });

    it('workerd logged no uncaught error, cross-request I/O or failed session', () => {
      const logs = [...earlierOutput, worker!.child.output()].join('\n');
      expect(logs).toContain('GET /kds/v1/stream 101');
      const bad = /Uncaught|unhandled|Cannot perform I\/O|hanging Promise|Stream was cancelled|ursa kds: (poll|session) failed|ringing (the )?KDS hub|revision watch failed/i;
      const lines = logs.split('\n');
      // Each bad line with the lines around it, so a failure says what was going on.
      const found = lines.flatMap((l, i) => (bad.test(l) ? [lines.slice(Math.max(0, i - 4), i + 3).join('\n')] : []));
      expect(found.join('\n---\n')).toBe('');
    });
  });
}
