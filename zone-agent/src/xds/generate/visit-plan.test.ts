/**
 * Partial generation passes (`visit-plan.ts`): after each kind of change, every node holds exactly the
 * snapshot a fresh generator computes from the same input (so no node that should have been updated was
 * skipped), and an endpoint change visits only the nodes that can reach the service (plus those that
 * depend on every service: sidecars without `reachableServices`, proxyless clients, zone ingresses).
 *
 * Inputs change the way the store view changes them: an unchanged resource stays the same object.
 */
import { describe, expect, it } from 'vitest';
import { generateCa, type ResourceKind } from '@ursa/proto';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS, CLUSTER_TYPE_URL as CDS } from '@ursa/proto/xds';
import { stored } from '../../model/testing.js';
import type { DataplaneResource } from '../../model/dataplane.js';
import { WorkloadCertificates } from '../certs.js';
import type { Snapshot } from '../snapshot.js';
import { XdsGenerator, type ConnectedNode, type GenerationInput } from './index.js';

const res = <K extends ResourceKind>(kind: K, mesh: string, name: string, spec: Record<string, unknown>, labels: Record<string, string> = {}) => stored(kind, { mesh, name, labels, spec });
const SERVICES = Array.from({ length: 8 }, (_, i) => `svc-${i}`);
/** svc-i reaches the next two services. */
const reachOf = (i: number) => [SERVICES[(i + 1) % SERVICES.length]!, SERVICES[(i + 2) % SERVICES.length]!];

function dataplane(name: string, service: string, address: string, tp: { reach?: string[] } | undefined, outbound?: string): DataplaneResource {
  return res('Dataplane', 'default', name, {
    networking: {
      address,
      inbound: [{ port: 8080, tags: { 'kuma.io/service': service, 'kuma.io/protocol': 'http' } }],
      ...(outbound ? { outbound: [{ port: 10001, tags: { 'kuma.io/service': outbound } }] } : {}),
      ...(tp ? { transparentProxying: { redirectPortInbound: 15006, redirectPortOutbound: 15001, ...(tp.reach ? { reachableServices: tp.reach } : {}) } } : {}),
    },
  });
}

/** Two instances per service reaching two others; `all-1` reaches every service; `plain-1` declares one outbound. */
function world(): GenerationInput {
  const dataplanes = [
    ...SERVICES.flatMap((s, i) => [1, 2].map((k) => dataplane(`${s}-${k}`, s, `10.0.${i}.${k}`, { reach: reachOf(i) }))),
    dataplane('all-1', 'all', '10.1.0.1', {}),
    dataplane('plain-1', 'plain', '10.1.0.2', undefined, 'svc-5'),
  ];
  return {
    zone: 'z1',
    meshes: [res('Mesh', '', 'default', {})],
    dataplanes,
    zoneIngresses: [],
    secrets: [],
    policies: [],
    vips: vipTable([...SERVICES, 'all', 'plain']),
  };
}

const vipTable = (services: readonly string[]) => new Map([['default', new Map(services.map((s, i) => [s, `240.0.0.${i + 1}`] as const))]]);
const sidecar = (name: string): ConnectedNode => ({ id: `default.${name}`, kind: 'sidecar', mesh: 'default', name });
const NODES: ConnectedNode[] = [
  ...SERVICES.flatMap((s) => [1, 2].map((k) => sidecar(`${s}-${k}`))),
  sidecar('all-1'),
  sidecar('plain-1'),
  { id: 'default.grpc-1', kind: 'proxyless', mesh: 'default', name: 'svc-0-1' },
  { id: 'ingress-1', kind: 'ingress', mesh: '', name: 'ingress-1' },
];
const ingress = res('ZoneIngress', '', 'ingress-1', { networking: { address: '10.2.0.1', port: 10001, advertisedAddress: '1.1.1.1', advertisedPort: 10001 } });

/** Replaces one Dataplane by a new object (the others stay the same objects, as the store view keeps them). */
const replace = (input: GenerationInput, name: string, dp: DataplaneResource | undefined): GenerationInput => ({
  ...input,
  dataplanes: dp ? [...input.dataplanes.filter((d) => d.name !== name), dp] : input.dataplanes.filter((d) => d.name !== name),
});

/** One incremental generator, the snapshots its nodes hold, and a check against a fresh generator. */
class Harness {
  readonly gen: XdsGenerator;
  constructor(readonly certs = new WorkloadCertificates()) {
    this.gen = new XdsGenerator({ certs });
  }
  readonly held = new Map<string, Snapshot>();
  visited = new Set<string>();

