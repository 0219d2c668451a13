/**
 * Every field a zone sends is checked before it reaches the database, and no internal error text reaches a
 * zone. Raw long-poll requests and raw WebSocket frames with one bad field each are answered with a
 * `bad-frame` Error naming the field (HTTP 400; WebSocket close 1008), never a 500, and never SQL. A
 * failure inside the global (here: a database error injected into the store) is an `internal` Error with
 * a trace id, its text only in the log. Inventory over MAX_RESOURCE_BYTES is a per-resource rejection.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Frame, Frames, PollRequest, PushRequest, type Delta, type Hello, type Resource } from '@ursa/proto/gen/kds.js';
import { type KdsStore, MAX_RESOURCE_BYTES } from '@ursa/core';
import { call, startApi, type ApiServer } from '@ursa/test-support/api.js';
import { backends } from '@ursa/test-support/backends.js';
import { errorOf, postFrames, rawHello } from '@ursa/test-support/kds-hello.js';

/** What a leaked database error looks like: drizzle's "Failed query", SQL keywords, bind parameters. */
const SQL_TEXT = /failed query|\bselect\b|\binsert\b|\bupdate\b|\bfrom "|\$[0-9]|params:|invalid byte sequence/i;

const wire = (kind: string, mesh: string, name: string, spec: unknown): Resource => ({ key: { kind, mesh, name }, labels: {}, specJson: Buffer.from(JSON.stringify(spec)) });
const emptyDelta = (d: Partial<Delta> = {}): Delta => ({ seq: 1, upserts: [], removals: [], revision: 1, snapshot: false, complete: false, baseRevision: 0, ...d });

