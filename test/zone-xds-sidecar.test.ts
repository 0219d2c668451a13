/**
 * Envoy sidecar and zone ingress configuration from a real zone agent process (standalone, its own embedded
 * database, DNS on so services have VIPs, dataplane auth on), read by scripted incremental (delta) ADS
 * clients that introduce themselves as Envoy does (`user_agent_name: "envoy"`):
 * - a transparent-proxy sidecar in a mesh with builtin mTLS gets inbound and VIP listeners (the VIPs the
 *   agent's DNS answers, on the service port and on 80), a TLS cluster per service with Kuma's SNI, and over
 *   SDS a certificate that the mesh CA (the Secret the zone API created with the Mesh) really signed, with
 *   its SPIFFE identity and a 24 h life, which completes a real mutual-TLS handshake with another sidecar's
 *   certificate;
 * - deregistering an instance updates only that service's endpoints, within 2 s;
 * - a zone ingress gets one SNI filter chain per local service, TLS passed through.
 */
import { X509Certificate } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '@ursa/proto/gen/envoy/config/cluster/v3/cluster.js';
import { Node } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import { ClusterLoadAssignment } from '@ursa/proto/gen/envoy/config/endpoint/v3/endpoint.js';
import { Listener } from '@ursa/proto/gen/envoy/config/listener/v3/listener.js';
import { Secret } from '@ursa/proto/gen/envoy/extensions/transport_sockets/tls/v3/secret.js';
import { UpstreamTlsContext } from '@ursa/proto/gen/envoy/extensions/transport_sockets/tls/v3/tls.js';
import { AggregatedDiscoveryServiceClient, CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS, CLUSTER_TYPE_URL as CDS, LISTENER_TYPE_URL as LDS, SECRET_TYPE_URL as SDS } from '@ursa/proto/xds';
import { DeltaClient } from '@ursa/test-support/delta-ads.js';
import { call } from '@ursa/test-support/api.js';
import { removeDirs } from '@ursa/test-support/cluster.js';
import { cleanEnv, freePort, getJson, start, waitFor, type Child } from '@ursa/test-support/process.js';

const ZONE_BIN = new URL('../zone-agent/bin/zone-agent.js', import.meta.url).pathname;
const ZONE = 'sidecar-zone';

const tp = { redirectPortInbound: 15006, redirectPortOutbound: 15001 };
const dataplane = (name: string, address: string, service: string, port: number) => ({
  type: 'Dataplane',
  mesh: 'default',
  name,
  networking: { address, inbound: [{ port, tags: { 'kuma.io/service': service, 'kuma.io/protocol': 'http' } }], transparentProxying: tp },
});

