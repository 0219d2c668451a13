/**
 * Golden files for the generator (`generate/index.ts`): the complete xDS configuration of a sidecar with
 * inbounds and outbounds (mTLS off and on), of a transparent-proxy sidecar reaching services in two other
 * zones (weights by instance count, then locality-aware priorities), of a zone ingress and of a proxyless
 * gRPC client, as Envoy JSON under testdata/golden/generate/. `UPDATE_GOLDEN=1` rewrites them.
 *
 * Certificates are real (a mesh CA generated here, workload certificates issued by `certs.ts`); their
 * random bytes are replaced by markers in the golden JSON, and checked instead with node:crypto: signed by
 * the mesh CA, the Dataplane's SPIFFE identities, 24 h.
 *
 * Every resource (and every `Any` inside it) must decode with Envoy's own types and re-encode to the same
 * bytes, in binary and through proto JSON: nothing we send is lost or unknown to Envoy's schema.
 */
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { asTyped, type TypedResourceLike } from '@ursa/core';
import { generateCa, POLICY_KINDS, type ResourceKind } from '@ursa/proto';
import { SECRET_TYPE_URL } from '@ursa/proto/xds';
import { stored } from '../model/testing.js';
import { WorkloadCertificates } from './certs.js';
import { XdsGenerator, type ConnectedNode, type GenerationInput } from './generate/index.js';
import { envoyJson, roundTripProblems } from './generate/roundtrip.js';
import type { Snapshot } from './snapshot.js';
import { shortType } from './snapshot.js';

const GOLDEN_DIR = join(dirname(fileURLToPath(import.meta.url)), 'testdata', 'golden', 'generate');
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const ZONE = 'zone-1';

/** A resource as the store keeps it (validated against its kind's schema). */
type Fixture = TypedResourceLike<ResourceKind>;
const res = (kind: ResourceKind, mesh: string, name: string, spec: Record<string, unknown>, labels: Record<string, string> = {}): Fixture => stored(kind, { mesh, name, labels, spec });

const meshRes = (name: string, mtls: boolean, extra: Record<string, unknown> = {}) =>
  res('Mesh', '', name, { ...(mtls ? { mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] } } : {}), ...extra });

const dp = (mesh: string, name: string, address: string, networking: Record<string, unknown>) => res('Dataplane', mesh, name, { networking: { address, ...networking } });
const inbound = (service: string, port: number, extra: { servicePort?: number; tags?: Record<string, string> } = {}) => ({
  port,
  ...(extra.servicePort ? { servicePort: extra.servicePort } : {}),
  tags: { 'kuma.io/service': service, 'kuma.io/zone': ZONE, ...extra.tags },
});
/** Another zone's ingress as the global sends it (origin global). */
const remoteIngress = (zone: string, address: string, port: number, available: { mesh: string; service: string; instances: number; protocol?: string }[]) =>
  res('ZoneIngress', '', `${zone}-ingress-abc`, {
    zone,
    networking: { address: '10.9.0.1', port: 10001, advertisedAddress: address, advertisedPort: port },
    availableServices: available.map((a) => ({ mesh: a.mesh, instances: a.instances, tags: { 'kuma.io/service': a.service, 'kuma.io/zone': zone, ...(a.protocol ? { 'kuma.io/protocol': a.protocol } : {}) } })),
  }, { 'kuma.io/origin': 'global', 'kuma.io/zone': zone });

/** The two instances of `backend` (http) and one of `db` (tcp) that live in this zone. */
const localServices = (mesh: string) => [
  dp(mesh, 'backend-1', '10.0.0.11', { inbound: [inbound('backend', 8080, { tags: { 'kuma.io/protocol': 'http' } })] }),
  dp(mesh, 'backend-2', '10.0.0.12', { inbound: [inbound('backend', 8080, { tags: { 'kuma.io/protocol': 'http' } })] }),
  dp(mesh, 'db-1', '10.0.0.21', { inbound: [inbound('db', 5432)] }),
];

/** `web-1`: an HTTP inbound (app on 127.0.0.1:18080) and outbounds to backend (http) and db (tcp). */
const web = (mesh: string) =>
  dp(mesh, 'web-1', '10.0.0.1', {
    inbound: [inbound('web', 8080, { servicePort: 18080, tags: { 'kuma.io/protocol': 'http' } })],
    outbound: [
      { port: 10001, tags: { 'kuma.io/service': 'backend' } },
      { port: 10002, tags: { 'kuma.io/service': 'db' } },
    ],
  });

