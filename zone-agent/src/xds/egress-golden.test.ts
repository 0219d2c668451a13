/**
 * Golden files for zone egress (`generate/egress-snapshot.ts`, `generate/egress-route.ts`), beside the
 * generator's other goldens (testdata/golden/generate/, `UPDATE_GOLDEN=1` rewrites them):
 * - `zone-egress`: the egress of zone-1 for a mesh with `routing.zoneEgress`: one `inbound:` listener with a
 *   TLS inspector, one SNI chain per service of another zone passed through to those zones' ingresses (Kuma's
 *   egress golden `02.internalservice-only`); a mesh without the flag gets nothing on the egress;
 *   For proxyless gRPC clients the same listener has a plaintext chain (`transport_protocol: raw_buffer`): an
 *   HTTP/2 HttpConnectionManager with a virtual host per service of the mesh by its name (`backend`,
 *   `payments`, `web`), each to cluster `proxyless:default:<service>` that originates mesh mTLS as the
 *   egress (Kuma's SNI, `spiffe://default/<service>` verified) to the service's local sidecars and other
 *   zones' ingresses;
 * - `proxyless-through-egress`: a proxyless client of that mesh (mTLS on): every endpoint is the egress
 *   address, in the local locality for a service with local instances (the egress picks the zone), else in
 *   the remote zone's; a local sidecar's address never (its inbound requires a mesh client certificate);
 * - `sidecar-through-egress`: a transparent-proxy sidecar of that mesh: its cross-zone cluster keeps the
 *   remote SNI, its endpoints are the local egress address in each remote zone's locality, and local
 *   instances are still reached directly.
 * - `zone-egress-mes`: the same egress with two MeshExternalServices of mesh `default` (mTLS on), one with
 *   TLS origination (HTTP, a hostname endpoint, a CA from a Secret, SANs, versions) and one plain (TCP, IP
 *   endpoints with priorities): an SNI chain each (Kuma's `<hash>.<name>.<port>.<mesh>.mes`) terminating the
 *   mesh mTLS with the egress's own certificate, and a cluster to the service's endpoints (Kuma's egress
 *   golden `01.externalservice-only`); mesh `plain` (no mTLS) gets nothing on the egress;
 * - `sidecar-mes-through-egress`: a sidecar of `default` gets an outbound on each one's VIP and port and a
 *   cluster to the local egress with Kuma's SNI, egress SAN and ALPN (Kuma's `default-meshexternalservice`);
 * - `sidecar-mes-mtls-off`: a sidecar of a mesh without mTLS goes straight to the service (Kuma has no
 *   working path there; see README "MeshExternalService").
 * Every resource decodes with Envoy's own types and re-encodes to the same bytes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { asTyped, type TypedResourceLike } from '@ursa/core';
import { generateCa, POLICY_KINDS, type ResourceKind } from '@ursa/proto';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, CLUSTER_TYPE_URL, LISTENER_TYPE_URL, SECRET_TYPE_URL } from '@ursa/proto/xds';
import { stored } from '../model/testing.js';
import { WorkloadCertificates } from './certs.js';
import { XdsGenerator, type ConnectedNode, type GenerationInput } from './generate/index.js';
import { externalServiceSni } from './generate/external-services.js';
import { envoyJson, roundTripProblems } from './generate/roundtrip.js';
import { shortType, type Snapshot } from './snapshot.js';

const GOLDEN_DIR = join(dirname(fileURLToPath(import.meta.url)), 'testdata', 'golden', 'generate');
const ZONE = 'zone-1';
type Fixture = TypedResourceLike<ResourceKind>;
const res = (kind: ResourceKind, mesh: string, name: string, spec: Record<string, unknown>, labels: Record<string, string> = {}): Fixture => stored(kind, { mesh, name, labels, spec });

let ca: { certPem: string; keyPem: string };
const meshWithEgress = (name: string, zoneEgress: boolean) =>
  res('Mesh', '', name, { mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] }, ...(zoneEgress ? { routing: { zoneEgress: true } } : {}) });
const caSecrets = (mesh: string) => [
  res('Secret', mesh, `${mesh}.ca-builtin-cert-ca-1`, { data: Buffer.from(ca.certPem).toString('base64') }),
  res('Secret', mesh, `${mesh}.ca-builtin-key-ca-1`, { data: Buffer.from(ca.keyPem).toString('base64') }),
];
const remoteIngress = (zone: string, address: string, available: { mesh: string; service: string; instances: number }[]) =>
  res('ZoneIngress', '', `${zone}-ingress`, {
    zone,
    networking: { address: '10.9.0.1', port: 10001, advertisedAddress: address, advertisedPort: 10001 },
    availableServices: available.map((a) => ({ mesh: a.mesh, instances: a.instances, tags: { 'kuma.io/service': a.service, 'kuma.io/zone': zone } })),
  }, { 'kuma.io/origin': 'global', 'kuma.io/zone': zone });
const egress = res('ZoneEgress', '', 'egress-1', { networking: { address: '192.168.0.1', port: 10002 } });

function world(): Fixture[] {
  return [
    meshWithEgress('default', true),
    ...caSecrets('default'),
    meshWithEgress('plain', false),
    egress,
    res('Dataplane', 'default', 'web-1', { networking: { address: '10.0.0.1', inbound: [{ port: 8080, tags: { 'kuma.io/service': 'web' } }], transparentProxying: { redirectPortInbound: 15006, redirectPortOutbound: 15001 } } }),
    res('Dataplane', 'default', 'backend-1', { networking: { address: '10.0.0.11', inbound: [{ port: 8080, tags: { 'kuma.io/service': 'backend' } }] } }),
    remoteIngress('zone-2', '192.0.2.2', [{ mesh: 'default', service: 'backend', instances: 3 }, { mesh: 'default', service: 'payments', instances: 2 }, { mesh: 'plain', service: 'ledger', instances: 1 }]),
    remoteIngress('zone-3', '192.0.2.3', [{ mesh: 'default', service: 'payments', instances: 1 }]),
  ];
}

const mes = (mesh: string, name: string, spec: Record<string, unknown>) => res('MeshExternalService', mesh, name, spec);
function withExternalServices(): Fixture[] {
  // Mesh `plain` without mTLS here.
  return [
    ...world().map((r) => (r.kind === 'Mesh' && r.name === 'plain' ? res('Mesh', '', 'plain', {}) : r)),
    res('Secret', 'default', 'httpbin-ca', { data: Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString('base64') }),
    mes('default', 'httpbin', {
      match: { type: 'HostnameGenerator', port: 443, protocol: 'http' },
      endpoints: [{ address: 'httpbin.org', port: 443 }],
      tls: { enabled: true, allowRenegotiation: true, version: { min: 'TLS12', max: 'TLS13' }, verification: { caCert: { secret: 'httpbin-ca' }, subjectAltNames: [{ type: 'Exact', value: 'www.httpbin.org' }] } },
    }),
    mes('default', 'db', { match: { type: 'HostnameGenerator', port: 5432, protocol: 'tcp' }, endpoints: [{ address: '10.20.0.5', port: 5432 }, { address: '10.20.0.6', port: 5432, priority: 1 }] }),
    mes('plain', 'api', { match: { type: 'HostnameGenerator', port: 8080, protocol: 'http' }, endpoints: [{ address: '10.30.0.1', port: 8080 }] }),
    res('Dataplane', 'plain', 'client-1', { networking: { address: '10.0.0.21', inbound: [{ port: 8080, tags: { 'kuma.io/service': 'client' } }], transparentProxying: { redirectPortInbound: 15006, redirectPortOutbound: 15001 } } }),
  ];
}

function input(resources: Fixture[], vips: Record<string, Record<string, string>> = {}): GenerationInput {
  const of = <K extends ResourceKind>(kinds: readonly K[]) => resources.flatMap((r) => ((kinds as readonly string[]).includes(r.kind) ? [asTyped(r.kind as K, r)] : []));
  return {
    zone: ZONE,
    meshes: of(['Mesh']),
    dataplanes: of(['Dataplane']),
    zoneIngresses: of(['ZoneIngress']),
    zoneEgresses: of(['ZoneEgress']),
    externalServices: of(['MeshExternalService']),
    secrets: of(['Secret']),
    policies: of(POLICY_KINDS),
    vips: new Map(Object.entries(vips).map(([m, s]) => [m, new Map(Object.entries(s))])),
  };
}

async function generate(inp: GenerationInput, node: ConnectedNode): Promise<Snapshot> {
  const out = new Map<string, Snapshot>();
  const skipped: string[] = [];
  await new XdsGenerator({ certs: new WorkloadCertificates() }).generate(inp, [node], { onSnapshot: (id, s) => out.set(id, s), onSkip: (id, why) => skipped.push(`${id}: ${why}`) });
  expect(skipped).toEqual([]);
  return out.get(node.id)!;
}

function checkGolden(name: string, snap: Snapshot): void {
  expect(snap.problems()).toEqual([]);
  const out: Record<string, unknown[]> = {};
  for (const typeUrl of snap.types()) {
    const list = [...snap.get(typeUrl).items.values()].map((r) => {
      expect(roundTripProblems(typeUrl, r.body.value), `${shortType(typeUrl)} ${r.name}`).toEqual([]);
      const json = envoyJson(typeUrl, r.body.value);
      return typeUrl === SECRET_TYPE_URL ? JSON.parse(JSON.stringify(json).replace(/"inlineBytes":"[A-Za-z0-9+/=]+"/g, '"inlineBytes":"<PEM>"')) : json;
    });
    if (list.length > 0) out[shortType(typeUrl)] = list;
  }
  const file = join(GOLDEN_DIR, `${name}.json`);
  const actual = `${JSON.stringify(out, null, 2)}\n`;
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, actual);
  expect(actual, `${file} differs; UPDATE_GOLDEN=1 rewrites it after review`).toBe(readFileSync(file, 'utf8'));
}

const egressNode: ConnectedNode = { id: '.egress-1', kind: 'egress', mesh: '', name: 'egress-1' };
const web: ConnectedNode = { id: 'default.web-1', kind: 'sidecar', mesh: 'default', name: 'web-1' };
const endpointsOf = (snap: Snapshot, cluster: string) =>
  (envoyJson(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, snap.get(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL).items.get(cluster)!.body.value) as { endpoints?: { locality?: { zone: string }; lbEndpoints: { endpoint: { address: { socketAddress: { address: string; portValue: number } } } }[] }[] }).endpoints?.map(
    (l) => [l.locality?.zone, l.lbEndpoints.map((e) => `${e.endpoint.address.socketAddress.address}:${e.endpoint.address.socketAddress.portValue}`)],
  ) ?? [];

describe('zone egress (golden files)', () => {
  beforeAll(async () => {
    ca = await generateCa({ commonName: 'default ca-1', spiffeTrustDomain: 'default', validForSeconds: 10 * 365 * 24 * 3600 });
  });

  it('egress: SNI chains for other zones\' services of zoneEgress meshes, passed through to their ingresses', async () => {
    const snap = await generate(input(world()), egressNode);
    checkGolden('zone-egress', snap);
    // zone-1's own backend is not on the egress; payments spreads over both remote zones; mesh "plain" is absent.
    expect([...snap.get(LISTENER_TYPE_URL).items.keys()]).toEqual(['inbound:192.168.0.1:10002']);
    expect(endpointsOf(snap, 'default:payments')).toEqual([['zone-2', ['192.0.2.2:10001']], ['zone-3', ['192.0.2.3:10001']]]);
    expect(endpointsOf(snap, 'default:backend')).toEqual([['zone-2', ['192.0.2.2:10001']]]);
    expect(snap.get(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL).items.has('plain:ledger')).toBe(false);
  });

  it('egress: a plaintext chain for proxyless clients, originating mesh mTLS as the egress', async () => {
    const snap = await generate(input(world()), egressNode);
    type Chain = { name: string; filterChainMatch: { transportProtocol: string; serverNames?: string[] }; filters: { typedConfig: { codecType?: string; routeConfig?: { virtualHosts: { domains: string[]; routes: { route: { cluster: string } }[] }[] } } }[] };
    const listener = envoyJson(LISTENER_TYPE_URL, snap.get(LISTENER_TYPE_URL).items.get('inbound:192.168.0.1:10002')!.body.value) as { filterChains: Chain[] };
    const plain = listener.filterChains.filter((c) => c.filterChainMatch.transportProtocol === 'raw_buffer');
    expect(plain).toHaveLength(1);
    const hcm = plain[0]!.filters[0]!.typedConfig;
    expect(hcm.codecType).toBe('HTTP2');
    expect(hcm.routeConfig!.virtualHosts.map((v) => [v.domains, v.routes[0]!.route.cluster])).toEqual([[['backend'], 'proxyless:default:backend'], [['payments'], 'proxyless:default:payments'], [['web'], 'proxyless:default:web']]);
    const cluster = envoyJson(CLUSTER_TYPE_URL, snap.get(CLUSTER_TYPE_URL).items.get('proxyless:default:payments')!.body.value) as { edsClusterConfig: { serviceName: string }; transportSocket: { typedConfig: { sni: string; commonTlsContext: unknown } } };
    expect(cluster.edsClusterConfig.serviceName).toBe('proxyless:default:payments');
    expect(cluster.transportSocket.typedConfig.sni).toBe('payments{mesh=default}');
    expect(JSON.stringify(cluster.transportSocket.typedConfig.commonTlsContext)).toContain('spiffe://default/payments');
    // Local sidecars (their inbound, which takes the egress's mesh mTLS) beside other zones' ingresses, flat.
    expect(endpointsOf(snap, 'proxyless:default:backend')).toEqual([['zone-1', ['10.0.0.11:8080']], ['zone-2', ['192.0.2.2:10001']]]);
    expect(endpointsOf(snap, 'proxyless:default:web')).toEqual([['zone-1', ['10.0.0.1:8080']]]);
    expect(endpointsOf(snap, 'proxyless:default:payments')).toEqual([['zone-2', ['192.0.2.2:10001']], ['zone-3', ['192.0.2.3:10001']]]);
    expect([...snap.get(SECRET_TYPE_URL).items.keys()].sort()).toEqual(['identity_cert:secret:default', 'mesh_ca:secret:default']);

    // A name with instances in two meshes routed through the egress: the plaintext chain cannot tell them apart.
    const both = world().map((r) => (r.kind === 'Mesh' && r.name === 'plain' ? meshWithEgress('plain', true) : r)).concat(caSecrets('plain'), [remoteIngress('zone-4', '192.0.2.4', [{ mesh: 'plain', service: 'backend', instances: 1 }])]);
    const twice = envoyJson(LISTENER_TYPE_URL, (await generate(input(both), egressNode)).get(LISTENER_TYPE_URL).items.get('inbound:192.168.0.1:10002')!.body.value) as { filterChains: Chain[] };
    const hosts = twice.filterChains.find((c) => c.filterChainMatch.transportProtocol === 'raw_buffer')!.filters[0]!.typedConfig.routeConfig!.virtualHosts.map((v) => v.domains[0]);
    expect(hosts).toEqual(['payments', 'web', 'ledger']);
  });

  it('proxyless client in an mTLS mesh: every endpoint through the egress address, none without it; direct with mTLS off', async () => {
    const resources = [...world(), res('Dataplane', 'default', 'grpc-client', { networking: { address: '10.0.0.31', inbound: [{ port: 9090, tags: { 'kuma.io/service': 'grpc-client' } }] } })];
    const node: ConnectedNode = { id: 'default.grpc-client', kind: 'proxyless', mesh: 'default', name: 'grpc-client' };
    const snap = await generate(input(resources), node);
    checkGolden('proxyless-through-egress', snap);
    // backend has an instance here (10.0.0.11, behind a sidecar whose inbound requires a mesh certificate):
    // the client gets the egress in this zone's locality, and the egress picks zone-1 or zone-2.
    expect(endpointsOf(snap, 'backend')).toEqual([['zone-1', ['192.168.0.1:10002']]]);
    expect(endpointsOf(snap, 'web')).toEqual([['zone-1', ['192.168.0.1:10002']]]);
    expect(endpointsOf(snap, 'payments')).toEqual([['zone-2', ['192.168.0.1:10002']]]);
    const handed = (s: Snapshot) => [...s.get(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL).items.keys()].flatMap((c) => endpointsOf(s, c).flatMap(([, eps]) => eps as string[]));
    expect(new Set(handed(snap))).toEqual(new Set(['192.168.0.1:10002']));
    // No egress in the zone, or the flag off: with mTLS on nothing takes plaintext, so nothing is handed out
    // (a remote ingress would close it, a local sidecar's inbound would refuse it).
    for (const other of [resources.filter((r) => r.kind !== 'ZoneEgress'), resources.map((r) => (r.kind === 'Mesh' && r.name === 'default' ? meshWithEgress('default', false) : r))]) {
      expect(handed(await generate(input(other), node))).toEqual([]);
    }
    // mTLS off: this zone's instances directly (their inbounds take plaintext), other zones withheld.
    const off = await generate(input(resources.map((r) => (r.kind === 'Mesh' && r.name === 'default' ? res('Mesh', '', 'default', {}) : r))), node);
    expect(endpointsOf(off, 'backend')).toEqual([['zone-1', ['10.0.0.11:8080']]]);
    expect(new Set(handed(off))).toEqual(new Set(['10.0.0.1:8080', '10.0.0.11:8080', '10.0.0.31:9090']));
  });

  it('sidecar with routing.zoneEgress: remote endpoints become the local egress, local ones stay direct', async () => {
    const vips = { default: { backend: '240.0.0.1', payments: '240.0.0.2', web: '240.0.0.3' } };
    const snap = await generate(input(world(), vips), web);
    checkGolden('sidecar-through-egress', snap);
    expect(endpointsOf(snap, 'backend')).toEqual([['zone-1', ['10.0.0.11:8080']], ['zone-2', ['192.168.0.1:10002']]]);

    // Without the flag the same sidecar goes straight to the remote ingresses.
    const direct = await generate(input(world().map((r) => (r.kind === 'Mesh' && r.name === 'default' ? meshWithEgress('default', false) : r)), vips), web);
    expect(endpointsOf(direct, 'backend')).toEqual([['zone-1', ['10.0.0.11:8080']], ['zone-2', ['192.0.2.2:10001']]]);
    // With the flag and no egress in the zone, other zones are not reachable at all (Kuma's rule).
    const none = await generate(input(world().filter((r) => r.kind !== 'ZoneEgress'), vips), web);
    expect(endpointsOf(none, 'backend')).toEqual([['zone-1', ['10.0.0.11:8080']]]);
  });

  it('egress: a chain per MeshExternalService of an mTLS mesh, terminating the mesh mTLS and originating TLS per spec.tls', async () => {
    const snap = await generate(input(withExternalServices()), egressNode);
    checkGolden('zone-egress-mes', snap);
    const listener = envoyJson(LISTENER_TYPE_URL, snap.get(LISTENER_TYPE_URL).items.get('inbound:192.168.0.1:10002')!.body.value) as { filterChains: { name: string; filterChainMatch: { serverNames: string[] } }[] };
    const chains = Object.fromEntries(listener.filterChains.map((c) => [c.name, c.filterChainMatch.serverNames]));
    // Kuma's SNI for `example` on 9090 in `default` (its golden `default-meshexternalservice`) is computed the same way.
    expect(externalServiceSni('default', 'example', 9090)).toBe('afce62f771ed74b78.example.9090.default.mes');
    expect(chains['default_httpbin___extsvc_443']).toEqual([externalServiceSni('default', 'httpbin', 443)]);
    expect(chains['default_db___extsvc_5432']).toEqual([externalServiceSni('default', 'db', 5432)]);
    expect(Object.keys(chains).some((n) => n.startsWith('plain_'))).toBe(false);
    expect([...snap.get(SECRET_TYPE_URL).items.keys()].sort()).toEqual(['identity_cert:secret:default', 'mesh_ca:secret:default']);
  });

  it('sidecar: a MeshExternalService through the local egress with mTLS on, on its VIP and port', async () => {
    const vips = { default: { backend: '240.0.0.1', payments: '240.0.0.2', web: '240.0.0.3', 'mes:httpbin': '240.0.0.4', 'mes:db': '240.0.0.5' } };
    const snap = await generate(input(withExternalServices(), vips), web);
    checkGolden('sidecar-mes-through-egress', snap);
    expect(snap.get(LISTENER_TYPE_URL).items.has('outbound:240.0.0.4:443')).toBe(true);
    expect(endpointsOf(snap, 'default_db___extsvc_5432')).toEqual([[undefined, ['192.168.0.1:10002']]]);
    // No egress in the zone: the cluster is there, with no endpoint (Kuma's rule: never around the egress).
    const none = await generate(input(withExternalServices().filter((r) => r.kind !== 'ZoneEgress'), vips), web);
    expect(endpointsOf(none, 'default_db___extsvc_5432')).toEqual([]);
  });

  it('sidecar: a MeshExternalService of a mesh without mTLS is reached directly', async () => {
    const snap = await generate(input(withExternalServices(), { plain: { client: '240.0.1.1', 'mes:api': '240.0.1.2' } }), { id: 'plain.client-1', kind: 'sidecar', mesh: 'plain', name: 'client-1' });
    checkGolden('sidecar-mes-mtls-off', snap);
    expect(snap.get(LISTENER_TYPE_URL).items.has('outbound:240.0.1.2:8080')).toBe(true);
    expect(snap.get(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL).items.has('plain_api___extsvc_8080')).toBe(false);
  });
});
