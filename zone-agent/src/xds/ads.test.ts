/**
 * The ADS server over real gRPC, driven by a scripted client (raw grpc-js client on the generated service
 * definition): state of the world (ACK, NACK then fix, stale nonces, widening, push order) and incremental
 * (subscribe/unsubscribe, non-existent names, NACK then fix, reconnect with initial_resource_versions), node
 * admission, and bad input (undecodable requests, unknown type URLs) ending only the offending stream.
 * Admission with real dataplane tokens and the insight's ACK/NACK counts: test/zone-xds-admission.test.ts.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Node } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import { AggregatedDiscoveryServiceClient, CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, CLUSTER_TYPE_URL, DeltaDiscoveryRequest, DiscoveryRequest, LISTENER_TYPE_URL, ROUTE_CONFIGURATION_TYPE_URL, type DeltaDiscoveryResponse, type DiscoveryResponse } from '@ursa/proto/xds';
import { SnapshotCache } from './cache.js';
import { startAdsServer, type AdsServer } from './grpc.js';
import { Snapshot } from './snapshot.js';
import { XdsStreamError, type AckEvent, type NackEvent, type ResponseEvent, type StreamContext } from './stream.js';

const CDS = CLUSTER_TYPE_URL;
const EDS = CLUSTER_LOAD_ASSIGNMENT_TYPE_URL;
const LDS = LISTENER_TYPE_URL;
const RDS = ROUTE_CONFIGURATION_TYPE_URL;
const NODE = 'default.client';

const snap = (spec: Record<string, Record<string, string>>) =>
  Snapshot.fromEncoded(Object.fromEntries(Object.entries(spec).map(([t, m]) => [t, Object.entries(m).map(([name, v]) => ({ name, value: Buffer.from(v) }))])));

/** A bidi stream with a queue of what arrived, and assertions on timing. */
class Scripted<Req, Res> {
  private readonly queue: Res[] = [];
  private waiter: (() => void) | undefined;
  readonly ended: Promise<grpc.ServiceError | undefined>;

  constructor(private readonly stream: grpc.ClientDuplexStream<Req, Res>) {
    stream.on('data', (r: Res) => {
      this.queue.push(r);
      this.waiter?.();
    });
    this.ended = new Promise((resolve) => {
      stream.on('error', (e: grpc.ServiceError) => resolve(e));
      stream.on('end', () => resolve(undefined));
    });
    this.ended.then(() => this.waiter?.());
  }

  send(req: Req): void {
    this.stream.write(req);
  }

  async next(ms = 2000): Promise<Res> {
    const deadline = Date.now() + ms;
    while (this.queue.length === 0) {
      if (Date.now() > deadline) throw new Error('no response in time');
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        setTimeout(resolve, Math.max(1, deadline - Date.now()));
      });
    }
    return this.queue.shift()!;
  }

  /** Nothing arrives within `ms`. */
  async none(ms = 300): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    expect(this.queue.map((r) => (r as { typeUrl?: string }).typeUrl)).toEqual([]);
  }

  close(): void {
    this.stream.cancel();
  }
}

const node = (id: string) => Node.fromPartial({ id, userAgentName: 'scripted-test' });
const sotwReq = (r: Partial<DiscoveryRequest>) => DiscoveryRequest.fromPartial(r);
const deltaReq = (r: Partial<Omit<DeltaDiscoveryRequest, 'initialResourceVersions'>> & { initialResourceVersions?: Record<string, string> }) => DeltaDiscoveryRequest.fromPartial(r);
const names = (r: DiscoveryResponse | DeltaDiscoveryResponse) => r.resources.map((x) => ('name' in x ? x.name : x.typeUrl));