let ca: { certPem: string; keyPem: string };
const caSecrets = (mesh: string) => [
  res('Secret', mesh, `${mesh}.ca-builtin-cert-ca-1`, { data: Buffer.from(ca.certPem).toString('base64') }),
  res('Secret', mesh, `${mesh}.ca-builtin-key-ca-1`, { data: Buffer.from(ca.keyPem).toString('base64') }),
];

function input(resources: Fixture[], vips: Record<string, Record<string, string>> = {}): GenerationInput {
  const of = <K extends ResourceKind>(kinds: readonly K[]) => resources.flatMap((r) => ((kinds as readonly string[]).includes(r.kind) ? [asTyped(r.kind as K, r)] : []));
  return {
    zone: ZONE,
    meshes: of(['Mesh']),
    dataplanes: of(['Dataplane']),
    zoneIngresses: of(['ZoneIngress']),
    secrets: of(['Secret']),
    policies: of(POLICY_KINDS),
    vips: new Map(Object.entries(vips).map(([m, s]) => [m, new Map(Object.entries(s))])),
  };
}

async function generate(gen: XdsGenerator, inp: GenerationInput, nodes: ConnectedNode[]): Promise<Map<string, Snapshot>> {
  const out = new Map<string, Snapshot>();
  const skipped: string[] = [];
  await gen.generate(inp, nodes, { onSnapshot: (id, s) => out.set(id, s), onSkip: (id, why) => skipped.push(`${id}: ${why}`) });
  expect(skipped).toEqual([]);
  return out;
}

const sidecar = (mesh: string, name: string): ConnectedNode => ({ id: `${mesh}.${name}`, kind: 'sidecar', mesh, name });

/** Envoy JSON of a snapshot, with certificate bytes (random on every run) replaced by markers. */
function goldenJson(snap: Snapshot): unknown {
  const out: Record<string, unknown[]> = {};
  for (const typeUrl of snap.types()) {
    const list = [...snap.get(typeUrl).items.values()].map((r) => {
      const json = envoyJson(typeUrl, r.body.value) as Record<string, unknown>;
      if (typeUrl === SECRET_TYPE_URL) return JSON.parse(JSON.stringify(json).replace(/"inlineBytes":"[A-Za-z0-9+/=]+"/g, '"inlineBytes":"<PEM, checked by the test>"'));
      return json;
    });
    if (list.length > 0) out[shortType(typeUrl)] = list;
  }
  return out;
}

function checkGolden(name: string, snap: Snapshot): void {
  expect(snap.problems()).toEqual([]);
  for (const typeUrl of snap.types()) {
    for (const r of snap.get(typeUrl).items.values()) expect(roundTripProblems(typeUrl, r.body.value), `${shortType(typeUrl)} ${r.name}`).toEqual([]);
  }
  const file = join(GOLDEN_DIR, `${name}.json`);
  const actual = `${JSON.stringify(goldenJson(snap), null, 2)}\n`;
  if (UPDATE) {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(file, actual);
  }
  expect(actual, `${file} differs; UPDATE_GOLDEN=1 rewrites it after review`).toBe(readFileSync(file, 'utf8'));
}

const pemOf = (snap: Snapshot, name: string, field: 'certificateChain' | 'trustedCa'): string => {
  const json = envoyJson(SECRET_TYPE_URL, snap.get(SECRET_TYPE_URL).items.get(name)!.body.value) as Record<string, Record<string, Record<string, string>>>;
  const holder = json.tlsCertificate ?? json.validationContext;
  return Buffer.from(holder![field]!.inlineBytes!, 'base64').toString('utf8');
};

