/**
 * Bounds on ADS requests (`limits.ts`), over real gRPC against a real ADS server whose streams go through the
 * real admission (dataplane tokens on an embedded database): an oversized node id, too many or too long
 * resource names, huge or deep metadata and every other bounded field end their stream within a second
 * with INVALID_ARGUMENT naming the field and quoting at most a short prefix; a long NACK message is kept
 * cut, not refused; and a seeded fuzz of requests never crashes the server or leaves a stream hanging.
 * The longer fuzz run: test/slow/xds-fuzz.test.ts.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, CLUSTER_TYPE_URL, type DeltaDiscoveryRequest, type DiscoveryRequest, type DiscoveryResponse } from '@ursa/proto/xds';
import { XDS_LIMITS } from './limits.js';
import { deltaRequest, fixtureNode, FIXTURE_NODE, fuzzXds, Probe, sotwRequest, startXdsFixture, type XdsFixture } from './testing.js';

const CDS = CLUSTER_TYPE_URL;
const EDS = CLUSTER_LOAD_ASSIGNMENT_TYPE_URL;

describe('ADS request bounds (real gRPC, real admission)', () => {
  let fx: XdsFixture;
  const probes: { close(): void }[] = [];
  const sotw = (token?: string) => {
    const p = new Probe<DiscoveryRequest>(fx, 'sotw', token);
    probes.push(p);
    return p;
  };
  const delta = (token?: string) => {
    const p = new Probe<DeltaDiscoveryRequest>(fx, 'delta', token);
    probes.push(p);
    return p;
  };
  /** The stream ends within 1 s with INVALID_ARGUMENT, a message naming `field`, at most `maxLength` long. */
  const refused = async (p: Probe<never>, field: RegExp, maxLength = 300) => {
    const e = await p.status(1000);
    expect(e, 'no status within 1 s').toBeDefined();
    expect({ code: grpc.status[e!.code], details: e!.details.slice(0, 400) }).toMatchObject({ code: 'INVALID_ARGUMENT', details: expect.stringMatching(field) });
    expect(e!.details.length).toBeLessThanOrEqual(maxLength);
    expect(e!.ms).toBeLessThan(1000);
    return e!;
  };

  beforeAll(async () => {
    fx = await startXdsFixture();
  });
  afterEach(() => {
    for (const p of probes.splice(0)) p.close();
  });
  afterAll(async () => fx?.close());

  it('a 1 MiB node.id with a valid token ends at once with INVALID_ARGUMENT quoting a short prefix (SotW and delta)', async () => {
    const id = `default.${'x'.repeat(1 << 20)}`;
    const s = sotw();
    s.send(sotwRequest({ node: fixtureNode(id), typeUrl: CDS }));
    const e = await refused(s, /node\.id is 1048584 characters long, over the limit of 512/);
    expect(e.details).toContain(`"default.${'x'.repeat(56)}"…`);
    const d = delta();
    d.send(deltaRequest({ node: fixtureNode(id), typeUrl: CDS }));
    await refused(d, /invalid DeltaDiscoveryRequest: node\.id is 1048584 characters long/);
  });

  it('refusals of a long id that is within bounds quote a short prefix (NOT_FOUND, PERMISSION_DENIED)', async () => {
    const id = `default.${'y'.repeat(400)}`;
    const s = sotw();
    s.send(sotwRequest({ node: fixtureNode(id), typeUrl: CDS }));
    const e = await s.status(1000);
    expect(e?.code).toBe(grpc.status.NOT_FOUND);
    expect(e!.details).toContain(`"default.${'y'.repeat(56)}"…`);
    expect(e!.details.length).toBeLessThan(400);
    const other = sotw();
    other.send(sotwRequest({ node: fixtureNode(`other.${'z'.repeat(400)}`), typeUrl: CDS }));
    const f = await other.status(1000);
    expect(f?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(f!.details.length).toBeLessThan(400);
  });

  it('too many or too long resource names end the stream, on the first request or a later one', async () => {
    const many = Array.from({ length: XDS_LIMITS.resourceNames + 1 }, (_, i) => `cluster-${i}`);
    const s = sotw();
    s.send(sotwRequest({ node: fixtureNode(), typeUrl: EDS, resourceNames: many }));
    await refused(s, /resource_names has 10001 names, over the limit of 10000/);

    // Admitted and served first; the oversized request comes later.
    const later = sotw();
    later.send(sotwRequest({ node: fixtureNode(), typeUrl: CDS }));
    await later.settle(2000);
    const first = later.got[0] as DiscoveryResponse;
    expect(first.resources).toHaveLength(2);
    later.send(sotwRequest({ typeUrl: EDS, responseNonce: '', resourceNames: ['a', 'b'.repeat(XDS_LIMITS.resourceName + 1)] }));
    await refused(later, /a name in resource_names is 1025 characters long, over the limit of 1024 \(it starts "b{64}"…\)/);

    const d = delta();
    d.send(deltaRequest({ node: fixtureNode(), typeUrl: EDS, resourceNamesSubscribe: many }));
    await refused(d, /resource_names_subscribe has 10001 names/);
    // A delta subscription grows over requests: what they add up to is bounded too.
    const grows = delta();
    grows.send(deltaRequest({ node: fixtureNode(), typeUrl: EDS, resourceNamesSubscribe: many.slice(0, 6000) }));
    await grows.settle(2000);
    expect(grows.got).toHaveLength(1);
    grows.send(deltaRequest({ typeUrl: EDS, resourceNamesSubscribe: many.slice(6000) }));
    await refused(grows, /the subscription to \S+ holds 10001 names, over the limit of 10000/);
  });

  it('huge or deeply nested node metadata ends the stream; so does a request over the gRPC size limit', async () => {
    const huge = sotw();
    huge.send(sotwRequest({ node: fixtureNode(FIXTURE_NODE, { metadata: { 'kuma.io/note': 'x'.repeat(2 << 20) } }), typeUrl: CDS }));
    await refused(huge, /node\.metadata is larger than 262144 characters/);
    let deep: unknown = 'leaf';
    for (let i = 0; i < 20; i++) deep = { k: deep };
    const nested = delta();
    nested.send(deltaRequest({ node: fixtureNode(FIXTURE_NODE, { metadata: deep as Record<string, unknown> }), typeUrl: CDS }));
    await refused(nested, /node\.metadata is nested more than 16 levels deep/);
    const tooBig = sotw();
    tooBig.send(sotwRequest({ node: fixtureNode(FIXTURE_NODE, { metadata: { note: 'x'.repeat(XDS_LIMITS.maxRequestBytes) } }), typeUrl: CDS }));
    const e = await tooBig.status(1000);
    expect(e?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  });

  it('every other bounded field: cluster, type_url, nonce, version, initial_resource_versions, client features', async () => {
    const cases: [Probe<never>, unknown, RegExp][] = [
      [sotw(), sotwRequest({ node: fixtureNode(FIXTURE_NODE, { cluster: 'c'.repeat(513) }), typeUrl: CDS }), /node\.cluster is 513 characters long/],
      [sotw(), sotwRequest({ node: fixtureNode(), typeUrl: `type.googleapis.com/${'t'.repeat(300)}` }), /type_url is 320 characters long, over the limit of 256/],
      [sotw(), sotwRequest({ node: fixtureNode(), typeUrl: CDS, responseNonce: 'n'.repeat(129) }), /response_nonce is 129 characters long/],
      [sotw(), sotwRequest({ node: fixtureNode(), typeUrl: CDS, versionInfo: 'v'.repeat(100_000) }), /version_info is 100000 characters long, over the limit of 256/],
      [delta(), deltaRequest({ node: fixtureNode(), typeUrl: CDS, initialResourceVersions: Object.fromEntries(Array.from({ length: 10_001 }, (_, i) => [`c${i}`, 'v'])) }), /initial_resource_versions has 10001 entries/],
      [delta(), deltaRequest({ node: fixtureNode(), typeUrl: CDS, initialResourceVersions: { a: 'v'.repeat(257) } }), /the version of "a" in initial_resource_versions is 257 characters long/],
      [delta(), deltaRequest({ node: fixtureNode(), typeUrl: CDS, resourceNamesUnsubscribe: Array.from({ length: 10_001 }, (_, i) => `c${i}`) }), /resource_names_unsubscribe has 10001 names/],
      [sotw(), sotwRequest({ node: fixtureNode(FIXTURE_NODE, { clientFeatures: Array.from({ length: 257 }, (_, i) => `f${i}`) }), typeUrl: CDS }), /node\.client_features has 257 entries, over the limit of 256/],
    ];
    for (const [p, req, field] of cases) {
      p.send(req as never);
      await refused(p, field);
    }
  });

  it('a NACK with a long error_detail.message is kept, cut to 4096 characters, and the stream goes on', async () => {
    const s = sotw();
    s.send(sotwRequest({ node: fixtureNode(), typeUrl: CDS }));
    await s.settle(2000);
    const r = s.got[0] as DiscoveryResponse;
    s.send(sotwRequest({ typeUrl: CDS, versionInfo: '', responseNonce: r.nonce, errorDetail: { code: 3, message: 'e'.repeat(1 << 20), details: [] } }));
    const deadline = Date.now() + 2000;
    while (fx.nacks.length === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 5));
    expect(fx.nacks.at(-1)?.message).toBe(`${'e'.repeat(4096)}…`);
    expect(s.ended).toBeUndefined();
  });

  it('fuzz: seeded random requests never crash the server nor leave a stream without status or answer', async () => {
    const failures = await fuzzXds(fx, { runs: Number(process.env.URSA_FUZZ_RUNS ?? 120), seed: 0x5eed_0009 });
    expect(failures).toEqual([]);
    // Still serving, and every fuzzed stream is gone.
    const s = sotw();
    s.send(sotwRequest({ node: fixtureNode(), typeUrl: CDS }));
    await s.settle(2000);
    expect((s.got[0] as DiscoveryResponse | undefined)?.resources).toHaveLength(2);
    s.close();
    const deadline = Date.now() + 2000;
    while (fx.server.streams() > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
    expect(fx.server.streams()).toBe(0);
  });
});