describe('ADS over gRPC (scripted client)', () => {
  const cache = new SnapshotCache();
  const acks: AckEvent[] = [];
  const nacks: NackEvent[] = [];
  const open = new Map<string, number>();
  const responses: ResponseEvent[] = [];
  const contexts: StreamContext[] = [];
  let server: AdsServer;
  let client: AggregatedDiscoveryServiceClient;
  const streams: Scripted<unknown, unknown>[] = [];

  const sotw = () => {
    const s = new Scripted<DiscoveryRequest, DiscoveryResponse>(client.streamAggregatedResources());
    streams.push(s as Scripted<unknown, unknown>);
    return s;
  };
  const delta = () => {
    const s = new Scripted<DeltaDiscoveryRequest, DeltaDiscoveryResponse>(client.deltaAggregatedResources());
    streams.push(s as Scripted<unknown, unknown>);
    return s;
  };

  beforeAll(async () => {
    server = await startAdsServer({
      host: '127.0.0.1',
      port: 0,
      cache,
      identifier: 'test-cp',
      firstRequestMs: 1000,
      callbacks: {
        openStream: async (n, _variant, ctx) => {
          contexts.push(ctx);
          if (!n?.id) throw new XdsStreamError(grpc.status.INVALID_ARGUMENT, 'node.id is required');
          // Failures that are not the client's: their text must stay on the server.
          if (n.id === 'db-lost') throw Object.assign(new Error('write ECONNRESET 127.0.0.1:5432'), { code: 'ECONNRESET' });
          if (n.id === 'bug') throw new Error('Failed query: select * from resources where name = $1 params: secret');
          if (n.id !== NODE) throw new XdsStreamError(grpc.status.NOT_FOUND, `no Dataplane for ${n.id}`);
          open.set(n.id, (open.get(n.id) ?? 0) + 1);
          return n.id;
        },
        closeStream: (id) => open.set(id, (open.get(id) ?? 0) - 1),
        onAck: (e) => acks.push(e),
        onResponse: (e) => responses.push(e),
        onNack: (e) => nacks.push(e),
      },
    });
    client = new AggregatedDiscoveryServiceClient(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  });

  afterEach(() => {
    for (const s of streams.splice(0)) s.close();
  });

  afterAll(async () => {
    client.close();
    await server.close();
  });

  describe('state of the world', () => {
    it('ACK: answers once per version, no resend on ACK or on an identical snapshot', async () => {
      cache.setSnapshot(NODE, snap({ [CDS]: { a: '1', b: '2' } }));
      const s = sotw();
      s.send(sotwReq({ node: node(NODE), typeUrl: CDS }));
      const r1 = await s.next();
      expect(names(r1)).toEqual([CDS, CDS]);
      expect(r1.typeUrl).toBe(CDS);
      expect(r1.nonce).not.toBe('');
      expect(r1.versionInfo).not.toBe('');
      expect(r1.controlPlane?.identifier).toBe('test-cp');

      s.send(sotwReq({ typeUrl: CDS, versionInfo: r1.versionInfo, responseNonce: r1.nonce }));
      await s.none();
      expect(acks.at(-1)).toMatchObject({ typeUrl: CDS, version: r1.versionInfo, nonce: r1.nonce });

      cache.setSnapshot(NODE, snap({ [CDS]: { b: '2', a: '1' } }));
      await s.none();

      cache.setSnapshot(NODE, snap({ [CDS]: { a: '1', b: '3' } }));
      const r2 = await s.next();
      expect(r2.versionInfo).not.toBe(r1.versionInfo);
      expect(r2.nonce).not.toBe(r1.nonce);
      expect(open.get(NODE)).toBe(1);
    });

    it('NACK: keeps the last good config (nothing resent), records it; a fix goes out', async () => {
      cache.setSnapshot(NODE, snap({ [CDS]: { a: 'good' } }));
      const s = sotw();
      s.send(sotwReq({ node: node(NODE), typeUrl: CDS }));
      const good = await s.next();
      s.send(sotwReq({ typeUrl: CDS, versionInfo: good.versionInfo, responseNonce: good.nonce }));

      cache.setSnapshot(NODE, snap({ [CDS]: { a: 'bad' } }));
      const bad = await s.next();
      const before = nacks.length;
      s.send(sotwReq({ typeUrl: CDS, versionInfo: good.versionInfo, responseNonce: bad.nonce, errorDetail: { code: 3, message: 'cluster a: invalid', details: [] } }));
      await s.none();
      expect(nacks.slice(before)).toEqual([expect.objectContaining({ nodeId: NODE, typeUrl: CDS, version: good.versionInfo, nonce: bad.nonce, message: 'cluster a: invalid' })]);

      // The same bad config set again: still nothing.
      cache.setSnapshot(NODE, snap({ [CDS]: { a: 'bad' } }));
      await s.none();

      cache.setSnapshot(NODE, snap({ [CDS]: { a: 'fixed' } }));
      const fixed = await s.next();
      expect(fixed.versionInfo).not.toBe(bad.versionInfo);
      expect(fixed.versionInfo).not.toBe(good.versionInfo);
      s.send(sotwReq({ typeUrl: CDS, versionInfo: fixed.versionInfo, responseNonce: fixed.nonce }));
      await s.none();
    });

    it('ignores requests with a stale nonce, and answers a widened subscription at once', async () => {
      cache.setSnapshot(NODE, snap({ [EDS]: { a: '1', b: '2' } }));
      const s = sotw();
      s.send(sotwReq({ node: node(NODE), typeUrl: EDS, resourceNames: ['a'] }));
      const r1 = await s.next();
      expect(r1.resources.map((x) => x.value.toString())).toEqual(['1']);
      s.send(sotwReq({ typeUrl: EDS, resourceNames: ['a'], versionInfo: r1.versionInfo, responseNonce: r1.nonce }));

      cache.setSnapshot(NODE, snap({ [EDS]: { a: '1b', b: '2' } }));
      const r2 = await s.next();
      // A request answering the older response (stale nonce), even one asking for more, is ignored.
      s.send(sotwReq({ typeUrl: EDS, resourceNames: ['a', 'b'], versionInfo: r1.versionInfo, responseNonce: r1.nonce }));
      s.send(sotwReq({ typeUrl: EDS, resourceNames: ['a', 'b'], versionInfo: r1.versionInfo, responseNonce: 'bogus', errorDetail: { code: 3, message: 'x', details: [] } }));
      await s.none();

      // The same widening on the latest nonce: both, although `b` did not change.
      s.send(sotwReq({ typeUrl: EDS, resourceNames: ['a', 'b'], versionInfo: r2.versionInfo, responseNonce: r2.nonce }));
      const r3 = await s.next();
      expect(r3.resources.map((x) => x.value.toString())).toEqual(['1b', '2']);
      s.send(sotwReq({ typeUrl: EDS, resourceNames: ['a', 'b'], versionInfo: r3.versionInfo, responseNonce: r3.nonce }));
      await s.none();
    });

    it('EDS/RDS updates carry only what changed (CDS/LDS always the whole set); after a NACK the next one is whole', async () => {
      cache.setSnapshot(NODE, snap({ [CDS]: { a: '1', b: '1' }, [EDS]: { a: '1', b: '1', c: '1' } }));
      const s = sotw();
      s.send(sotwReq({ node: node(NODE), typeUrl: CDS }));
      const c1 = await s.next();
      s.send(sotwReq({ typeUrl: CDS, versionInfo: c1.versionInfo, responseNonce: c1.nonce }));
      s.send(sotwReq({ typeUrl: EDS, resourceNames: ['a', 'b', 'c'] }));
      const e1 = await s.next();
      expect(e1.resources.map((r) => r.value.toString())).toEqual(['1', '1', '1']);
      s.send(sotwReq({ typeUrl: EDS, resourceNames: ['a', 'b', 'c'], versionInfo: e1.versionInfo, responseNonce: e1.nonce }));

      cache.setSnapshot(NODE, snap({ [CDS]: { a: '1', b: '2' }, [EDS]: { a: '1', b: '2', c: '1' } }));
      const c2 = await s.next();
      const e2 = await s.next();
      expect([c2.typeUrl, c2.resources.map((r) => r.value.toString())]).toEqual([CDS, ['1', '2']]);
      expect([e2.typeUrl, e2.resources.map((r) => r.value.toString())]).toEqual([EDS, ['2']]);
      // The version still names the whole requested set: a new stream asking with it would be up to date.
      expect(e2.versionInfo).not.toBe(e1.versionInfo);
      s.send(sotwReq({ typeUrl: CDS, versionInfo: c2.versionInfo, responseNonce: c2.nonce }));
      // The client rejects e2 and keeps e1's endpoints: the next EDS response must hold everything again.
      s.send(sotwReq({ typeUrl: EDS, resourceNames: ['a', 'b', 'c'], versionInfo: e1.versionInfo, responseNonce: e2.nonce, errorDetail: { code: 3, message: 'bad b', details: [] } }));
      await s.none(100);
      cache.setSnapshot(NODE, snap({ [CDS]: { a: '1', b: '2' }, [EDS]: { a: '1', b: '3', c: '1' } }));
      const e3 = await s.next();
      expect(e3.resources.map((r) => r.value.toString())).toEqual(['1', '3', '1']);
    });

    it('pushes an update in the order CDS, EDS, LDS, RDS', async () => {
      const v = (n: string) => ({ [CDS]: { s: n }, [EDS]: { s: n }, [LDS]: { s: n }, [RDS]: { s: n } });
      cache.setSnapshot(NODE, snap(v('1')));
      const s = sotw();
      s.send(sotwReq({ node: node(NODE), typeUrl: LDS, resourceNames: ['s'] }));
      for (const t of [RDS, CDS, EDS]) s.send(sotwReq({ typeUrl: t, resourceNames: ['s'] }));
      for (let i = 0; i < 4; i++) {
        const r = await s.next();
        s.send(sotwReq({ typeUrl: r.typeUrl, resourceNames: ['s'], versionInfo: r.versionInfo, responseNonce: r.nonce }));
      }
      await s.none(100);
      cache.setSnapshot(NODE, snap(v('2')));
      const order: string[] = [];
      for (let i = 0; i < 4; i++) order.push((await s.next()).typeUrl);
      expect(order).toEqual([CDS, EDS, LDS, RDS]);
    });

    it('a new stream whose wildcard request carries the current version gets nothing; an older one gets it all', async () => {
      cache.setSnapshot(NODE, snap({ [CDS]: { a: '1', b: '2' } }));
      const s1 = sotw();
      s1.send(sotwReq({ node: node(NODE), typeUrl: CDS }));
      const r1 = await s1.next();
      s1.close();
      await s1.ended;
      const s2 = sotw();
      s2.send(sotwReq({ node: node(NODE), typeUrl: CDS, versionInfo: r1.versionInfo }));
      await s2.none();
      const s3 = sotw();
      s3.send(sotwReq({ node: node(NODE), typeUrl: CDS, versionInfo: 'from-another-life' }));
      expect((await s3.next()).versionInfo).toBe(r1.versionInfo);
    });

    it('a wildcard that becomes explicit, and explicit names that become empty, unsubscribe', async () => {
      cache.setSnapshot(NODE, snap({ [LDS]: { a: '1', b: '2' } }));
      const s = sotw();
      s.send(sotwReq({ node: node(NODE), typeUrl: LDS }));
      const r1 = await s.next();
      expect(r1.resources).toHaveLength(2);
      s.send(sotwReq({ typeUrl: LDS, resourceNames: ['a'], versionInfo: r1.versionInfo, responseNonce: r1.nonce }));
      const r2 = await s.next();
      expect(r2.resources.map((x) => x.value.toString())).toEqual(['1']);
      s.send(sotwReq({ typeUrl: LDS, resourceNames: [], versionInfo: r2.versionInfo, responseNonce: r2.nonce }));
      cache.setSnapshot(NODE, snap({ [LDS]: { a: '3', b: '4' } }));
      await s.none();
    });
  });

  describe('incremental', () => {
    it('subscribes and unsubscribes, says at once a name does not exist, sends removals', async () => {
      cache.setSnapshot(NODE, snap({ [CDS]: { a: '1', b: '2', c: '3' } }));
      const s = delta();
      s.send(deltaReq({ node: node(NODE), typeUrl: CDS, resourceNamesSubscribe: ['a', 'nope'] }));
      const r1 = await s.next();
      expect(names(r1)).toEqual(['a']);
      expect(r1.removedResources).toEqual(['nope']);
      expect(r1.resources[0]!.version).not.toBe('');
      expect(r1.nonce).not.toBe('');

      s.send(deltaReq({ typeUrl: CDS, responseNonce: r1.nonce }));
      await s.none();

      s.send(deltaReq({ typeUrl: CDS, resourceNamesSubscribe: ['b'], resourceNamesUnsubscribe: ['a', 'never-subscribed'] }));
      const r2 = await s.next();
      expect(names(r2)).toEqual(['b']);
      expect(r2.removedResources).toEqual([]);
      expect(r2.nonce).not.toBe(r1.nonce);
      s.send(deltaReq({ typeUrl: CDS, responseNonce: r2.nonce }));

      // `a` is no longer subscribed: its change is not sent; `b`'s is.
      cache.setSnapshot(NODE, snap({ [CDS]: { a: '1x', b: '2', c: '3' } }));
      await s.none();
      cache.setSnapshot(NODE, snap({ [CDS]: { a: '1x', b: '2x', c: '3' } }));
      const r3 = await s.next();
      expect(r3.resources.map((x) => x.resource!.value.toString())).toEqual(['2x']);
      s.send(deltaReq({ typeUrl: CDS, responseNonce: r3.nonce }));

      cache.setSnapshot(NODE, snap({ [CDS]: { a: '1x', c: '3' } }));
      const r4 = await s.next();
      expect(r4.resources).toEqual([]);
      expect(r4.removedResources).toEqual(['b']);

      // A NACK is recorded and nothing is resent.
      const before = nacks.length;
      s.send(deltaReq({ typeUrl: CDS, responseNonce: r4.nonce, errorDetail: { code: 3, message: 'no', details: [] } }));
      await s.none();
      expect(nacks.slice(before)).toEqual([expect.objectContaining({ variant: 'delta', nonce: r4.nonce, message: 'no' })]);
    });

    it('honours subscription changes on a stale nonce', async () => {
      cache.setSnapshot(NODE, snap({ [EDS]: { a: '1', b: '2' } }));
      const s = delta();
      s.send(deltaReq({ node: node(NODE), typeUrl: EDS, resourceNamesSubscribe: ['a'] }));
      const r1 = await s.next();
      s.send(deltaReq({ typeUrl: EDS, responseNonce: 'stale', resourceNamesSubscribe: ['b'] }));
      const r2 = await s.next();
      expect(names(r2)).toEqual(['b']);
      s.send(deltaReq({ typeUrl: EDS, responseNonce: r1.nonce }));
      await s.none();
    });

    it('wildcard: empty first subscription gets everything', async () => {
      cache.setSnapshot(NODE, snap({ [LDS]: { a: '1', b: '2' } }));
      const s = delta();
      s.send(deltaReq({ node: node(NODE), typeUrl: LDS }));
      const r1 = await s.next();
      expect(names(r1)).toEqual(['a', 'b']);
      s.send(deltaReq({ typeUrl: LDS, responseNonce: r1.nonce }));
      cache.setSnapshot(NODE, snap({ [LDS]: { a: '1', b: '2', c: '3' } }));
      expect(names(await s.next())).toEqual(['c']);
    });

    it('wildcard plus an explicit name: unsubscribing the name resends it (the wildcard still covers it); later changes still flow', async () => {
      cache.setSnapshot(NODE, snap({ [CDS]: { a: '1', b: '2' } }));
      const s = delta();
      s.send(deltaReq({ node: node(NODE), typeUrl: CDS }));
      const r1 = await s.next();
      s.send(deltaReq({ typeUrl: CDS, responseNonce: r1.nonce }));
      cache.setSnapshot(NODE, snap({ [CDS]: { a: '1b', b: '2' } }));
      const r2 = await s.next();
      expect(names(r2)).toEqual(['a']);
      // Subscribing a name it already has through the wildcard sends nothing; unsubscribing it resends it.
      s.send(deltaReq({ typeUrl: CDS, responseNonce: r2.nonce, resourceNamesSubscribe: ['b'] }));
      await s.none();
      s.send(deltaReq({ typeUrl: CDS, resourceNamesUnsubscribe: ['b'] }));
      const r3 = await s.next();
      expect(names(r3)).toEqual(['b']);
      s.send(deltaReq({ typeUrl: CDS, responseNonce: r3.nonce }));
      cache.setSnapshot(NODE, snap({ [CDS]: { a: '1b', b: '2c', c: '3' } }));
      const r4 = await s.next();
      expect(names(r4)).toEqual(['b', 'c']);
      s.send(deltaReq({ typeUrl: CDS, responseNonce: r4.nonce }));
      cache.setSnapshot(NODE, snap({ [CDS]: { b: '2c', c: '3' } }));
      expect((await s.next()).removedResources).toEqual(['a']);
    });

    it('reconnect with initial_resource_versions: sends only what differs, nothing the client has', async () => {
      cache.setSnapshot(NODE, snap({ [CDS]: { a: '1', b: '2', c: '3' } }));
      const s1 = delta();
      s1.send(deltaReq({ node: node(NODE), typeUrl: CDS, resourceNamesSubscribe: ['a', 'b', 'c'] }));
      const first = await s1.next();
      const had = Object.fromEntries(first.resources.map((r) => [r.name, r.version]));
      s1.close();
      await s1.ended;

      // While away: b changes, c goes, d appears (not subscribed).
      cache.setSnapshot(NODE, snap({ [CDS]: { a: '1', b: '2x', d: '4' } }));
      const s2 = delta();
      s2.send(deltaReq({ node: node(NODE), typeUrl: CDS, resourceNamesSubscribe: ['a', 'b', 'c'], initialResourceVersions: had }));
      const r = await s2.next();
      expect(names(r)).toEqual(['b']);
      expect(r.removedResources).toEqual(['c']);
      s2.send(deltaReq({ typeUrl: CDS, responseNonce: r.nonce }));
      await s2.none();

      // Nothing changed at all: nothing is sent.
      const s3 = delta();
      const now = Object.fromEntries([...cache.getSnapshot(NODE)!.get(CDS).items.values()].map((x) => [x.name, x.version]));
      s3.send(deltaReq({ node: node(NODE), typeUrl: CDS, resourceNamesSubscribe: ['a', 'b'], initialResourceVersions: { a: now.a!, b: now.b! } }));
      await s3.none();
    });
  });

  describe('incremental NACK then fix', () => {
    it('keeps the last good config after a NACK (nothing resent, even when the same bad config is set again), and sends the fix', async () => {
      cache.setSnapshot(NODE, snap({ [CDS]: { a: 'good', b: 'b' } }));
      const s = delta();
      s.send(deltaReq({ node: node(NODE), typeUrl: CDS }));
      const good = await s.next();
      expect(names(good)).toEqual(['a', 'b']);
      s.send(deltaReq({ typeUrl: CDS, responseNonce: good.nonce }));
      await s.none(100);

      cache.setSnapshot(NODE, snap({ [CDS]: { a: 'bad', b: 'b' } }));
      const bad = await s.next();
      expect(bad.resources.map((r) => r.resource!.value.toString())).toEqual(['bad']);
      const before = nacks.length;
      s.send(deltaReq({ typeUrl: CDS, responseNonce: bad.nonce, errorDetail: { code: 3, message: 'cluster a: bad', details: [] } }));
      await s.none();
      expect(nacks.slice(before)).toEqual([expect.objectContaining({ variant: 'delta', typeUrl: CDS, nonce: bad.nonce, message: 'cluster a: bad' })]);
      cache.setSnapshot(NODE, snap({ [CDS]: { a: 'bad', b: 'b' } }));
      await s.none();

      cache.setSnapshot(NODE, snap({ [CDS]: { a: 'fixed', b: 'b' } }));
      const fixed = await s.next();
      // Only the fixed resource: `b` never changed.
      expect(fixed.resources.map((r) => [r.name, r.resource!.value.toString()])).toEqual([['a', 'fixed']]);
      expect(fixed.resources[0]!.version).not.toBe(bad.resources[0]!.version);
      s.send(deltaReq({ typeUrl: CDS, responseNonce: fixed.nonce }));
      await s.none();
    });
  });

  describe('bad input ends only the offending stream', () => {
    /** A healthy stream of NODE on EDS, acknowledged; returns a way to see it receive the next update. */
    const bystander = async () => {
      cache.setSnapshot(NODE, snap({ [EDS]: { e: 'v1' } }));
      const s = sotw();
      s.send(sotwReq({ node: node(NODE), typeUrl: EDS, resourceNames: ['e'] }));
      const r = await s.next();
      s.send(sotwReq({ typeUrl: EDS, resourceNames: ['e'], versionInfo: r.versionInfo, responseNonce: r.nonce }));
      return async () => {
        cache.setSnapshot(NODE, snap({ [EDS]: { e: `v-${Date.now()}` } }));
        const u = await s.next();
        expect(u.typeUrl).toBe(EDS);
      };
    };

    it('an unknown type URL: INVALID_ARGUMENT naming it, on both variants', async () => {
      const stillServed = await bystander();
      const s = sotw();
      s.send(sotwReq({ node: node(NODE), typeUrl: 'type.googleapis.com/envoy.config.core.v3.Nothing' }));
      const err = await s.ended;
      expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(err?.details).toMatch(/type_url "type\.googleapis\.com\/envoy\.config\.core\.v3\.Nothing" is not served by this control plane \(it serves .*Cluster/);
      const d = delta();
      d.send(deltaReq({ node: node(NODE), typeUrl: 'nonsense' }));
      expect((await d.ended)?.code).toBe(grpc.status.INVALID_ARGUMENT);
      await stillServed();
    });

    it('a failure that is not the client\'s: UNAVAILABLE for a lost database, INTERNAL otherwise, no server text', async () => {
      const stillServed = await bystander();
      const lost = sotw();
      lost.send(sotwReq({ node: node('db-lost'), typeUrl: CDS }));
      const e1 = await lost.ended;
      expect(e1?.code).toBe(grpc.status.UNAVAILABLE);
      const bug = delta();
      bug.send(deltaReq({ node: node('bug'), typeUrl: CDS }));
      const e2 = await bug.ended;
      expect(e2?.code).toBe(grpc.status.INTERNAL);
      for (const e of [e1, e2]) expect(e?.details).not.toMatch(/ECONNRESET|5432|select|params|secret/i);
      await stillServed();
    });

    it('a stream that sends no request is ended with DEADLINE_EXCEEDED after firstRequestMs', async () => {
      const silent = sotw();
      const opened = Date.now();
      const err = await silent.ended;
      expect(err?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
      expect(err?.details).toMatch(/no DiscoveryRequest within 1000 ms/);
      expect(Date.now() - opened).toBeGreaterThanOrEqual(900);
    });

    it('bytes that are no DiscoveryRequest: INVALID_ARGUMENT, not INTERNAL', async () => {
      const stillServed = await bystander();
      const raw = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
      try {
        const id = (b: Buffer) => b;
        const call = raw.makeBidiStreamRequest('/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources', id, id);
        const ended = new Promise<grpc.ServiceError>((resolve) => call.on('error', resolve));
        call.on('data', () => {});
        // Field 1 (version_info), length-delimited, claiming 127 bytes that never come.
        call.write(Buffer.from([0x0a, 0x7f, 0x01]));
        const err = await ended;
        expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
        expect(err.details).toMatch(/could not be decoded as a DiscoveryRequest/);
      } finally {
        raw.close();
      }
      await stillServed();
    });
  });

  describe('stream context and counters', () => {
    it('hands the call metadata `authorization` to openStream, and reports each response once', async () => {
      cache.setSnapshot(NODE, snap({ [CDS]: { a: '1' }, [LDS]: { l: '1' } }));
      const meta = new grpc.Metadata();
      meta.set('authorization', 'Bearer secret-token');
      const s = new Scripted<DiscoveryRequest, DiscoveryResponse>(client.streamAggregatedResources(meta));
      streams.push(s as Scripted<unknown, unknown>);
      const before = responses.length;
      s.send(sotwReq({ node: node(NODE), typeUrl: CDS }));
      const r = await s.next();
      s.send(sotwReq({ typeUrl: LDS }));
      await s.next();
      s.send(sotwReq({ typeUrl: CDS, versionInfo: r.versionInfo, responseNonce: r.nonce }));
      await s.none(100);
      expect(contexts.at(-1)).toMatchObject({ authorization: 'Bearer secret-token' });
      expect(contexts.at(-1)!.streamId).not.toBe(contexts.at(-2)?.streamId);
      const mine = responses.slice(before);
      expect(mine.map((e) => e.typeUrl)).toEqual([CDS, LDS]);
      expect(new Set(mine.map((e) => e.streamId))).toEqual(new Set([contexts.at(-1)!.streamId]));
      expect(acks.at(-1)).toMatchObject({ streamId: contexts.at(-1)!.streamId, typeUrl: CDS });
    });
  });

  describe('node admission', () => {
    it('ends the stream of an unknown node with NOT_FOUND and the callback message', async () => {
      const s = sotw();
      s.send(sotwReq({ node: node('default.ghost'), typeUrl: LDS, resourceNames: ['x'] }));
      const err = await s.ended;
      expect(err?.code).toBe(grpc.status.NOT_FOUND);
      expect(err?.details).toBe('no Dataplane for default.ghost');
    });

    it('refuses a first request without node (INVALID_ARGUMENT), also on delta', async () => {
      const s = delta();
      s.send(deltaReq({ typeUrl: CDS }));
      const err = await s.ended;
      expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    });

    it('only the first request needs node; a missing type_url ends the stream', async () => {
      cache.setSnapshot(NODE, snap({ [CDS]: { a: '1' } }));
      const s = sotw();
      s.send(sotwReq({ node: node(NODE), typeUrl: CDS }));
      await s.next();
      s.send(sotwReq({ typeUrl: '' }));
      const err = await s.ended;
      expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(err?.details).toMatch(/type_url/);
    });

    it('releases the node when the stream ends', async () => {
      const before = open.get(NODE) ?? 0;
      const s = sotw();
      s.send(sotwReq({ node: node(NODE), typeUrl: CDS }));
      await s.next();
      expect(open.get(NODE)).toBe(before + 1);
      s.close();
      await s.ended;
      const deadline = Date.now() + 2000;
      while (open.get(NODE) !== before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(open.get(NODE)).toBe(before);
    });
  });
});