describe('generated configuration (golden files)', () => {
  beforeAll(async () => {
    ca = await generateCa({ commonName: 'default ca-1', spiffeTrustDomain: 'default', validForSeconds: 10 * 365 * 24 * 3600 });
  });

  it('sidecar with inbounds and outbounds, mTLS off: plaintext, local endpoints only', async () => {
    const gen = new XdsGenerator({ certs: new WorkloadCertificates() });
    const snaps = await generate(
      gen,
      input([meshRes('default', false), web('default'), ...localServices('default'), remoteIngress('zone-2', '192.0.2.2', 10001, [{ mesh: 'default', service: 'backend', instances: 3, protocol: 'http' }])]),
      [sidecar('default', 'web-1')],
    );
    checkGolden('sidecar-mtls-off', snaps.get('default.web-1')!);
  });

  it('sidecar with mTLS on: TLS on the inbound and both clusters, SDS secrets from a certificate of the mesh CA', async () => {
    const gen = new XdsGenerator({ certs: new WorkloadCertificates() });
    const snaps = await generate(gen, input([meshRes('default', true), ...caSecrets('default'), web('default'), ...localServices('default')]), [sidecar('default', 'web-1')]);
    const snap = snaps.get('default.web-1')!;
    checkGolden('sidecar-mtls-on', snap);

    const leaf = new X509Certificate(pemOf(snap, 'identity_cert:secret:default', 'certificateChain'));
    const caCert = new X509Certificate(ca.certPem);
    expect(leaf.verify(caCert.publicKey)).toBe(true);
    expect(leaf.subjectAltName).toBe('URI:spiffe://default/web');
    const life = new Date(leaf.validTo).getTime() - Date.now();
    expect(life).toBeGreaterThan(23.9 * 3600_000);
    expect(life).toBeLessThanOrEqual(24 * 3600_000);
    expect(pemOf(snap, 'mesh_ca:secret:default', 'trustedCa')).toBe(ca.certPem);
  });

  it('transparent-proxy sidecar across zones (mTLS): VIP listeners on the real port and 80, remote ingresses weighted by instances', async () => {
    const resources = [
      meshRes('default', true),
      ...caSecrets('default'),
      dp('default', 'web-1', '10.0.0.1', { inbound: [inbound('web', 8080)], transparentProxying: { redirectPortInbound: 15006, redirectPortOutbound: 15001 } }),
      ...localServices('default'),
      remoteIngress('zone-2', '192.0.2.2', 10001, [{ mesh: 'default', service: 'backend', instances: 3, protocol: 'http' }, { mesh: 'other', service: 'backend', instances: 9 }]),
      remoteIngress('zone-3', '192.0.2.3', 10001, [{ mesh: 'default', service: 'backend', instances: 1, protocol: 'http' }, { mesh: 'default', service: 'cache', instances: 2 }]),
    ];
    const vips = { default: { backend: '240.0.0.1', db: '240.0.0.2', cache: '240.0.0.3', web: '240.0.0.4' } };
    const gen = new XdsGenerator({ certs: new WorkloadCertificates() });
    const snap = (await generate(gen, input(resources, vips), [sidecar('default', 'web-1')])).get('default.web-1')!;
    checkGolden('sidecar-cross-zone', snap);

    // Locality-aware load balancing (mesh routing): this zone first, the others only as failover.
    resources[0] = meshRes('default', true, { routing: { localityAwareLoadBalancing: true } });
    const aware = (await generate(gen, input(resources, vips), [sidecar('default', 'web-1')])).get('default.web-1')!;
    checkGolden('sidecar-cross-zone-locality-aware', aware);
  });

  it('zone ingress: one SNI filter chain per local service of every mesh, TLS passed through', async () => {
    const resources = [
      meshRes('default', true),
      meshRes('payments', true),
      ...localServices('default'),
      dp('payments', 'ledger-1', '10.0.1.1', { inbound: [inbound('ledger', 7000)] }),
      res('ZoneIngress', '', 'ingress-1', { networking: { address: '10.0.0.100', port: 10001, advertisedAddress: '203.0.113.1', advertisedPort: 443 } }),
      remoteIngress('zone-2', '192.0.2.2', 10001, [{ mesh: 'default', service: 'backend', instances: 3 }]),
    ];
    const gen = new XdsGenerator({ certs: new WorkloadCertificates() });
    const snaps = await generate(gen, input(resources), [{ id: '.ingress-1', kind: 'ingress', mesh: '', name: 'ingress-1' }]);
    checkGolden('zone-ingress', snaps.get('.ingress-1')!);
  });

  it('proxyless gRPC client: api_listener per service, plaintext, only this zone\'s instances (other zones\' ingresses withheld)', async () => {
    const resources = [meshRes('default', false), ...localServices('default'), dp('default', 'client', '10.0.0.9', { inbound: [inbound('client', 9000)] }), remoteIngress('zone-2', '192.0.2.2', 10001, [{ mesh: 'default', service: 'backend', instances: 2 }])];
    const gen = new XdsGenerator({ certs: new WorkloadCertificates() });
    const snaps = await generate(gen, input(resources), [{ id: 'default.client', kind: 'proxyless', mesh: 'default', name: 'client' }]);
    checkGolden('proxyless', snaps.get('default.client')!);
  });
});