describe('zone agent xDS: Envoy sidecars and zone ingresses', () => {
  let agent: Child | undefined;
  let dataDir: string;
  let url: string;
  let xdsPort: number;
  let dnsPort: number;
  let ads: AggregatedDiscoveryServiceClient;
  const clients: DeltaClient[] = [];

  const token = async (body: Record<string, unknown>): Promise<string> => {
    const r = await call(url, 'POST', '/tokens/dataplane', { body: { validFor: '1h', ...body } });
    expect(r.status).toBe(201);
    return r.body.token as string;
  };
  const connect = async (node: Partial<Node>, tok: string) => {
    const c = new DeltaClient(ads, Node.fromPartial({ userAgentName: 'envoy', ...node }), tok);
    clients.push(c);
    return c;
  };
  const until = <T>(what: string, f: () => T | undefined, ms = 10_000) => waitFor(what, async () => f(), ms, agent);

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'ursa-xds-sidecar-'));
    const apiPort = await freePort();
    xdsPort = await freePort();
    dnsPort = await freePort();
    agent = start(process.execPath, [ZONE_BIN, '--zone', ZONE, '--data-dir', dataDir, '--api-port', String(apiPort), '--xds-port', String(xdsPort), '--dns-port', String(dnsPort), '--dns-upstream', '127.0.0.1:9', '--xds-status-flush-ms', '300'], { env: cleanEnv() });
    url = `http://127.0.0.1:${apiPort}`;
    await waitFor('zone agent GET /ready', () => getJson(`${url}/ready`), 30_000, agent);
    await waitFor('xds server up', async () => (agent!.output().includes('.xds\tADS (') ? true : undefined), 10_000, agent);
    const mesh = await call(url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default', mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] } } });
    expect(mesh.status).toBe(201);
    for (const [name, address, service] of [['web-1', '127.0.0.11', 'web'], ['api-1', '127.0.0.21', 'api'], ['api-2', '127.0.0.22', 'api']] as const) {
      expect((await call(url, 'PUT', `/meshes/default/dataplanes/${name}`, { body: dataplane(name, address, service, 8080) })).status).toBe(201);
    }
    ads = new AggregatedDiscoveryServiceClient(`127.0.0.1:${xdsPort}`, grpc.credentials.createInsecure());
  }, 90_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    ads?.close();
    await agent?.stop();
    if (dataDir) await removeDirs([dataDir]);
  });

  it('gives a transparent-proxy sidecar VIP listeners, TLS clusters with SNI, and a real certificate over SDS', async () => {
    const web = await connect({ id: 'default.web-1' }, await token({ mesh: 'default', name: 'web-1' }));
    web.subscribe(CDS);
    web.subscribe(LDS);
    const clusters = await until('clusters api and web', () => (web.get(CDS).has('api') && web.get(CDS).has('web') ? web.get(CDS) : undefined));
    web.subscribe(EDS, ['api', 'web']);
    web.subscribe(SDS, ['identity_cert:secret:default', 'mesh_ca:secret:default']);

    const api = Cluster.decode(clusters.get('api')!.value);
    expect(api.transportSocket?.configType?.$case).toBe('typedConfig');
    const upstream = UpstreamTlsContext.decode(api.transportSocket!.configType!.value.value);
    expect(upstream.sni).toBe('api{mesh=default}');

    // The VIP listeners are on the addresses the agent's DNS answers.
    const resolver = new Resolver();
    resolver.setServers([`127.0.0.1:${dnsPort}`]);
    const [apiVip] = await waitFor('api.mesh resolves', () => resolver.resolve4('api.mesh').catch(() => undefined), 10_000, agent);
    const listeners = await until('VIP listeners of api', () => (web.get(LDS).has(`outbound:${apiVip}:80`) && web.get(LDS).has(`outbound:${apiVip}:8080`) ? web.get(LDS) : undefined));
    expect(listeners.has('inbound:127.0.0.11:8080')).toBe(true);
    expect(Listener.decode(listeners.get('outbound:passthrough:ipv4')!.value).useOriginalDst).toBe(true);

    const secrets = await until('both secrets', () => (web.get(SDS).size === 2 ? web.get(SDS) : undefined));
    const identity = Secret.decode(secrets.get('identity_cert:secret:default')!.value);
    const trust = Secret.decode(secrets.get('mesh_ca:secret:default')!.value);
    if (identity.type?.$case !== 'tlsCertificate' || trust.type?.$case !== 'validationContext') throw new Error('unexpected secret types');
    const certPem = identity.type.value.certificateChain!.specifier!.value as Buffer;
    const keyPem = identity.type.value.privateKey!.specifier!.value as Buffer;
    const caPem = trust.type.value.trustedCa!.specifier!.value as Buffer;
    // The trust bundle is the mesh CA the zone API created with the Mesh.
    const caSecret = await call(url, 'GET', '/meshes/default/secrets/default.ca-builtin-cert-ca-1');
    expect(caSecret.status).toBe(200);
    expect(Buffer.from(caSecret.body.data as string, 'base64').toString()).toBe(caPem.toString());
    const leaf = new X509Certificate(certPem);
    expect(leaf.verify(new X509Certificate(caPem).publicKey)).toBe(true);
    expect(leaf.subjectAltName).toBe('URI:spiffe://default/web');
    const life = new Date(leaf.validTo).getTime() - Date.now();
    expect(life).toBeGreaterThan(23.5 * 3600_000);
    expect(life).toBeLessThanOrEqual(24 * 3600_000);
    // The DataplaneInsight says which certificate the proxy holds, as Kuma's does.
    const mtls = await until('mTLS in the insight', async () => (await call(url, 'GET', '/meshes/default/dataplane-insights/web-1')).body?.mTLS);
    // (X.509 times have whole seconds.)
    expect(Math.abs(new Date(mtls.certificateExpirationTime).getTime() - new Date(leaf.validTo).getTime())).toBeLessThan(1000);
    expect(mtls.certificateRegenerations).toBeGreaterThanOrEqual(1);
    expect(new Date(mtls.lastCertificateRegeneration).getTime()).toBeLessThanOrEqual(Date.now());
    // Kuma's expiry gauge on the zone's /metrics: the mesh's first-expiring certificate, at most this one's expiry.
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const expiry = metrics.split('\n').find((l) => l.startsWith('xds_cert_expiration_timestamp_seconds{mesh="default"}'));
    expect(expiry, 'xds_cert_expiration_timestamp_seconds for mesh default').toBeDefined();
    expect(Number(expiry!.split(' ')[1])).toBeLessThanOrEqual(Math.floor(new Date(leaf.validTo).getTime() / 1000));
    expect(Number(expiry!.split(' ')[1])).toBeGreaterThan(Date.now() / 1000 + 23 * 3600);

    // The certificates are good for real mutual TLS: api's sidecar as server, web's as client.
    const apiProxy = await connect({ id: 'default.api-1' }, await token({ mesh: 'default', name: 'api-1' }));
    apiProxy.subscribe(SDS, ['identity_cert:secret:default']);
    const apiIdentity = await until('api identity', () => apiProxy.get(SDS).get('identity_cert:secret:default'));
    const apiSecret = Secret.decode(apiIdentity.value);
    if (apiSecret.type?.$case !== 'tlsCertificate') throw new Error('unexpected secret type');
    const server = tls.createServer({ cert: apiSecret.type.value.certificateChain!.specifier!.value as Buffer, key: apiSecret.type.value.privateKey!.specifier!.value as Buffer, ca: caPem, requestCert: true, rejectUnauthorized: true }, (s) => {
      s.end((s.getPeerCertificate() as { subjectaltname?: string }).subjectaltname ?? 'none');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const seen = await new Promise<{ peer: string; server: string }>((resolve, reject) => {
        const s = tls.connect({ port: (server.address() as { port: number }).port, host: '127.0.0.1', cert: certPem, key: keyPem, ca: caPem, servername: 'api{mesh=default}', checkServerIdentity: () => undefined }, () => {
          const peer = (s.getPeerCertificate() as { subjectaltname?: string }).subjectaltname ?? 'none';
          let data = '';
          s.on('data', (d) => (data += d));
          s.on('end', () => resolve({ peer, server: data }));
        });
        s.on('error', reject);
      });
      expect(seen).toEqual({ peer: 'URI:spiffe://default/api', server: 'URI:spiffe://default/web' });
    } finally {
      server.close();
    }
  });

  it('updates only the changed service’s endpoints when an instance leaves, within 2 s', async () => {
    const web = clients[0]!;
    const endpoints = (name: string) => ClusterLoadAssignment.decode(web.get(EDS).get(name)!.value).endpoints.flatMap((l) => l.lbEndpoints).length;
    await until('api endpoints', () => (web.get(EDS).get('api') && endpoints('api') === 2 ? true : undefined));
    const webVersion = web.get(EDS).get('web')!.version;
    const t0 = Date.now();
    expect((await call(url, 'DELETE', '/meshes/default/dataplanes/api-2')).status).toBe(200);
    await until('api down to one endpoint', () => (endpoints('api') === 1 ? true : undefined), 5000);
    const took = Date.now() - t0;
    console.log(`[zone-xds-sidecar] endpoint removal reached the sidecar in ${took} ms`);
    expect(took).toBeLessThan(2000);
    expect(web.get(EDS).get('web')!.version).toBe(webVersion);
  });

  it('gives a zone ingress an SNI filter chain per local service, passing TLS through', async () => {
    const zi = await call(url, 'PUT', '/zoneingresses/ingress-1', { body: { type: 'ZoneIngress', name: 'ingress-1', networking: { address: '127.0.0.100', port: 10001, advertisedAddress: '203.0.113.1', advertisedPort: 443 } } });
    expect(zi.status).toBe(201);
    const ingress = await connect({ id: '.ingress-1' }, await token({ type: 'ingress', name: 'ingress-1' }));
    ingress.subscribe(LDS);
    ingress.subscribe(CDS);
    const lds = await until('the ingress listener', () => ingress.get(LDS).get('inbound:127.0.0.100:10001'));
    const listener = Listener.decode(lds.value);
    expect(listener.listenerFilters.map((f) => f.name)).toEqual(['envoy.filters.listener.tls_inspector']);
    expect(listener.filterChains.map((fc) => [fc.filterChainMatch?.serverNames, fc.filterChainMatch?.transportProtocol, fc.transportSocket])).toEqual([
      [['api{mesh=default}'], 'tls', undefined],
      [['web{mesh=default}'], 'tls', undefined],
    ]);
    await until('ingress clusters', () => (ingress.get(CDS).has('default:api') && ingress.get(CDS).has('default:web') ? true : undefined));
  });
});