  async step(input: GenerationInput, nodes: readonly ConnectedNode[] = NODES): Promise<void> {
    this.visited = new Set();
    const skipped = new Map<string, string>();
    await this.gen.generate(input, nodes, {
      onSnapshot: (id, s) => {
        this.visited.add(id);
        this.held.set(id, s);
      },
      onSkip: (id, why) => {
        this.visited.add(id);
        skipped.set(id, why);
      },
    });
    expect(skipped).toEqual(new Map());
    // The oracle: a generator that has seen nothing before visits every node (same certificates).
    const fresh = new Map<string, Snapshot>();
    await new XdsGenerator({ certs: this.certs }).generate(input, nodes, { onSnapshot: (id, s) => fresh.set(id, s) });
    for (const n of nodes) {
      const stale = !this.held.get(n.id)!.sameAs(fresh.get(n.id));
      expect(stale ? `${n.id} holds a stale snapshot` : n.id).toBe(n.id);
    }
  }
}

/** The nodes that must see a change of `service`'s endpoints. */
const reachers = (service: string) => [
  ...SERVICES.flatMap((s, i) => (reachOf(i).includes(service) ? [`default.${s}-1`, `default.${s}-2`] : [])),
  'default.all-1',
  'default.plain-1',
  'default.grpc-1',
  'ingress-1',
];

