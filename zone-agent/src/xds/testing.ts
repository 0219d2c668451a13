/**
 * Test helpers for the ADS server's request bounds (used by `limits.test.ts` and `test/slow/xds-fuzz.test.ts`;
 * nothing in the agent imports this): a real ADS server on 127.0.0.1 whose streams are admitted by the real
 * admission (dataplane tokens signed and checked against an embedded database), scripted streams that
 * record how they ended, and a seeded fuzzer of DiscoveryRequests / DeltaDiscoveryRequests.
 */
import * as grpc from '@grpc/grpc-js';
import { Node } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import { AggregatedDiscoveryServiceClient, CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, CLUSTER_TYPE_URL, DeltaDiscoveryRequest, DiscoveryRequest, LISTENER_TYPE_URL, type DeltaDiscoveryResponse, type DiscoveryResponse } from '@ursa/proto/xds';
import { KdsStore, ResourceStore } from '@ursa/core';
import { pgliteBackend } from '@ursa/test-support/backends.js';
import { mulberry32 } from '@ursa/test-support/random.js';
import { LOCAL } from '../kds/state.js';
import { createAdmission } from './admission.js';
import { SnapshotCache } from './cache.js';
import { startAdsServer, type AdsServer } from './grpc.js';
import { XDS_LIMITS } from './limits.js';
import { Snapshot } from './snapshot.js';
import type { NackEvent } from './stream.js';
import { DataplaneTokens } from './tokens.js';

/** The registered Dataplane every fixture knows, as a proxy id. */
export const FIXTURE_NODE = 'default.web-1';

export interface XdsFixture {
  readonly server: AdsServer;
  readonly client: AggregatedDiscoveryServiceClient;
  /** A valid mesh-wide dataplane token for mesh `default` (admits any name of the mesh). */
  readonly token: string;
  /** NACKs the server reported. */
  readonly nacks: NackEvent[];
  close(): Promise<void>;
}

export async function startXdsFixture(): Promise<XdsFixture> {
  const { database, dispose } = await pgliteBackend.open();
  const store = new ResourceStore(database.db);
  await store.apply(LOCAL, [
    { op: 'upsert', resource: { kind: 'Mesh', mesh: '', name: 'default', labels: {}, spec: {} } },
    { op: 'upsert', resource: { kind: 'Dataplane', mesh: 'default', name: 'web-1', labels: {}, spec: { networking: { address: '10.0.0.1', inbound: [{ port: 80, tags: { 'kuma.io/service': 'web' } }] } } } },
  ]);
  const tokens = new DataplaneTokens(new KdsStore(database.db), LOCAL);
  const { token } = await tokens.issue({ mesh: 'default', validForSeconds: 3600 });
  const admit = createAdmission({ store, tenant: LOCAL, zone: 'fuzz-zone', tokens });
  const cache = new SnapshotCache();
  const resources = (names: string[]) => names.map((name) => ({ name, value: Buffer.from(name) }));
  cache.setSnapshot(FIXTURE_NODE, Snapshot.fromEncoded({ [CLUSTER_TYPE_URL]: resources(['a', 'b']), [CLUSTER_LOAD_ASSIGNMENT_TYPE_URL]: resources(['a']), [LISTENER_TYPE_URL]: resources(['l']) }));
  const nacks: NackEvent[] = [];
  const server = await startAdsServer({
    host: '127.0.0.1',
    port: 0,
    cache,
    callbacks: { openStream: async (node, _v, ctx) => (await admit(node, ctx)).id, closeStream: () => {}, onNack: (e) => nacks.push(e) },
  });
  const client = new AggregatedDiscoveryServiceClient(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 64 << 20 });
  const fx: XdsFixture = {
    server,
    client,
    token,
    nacks,
    async close() {
      client.close();
      await server.close();
      await dispose();
    },
  };
  // Warm up (the channel's connection, the token key cache, the JIT): the tests time the server's answers,
  // not a cold start.
  const warm = new Probe<DiscoveryRequest>(fx, 'sotw');
  warm.send(sotwRequest({ node: fixtureNode(), typeUrl: CLUSTER_TYPE_URL }));
  await warm.settle(10_000);
  warm.close();
  if (warm.got.length === 0) throw new Error(`the xDS fixture does not answer: ${warm.ended?.details ?? 'no response in 10 s'}`);
  return fx;
}

