/**
 * The generator's promises beyond the golden files: how a node is classified, that shared parts are built
 * once and shared (an endpoint change re-encodes one resource and touches no node's own parts), that
 * workload certificates renew at 2/3 of their life, and what happens when the mesh CA has not arrived.
 */
import { describe, expect, it } from 'vitest';
import { Node } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import { ClusterLoadAssignment } from '@ursa/proto/gen/envoy/config/endpoint/v3/endpoint.js';
import { generateCa, type ResourceKind } from '@ursa/proto';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS, CLUSTER_TYPE_URL as CDS, LISTENER_TYPE_URL as LDS } from '@ursa/proto/xds';
import type { DataplaneResource } from '../model/dataplane.js';
import type { SecretResource } from '../model/resources.js';
import { stored } from '../model/testing.js';
import { WorkloadCertificates } from './certs.js';
import { describeNode, XdsGenerator, type ConnectedNode, type GenerationInput } from './generate/index.js';
import { loadAssignmentFor } from './generate/eds.js';
import { meshEndpoints } from './generate/endpoints.js';
import { parseSni, sniFor } from './generate/naming.js';
import type { Snapshot } from './snapshot.js';

const res = <K extends ResourceKind>(kind: K, mesh: string, name: string, spec: Record<string, unknown>, labels: Record<string, string> = {}) => stored(kind, { mesh, name, labels, spec });
const instance = (service: string, i: number, tp = false) =>
  res('Dataplane', 'default', `${service}-${i}`, {
    networking: {
      address: `10.1.${i}.${service.length}`,
      inbound: [{ port: 8080, tags: { 'kuma.io/service': service } }],
      ...(tp ? { transparentProxying: { redirectPortInbound: 15006, redirectPortOutbound: 15001 } } : {}),
    },
  });

function world(services: number, opts: { tp?: boolean; mtls?: boolean; secrets?: SecretResource[] } = {}): { input: GenerationInput; names: string[] } {
  const names = Array.from({ length: services }, (_, i) => `svc-${i}`);
  const dataplanes = names.flatMap((s) => [1, 2].map((i) => instance(s, i, opts.tp)));
  const mesh = res('Mesh', '', 'default', opts.mtls ? { mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] } } : {});
  return {
    names,
    input: {
      zone: 'z1',
      meshes: [mesh],
      dataplanes,
      zoneIngresses: [],
      secrets: opts.secrets ?? [],
      policies: [],
      vips: new Map([['default', new Map(names.map((s, i) => [s, `240.0.${i >> 8}.${(i & 255) + 1}`] as const))]]),
    },
  };
}

async function run(gen: XdsGenerator, input: GenerationInput, nodes: ConnectedNode[]) {
  const snaps = new Map<string, Snapshot>();
  const skipped = new Map<string, string>();
  const stats = await gen.generate(input, nodes, { onSnapshot: (id, s) => snaps.set(id, s), onSkip: (id, why) => skipped.set(id, why), batchSize: 7 });
  return { snaps, skipped, stats };
}

const sidecar = (name: string): ConnectedNode => ({ id: `default.${name}`, kind: 'sidecar', mesh: 'default', name });

describe('describeNode', () => {
  it('tells Envoy, kuma-dp, gRPC clients and zone ingresses apart', () => {
    expect(describeNode(Node.fromPartial({ id: 'default.web-1', userAgentName: 'envoy' }))).toEqual({ kind: 'sidecar', mesh: 'default', name: 'web-1' });
    expect(describeNode(Node.fromPartial({ id: 'default.web-1', metadata: { 'dataplane.proxyType': 'dataplane' } }))).toMatchObject({ kind: 'sidecar' });
    expect(describeNode(Node.fromPartial({ id: 'default.client.ns', userAgentName: 'gRPC Node Pure JS' }))).toEqual({ kind: 'proxyless', mesh: 'default', name: 'client.ns' });
    expect(describeNode(Node.fromPartial({ id: 'default.x' }))).toMatchObject({ kind: 'proxyless' });
    expect(describeNode(Node.fromPartial({ id: '.ingress-1', userAgentName: 'envoy' }))).toEqual({ kind: 'ingress', mesh: '', name: 'ingress-1' });
    expect(describeNode(Node.fromPartial({ id: 'ingress-1', metadata: { 'dataplane.proxyType': 'ingress' } }))).toEqual({ kind: 'ingress', mesh: '', name: 'ingress-1' });
    expect(describeNode(Node.fromPartial({ id: 'default.x', metadata: { 'ursa.io/proxy-type': 'sidecar' } }))).toMatchObject({ kind: 'sidecar' });
    expect(describeNode(Node.fromPartial({ id: '.egress-1', metadata: { 'dataplane.proxyType': 'egress' } }))).toEqual({ kind: 'egress', mesh: '', name: 'egress-1' });
    expect(describeNode(Node.fromPartial({ id: '.', metadata: { 'dataplane.proxyType': 'egress' } }))).toEqual({ error: expect.stringMatching(/of a zone egress must be ".<zoneegress-name>"/) });
    expect(describeNode(Node.fromPartial({ id: 'x.y', metadata: { 'dataplane.proxyType': 'gateway' } }))).toEqual({ error: expect.stringMatching(/dataplane.proxyType.*"gateway".*expected one of dataplane, ingress, egress/) });
    expect(describeNode(Node.fromPartial({ id: 'default.x', metadata: { 'ursa.io/proxy-type': 'gateway' } }))).toEqual({ error: expect.stringMatching(/ursa.io\/proxy-type.*"gateway"/) });
    expect(describeNode(Node.fromPartial({ id: 'nodot', userAgentName: 'envoy' }))).toEqual({ error: expect.stringMatching(/is not "<mesh>.<dataplane-name>"/) });
  });
});

