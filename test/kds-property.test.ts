/**
 * Property tests of the KDS server's input boundary, on a real socket and a real database: random and
 * mutated long-poll requests, push requests and WebSocket frames, from a zone holding a valid zone token
 * (so requests get past authentication to everything behind it). Every field is drawn mostly valid and
 * sometimes hostile (U+0000, huge, unknown kinds, extreme revisions, bytes that are not UTF-8 or JSON), and
 * whole encoded requests are also truncated and bit-flipped. Properties, for every request or frame:
 * (a) HTTP: the status is 200 or 4xx, never 5xx, and the body is KDS `Frames`;
 * (b) an Error frame is never `internal` (a zone's input is never the global's failure), never holds SQL
 *     or driver text, and quotes at most a bounded prefix of what was sent;
 * (c) WebSocket: a session either keeps going (a probe delta sent after the fuzzed frame is acknowledged)
 *     or ends with such an Error frame and a 1008 close, never 1011.
 * And afterwards the global still serves a well-formed zone. Fixed seed (FC_SEED overrides); FC_RUNS
 * sets the runs of every property, FC_SCALE multiplies the defaults (`test/slow/` runs them longer).
 */
import fc from 'fast-check';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Frame, Frames, PollRequest, PushRequest, type Delta, type Hello, type Rejection, type Resource, type ResourceKey } from '@ursa/proto/gen/kds.js';
import { RESOURCES } from '@ursa/proto';
import { CLIENT_FEATURES } from '@ursa/zone-agent';
import { call, startApi, type ApiServer } from '@ursa/test-support/api.js';
import { backends } from '@ursa/test-support/backends.js';

const SEED = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : 12_2025;
const RUNS = process.env.FC_RUNS !== undefined ? Number(process.env.FC_RUNS) : undefined;
const SCALE = Number(process.env.FC_SCALE ?? 1);
const ZONE = 'fuzz-zone';

/** Driver or SQL text that must never reach a zone. */
const SQL_TEXT = /failed query|\bselect\b.*\bfrom\b|\binsert into\b|\bupdate "|\$[0-9]+\b|params:|invalid byte sequence|violates|syntax error|drizzle|postgres/i;
/** The longest Error message a zone may get: quotes of what it sent are cut well before this. */
const MAX_MESSAGE = 8192;

// ---------------------------------------------------------------------------------------------------------
// Arbitraries: each field mostly valid, sometimes hostile
// ---------------------------------------------------------------------------------------------------------

/** `valid` most of the time, else one of the hostile values. */
const mostly = <T>(valid: fc.Arbitrary<T>, hostile: fc.Arbitrary<T>, percentHostile = 15): fc.Arbitrary<T> =>
  fc.oneof({ weight: 100 - percentHostile, arbitrary: valid }, { weight: percentHostile, arbitrary: hostile });

const nastyText = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  fc.constantFrom('', '\u0000', 'a\u0000b', '\ufffd', '😀', 'é', '\n', '%00', '..', '__proto__', 'Mesh', 'default', '"', '\\'),
  fc.integer({ min: 200, max: 70_000 }).map((n) => 'x'.repeat(n)),
);
const revisionArb = fc.oneof(fc.constantFrom(0, 1, 2), fc.nat({ max: 200 }), fc.constant(Number.MAX_SAFE_INTEGER), fc.maxSafeNat());
const KINDS = RESOURCES.map((d) => d.kind);
const kindArb = mostly(fc.constantFrom(...KINDS), fc.oneof(nastyText, fc.constantFrom('MeshTeleport', 'mesh', 'Dataplane\u0000')), 20);
const nameArb = mostly(fc.stringMatching(/^[a-z0-9]([-a-z0-9.]{0,20}[a-z0-9])?$/), nastyText, 20);
const meshArb = mostly(fc.constantFrom('default', ''), nastyText, 20);
const keyArb: fc.Arbitrary<ResourceKey> = fc.record({ kind: kindArb, mesh: meshArb, name: nameArb });