/** A WebSocket session: hello, then `frames`; resolves with every frame received and the close code. */
async function wsSession(url: string, hello: Hello, frames: Frame[], until: (got: Frame[]) => boolean): Promise<{ got: Frame[]; close?: number }> {
  const u = new URL('/kds/v1/stream', url);
  u.protocol = 'ws:';
  const ws = new WebSocket(u);
  const got: Frame[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no answer within 10 s; got ${got.map((f) => f.body?.$case).join(', ')}`));
    }, 10_000);
    const done = (close?: number) => {
      clearTimeout(timer);
      ws.terminate();
      resolve({ got, close });
    };
    ws.on('open', () => ws.send(Frame.encode({ body: { $case: 'hello', value: hello } }).finish()));
    ws.on('message', (data: Buffer) => {
      const f = Frame.decode(data);
      got.push(f);
      if (f.body?.$case === 'welcome') for (const x of frames) ws.send(Frame.encode(x).finish());
      if (until(got)) done();
    });
    ws.on('close', (code) => done(code));
    ws.on('error', () => {});
  });
}

for (const backend of backends()) {
  describe(`KDS field validation on ${backend.name}`, () => {
    let api: ApiServer;
    let token: string;
    const hello = (h: Partial<Hello> = {}) => rawHello({ zone: 'zone-v', token, instanceId: 'validator-0001', ...h });
    const poll = (req: Partial<PollRequest>, query = '?wait=0') => postFrames(api.url, `/kds/v1/poll${query}`, PollRequest.encode({ hello: hello(), rejections: [], snapshotRevision: 0, ...req }).finish());

    /** A 400 whose one Error frame is `bad-frame` with `message`, and no SQL. */
    async function refused(res: Promise<{ status: number; frames: Frame[] }>, message: string | RegExp, status = 400) {
      const r = await res;
      const err = errorOf(r.frames);
      expect([r.status, err?.code, err?.message]).toEqual([status, 'bad-frame', typeof message === 'string' ? message : expect.stringMatching(message)]);
      expect(err!.message).not.toMatch(SQL_TEXT);
    }

    beforeAll(async () => {
      api = await startApi(backend);
      expect((await call(api.url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default' } })).status).toBe(201);
      expect((await call(api.url, 'PUT', '/meshes/default/meshtimeouts/t-1', { body: { type: 'MeshTimeout', mesh: 'default', name: 't-1', spec: { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { idleTimeout: '1s' } }] } } })).status).toBe(201);
      token = (await api.stores.zoneTokens.issue('default', 'zone-v', 3600)).token;
    });
    afterAll(async () => api?.close());

    it('a long-poll position holding U+0000 is a 400 naming the field, not a 500 with SQL (the report)', async () => {
      const revision = await api.resources.currentRevision('default');
      await refused(poll({ snapshotRevision: revision, snapshotAfter: { kind: 'MeshTimeout', mesh: 'default', name: 'a\u0000b' } }), 'snapshot_after.name must not contain NUL (U+0000) characters');
      await refused(poll({ snapshotRevision: revision, snapshotAfter: { kind: 'MeshTeleport', mesh: 'default', name: 'a' } }), 'snapshot_after.kind unknown resource type "MeshTeleport"');
      await refused(poll({ snapshotRevision: revision, snapshotAfter: { kind: 'MeshTimeout', mesh: 'default', name: 'x'.repeat(254) } }), 'snapshot_after.name must be at most 253 characters');
      await refused(poll({ snapshotRevision: 0, snapshotAfter: { kind: 'MeshTimeout', mesh: 'default', name: 'a' } }), 'snapshot_after is set without snapshot_revision (both name where a snapshot resumes)');
      await refused(poll({ snapshotRevision: revision + 1000 }), new RegExp(`^snapshot_revision ${revision + 1000} is newer than the global's revision [0-9]+: start the snapshot over$`));
      // A well-formed position still resumes the snapshot after it.
      const ok = await poll({ snapshotRevision: revision, snapshotAfter: { kind: 'MeshTimeout', mesh: 'default', name: 'a' } });
      expect(ok.status).toBe(200);
      expect(ok.frames.some((f) => f.body?.$case === 'delta' && f.body.value.upserts.some((u) => u.key?.name.startsWith('t-1')))).toBe(true);
    });

    it('every hello field is checked: each bad one is a 400 naming it, and nothing is recorded', async () => {
      const cases: [Partial<Hello>, string][] = [
        [{ instanceId: 'zone-v\u0000' }, 'hello.instance_id must not contain NUL (U+0000) characters'],
        [{ instanceId: 'i'.repeat(254) }, 'hello.instance_id must be at most 253 characters'],
        [{ agentVersion: 'v\u0000' }, 'hello.agent_version must not contain NUL (U+0000) characters'],
        [{ configJson: `{"a":"${'x'.repeat(64 * 1024)}"}` }, 'hello.config_json must be at most 65536 characters'],
        [{ configJson: '{"a":"\u0000"}' }, 'hello.config_json must not contain NUL (U+0000) characters'],
        [{ features: Array.from({ length: 65 }, (_, i) => `f${i}`) }, 'hello.features at most 64 features are allowed'],
        [{ features: ['resume-v1', 'x\u0000'] }, 'hello.features[1] must not contain NUL (U+0000) characters'],
        [{ tenant: 'Not A Tenant' }, 'hello.tenant "Not A Tenant" is not a valid tenant name (a lowercase DNS label, or empty)'],
        [{ token: 'x'.repeat(5000) }, 'hello.token must be at most 4096 characters (a zone token from POST /tokens/zone)'],
        [{ token: 'not a token' }, 'hello.token is not a zone token (a JWT from POST /tokens/zone)'],
        [{ lastError: 'boom\u0000' }, 'hello.last_error must not contain NUL (U+0000) characters'],
      ];
      const before = await api.resources.get('default', { kind: 'ZoneInsight', name: 'zone-v' });
      for (const [h, message] of cases) await refused(poll({ hello: hello(h) }), message);
      const after = await api.resources.get('default', { kind: 'ZoneInsight', name: 'zone-v' });
      expect(after?.version).toBe(before?.version);
    });

    it('an over-long last_error is cut, not refused (a zone must not be locked out by its own report)', async () => {
      const r = await poll({ hello: hello({ instanceId: 'validator-long-error', lastError: 'e'.repeat(10_000) }) });
      expect(r.status).toBe(200);
      const insight = await api.resources.get('default', { kind: 'ZoneInsight', name: 'zone-v' });
      const subs = insight!.spec.subscriptions as { zoneInstanceId: string; zoneState?: { lastError?: string } }[];
      const sub = subs.find((s) => s.zoneInstanceId === 'validator-long-error');
      expect(sub?.zoneState?.lastError).toHaveLength(4096);
    });

    it('the wait parameter must be whole seconds', async () => {
      await refused(poll({}, '?wait=abc'), 'wait must be a whole number of seconds (0 to 55)');
      await refused(poll({}, '?wait=-1'), 'wait must be a whole number of seconds (0 to 55)');
      expect((await poll({}, '?wait=0')).status).toBe(200);
    });

    it('push: removal keys and upsert keys are checked; an oversized resource is a rejection, the rest applies', async () => {
      const push = (delta: Delta, h: Partial<Hello> = {}) => postFrames(api.url, '/kds/v1/push', PushRequest.encode({ hello: hello({ instanceId: 'validator-push', ...h }), delta }).finish());
      await refused(push(emptyDelta({ snapshot: true, removals: [{ kind: 'Dataplane', mesh: 'default', name: 'dp\u0000' }] })), 'delta.removals[0].name must not contain NUL (U+0000) characters');
      await refused(push(emptyDelta({ snapshot: true, upserts: [{ labels: {}, specJson: Buffer.from('{}') }] })), 'delta.upserts[0].key is missing');
      // A Dataplane of 1.1 MB (many inbounds) next to a small one: one rejection naming the limit.
      const inbound = Array.from({ length: 16_000 }, (_, i) => ({ port: 1000 + (i % 60_000), tags: { 'kuma.io/service': `svc-${i}`, version: 'v1' } }));
      const big = wire('Dataplane', 'default', 'dp-big', { networking: { address: '10.0.0.1', inbound } });
      expect(big.specJson.byteLength).toBeGreaterThan(MAX_RESOURCE_BYTES);
      const small = wire('Dataplane', 'default', 'dp-small', { networking: { address: '10.0.0.2', inbound: [{ port: 8080, tags: { 'kuma.io/service': 'web' } }] } });
      const r = await push(emptyDelta({ snapshot: true, complete: true, revision: 7, upserts: [big, small] }), { inventoryRevision: 7 });
      expect(r.status).toBe(200);
      const ack = r.frames[0]?.body;
      expect(ack?.$case).toBe('ack');
      if (ack?.$case !== 'ack') return;
      expect(ack.value.rejections).toEqual([
        { key: { kind: 'Dataplane', mesh: 'default', name: 'dp-big' }, reason: `: the resource must be at most ${MAX_RESOURCE_BYTES} bytes (1 MiB) as JSON (YAML aliases expanded), and this one is larger` },
      ]);
      const dps = await api.resources.list('default', 'Dataplane', { labels: { 'kuma.io/zone': 'zone-v' } });
      expect(dps.items.map((d) => d.labels['kuma.io/display-name'])).toEqual(['dp-small']);
    });

    it('WebSocket: a bad field in any frame ends the session with bad-frame (1008), never internal', async () => {
      const cases: [Frame, string][] = [
        [{ body: { $case: 'ack', value: { seq: 1, revision: 1, rejections: [{ key: { kind: 'Mesh\u0000', mesh: '', name: 'x' }, reason: 'r' }] } } }, 'ack.rejections[0].key.kind unknown resource type "Mesh\\u0000"'],
        [{ body: { $case: 'ack', value: { seq: 1, revision: 1, rejections: [{ key: { kind: 'Mesh', mesh: '', name: 'x' }, reason: 'r\u0000' }] } } }, 'ack.rejections[0].reason must not contain NUL (U+0000) characters'],
        [{ body: { $case: 'delta', value: emptyDelta({ removals: [{ kind: 'Dataplane', mesh: '\u0000', name: 'x' }] }) } }, 'delta.removals[0].mesh must not contain NUL (U+0000) characters'],
        [{ body: { $case: 'error', value: { code: 'x', message: 'm'.repeat(5000) } } }, 'error.message must be at most 4096 characters'],
      ];
      for (const [frame, message] of cases) {
        const { got, close } = await wsSession(api.url, hello({ instanceId: 'validator-ws' }), [frame], (g) => g.some((f) => f.body?.$case === 'error'));
        expect(errorOf(got), message).toEqual({ code: 'bad-frame', message });
        if (close !== undefined) expect(close).toBe(1008);
      }
      const badHello = await wsSession(api.url, hello({ configJson: '\u0000' }), [], (g) => g.some((f) => f.body?.$case === 'error'));
      expect(errorOf(badHello.got)).toEqual({ code: 'bad-frame', message: 'hello.config_json must not contain NUL (U+0000) characters' });
    });

    describe('an internal failure', () => {
      let broken: ApiServer;
      const leak = 'Failed query: select session_id, lease_expires_at in zone_sessions where tenant_id = $1\nparams: default';
      beforeAll(async () => {
        // The same database, but reading or opening a zone session fails as a broken query would (a long-poll
        // hello reads the session first; a WebSocket hello only opens one).
        broken = await startApi(backend, {
          openStores: () => {
            const failing = new Proxy(api.stores.kds, {
              get(target, prop) {
                if (prop === 'session' || prop === 'openSession') return async () => Promise.reject(new Error(leak));
                const v = Reflect.get(target, prop) as unknown;
                return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
              },
            }) as KdsStore;
            return { ...api.stores, kds: failing };
          },
        }, { database: api.database });
      });
      afterAll(async () => broken?.close());

      it('long-poll: a 500 whose Error frame says internal with a trace id, not the error text', async () => {
        const r = await postFrames(broken.url, '/kds/v1/poll?wait=0', PollRequest.encode({ hello: hello(), rejections: [], snapshotRevision: 0 }).finish());
        const err = errorOf(r.frames);
        expect(r.status).toBe(500);
        expect(err?.code).toBe('internal');
        expect(err?.message).toMatch(/^internal error on the global \(trace [0-9a-f]{32}\); the zone should retry$/);
        expect(err?.message).not.toMatch(SQL_TEXT);
      });

      it('WebSocket: the Error frame says internal with a trace id, not the error text (close 1011)', async () => {
        const { got, close } = await wsSession(broken.url, hello(), [], (g) => g.some((f) => f.body?.$case === 'error'));
        const err = errorOf(got);
        expect(err?.code).toBe('internal');
        expect(err?.message).toMatch(/^internal error on the global \(trace [0-9a-f]{32}\); the zone should retry$/);
        if (close !== undefined) expect(close).toBe(1011);
      });
    });
  });
}