describe('partial generation passes', () => {
  it('an endpoint change visits only the nodes that can reach the service, and they get it', async () => {
    const h = new Harness();
    let input: GenerationInput = { ...world(), zoneIngresses: [ingress] };
    await h.step(input);
    expect(h.visited.size).toBe(NODES.length);

    // Nothing changed: nobody is visited.
    await h.step(input);
    expect(h.visited.size).toBe(0);

    const before = h.held.get('default.svc-2-1')!.get(EDS).items.get('svc-3');
    input = replace(input, 'svc-3-1', dataplane('svc-3-1', 'svc-3', '10.9.9.9', { reach: reachOf(3) }));
    await h.step(input);
    // svc-1 and svc-2 reach svc-3; svc-3-1 itself (its own Dataplane changed).
    expect([...h.visited].sort()).toEqual([...reachers('svc-3'), 'default.svc-3-1'].sort());
    expect(h.held.get('default.svc-2-1')!.get(EDS).items.get('svc-3')).not.toBe(before);
    expect(h.held.get('default.svc-4-1')!.get(EDS).items.has('svc-3')).toBe(false);
  });

  it('a reachableServices edit, a new service, a removed Dataplane and a new node reach the right proxies', async () => {
    const h = new Harness();
    let input = world();
    await h.step(input);

    // svc-0-1 now also reaches svc-6: only its own node needs it.
    input = replace(input, 'svc-0-1', dataplane('svc-0-1', 'svc-0', '10.0.0.1', { reach: [...reachOf(0), 'svc-6'] }));
    await h.step(input);
    expect(h.visited.has('default.svc-0-1')).toBe(true);
    expect(h.visited.has('default.svc-0-2')).toBe(false);
    expect([...h.held.get('default.svc-0-1')!.get(CDS).items.keys()]).toContain('svc-6');

    // A service listed before it existed (svc-7 lists "late"): its first instance reaches svc-7's proxies.
    input = replace(input, 'svc-7-1', dataplane('svc-7-1', 'svc-7', '10.0.7.1', { reach: [...reachOf(7), 'late'] }));
    await h.step(input);
    input = { ...replace(input, 'late-1', dataplane('late-1', 'late', '10.3.0.1', { reach: [] })), vips: input.vips };
    await h.step(input);
    expect(h.visited.has('default.svc-7-1')).toBe(true);
    expect(h.visited.has('default.svc-7-2')).toBe(false);
    expect([...h.held.get('default.svc-7-1')!.get(EDS).items.keys()]).toContain('late');

    // An instance removed: the proxies reaching its service lose its endpoint.
    input = replace(input, 'svc-4-2', undefined);
    await h.step(input);
    expect(h.visited.has('default.svc-3-1')).toBe(true);
    expect(h.visited.has('default.svc-5-1')).toBe(false);

    // An instance moves to another service and port, and another one's protocol changes: both services'
    // endpoints, ports and protocols are derived again (`mesh-inputs-delta.ts`).
    input = replace(input, 'svc-5-2', res('Dataplane', 'default', 'svc-5-2', { networking: { address: '10.0.5.2', inbound: [{ port: 9090, tags: { 'kuma.io/service': 'svc-6', 'kuma.io/protocol': 'http' } }], transparentProxying: { redirectPortInbound: 15006, redirectPortOutbound: 15001, reachableServices: reachOf(5) } } }));
    await h.step(input);
    expect(h.visited.has('default.svc-4-1')).toBe(true);
    expect(h.visited.has('default.svc-5-1')).toBe(true);
    input = replace(input, 'svc-1-1', res('Dataplane', 'default', 'svc-1-1', { networking: { address: '10.0.1.1', inbound: [{ port: 8080, tags: { 'kuma.io/service': 'svc-1', 'kuma.io/protocol': 'grpc' } }], transparentProxying: { redirectPortInbound: 15006, redirectPortOutbound: 15001, reachableServices: reachOf(1) } } }));
    await h.step(input);
    expect(h.visited.has('default.svc-0-2')).toBe(true);
    expect(h.visited.has('default.svc-3-2')).toBe(false);

    // A node connecting later is visited on its own.
    const late = [...NODES, sidecar('late-1')];
    await h.step(input, late);
    expect([...h.visited]).toEqual(['default.late-1']);
    // And a disconnected one is forgotten (its reconnection is a new node again).
    await h.step(input, NODES);
    await h.step(input, late);
    expect([...h.visited]).toEqual(['default.late-1']);
  });

  it('a policy, a VIP and a mesh mTLS toggle reach every proxy', async () => {
    const h = new Harness();
    let input = world();
    await h.step(input);

    input = {
      ...input,
      policies: [res('MeshTimeout', 'default', 'slow', { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { connectionTimeout: '7s' } }] })],
    };
    await h.step(input);
    expect(h.visited.size).toBe(NODES.length);

    input = { ...input, vips: vipTable([...SERVICES, 'all', 'plain', 'extra']) };
    await h.step(input);
    expect(h.visited.size).toBe(NODES.length);

    // mTLS on: the CA secrets and the mesh change; every sidecar gets its certificate.
    const ca = await generateCa({ commonName: 'ca', spiffeTrustDomain: 'default', validForSeconds: 3600 });
    input = {
      ...input,
      meshes: [res('Mesh', '', 'default', { mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] } })],
      secrets: [
        res('Secret', 'default', 'default.ca-builtin-cert-ca-1', { data: Buffer.from(ca.certPem).toString('base64') }),
        res('Secret', 'default', 'default.ca-builtin-key-ca-1', { data: Buffer.from(ca.keyPem).toString('base64') }),
      ],
    };
    await h.step(input);
    expect(h.visited.size).toBe(NODES.length);
    expect(h.held.get('default.svc-6-2')!.get('type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret').items.size).toBe(2);

    // An endpoint change under mTLS is still partial, and still right.
    input = replace(input, 'svc-1-2', dataplane('svc-1-2', 'svc-1', '10.8.8.8', { reach: reachOf(1) }));
    await h.step(input);
    expect(h.visited.has('default.svc-0-1')).toBe(true);
    expect(h.visited.has('default.svc-5-1')).toBe(false);

    // mTLS off again.
    input = { ...input, meshes: [res('Mesh', '', 'default', {})] };
    await h.step(input);
    expect(h.visited.size).toBe(NODES.length);
  });

  it('a certificate due for renewal reaches its proxy although nothing else changed', async () => {
    // Whole seconds: certificates carry no milliseconds.
    let now = Math.floor(Date.now() / 1000) * 1000;
    const h = new Harness(new WorkloadCertificates({ validForSeconds: 300, now: () => new Date(now) }));
    const ca = await generateCa({ commonName: 'ca', spiffeTrustDomain: 'default', validForSeconds: 3600 });
    const input: GenerationInput = {
      ...world(),
      meshes: [res('Mesh', '', 'default', { mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] } })],
      secrets: [
        res('Secret', 'default', 'default.ca-builtin-cert-ca-1', { data: Buffer.from(ca.certPem).toString('base64') }),
        res('Secret', 'default', 'default.ca-builtin-key-ca-1', { data: Buffer.from(ca.keyPem).toString('base64') }),
      ],
    };
    await h.step(input);
    const sds = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';
    const before = h.held.get('default.svc-3-1')!.get(sds).version;
    await h.step(input);
    expect(h.visited.size).toBe(0);
    now += 201_000;
    await h.step(input);
    expect(h.visited.has('default.svc-3-1')).toBe(true);
    expect(h.held.get('default.svc-3-1')!.get(sds).version).not.toBe(before);
  });
});