const dataplaneSpec = (port: unknown) => ({ networking: { address: '10.0.0.9', inbound: [{ port, tags: { 'kuma.io/service': 'web' } }] } });
const specBytesArb: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 5, arbitrary: fc.oneof(fc.constant(8080), fc.integer(), fc.jsonValue({ maxDepth: 2 })).map((p) => Buffer.from(JSON.stringify(dataplaneSpec(p)))) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: fc.constantFrom(Buffer.from([0xff, 0xfe]), Buffer.from('{"a":"\\u0000"}'), Buffer.from('['.repeat(5000)), Buffer.from(`{"networking":{"address":"${'1'.repeat(200_000)}"}}`)) },
);
const labelsArb = mostly(fc.constant({} as Record<string, string>), fc.dictionary(nastyText, nastyText, { maxKeys: 3 }), 20);
const resourceArb: fc.Arbitrary<Resource> = fc.record({
  key: mostly(fc.record({ kind: fc.constantFrom('Dataplane', 'ZoneIngress'), mesh: meshArb, name: nameArb }), keyArb, 20) as fc.Arbitrary<ResourceKey | undefined>,
  labels: labelsArb,
  specJson: specBytesArb,
});
const rejectionArb: fc.Arbitrary<Rejection> = fc.record({ key: fc.option(keyArb, { nil: undefined }), reason: mostly(fc.string({ maxLength: 40 }), nastyText) });
const deltaArb: fc.Arbitrary<Delta> = fc.record({
  seq: mostly(fc.constantFrom(1, 2), revisionArb),
  upserts: fc.array(resourceArb, { maxLength: 3 }),
  removals: fc.array(keyArb, { maxLength: 3 }),
  revision: revisionArb,
  snapshot: fc.boolean(),
  complete: fc.boolean(),
  baseRevision: revisionArb,
  snapshotAfter: fc.option(keyArb, { nil: undefined }),
});

function helloArb(token: () => string): fc.Arbitrary<Hello> {
  return fc.record({
    tenant: mostly(fc.constantFrom('', 'default'), fc.oneof(nastyText, fc.constant('other-tenant'))),
    zone: mostly(fc.constant(ZONE), fc.oneof(nastyText, fc.constant('other-zone'))),
    token: mostly(fc.constant('VALID'), fc.oneof(nastyText, fc.constantFrom('a.b.c', 'not a token', ''))).map((t) => (t === 'VALID' ? token() : t)),
    agentVersion: mostly(fc.constant('fuzz'), nastyText),
    instanceId: mostly(fc.constant('fuzz-0001'), nastyText),
    features: mostly(fc.subarray([...CLIENT_FEATURES]), fc.array(nastyText, { maxLength: 80 })),
    lastRevision: revisionArb,
    configJson: mostly(fc.constant('{}'), fc.oneof(nastyText, fc.jsonValue().map((v) => JSON.stringify(v) ?? ''))),
    inventoryRevision: revisionArb,
    lastError: mostly(fc.constant(''), nastyText),
  });
}

/** An encoded request, or the same bytes truncated or with bits flipped. */
function mangled(bytes: Uint8Array, m: { op: 'none' | 'truncate' | 'flip'; at: number; bit: number }): Uint8Array {
  if (m.op === 'none' || bytes.length === 0) return bytes;
  const at = m.at % bytes.length;
  if (m.op === 'truncate') return bytes.slice(0, at);
  const copy = bytes.slice();
  copy[at] = copy[at]! ^ (1 << m.bit);
  return copy;
}
const mangleArb = fc.record({ op: fc.constantFrom<'none' | 'truncate' | 'flip'>('none', 'none', 'none', 'truncate', 'flip'), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) });

// ---------------------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------------------