export interface Ended {
  readonly code: grpc.status;
  readonly details: string;
  /** Milliseconds from the last `send` to the status. */
  readonly ms: number;
}

/** One scripted stream (either variant): what arrived, and how and when it ended. */
export class Probe<Req> {
  readonly got: unknown[] = [];
  ended: Ended | undefined;
  private sentAt = Date.now();
  private readonly stream: grpc.ClientDuplexStream<Req, unknown>;

  constructor(fx: XdsFixture, variant: 'sotw' | 'delta', token: string | undefined = fx.token) {
    const meta = new grpc.Metadata();
    if (token) meta.set('authorization', `Bearer ${token}`);
    this.stream = (variant === 'sotw' ? fx.client.streamAggregatedResources(meta) : fx.client.deltaAggregatedResources(meta)) as unknown as grpc.ClientDuplexStream<Req, unknown>;
    this.stream.on('data', (r) => this.got.push(r));
    this.stream.on('error', (e: grpc.ServiceError) => (this.ended ??= { code: e.code, details: e.details, ms: Date.now() - this.sentAt }));
    this.stream.on('end', () => (this.ended ??= { code: grpc.status.OK, details: '', ms: Date.now() - this.sentAt }));
  }

  /** Writes a request; times run from when the write returns (the client's own encoding is not the server's time). */
  send(req: Req): void {
    this.stream.write(req);
    this.sentAt = Date.now();
  }

  /** Waits until the stream ended or `n` responses arrived, or `ms` passed. */
  async settle(ms: number, n = 1): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.ended && this.got.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  }

  /** The status, waiting at most `ms` for it. */
  async status(ms = 1000): Promise<Ended | undefined> {
    const deadline = Date.now() + ms;
    while (!this.ended && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    return this.ended;
  }

  close(): void {
    this.stream.cancel();
  }
}

export const sotwRequest = (r: Partial<DiscoveryRequest>) => DiscoveryRequest.fromPartial(r);
export const deltaRequest = (r: Partial<Omit<DeltaDiscoveryRequest, 'initialResourceVersions'>> & { initialResourceVersions?: Record<string, string> }) => DeltaDiscoveryRequest.fromPartial(r);
export const fixtureNode = (id = FIXTURE_NODE, extra: Partial<Node> = {}) => Node.fromPartial({ id, userAgentName: 'fuzz', ...extra });

// ---- the fuzzer ----

const SERVED = [CLUSTER_TYPE_URL, CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, LISTENER_TYPE_URL];

/** One generated case: the requests of one stream, and whether some field is over its bound. */
interface Case {
  readonly variant: 'sotw' | 'delta';
  readonly withToken: boolean;
  readonly requests: (DiscoveryRequest | DeltaDiscoveryRequest)[];
  /** The fields over a bound (empty: every field within bounds). */
  readonly over: string[];
}

