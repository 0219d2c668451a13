/**
 * KDS under hostile or broken input: raw WebSocket clients on /kds/v1/stream and raw HTTP on /kds/v1/poll
 * and /kds/v1/push send what a zone never should. Each attack ends its own session with an `Error` frame
 * naming the problem (WebSocket: then a close; HTTP: a 4xx whose body is `Frames` holding that one Error),
 * except a batch with an invalid resource, which is answered by an Ack with a rejection. Meanwhile
 * well-behaved zones on the same global (one per transport) keep syncing without ever reconnecting.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Frame, Frames, PollRequest, PushRequest, type Delta, type Hello, type Resource } from '@ursa/proto/gen/kds.js';
import { createLogger, type Database } from '@ursa/core';
import { migrate, openPglite } from '@ursa/core/node';
import { backends } from '@ursa/test-support/backends.js';
import { call, startApi, type ApiServer } from '@ursa/test-support/api.js';
import { rawHello } from '@ursa/test-support/kds-hello.js';
import { eventually, startZone, type TestZone } from '@ursa/test-support/zone.js';

const policy = (name: string, timeout: string) => ({
  type: 'MeshTimeout',
  mesh: 'default',
  name,
  spec: { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { http: { requestTimeout: timeout } } }] },
});

const enc = (f: Frame) => Frame.encode(f).finish();
const wire = (kind: string, mesh: string, name: string, spec: unknown): Resource => ({ key: { kind, mesh, name }, labels: {}, specJson: Buffer.from(JSON.stringify(spec)) });
const dataplane = (name: string, port: unknown) => wire('Dataplane', 'default', name, { networking: { address: '10.0.0.9', inbound: [{ port, tags: { 'kuma.io/service': 'web' } }] } });
const delta = (d: Partial<Delta>): Frame => ({ body: { $case: 'delta', value: { seq: 1, upserts: [], removals: [], revision: 1, snapshot: false, complete: true, baseRevision: 0, ...d } } });

/** A raw WebSocket peer that records every frame the global sends and how the connection ended. */
class RawPeer {
  readonly frames: Frame[] = [];
  readonly undecodable: Buffer[] = [];
  readonly ended: Promise<{ code: number; reason: string }>;
  #ws: WebSocket;
  #opened: Promise<void>;
  #waiters = new Set<() => void>();