/** Property (b) for one Error frame. */
function expectZoneFacing(err: { code: string; message: string }, what: string): void {
  expect(err.code, `${what}: ${err.message}`).not.toBe('internal');
  expect(err.message, what).not.toMatch(SQL_TEXT);
  expect(err.message.length, what).toBeLessThanOrEqual(MAX_MESSAGE);
}

const show = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (x instanceof Uint8Array ? `<${x.byteLength} bytes>` : typeof x === 'string' && x.length > 80 ? `${x.slice(0, 80)}…(${x.length})` : x));

for (const backend of backends()) {
  describe(`KDS input properties on ${backend.name}`, () => {
    let api: ApiServer;
    let token = '';

    beforeAll(async () => {
      api = await startApi(backend);
      expect((await call(api.url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default' } })).status).toBe(201);
      token = (await api.stores.zoneTokens.issue('default', ZONE, 3600)).token;
    });
    afterAll(async () => api?.close());

    async function exercise(path: string, body: Uint8Array, what: string): Promise<void> {
      const res = await fetch(`${api.url}${path}`, { method: 'POST', body: body as Uint8Array<ArrayBuffer>, headers: { 'content-type': 'application/x-protobuf' } });
      const bytes = new Uint8Array(await res.arrayBuffer());
      // (a) never a server error, always Frames.
      expect(res.status, `${what} → ${Buffer.from(bytes).toString('utf8').slice(0, 300)}`).toBeLessThan(500);
      const frames = Frames.decode(bytes).frames;
      for (const f of frames) if (f.body?.$case === 'error') expectZoneFacing(f.body.value, what);
      if (res.status >= 400) expect(frames.map((f) => f.body?.$case), what).toEqual(['error']);
    }

    it('long-poll requests: never 5xx, Frames always, Errors that are the zone’s own and free of SQL', async () => {
      const arb = fc.record({ hello: fc.option(helloArb(() => token), { nil: undefined, freq: 20 }), rejections: fc.array(rejectionArb, { maxLength: 3 }), snapshotRevision: revisionArb, snapshotAfter: fc.option(keyArb, { nil: undefined }), wait: mostly(fc.constant('0'), fc.constantFrom('abc', '-1', '1e3', '0x1', ' 1', '1234567')), mangle: mangleArb });
      await fc.assert(
        fc.asyncProperty(arb, async ({ wait, mangle, ...req }) => {
          const bytes = mangled(PollRequest.encode(req).finish(), mangle);
          await exercise(`/kds/v1/poll?wait=${encodeURIComponent(wait)}`, bytes, `poll ${show({ ...req, wait, mangle })}`);
        }),
        { seed: SEED, numRuns: RUNS ?? 250 * SCALE },
      );
    }, 240_000 * SCALE);

    it('push requests: never 5xx, Frames always, Errors that are the zone’s own and free of SQL', async () => {
      const arb = fc.record({ hello: fc.option(helloArb(() => token), { nil: undefined, freq: 20 }), delta: fc.option(deltaArb, { nil: undefined, freq: 20 }), mangle: mangleArb });
      await fc.assert(
        fc.asyncProperty(arb, async ({ mangle, ...req }) => {
          const bytes = mangled(PushRequest.encode(req).finish(), mangle);
          await exercise('/kds/v1/push', bytes, `push ${show({ ...req, mangle })}`);
        }),
        { seed: SEED + 1, numRuns: RUNS ?? 250 * SCALE },
      );
    }, 240_000 * SCALE);

    it('WebSocket frames: the session goes on, or ends with the zone’s own Error (1008), never internal (1011)', async () => {
      const frameArb: fc.Arbitrary<{ frame?: Frame; raw?: Uint8Array }> = fc.oneof(
        deltaArb.map((value) => ({ frame: { body: { $case: 'delta' as const, value } } })),
        fc.record({ seq: revisionArb, revision: revisionArb, rejections: fc.array(rejectionArb, { maxLength: 3 }) }).map((value) => ({ frame: { body: { $case: 'ack' as const, value } } })),
        revisionArb.map((revision) => ({ frame: { body: { $case: 'heartbeat' as const, value: { revision } } } })),
        fc.record({ code: nastyText, message: nastyText }).map((value) => ({ frame: { body: { $case: 'error' as const, value } } })),
        helloArb(() => token).map((value) => ({ frame: { body: { $case: 'hello' as const, value } } })),
        fc.uint8Array({ maxLength: 64 }).map((raw) => ({ raw })),
      );
      await fc.assert(
        fc.asyncProperty(helloArb(() => token), frameArb, async (hello, fuzz) => {
          const what = `ws hello ${show(hello)} then ${show(fuzz)}`;
          const outcome = await wsExchange(api.url, hello, fuzz);
          for (const err of outcome.errors) expectZoneFacing(err, what);
          if (outcome.close !== undefined) expect(outcome.close, `${what}: ${show(outcome.errors)}`).not.toBe(1011);
        }),
        { seed: SEED + 2, numRuns: RUNS ?? 25 * SCALE },
      );
    }, 240_000 * SCALE);

    it('afterwards the global still serves a well-formed zone', async () => {
      const req = PollRequest.encode({ hello: { tenant: '', zone: ZONE, token, agentVersion: 'fuzz', instanceId: 'fuzz-after', features: [...CLIENT_FEATURES], lastRevision: 0, configJson: '{}', inventoryRevision: 0, lastError: '' }, rejections: [], snapshotRevision: 0 }).finish();
      const res = await fetch(`${api.url}/kds/v1/poll?wait=0`, { method: 'POST', body: req as Uint8Array<ArrayBuffer> });
      expect(res.status).toBe(200);
      const frames = Frames.decode(new Uint8Array(await res.arrayBuffer())).frames;
      expect(frames[0]?.body?.$case).toBe('welcome');
      expect(frames.some((f) => f.body?.$case === 'delta' && f.body.value.upserts.some((u) => u.key?.kind === 'Mesh'))).toBe(true);
    });
  });
}

/**
 * One WebSocket session: hello; once welcomed, the fuzzed frame, then (unless that was a delta, which is
 * answered itself) a probe delta whose Ack shows the session went on. Resolves on that answer, an Error,
 * or the close, whichever comes first; a global that answers nothing within 10 s fails the run.
 */
function wsExchange(url: string, hello: Hello, fuzz: { frame?: Frame; raw?: Uint8Array }): Promise<{ errors: { code: string; message: string }[]; close?: number }> {
  const u = new URL('/kds/v1/stream', url);
  u.protocol = 'ws:';
  const ws = new WebSocket(u);
  const errors: { code: string; message: string }[] = [];
  const isDelta = fuzz.frame?.body?.$case === 'delta';
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (close?: number) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ws.terminate();
      resolve({ errors, close });
    };
    const timer = setTimeout(() => {
      settled = true;
      ws.terminate();
      reject(new Error('the global neither answered nor closed within 10 s'));
    }, 10_000);
    ws.on('open', () => ws.send(Frame.encode({ body: { $case: 'hello', value: hello } }).finish()));
    ws.on('message', (data: Buffer) => {
      let f: Frame;
      try {
        f = Frame.decode(data);
      } catch {
        errors.push({ code: 'undecodable', message: data.toString('hex').slice(0, 80) });
        return;
      }
      const body = f.body;
      if (body?.$case === 'error') {
        errors.push(body.value);
        return; // the close follows
      }
      if (body?.$case === 'welcome') {
        ws.send(fuzz.raw ?? Frame.encode(fuzz.frame!).finish());
        if (!isDelta) ws.send(Frame.encode({ body: { $case: 'delta', value: { seq: 1, upserts: [], removals: [], revision: 0, snapshot: false, complete: false, baseRevision: 0 } } }).finish());
        return;
      }
      if (body?.$case === 'ack') finish();
    });
    ws.on('close', (code) => finish(code));
    ws.on('error', () => {});
  });
}