describe('SNI', () => {
  it('is Kuma tag form, and parses back', () => {
    expect(sniFor('backend', 'default')).toBe('backend{mesh=default}');
    expect(sniFor('backend', 'default', { version: 'v2', 'kuma.io/service': 'backend' })).toBe('backend{mesh=default,version=v2}');
    expect(parseSni('backend{mesh=default,version=v2}')).toEqual({ service: 'backend', tags: { mesh: 'default', version: 'v2' } });
    expect(parseSni('backend')).toBeUndefined();
  });
});

describe('remote endpoints', () => {
  it('counts ingress replicas behind one advertised address once', () => {
    const zi = (name: string, zone: string, address: string, instances: number) =>
      res('ZoneIngress', '', name, { zone, networking: { address: '10.9.0.1', port: 10001, advertisedAddress: address, advertisedPort: 443 }, availableServices: [{ mesh: 'default', instances, tags: { 'kuma.io/service': 'api' } }] }, { 'kuma.io/origin': 'global' });
    const out = meshEndpoints({ mesh: 'default', zone: 'z1', dataplanes: [], zoneIngresses: [zi('z2-b', 'z2', '192.0.2.2', 3), zi('z2-a', 'z2', '192.0.2.2', 3), zi('z3-a', 'z3', '192.0.2.2', 1)] });
    expect(out.get('api')!.zones).toEqual([
      { zone: 'z2', weight: 3, endpoints: [{ address: '192.0.2.2', port: 443, weight: 3 }] },
      { zone: 'z3', weight: 1, endpoints: [{ address: '192.0.2.2', port: 443, weight: 1 }] },
    ]);
  });
});

describe('locality priorities', () => {
  const endpoints = { service: 'echo', zones: [{ zone: 'z2', weight: 2, endpoints: [{ address: '10.2.0.1', port: 1, weight: 2 }] }] };
  it('renumbers densely: remote zones are priority 0 when the local zone has no instance', () => {
    const cla = loadAssignmentFor('echo', endpoints, { localZone: 'z1', includeRemote: true, priorityOf: (z) => (z === 'z1' ? 0 : 1) });
    expect(cla.endpoints.map((l) => [l.locality?.zone, l.priority])).toEqual([['z2', 0]]);
    expect(loadAssignmentFor('echo', endpoints, { localZone: 'z1', includeRemote: false }).endpoints).toEqual([]);
  });
});