/** Seeded random cases: each field small, empty, just under or just over its bound, or huge. */
export function generateCase(rand: () => number): Case {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const over: string[] = [];
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789.-_*/:€\u0000';
  const str = (n: number) => {
    if (n > 2000) return pick(['x', '€', 'é']).repeat(n);
    let s = '';
    for (let i = 0; i < n; i++) s += chars[Math.floor(rand() * chars.length)];
    return s;
  };
  /** A length for a field bounded by `max`, recording `field` when over. */
  const len = (field: string, max: number, usual = 8): number => {
    const n = pick([0, usual, usual, usual, Math.floor(rand() * usual * 4), max, max + 1, max * 2 + Math.floor(rand() * 100_000)]);
    if (n > max && !over.includes(field)) over.push(field);
    return n;
  };
  const text = (field: string, max: number, usual?: number) => str(len(field, max, usual));
  const names = (field: string) => {
    const count = pick([0, 1, 3, 3, 50, XDS_LIMITS.resourceNames + 1]);
    if (count > XDS_LIMITS.resourceNames) over.push(field);
    const out: string[] = [];
    // Many names are short (the request stays well under gRPC's size bound; that one is tested on its own).
    for (let i = 0; i < count; i++) out.push(count > 3 && i > 0 ? `n${i}` : rand() < 0.3 ? pick(['a', 'b', '*']) : text(`a name in ${field}`, XDS_LIMITS.resourceName));
    return out;
  };
  const variant = rand() < 0.5 ? 'sotw' : 'delta';
  const validId = rand() < 0.7;
  const id = validId ? pick([FIXTURE_NODE, 'default.other', FIXTURE_NODE]) : text('node.id', XDS_LIMITS.nodeId, 20);
  const metadata = (() => {
    const r = rand();
    if (r < 0.5) return undefined;
    if (r < 0.7) {
      // Size counts keys and strings: the key's 12 characters, then the value.
      const n = pick([100, XDS_LIMITS.metadataSize - 12, XDS_LIMITS.metadataSize - 11, XDS_LIMITS.metadataSize * 3]);
      if (12 + n > XDS_LIMITS.metadataSize) over.push('node.metadata');
      return { 'kuma.io/note': 'x'.repeat(n) };
    }
    if (r < 0.85) {
      const depth = pick([1, 5, XDS_LIMITS.metadataDepth - 1, XDS_LIMITS.metadataDepth + 1, 200]);
      if (depth > XDS_LIMITS.metadataDepth) over.push('node.metadata');
      let v: unknown = 'leaf';
      for (let i = 0; i < depth; i++) v = { k: v };
      return v as Record<string, unknown>;
    }
    return { 'ursa.io/proxy-type': pick(['sidecar', 'proxyless', 'ingress', str(40)]) };
  })();
  const node = fixtureNode(id, { cluster: text('node.cluster', XDS_LIMITS.nodeCluster), metadata });
  const typeUrl = rand() < 0.8 ? pick(SERVED) : text('type_url', XDS_LIMITS.typeUrl, 40);
  const nonce = text('response_nonce', XDS_LIMITS.nonce, 2);
  const errorDetail = rand() < 0.2 ? { code: 3, message: str(pick([10, 5000, 300_000])), details: [] } : undefined;
  let first: DiscoveryRequest | DeltaDiscoveryRequest;
  if (variant === 'sotw') {
    first = sotwRequest({ node, typeUrl, responseNonce: nonce, versionInfo: text('version_info', XDS_LIMITS.version, 16), resourceNames: names('resource_names'), errorDetail });
  } else {
    const initial: Record<string, string> = {};
    const count = pick([0, 0, 2, 20, XDS_LIMITS.resourceNames + 1]);
    if (count > XDS_LIMITS.resourceNames) over.push('initial_resource_versions');
    for (let i = 0; i < count; i++) initial[count > 3 && i > 0 ? `n${i}` : text('a name in initial_resource_versions', XDS_LIMITS.resourceName)] = count > 3 && i > 0 ? 'v' : text('a version in initial_resource_versions', XDS_LIMITS.version, 16);
    first = deltaRequest({ node, typeUrl, responseNonce: nonce, resourceNamesSubscribe: names('resource_names_subscribe'), resourceNamesUnsubscribe: names('resource_names_unsubscribe'), initialResourceVersions: initial, errorDetail });
  }
  const requests = [first];
  // Sometimes a second, well-formed request without node (what proxies send after the first).
  const few = () => (rand() < 0.5 ? [] : [pick(['a', 'b', 'l', '*'])]);
  if (rand() < 0.3) requests.push(variant === 'sotw' ? sotwRequest({ typeUrl: pick(SERVED), responseNonce: '1', resourceNames: few() }) : deltaRequest({ typeUrl: pick(SERVED), responseNonce: '1', resourceNamesSubscribe: few() }));
  return { variant, withToken: rand() < 0.9, requests, over };
}