  constructor(url: string) {
    const u = new URL('/kds/v1/stream', url);
    u.protocol = 'ws:';
    this.#ws = new WebSocket(u, { maxPayload: 64 * 1024 * 1024 });
    this.#opened = new Promise((resolve, reject) => {
      this.#ws.once('open', () => resolve());
      this.#ws.once('error', reject);
    });
    this.ended = new Promise((resolve) => this.#ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    this.#ws.on('error', () => {});
    this.#ws.on('message', (data: Buffer) => {
      try {
        this.frames.push(Frame.decode(data));
      } catch {
        this.undecodable.push(data);
      }
      for (const w of this.#waiters) w();
    });
  }

  open(): Promise<void> {
    return this.#opened;
  }

  async send(data: Uint8Array | string): Promise<void> {
    await this.#opened;
    await new Promise<void>((resolve, reject) => this.#ws.send(data, { binary: typeof data !== 'string' }, (err) => (err ? reject(err) : resolve())));
  }

  /** Waits for a frame matching `pred` (already received or not), failing after `ms`. */
  async next(what: string, pred: (f: Frame) => boolean, ms = 5000): Promise<Frame> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.frames.find(pred);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} frame within ${ms} ms; got ${this.frames.map((f) => f.body?.$case).join(', ')}`);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          this.#waiters.delete(done);
          resolve();
        };
        const t = setTimeout(done, left);
        this.#waiters.add(done);
      });
    }
  }

  /** How the session ended: the global must close it on its own (a hang fails here, not in afterAll). */
  async end(ms = 5000): Promise<{ code: number; reason: string }> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the global did not close the session within ${ms} ms`)), ms)));
    try {
      return await Promise.race([this.ended, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.#ws.close();
  }

  terminate(): void {
    this.#ws.terminate();
  }
}

const errorOf = (f: Frame | undefined) => (f?.body?.$case === 'error' ? f.body.value : undefined);

for (const backend of backends()) {
  describe(`KDS bad input on ${backend.name}`, () => {
    let api: ApiServer;
    const good: TestZone[] = [];
    const peers: RawPeer[] = [];
    const zoneDbs: Database[] = [];
    let tokenA: string;

    // Up to date (revision 0): the attacker needs no snapshot of the global's state.
    const hello = (h: Partial<Hello> = {}): Hello => rawHello({ zone: 'zone-a', token: tokenA, agentVersion: 'attacker', instanceId: 'attacker-0001', ...h });

    const peer = () => {
      const p = new RawPeer(api.url);
      peers.push(p);
      return p;
    };

    /** Sends `frames` on a fresh connection and expects the global to answer with Error `code`, then close. */
    async function refused(frames: (Uint8Array | string)[], code: string, opts: { waitWelcome?: boolean } = {}) {
      const p = peer();
      for (const [i, f] of frames.entries()) {
        await p.send(f);
        if (i === 0 && opts.waitWelcome) await p.next('welcome', (x) => x.body?.$case === 'welcome');
      }
      const end = await p.end();
      const last = p.frames.at(-1);
      const err = errorOf(last);
      expect(err, `last frame before close: ${JSON.stringify(last?.body?.$case)}`).toBeDefined();
      expect(err!.code).toBe(code);
      // Policy violation (1008), not a server error.
      expect(end.code).toBe(1008);
      return { message: err!.message, frames: p.frames, end };
    }

    async function post(path: string, body: Uint8Array | string): Promise<{ status: number; frames: Frame[] }> {
      const res = await fetch(`${api.url}${path}`, { method: 'POST', body: body as Uint8Array<ArrayBuffer>, headers: { 'content-type': 'application/x-protobuf' } });
      const bytes = new Uint8Array(await res.arrayBuffer());
      return { status: res.status, frames: Frames.decode(bytes).frames };
    }

    /** An HTTP refusal: the status, and a body holding exactly one Error frame with `code`. */
    async function httpRefused(path: string, body: Uint8Array | string, status: number, code: string): Promise<string> {
      const res = await post(path, body);
      expect(res.status).toBe(status);
      expect(res.frames).toHaveLength(1);
      const err = errorOf(res.frames[0]);
      expect(err?.code).toBe(code);
      return err!.message;
    }

    beforeAll(async () => {
      api = await startApi(backend);
      await call(api.url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default' } });
      tokenA = (await api.stores.zoneTokens.issue('default', 'zone-a', 3600)).token;
      // The zones' embedded databases are opened before any client starts: creating and migrating PGlite
      // blocks this (shared) event loop for seconds, which a connected zone's watchdog (3 heartbeats of
      // 1 s here) would take for a silent global.
      for (const transport of ['ws', 'poll'] as const) {
        const database = await openPglite();
        await migrate(database);
        zoneDbs.push(database);
      }
      for (const [i, transport] of (['ws', 'poll'] as const).entries()) {
        const name = `good-${transport}`;
        const token = (await api.stores.zoneTokens.issue('default', name, 3600)).token;
        good.push(await startZone({ name, globalUrl: api.url, token, transport, database: zoneDbs[i], log: createLogger({ level: 'info', name: `${name}.kds` }) }));
      }
      for (const z of good) await eventually(`${z.name} synced the mesh`, async () => (await z.store.get('local', { kind: 'Mesh', name: 'default' })) !== undefined);
    });
    afterAll(async () => {
      for (const p of peers) p.terminate();
      await Promise.all(good.map((z) => z.stop()));
      await api?.close();
      await Promise.all(zoneDbs.map((d) => d.close()));
    });

    it('garbage bytes (not protobuf) -> bad-frame', async () => {
      const { message } = await refused([Buffer.from('garbage')], 'bad-frame');
      expect(message).toMatch(/^malformed frame: /);
      // Bytes that happen to decode as protobuf but carry no frame body.
      const empty = await refused([Buffer.from('this is not protobuf')], 'bad-frame');
      expect(empty.message).toContain('frame has no body');
    });

    it('a text (non-binary) message -> bad-frame', async () => {
      const { message } = await refused(['{"hello":{"zone":"zone-a"}}'], 'bad-frame');
      expect(message).toMatch(/text message/);
      expect(message).toMatch(/binary/);
    });

    it('first frame not a hello -> bad-frame', async () => {
      const { message } = await refused([enc({ body: { $case: 'ack', value: { seq: 1, revision: 1, rejections: [] } } })], 'bad-frame');
      expect(message).toBe('the first frame must be hello, got ack');
    });

    it('hello with an empty token -> unauthenticated', async () => {
      const { message } = await refused([enc({ body: { $case: 'hello', value: hello({ token: '' }) } })], 'unauthenticated');
      expect(message).toContain('hello.token is empty');
    });

    it('hello with a valid token for zone-a claiming zone-b -> forbidden', async () => {
      const { message } = await refused([enc({ body: { $case: 'hello', value: hello({ zone: 'zone-b' }) } })], 'forbidden');
      expect(message).toBe('the zone token is for zone "zone-a", not "zone-b"');
      // Nothing was created for the zone it claimed.
      expect(await api.resources.get('default', { kind: 'Zone', name: 'zone-b' })).toBeUndefined();
    });

    it('hello with a malformed zone name -> bad-frame', async () => {
      const { message } = await refused([enc({ body: { $case: 'hello', value: hello({ zone: 'Zone_A!' }) } })], 'bad-frame');
      expect(message).toContain('hello.zone "Zone_A!" is not a valid zone name');
    });

    it('hello with a long non-ASCII zone name -> bad-frame (the close reason is cut to 123 bytes)', async () => {
      const zone = 'zöne-'.repeat(30);
      const { message, end } = await refused([enc({ body: { $case: 'hello', value: hello({ zone }) } })], 'bad-frame');
      expect(message).toContain(`hello.zone ${JSON.stringify(zone)} is not a valid zone name`);
      expect(Buffer.byteLength(end.reason)).toBeLessThanOrEqual(123);
      expect(end.reason.startsWith('hello.zone "zöne-')).toBe(true);
    });

    it('a peer that connects and never says hello is dropped after three heartbeats -> unauthenticated', async () => {
      const p = peer();
      await p.open();
      const began = Date.now();
      const end = await p.end(10_000);
      const err = errorOf(p.frames.at(-1));
      expect(err).toEqual({ code: 'unauthenticated', message: 'no hello within 3000 ms of connecting' });
      expect(end.code).toBe(1008);
      expect(Date.now() - began).toBeGreaterThanOrEqual(2500);
    });

    it('after a valid hello, a delta with seq 5 first -> out-of-order', async () => {
      const { message } = await refused([enc({ body: { $case: 'hello', value: hello() } }), enc(delta({ seq: 5 }))], 'out-of-order', { waitWelcome: true });
      expect(message).toBe('delta seq 5 received, 1 expected');
    });

    it('a delta with an unknown resource kind (MeshTeleport) -> unknown-type', async () => {
      const bad = delta({ upserts: [wire('MeshTeleport', 'default', 'beam-me-up', { to: 'mars' })] });
      const { message } = await refused([enc({ body: { $case: 'hello', value: hello() } }), enc(bad)], 'unknown-type', { waitWelcome: true });
      expect(message).toContain('"MeshTeleport"');
      expect(message).toContain('delta.upserts[0]');
      expect(message).toMatch(/unknown resource type/);
    });

    it('a delta upserting a kind zones may not send (MeshTimeout) -> unknown-type', async () => {
      const bad = delta({ upserts: [dataplane('fine', 8080), wire('MeshTimeout', 'default', 'sneaky', policy('sneaky', '1s').spec)] });
      const { message } = await refused([enc({ body: { $case: 'hello', value: hello() } }), enc(bad)], 'unknown-type', { waitWelcome: true });
      expect(message).toContain('"MeshTimeout"');
      expect(message).toContain('delta.upserts[1]');
      expect(message).toMatch(/zones may not send/);
      // The whole frame was refused: not even its valid Dataplane was applied.
      expect(await api.resources.get('default', { kind: 'MeshTimeout', mesh: 'default', name: 'sneaky' })).toBeUndefined();
      const dps = await api.resources.list('default', 'Dataplane', { labels: { 'kuma.io/zone': 'zone-a', 'kuma.io/display-name': 'fine' } });
      expect(dps.total).toBe(0);
    });

    it('a delta removing a kind zones may not send -> unknown-type', async () => {
      const bad = delta({ removals: [{ kind: 'MeshTimeout', mesh: 'default', name: 'anything' }] });
      const { message } = await refused([enc({ body: { $case: 'hello', value: hello() } }), enc(bad)], 'unknown-type', { waitWelcome: true });
      expect(message).toContain('"MeshTimeout"');
      expect(message).toContain('delta.removals[0]');
    });

    it('a delta with one invalid Dataplane and one valid one is not fatal: Ack with one rejection', async () => {
      const p = peer();
      await p.send(enc({ body: { $case: 'hello', value: hello() } }));
      await p.next('welcome', (f) => f.body?.$case === 'welcome');
      await p.send(enc(delta({ seq: 1, upserts: [dataplane('web-bad', 'eighty'), dataplane('web-ok', 8080)] })));
      const ack = await p.next('ack', (f) => f.body?.$case === 'ack');
      if (ack.body?.$case !== 'ack') throw new Error('unreachable');
      expect(ack.body.value.seq).toBe(1);
      expect(ack.body.value.rejections).toEqual([{ key: { kind: 'Dataplane', mesh: 'default', name: 'web-bad' }, reason: 'networking.inbound[0].port: must be an integer port' }]);
      // The valid one is on the global, in zone-a's slice; the invalid one is not.
      const dps = await api.resources.list('default', 'Dataplane', { labels: { 'kuma.io/zone': 'zone-a' } });
      expect(dps.items.map((d) => d.labels['kuma.io/display-name'])).toEqual(['web-ok']);
      const rest = await call(api.url, 'GET', `/meshes/default/dataplanes/${dps.items[0]!.name}`);
      expect(rest.status).toBe(200);
      expect(rest.body.labels).toMatchObject({ 'kuma.io/zone': 'zone-a', 'kuma.io/origin': 'zone', 'kuma.io/display-name': 'web-ok' });
      // The session is still alive: a heartbeat is fine and no Error came.
      await p.send(enc({ body: { $case: 'heartbeat', value: { revision: 0 } } }));
      await new Promise((r) => setTimeout(r, 200));
      expect(p.frames.some((f) => f.body?.$case === 'error')).toBe(false);
      p.close();
      await p.end();
    });

    it('an oversized frame (> 16 MiB) ends the session', async () => {
      const p = peer();
      await p.send(enc({ body: { $case: 'hello', value: hello() } }));
      await p.next('welcome', (f) => f.body?.$case === 'welcome');
      const huge = new Uint8Array(16 * 1024 * 1024 + 1).fill(0x41);
      await p.send(huge).catch(() => {});
      const end = await p.end(15_000);
      const err = errorOf(p.frames.at(-1));
      console.log(`[${backend.name}] oversized frame: close ${end.code}${err ? `, Error ${err.code}: ${err.message}` : ' (no Error frame)'}`);
      // Either the socket refuses the message itself (maxPayload: 1009) or the driver says too-large.
      if (end.code === 1009) expect(err).toBeUndefined();
      else {
        expect(err?.code).toBe('too-large');
        expect(err?.message).toBe(`frame of ${16 * 1024 * 1024 + 1} bytes exceeds the ${16 * 1024 * 1024}-byte limit`);
        expect(end.code).toBe(1008);
      }
    });

    it('a second hello mid-session -> bad-frame', async () => {
      const { message } = await refused([enc({ body: { $case: 'hello', value: hello() } }), enc({ body: { $case: 'hello', value: hello() } })], 'bad-frame', { waitWelcome: true });
      expect(message).toBe('unexpected hello frame after the handshake');
    });

    it('a heartbeat before hello -> bad-frame', async () => {
      const { message } = await refused([enc({ body: { $case: 'heartbeat', value: { revision: 1 } } })], 'bad-frame');
      expect(message).toBe('the first frame must be hello, got heartbeat');
    });

    it('long-poll with a body that is not protobuf -> 400 bad-frame', async () => {
      expect(await httpRefused('/kds/v1/poll?wait=0', Buffer.from('garbage'), 400, 'bad-frame')).toMatch(/^malformed poll request: /);
      // Decodes (protobuf is lenient) but has no hello.
      expect(await httpRefused('/kds/v1/poll?wait=0', Buffer.from('this is not protobuf'), 400, 'bad-frame')).toBe('poll request without hello');
      expect(await httpRefused('/kds/v1/push', Buffer.from('garbage'), 400, 'bad-frame')).toMatch(/^malformed push request: /);
    });

    it('long-poll with a bad token or the wrong zone -> 401 / 403', async () => {
      const poll = (h: Hello) => PollRequest.encode({ hello: h, rejections: [], snapshotRevision: 0 }).finish();
      expect(await httpRefused('/kds/v1/poll?wait=0', poll(hello({ token: '' })), 401, 'unauthenticated')).toContain('hello.token is empty');
      expect(await httpRefused('/kds/v1/poll?wait=0', poll(hello({ token: 'not.a.jwt' })), 401, 'unauthenticated')).toBe('the zone token is malformed');
      expect(await httpRefused('/kds/v1/poll?wait=0', poll(hello({ zone: 'zone-b' })), 403, 'forbidden')).toBe('the zone token is for zone "zone-a", not "zone-b"');
    });

    it('a long-poll the zone abandoned stops at once: it no longer renews the lease of a zone that is gone', async () => {
      const ctrl = new AbortController();
      const req = PollRequest.encode({ hello: hello({ instanceId: 'attacker-abandon', lastRevision: await api.resources.currentRevision('default') }), rejections: [], snapshotRevision: 0 }).finish();
      const pending = fetch(`${api.url}/kds/v1/poll?wait=20`, { method: 'POST', body: req as Uint8Array<ArrayBuffer>, signal: ctrl.signal }).catch((err: unknown) => err);
      await eventually('the poll holds the lease', async () => (await api.stores.kds.session('default', 'zone-a'))?.sessionId === 'poll-attacker-abandon');
      await new Promise((r) => setTimeout(r, 300));
      ctrl.abort();
      expect(await pending).toBeInstanceOf(Error);
      const seen = (await api.stores.kds.session('default', 'zone-a'))!.lastSeenAt!.getTime();
      // Heartbeats are 1 s here: an abandoned poll still waiting would have renewed the lease twice by now.
      await new Promise((r) => setTimeout(r, 2500));
      expect((await api.stores.kds.session('default', 'zone-a'))!.lastSeenAt!.getTime()).toBe(seen);
    });

    it('push whose base_revision does not match the global\'s -> out-of-order naming both revisions', async () => {
      const applied = (await api.stores.kds.session('default', 'zone-a'))?.inventoryRevision ?? 0;
      const h = hello({ instanceId: 'attacker-push', inventoryRevision: applied + 50 });
      const req = PushRequest.encode({ hello: h, delta: delta({ seq: 1, baseRevision: applied + 7, revision: applied + 8, upserts: [dataplane('web-late', 8080)] }).body!.value as Delta }).finish();
      const message = await httpRefused('/kds/v1/push', req, 400, 'out-of-order');
      expect(message).toBe(`inventory delta starts after revision ${applied + 7}, but the global has applied ${applied}`);
      // A hello claiming less inventory than the global applied (a wiped zone) makes the global expect a
      // snapshot; an incremental push is refused, and the message says why rather than "applied 0".
      const stale = hello({ instanceId: 'attacker-push', inventoryRevision: applied - 1 });
      const req2 = PushRequest.encode({ hello: stale, delta: delta({ seq: 1, baseRevision: applied, revision: applied + 1, upserts: [dataplane('web-late', 8080)] }).body!.value as Delta }).finish();
      expect(applied).toBeGreaterThan(0);
      expect(await httpRefused('/kds/v1/push', req2, 400, 'out-of-order')).toBe(
        `inventory delta starts after revision ${applied}, but the global has applied ${applied} and hello.inventory_revision ${applied - 1} is older: the global expects a full inventory snapshot`,
      );
      // Nothing from the refused batches was applied.
      const dps = await api.resources.list('default', 'Dataplane', { labels: { 'kuma.io/zone': 'zone-a', 'kuma.io/display-name': 'web-late' } });
      expect(dps.total).toBe(0);
    });

    it('the well-behaved zones kept syncing and were never interrupted', async () => {
      await call(api.url, 'PUT', '/meshes/default/meshtimeouts/after-attacks', { body: policy('after-attacks', '9s') });
      for (const z of good) {
        await eventually(`${z.name} has after-attacks`, async () => JSON.stringify((await z.store.get('local', { kind: 'MeshTimeout', mesh: 'default', name: 'after-attacks' }))?.spec).includes('9s'));
        expect(z.client.status.sessions, `${z.name} reconnected (last error: ${z.client.status.lastError})`).toBe(1);
        expect(z.client.status.connected).toBe(true);
        expect(await api.stores.kds.isOnline('default', z.name)).toBe(true);
      }
      // Every attacker connection was closed by the global.
      for (const p of peers) await p.end();
    });
  });
}