describe('XdsGenerator sharing', () => {
  it('builds a mesh once for all transparent-proxy sidecars, and an endpoint change re-encodes one resource', async () => {
    const { input, names } = world(50, { tp: true });
    const gen = new XdsGenerator({ certs: new WorkloadCertificates() });
    const nodes = ['svc-0-1', 'svc-1-1', 'svc-2-2'].map(sidecar);
    const first = await run(gen, input, nodes);
    expect(first.skipped.size).toBe(0);
    const [a, b, c] = nodes.map((n) => first.snaps.get(n.id)!);
    // 50 destinations: a cluster, endpoints and two VIP listeners each (port 8080 and 80), plus own listeners
    // (inbound, two passthrough, and the DNS-in-the-proxy dynamic config listener, shared by the mesh's sidecars).
    expect(a!.get(EDS).items.size).toBe(50);
    expect(a!.get(LDS).items.size).toBe(50 * 2 + 1 + 2 + 1);
    expect(a!.get(LDS).items.get('_kuma:dynamicconfig')).toBe(b!.get(LDS).items.get('_kuma:dynamicconfig'));
    expect(a!.get(EDS)).toBe(b!.get(EDS));
    expect(a!.get(CDS).items.get('svc-7')).toBe(c!.get(CDS).items.get('svc-7'));
    expect(a!.get(LDS).items.get('outbound:240.0.0.8:80')).toBe(b!.get(LDS).items.get('outbound:240.0.0.8:80'));
    expect(a!.problems()).toEqual([]);

    // The same input again: no node visited (`visit-plan.ts`), nothing encoded; each keeps its snapshot.
    const again = await run(gen, input, nodes);
    expect(again.stats.encoded).toBe(0);
    expect(again.stats.visited).toBe(0);
    expect(again.snaps.size).toBe(0);

    // A third instance of svc-7: one ClusterLoadAssignment re-encoded; clusters and listeners untouched.
    const changed: GenerationInput = { ...input, dataplanes: [...input.dataplanes, instance('svc-7', 3)] };
    const after = await run(gen, changed, nodes);
    expect(after.stats.encoded).toBe(1);
    expect(after.stats.rebuilt).toBe(0);
    const a2 = after.snaps.get(nodes[0]!.id)!;
    expect(a2.sameAs(a)).toBe(false);
    expect(a2.get(CDS).version).toBe(a!.get(CDS).version);
    expect(a2.get(LDS).version).toBe(a!.get(LDS).version);
    const cla = ClusterLoadAssignment.decode(a2.get(EDS).items.get('svc-7')!.body.value);
    expect(cla.endpoints[0]!.lbEndpoints).toHaveLength(3);
    for (const s of names.filter((n) => n !== 'svc-7')) expect(a2.get(EDS).items.get(s)).toBe(a!.get(EDS).items.get(s));

    // A new service with its VIP: every sidecar's DNS-in-the-proxy listener says so; no node's own sets are rebuilt.
    const vips = new Map(input.vips.get('default'));
    vips.set('fresh', '240.0.9.9');
    const grown: GenerationInput = { ...changed, dataplanes: [...changed.dataplanes, instance('fresh', 1, true)], vips: new Map([['default', vips]]) };
    const later = await run(gen, grown, nodes);
    expect(later.stats.rebuilt).toBe(0);
    const dnsOf = (s: Snapshot) => Buffer.from(s.get(LDS).items.get('_kuma:dynamicconfig')!.body.value).toString('latin1');
    for (const n of nodes) expect(dnsOf(later.snaps.get(n.id)!)).toContain('{"name":"fresh.mesh","ips":["240.0.9.9"]}');
    expect(dnsOf(a2)).not.toContain('fresh.mesh');
  });

  it('gives a sidecar without transparent proxying only its declared outbounds', async () => {
    const { input } = world(20);
    (input.dataplanes as DataplaneResource[]).push(res('Dataplane', 'default', 'web', { networking: { address: '10.0.0.1', inbound: [{ port: 80, tags: { 'kuma.io/service': 'web' } }], outbound: [{ port: 10001, tags: { 'kuma.io/service': 'svc-3' } }] } }));
    const gen = new XdsGenerator({ certs: new WorkloadCertificates() });
    const { snaps } = await run(gen, input, [sidecar('web')]);
    const s = snaps.get('default.web')!;
    expect([...s.get(CDS).items.keys()]).toEqual(['localhost:80', 'svc-3']);
    expect([...s.get(EDS).items.keys()]).toEqual(['svc-3']);
    expect([...s.get(LDS).items.keys()]).toEqual(['inbound:10.0.0.1:80', 'outbound:127.0.0.1:10001']);
    expect(s.problems()).toEqual([]);
  });

  it('gives no new configuration to mTLS sidecars until the mesh CA has arrived, and says why', async () => {
    const { input } = world(2, { mtls: true });
    const gen = new XdsGenerator({ certs: new WorkloadCertificates() });
    const { snaps, skipped } = await run(gen, input, [sidecar('svc-0-1')]);
    expect(snaps.size).toBe(0);
    expect(skipped.get('default.svc-0-1')).toMatch(/mTLS on .*CA secret default\.ca-builtin-cert-ca-1 has not arrived/);
  });
});

describe('WorkloadCertificates', () => {
  it('keeps a certificate until 2/3 of its life, then issues a new one; a new identity or CA issues at once', async () => {
    const ca = await generateCa({ commonName: 'ca', spiffeTrustDomain: 'default', validForSeconds: 3600 });
    const ca2 = await generateCa({ commonName: 'ca2', spiffeTrustDomain: 'default', validForSeconds: 3600 });
    // Whole seconds: certificates carry no milliseconds.
    let now = Math.floor(Date.now() / 1000) * 1000;
    const certs = new WorkloadCertificates({ validForSeconds: 300, now: () => new Date(now) });
    const first = await certs.get('default', 'web-1', ['web'], ca);
    expect(first.spiffeIds).toEqual(['spiffe://default/web']);
    expect(first.renewAt.getTime() - first.issuedAt.getTime()).toBe(200_000);
    expect(certs.nextRenewal()).toEqual(first.renewAt);
    now += 199_000;
    expect(await certs.get('default', 'web-1', ['web'], ca)).toBe(first);
    now += 2_000;
    const second = await certs.get('default', 'web-1', ['web'], ca);
    expect(second).not.toBe(first);
    expect(second.generation).toBe(2);
    const third = await certs.get('default', 'web-1', ['web', 'admin'], ca);
    expect(third.spiffeIds).toEqual(['spiffe://default/admin', 'spiffe://default/web']);
    const fourth = await certs.get('default', 'web-1', ['web', 'admin'], ca2);
    expect(fourth.caPem).toBe(ca2.certPem);
    // Concurrent callers share one issuance.
    const [x, y] = await Promise.all([certs.get('default', 'db-1', ['db'], ca), certs.get('default', 'db-1', ['db'], ca)]);
    expect(x).toBe(y);
    certs.retain((_mesh, name) => name === 'db-1');
    expect(certs.peek('default', 'web-1')).toBeUndefined();
    expect(certs.size).toBe(1);
  });
});
