/**
 * The zone's KDS session loop against an in-memory global (FakeGlobal, the transport interface; no
 * network), over the zone's real state: ZoneSyncState on an in-memory PGlite, its doorbell the real NOTIFY
 * waker. Transport-specific behaviour is covered end to end by test/kds-*.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHUNK_BYTES, createLogger, type Database, MAX_RESOURCE_BYTES, notifyWaker, ResourceStore, toWire, type Waker, type WireResource } from '@ursa/core';
import { type Delta, Frame } from '@ursa/proto/gen/kds.js';
import { migrate, openPglite } from '@ursa/core/node';
import { meshTimeout } from '@ursa/test-support/fixtures.js';
import { backoffDelay, KdsClient, type KdsClientOptions } from './client.js';
import { FakeGlobal } from './fake-global.js';
import { LOCAL, type SyncState, ZoneSyncState } from './state.js';

const policy = (name: string, timeout = '5s'): WireResource => {
  const d = meshTimeout(name, { timeout });
  return { kind: d.kind, mesh: d.mesh!, name: d.name, labels: d.labels ?? {}, spec: d.spec as Record<string, unknown> };
};
const dataplane = (name: string, port: unknown = 8080) => ({
  kind: 'Dataplane',
  mesh: 'default',
  name,
  spec: { networking: { address: '10.0.0.5', inbound: [{ port, tags: { 'kuma.io/service': 'web' } }] } },
});
/** Polls `check` every 10 ms until it holds, failing with `what` after `ms`. */
async function until(what: string, check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('KdsClient session loop (in-memory global)', () => {
  let database: Database;
  let store: ResourceStore;
  let state: ZoneSyncState;
  let waker: Waker;
  let lines: string[];
  const clients: KdsClient[] = [];

  beforeEach(async () => {
    database = await openPglite();
    await migrate(database);
    store = new ResourceStore(database.db);
    state = new ZoneSyncState(store);
    waker = await notifyWaker(database);
    lines = [];
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.stop()));
    await waker.close();
    await database.close();
  });

  function client(global: FakeGlobal, opts: Partial<KdsClientOptions> = {}): KdsClient {
    const c = new KdsClient({
      globalUrl: 'http://global.invalid',
      zone: 'zone-1',
      token: async () => 'token\n',
      transport: global.name,
      state,
      instanceId: 'zone-1-test',
      agentVersion: 'test',
      onLocalChange: (l) => waker.subscribe(LOCAL, () => l()),
      backoff: { baseMs: 20, maxMs: 200 },
      log: createLogger({ level: 'debug', name: 'zone-agent[zone-1]', write: (_level, line) => lines.push(line) }).child('kds'),
      connect: global,
      ...opts,
    });
    clients.push(c);
    c.start();
    return c;
  }
  const logged = (re: RegExp) => lines.filter((l) => re.test(l));
  const globalCopies = async () => (await store.list(LOCAL, 'MeshTimeout')).items.filter((r) => r.labels['kuma.io/origin'] === 'global').map((r) => r.name).sort();

  it('a Welcome with snapshot replaces what the global gave, only once the snapshot is complete, and keeps the zone\'s own resources', async () => {
    // Earlier state: a copy from the global that the new snapshot no longer has, and the zone's own Dataplane.
    await store.create(LOCAL, { ...policy('stale'), labels: { 'kuma.io/origin': 'global' } });
    await store.create(LOCAL, dataplane('web-1'));
    const global = new FakeGlobal();
    const c = client(global);
    const { conn, hello } = await global.connection(1);
    expect(hello).toMatchObject({ zone: 'zone-1', token: 'token', lastRevision: 0, features: expect.arrayContaining(['resume-v1', 'snapshot-complete']) });
    conn.welcome({ snapshot: true, revision: 12, inventoryRevision: 3, heartbeatIntervalMs: 60_000 });
    await until('connected', () => c.status.connected);
    expect(logged(/\.kds\tconnected to fake-global \(ws, snapshot, inventory from 3\)/)).toHaveLength(1);

    conn.delta({ snapshot: true, complete: false, revision: 12, upserts: [toWire(policy('a')), toWire({ ...policy('bad'), spec: { targetRef: { kind: 'Nope' } } })] });
    const ack1 = await conn.nth('ack', 1);
    expect(ack1.seq).toBe(1);
    expect(ack1.rejections.map((r) => r.key?.name)).toEqual(['bad']);
    // A partial snapshot changes nothing yet.
    expect(await globalCopies()).toEqual(['stale']);
    expect(await state.lastRevision()).toBe(0);

    conn.delta({ snapshot: true, complete: true, revision: 12, upserts: [toWire(policy('b'))] });
    const ack2 = await conn.nth('ack', 2);
    expect(ack2).toMatchObject({ seq: 2, revision: 12, rejections: [] });
    expect(await globalCopies()).toEqual(['a', 'b']);
    expect((await store.get(LOCAL, { kind: 'Dataplane', mesh: 'default', name: 'web-1' }))?.labels['kuma.io/origin']).not.toBe('global');
    expect(await state.lastRevision()).toBe(12);
    expect(c.status.lastRevision).toBe(12);
    expect(logged(/\tDEBUG\t.*applied 1 of 2 resources and 0 removals from the global\t.*"snapshot":"partial"/)).toHaveLength(1);
    expect(logged(/\tDEBUG\t.*applied 1 of 1 resources and 0 removals from the global\t.*"revision":12,"snapshot":"complete"/)).toHaveLength(1);
  });

  it('resumes from the persisted revision: a new client says it in its Hello and applies only the changes after it', async () => {
    const global = new FakeGlobal();
    const first = client(global);
    const one = await global.connection(1);
    one.conn.welcome({ snapshot: true, revision: 7, inventoryRevision: 1 });
    one.conn.delta({ snapshot: true, complete: true, revision: 7, upserts: [toWire(policy('a')), toWire(policy('b'))] });
    await one.conn.nth('ack', 1);
    await first.stop();
    expect(one.conn.closedBy).toBe('zone agent stopping');

    // As a restarted agent: a new client over the same database.
    const second = client(global);
    const two = await global.connection(2);
    expect(two.hello.lastRevision).toBe(7);
    expect(two.hello.inventoryRevision).toBe(await store.currentRevision(LOCAL));
    two.conn.welcome({ snapshot: false, revision: 9, inventoryRevision: two.hello.inventoryRevision });
    await until('connected', () => second.status.connected);
    expect(logged(/\.kds\tconnected to fake-global \(ws, resume, inventory from \d+\)/)).toHaveLength(1);
    two.conn.delta({ revision: 9, baseRevision: 7, upserts: [toWire(policy('c'))], removals: [{ kind: 'MeshTimeout', mesh: 'default', name: 'a' }] });
    expect(await two.conn.nth('ack', 1)).toMatchObject({ seq: 1, revision: 9, rejections: [] });
    // Incremental: what was there stays unless removed.
    expect(await globalCopies()).toEqual(['b', 'c']);
    expect(await state.lastRevision()).toBe(9);
    // A heartbeat moves the cursor past changes that concerned no one here.
    two.conn.heartbeat(11);
    await until('cursor at 11', async () => (await state.lastRevision()) === 11);
    expect(second.status.lastRevision).toBe(11);
  });

  it('reconnects after the global drops the connection, with the reason in the next Hello', async () => {
    const global = new FakeGlobal();
    const c = client(global);
    const one = await global.connection(1);
    one.conn.welcome({ inventoryRevision: 1 });
    await until('connected', () => c.status.connected);
    one.conn.drop('connection closed (1006)');
    const two = await global.connection(2);
    // Backoff after one short session: at most baseMs * 2 (here 40 ms), plus scheduling.
    expect(two.conn.openedAt - one.conn.droppedAt!).toBeLessThan(40 + 1000);
    expect(two.hello.lastError).toBe('connection closed (1006)');
    expect(c.status).toMatchObject({ connected: false, sessions: 2, lastError: 'connection closed (1006)' });
    expect(logged(/\.kds\tsession ended: connection closed \(1006\)/)).toHaveLength(1);
    two.conn.welcome({ inventoryRevision: 1 });
    await until('connected again', () => c.status.connected);
    expect(c.status.lastError).toBeUndefined();
    // A refusal ends the session the same way, and the client tries again.
    two.conn.error('zone-disabled', 'zone zone-1 was disabled on the global (enabled: false)');
    const three = await global.connection(3);
    expect(three.hello.lastError).toBe('global ended the session: zone-disabled: zone zone-1 was disabled on the global (enabled: false)');
    expect(two.conn.closedBy).toBe('session ended');
  });

  it('a global rejection of an upward resource is logged, and sync goes on', async () => {
    await store.create(LOCAL, dataplane('web-1'));
    await store.create(LOCAL, dataplane('web-2'));
    const global = new FakeGlobal();
    const c = client(global);
    const { conn } = await global.connection(1);
    // The global has none of the zone's inventory: a full snapshot goes up.
    conn.welcome({ inventoryRevision: 0 });
    const up1 = await conn.nth('delta', 1);
    expect(up1).toMatchObject({ seq: 1, snapshot: true, complete: true });
    expect(up1.upserts.map((r) => r.key?.name).sort()).toEqual(['web-1', 'web-2']);
    conn.ack(1, up1.revision, [{ key: { kind: 'Dataplane', mesh: 'default', name: 'web-2' }, reason: 'networking.inbound[0].port: must be an integer port' }]);
    await until('rejection logged', () => logged(/\tWARN\t.*\.kds\tglobal rejected Dataplane\/default\/web-2: networking\.inbound\[0\]\.port: must be an integer port/).length === 1);

    // The next local change goes up as an incremental batch after the acknowledged revision.
    await store.create(LOCAL, dataplane('web-3'));
    const up2 = await conn.nth('delta', 2);
    expect(up2).toMatchObject({ seq: 2, snapshot: false, complete: true, baseRevision: up1.revision });
    expect(up2.upserts.map((r) => r.key?.name)).toEqual(['web-3']);
    conn.ack(2, up2.revision);
    expect(c.status).toMatchObject({ connected: true, sessions: 1 });
    expect(conn.ended).toBe(false);
  });

  it('a change made while a batch waits for its Ack goes up right after the Ack, and more than a page goes up at once', async () => {
    await store.create(LOCAL, dataplane('web-1'));
    const global = new FakeGlobal();
    client(global);
    const { conn } = await global.connection(1);
    conn.welcome({ inventoryRevision: 0 });
    const up1 = await conn.nth('delta', 1);
    expect(up1.upserts.map((r) => r.key?.name)).toEqual(['web-1']);
    // Changes while the snapshot is in flight: 501 of them, more than one page (500) of changes.
    await store.apply(LOCAL, Array.from({ length: 501 }, (_, i) => ({ op: 'create' as const, resource: dataplane(`late-${i}`) })));
    await store.create(LOCAL, dataplane('last'));
    conn.ack(1, up1.revision);
    const up2 = await conn.nth('delta', 2);
    expect(up2).toMatchObject({ snapshot: false, baseRevision: up1.revision });
    expect(up2.upserts).toHaveLength(500);
    conn.ack(2, up2.revision);
    const up3 = await conn.nth('delta', 3);
    expect(up3).toMatchObject({ snapshot: false, baseRevision: up2.revision });
    expect([...up2.upserts, ...up3.upserts].map((r) => r.key?.name)).toHaveLength(502);
    expect(up3.upserts.map((r) => r.key?.name)).toContain('last');
  });

  it('an inventory batch starts where the global stands, though copies from the global moved the zone\'s revision', async () => {
    const global = new FakeGlobal();
    client(global);
    const { conn } = await global.connection(1);
    conn.welcome({ inventoryRevision: 0, snapshot: true, revision: 3 });
    // The zone has no inventory yet: an empty snapshot goes up, at the zone's revision then.
    const up1 = await conn.nth('delta', 1);
    expect(up1).toMatchObject({ snapshot: true, complete: true, upserts: [] });
    conn.ack(1, up1.revision);
    // Copies from the global move the zone's revision; none of it goes up.
    conn.delta({ snapshot: true, complete: true, revision: 3, upserts: [toWire(policy('a')), toWire(policy('b'))] });
    await conn.nth('ack', 1);
    expect(await store.currentRevision(LOCAL)).toBeGreaterThan(up1.revision);
    await store.create(LOCAL, dataplane('web-1'));
    const up2 = await conn.nth('delta', 2);
    // The global applied up1.revision: a long-poll push starting anywhere else is refused (out-of-order).
    expect(up2).toMatchObject({ snapshot: false, baseRevision: up1.revision, revision: await store.currentRevision(LOCAL) });
    expect(up2.upserts.map((r) => r.key?.name)).toEqual(['web-1']);
  });

  it('an inventory larger than a frame goes up packed by bytes: snapshot and changes as several frames, only the last complete moving the cursor', async () => {
    // 20 Dataplanes of ~45 KB (650 inbounds): ~900 KB, two frames or more at 512 KiB each.
    const big = (name: string, address: string) => ({
      ...dataplane(name),
      spec: { networking: { address, inbound: Array.from({ length: 650 }, (_, i) => ({ port: 1000 + i, tags: { 'kuma.io/service': `svc-${i}`, version: 'v1' } })) } },
    });
    await store.apply(LOCAL, Array.from({ length: 20 }, (_, i) => ({ op: 'create' as const, resource: big(`dp-${i}`, '10.0.0.1') })));
    const global = new FakeGlobal();
    client(global);
    const { conn } = await global.connection(1);
    conn.welcome({ inventoryRevision: 0 });
    /** Acknowledges every frame of one batch from the `from`th on, until its complete one. */
    const batch = async (from: number) => {
      const frames: Delta[] = [];
      for (let n = from; ; n++) {
        const d = await conn.nth('delta', n);
        frames.push(d);
        expect(Frame.encode({ body: { $case: 'delta', value: d } }).finish().byteLength).toBeLessThan(CHUNK_BYTES + MAX_RESOURCE_BYTES);
        conn.ack(n, d.revision);
        if (d.complete) return frames;
      }
    };
    const snap = await batch(1);
    expect(snap.length).toBeGreaterThan(1);
    expect(snap.every((d) => d.snapshot && d.revision === snap[0]!.revision)).toBe(true);
    expect(snap.map((d) => d.complete)).toEqual([...snap.slice(1).map(() => false), true]);
    expect(snap.flatMap((d) => d.upserts.map((r) => r.key?.name)).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `dp-${i}`).sort());

    // Every Dataplane changes: one batch of changes, split by size, all frames starting where the global stands.
    await store.apply(LOCAL, Array.from({ length: 20 }, (_, i) => ({ op: 'upsert' as const, resource: big(`dp-${i}`, '10.0.0.2') })));
    const changes = await batch(snap.length + 1);
    expect(changes.length).toBeGreaterThan(1);
    for (const d of changes) expect(d).toMatchObject({ snapshot: false, baseRevision: snap[0]!.revision, revision: changes[0]!.revision });
    expect(changes.flatMap((d) => d.upserts)).toHaveLength(20);
    // Only the complete frame's Ack moved the cursor: the next batch starts after it.
    await store.create(LOCAL, dataplane('small'));
    const next = await conn.nth('delta', snap.length + changes.length + 1);
    expect(next).toMatchObject({ snapshot: false, complete: true, baseRevision: changes[0]!.revision });
  });

  it('a limit of the global the zone crossed is logged as an error, and retried only after the longest backoff', async () => {
    const global = new FakeGlobal();
    const c = client(global, { backoff: { baseMs: 20, maxMs: 1000 } });
    const one = await global.connection(1);
    one.conn.welcome({ inventoryRevision: 1 });
    await until('connected', () => c.status.connected);
    const at = Date.now();
    one.conn.error('limit-exceeded', "the inventory snapshot of zone zone-1 exceeds the global's staging limit of 5 resources");
    const two = await global.connection(2);
    expect(two.conn.openedAt - at).toBeGreaterThanOrEqual(950);
    expect(two.hello.lastError).toMatch(/^global ended the session: limit-exceeded: .*staging limit of 5 resources$/);
    expect(logged(/\tERROR\t.*session ended: .*staging limit of 5 resources \(retrying every 1 s\)/)).toHaveLength(1);
  });

  it('ends a session whose global went silent for three heartbeats, within the documented bound, and reconnects', async () => {
    const hb = 200;
    const global = new FakeGlobal();
    const c = client(global);
    const one = await global.connection(1);
    one.conn.welcome({ heartbeatIntervalMs: hb, inventoryRevision: 1 });
    await until('connected', () => c.status.connected);
    // A global that keeps talking keeps the session, well past three intervals.
    const alive = Date.now() + 5 * hb;
    let lastHeard = Date.now();
    while (Date.now() < alive) {
      one.conn.heartbeat(0);
      lastHeard = Date.now();
      await new Promise((r) => setTimeout(r, hb / 2));
    }
    expect(one.conn.ended).toBe(false);
    // The zone heartbeats on its own while idle.
    expect(one.conn.sentOf('heartbeat').length).toBeGreaterThanOrEqual(3);

    await one.conn.whenEnded(10_000);
    const silentFor = one.conn.endedAt! - lastHeard;
    // Documented: 3 intervals of silence, checked every min(interval, 1 s); the rest is scheduling slack.
    expect(silentFor).toBeGreaterThanOrEqual(3 * hb);
    expect(silentFor).toBeLessThan(3 * hb + hb + 1500);
    expect(logged(new RegExp(`\\.kds\\tsession ended: no frame from the global for ${3 * hb} ms`))).toHaveLength(1);
    const two = await global.connection(2);
    expect(two.hello.lastError).toBe(`no frame from the global for ${3 * hb} ms`);
  });

  it('stops for good when the zone database aborts (onFatal), and never reconnects', async () => {
    const fatal: Error[] = [];
    // The real state, whose database dies when asked to apply, failing as PGlite does (WebAssembly.RuntimeError: Aborted(...)).
    const dying: SyncState = {
      lastRevision: () => state.lastRevision(),
      advance: (r) => state.advance(r),
      applyDown: async () => {
        throw Object.assign(new Error('Aborted(). Build with -sASSERTIONS for more info.'), { name: 'RuntimeError' });
      },
      inventoryRevision: () => state.inventoryRevision(),
      inventorySince: (r, l) => state.inventorySince(r, l),
      inventoryPage: (a, l) => state.inventoryPage(a, l),
    };
    const global = new FakeGlobal();
    const c = client(global, { state: dying, onFatal: (err) => fatal.push(err) });
    const { conn } = await global.connection(1);
    conn.welcome({ snapshot: true, revision: 5, inventoryRevision: 1 });
    conn.delta({ snapshot: true, complete: true, revision: 5, upserts: [toWire(policy('a'))] });
    await until('onFatal', () => fatal.length === 1);
    expect(fatal[0]!.message).toMatch(/^Aborted\(/);
    expect(c.status).toMatchObject({ connected: false, fatal: expect.stringMatching(/^the zone database aborted: Aborted\(/) });
    expect(logged(/\tERROR\t.*sync stopped for good/)).toHaveLength(1);
    // No Ack for what could not be applied, and no new session: past several backoff caps, still one.
    expect(conn.sentOf('ack')).toEqual([]);
    await new Promise((r) => setTimeout(r, 3 * 200));
    expect(global.connections).toHaveLength(1);
    expect(conn.ended).toBe(true);
    await c.stop();
  });
});

describe('backoffDelay', () => {
  it('backs off exponentially with full jitter, capped', () => {
    const b = { baseMs: 100, maxMs: 1000 };
    expect([1, 2, 3, 4, 5].map((f) => backoffDelay(f, b, () => 1))).toEqual([200, 400, 800, 1000, 1000]);
    expect(backoffDelay(3, b, () => 0.5)).toBe(400);
    expect(backoffDelay(1000, b, () => 1)).toBe(1000);
  });
});