/**
 * Runs `runs` seeded cases against the fixture, `parallel` streams at a time, and returns what went wrong
 * (empty: nothing). Every stream must, within `budgetMs` of its last request: end with INVALID_ARGUMENT
 * (or RESOURCE_EXHAUSTED, over the whole-message bound) when a field is over its bound; otherwise end with a
 * status that is not INTERNAL/UNKNOWN, or receive well-formed answers (a lone SotW request must; other
 * streams may have asked for nothing and stay quietly open). Every status message is short.
 */
export async function fuzzXds(fx: XdsFixture, opts: { runs: number; seed: number; parallel?: number; budgetMs?: number }): Promise<string[]> {
  const rand = mulberry32(opts.seed);
  const failures: string[] = [];
  const budget = opts.budgetMs ?? 1000;
  const one = async (i: number, c: Case) => {
    const p = new Probe<DiscoveryRequest | DeltaDiscoveryRequest>(fx, c.variant, c.withToken ? fx.token : undefined);
    const t0 = Date.now();
    try {
      for (const r of c.requests) p.send(r);
      await p.settle(budget, c.requests.length);
      const what = `case ${i} (seed ${opts.seed}, ${c.variant}, over: ${c.over.join(', ') || 'nothing'})`;
      const e = p.ended;
      if (e && e.details.length > XDS_LIMITS.statusMessage + 1) failures.push(`${what}: a status message of ${e.details.length} characters`);
      if (c.over.length > 0) {
        // Some bounds are crossed only by the second request; the first may be answered before that.
        if (!e) await p.status(budget);
        const end = p.ended;
        if (!end) failures.push(`${what}: no status within ${budget} ms`);
        else if (end.code !== grpc.status.INVALID_ARGUMENT && end.code !== grpc.status.RESOURCE_EXHAUSTED) failures.push(`${what}: ended ${grpc.status[end.code]} ${end.details.slice(0, 200)}`);
      } else if (e && (e.code === grpc.status.INTERNAL || e.code === grpc.status.UNKNOWN || e.code === grpc.status.OK)) {
        failures.push(`${what}: ended ${grpc.status[e.code]} ${e.details.slice(0, 200)}`);
      } else if (!e && p.got.length === 0 && c.variant === 'sotw' && c.requests.length === 1) {
        // A lone first SotW request always gets a response (named or wildcard, the client's version is never
        // the server's here). Delta may rightly stay quiet (a request can unsubscribe from everything), and
        // so may a SotW stream whose second request unsubscribed before the first was answered.
        failures.push(`${what}: neither a status nor a response within ${budget} ms (${p.got.length} responses, ${p.ended ? `ended ${grpc.status[p.ended.code]}` : 'open'} after ${Date.now() - t0} ms)`);
      }
      for (const r of p.got as (DiscoveryResponse | DeltaDiscoveryResponse)[]) if (!r.nonce || !SERVED.includes(r.typeUrl)) failures.push(`${what}: a malformed response ${JSON.stringify(r).slice(0, 200)}`);
    } finally {
      p.close();
    }
  };
  const parallel = opts.parallel ?? 8;
  for (let i = 0; i < opts.runs; i += parallel) {
    const batch: Promise<void>[] = [];
    for (let j = i; j < Math.min(opts.runs, i + parallel); j++) batch.push(one(j, generateCase(rand)));
    await Promise.all(batch);
  }
  return failures;
}
