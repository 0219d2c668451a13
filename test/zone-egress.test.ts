/**
 * Zone egress end to end (real processes): a global, zone-1 and zone-2, mesh `default` with builtin mTLS and
 * `routing.zoneEgress: true`.
 * - zone-1 runs an `echo` instance and a ZoneIngress whose advertised address is a TCP listener of this test;
 * - zone-2 registers a ZoneEgress through its zone API (its address is another TCP listener of this test) and
 *   has a sidecar `web`.
 * No Envoy runs here: the test's listeners stand where the egress's and the ingress's Envoys would listen,
 * and a scripted delta ADS client (test/support/delta-ads.ts) introduces itself as Envoy does for the
 * sidecar and, with kuma-dp's `dataplane.proxyType: "egress"` and an egress token, for the egress.
 * What is shown: the sidecar's cluster for `echo` keeps Kuma's SNI and its endpoint is zone-2's egress
 * address (not zone-1's ingress); a TLS connection made as the sidecar would (to that endpoint, with that
 * SNI) arrives at the egress stand-in carrying the SNI; the egress gets a filter chain for that SNI whose
 * cluster's endpoint is zone-1's ingress; an egress token is refused for a sidecar and vice versa.
 * A MeshExternalService created on the global reaches zone-2 and its resolver answers Kuma's default
 * hostname `<name>.extsvc.mesh.local` with a VIP of its own (the real `dig`); an invalid one is a 400 naming
 * Kuma's field path. Through the agent's xDS, that MeshExternalService then gives the sidecar a listener on
 * its VIP and a cluster to the egress (Kuma's `.mes` SNI, the egress's SPIFFE ID), and the egress an SNI
 * chain and a cluster to its endpoint; a TLS connection made as the sidecar would arrives at the egress
 * stand-in with that SNI; an endpoint edit on the global reaches the egress's cluster. The sidecar's DNS in the
 * proxy answers the MeshExternalService's name with the VIP the zone resolver gives.
 */
import { createServer, type Server, type Socket } from 'node:net';
import * as tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '@ursa/proto/gen/envoy/config/cluster/v3/cluster.js';
import { Node } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import { ClusterLoadAssignment } from '@ursa/proto/gen/envoy/config/endpoint/v3/endpoint.js';
import { Listener } from '@ursa/proto/gen/envoy/config/listener/v3/listener.js';
import { HttpConnectionManager } from '@ursa/proto/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import { UpstreamTlsContext } from '@ursa/proto/gen/envoy/extensions/transport_sockets/tls/v3/tls.js';
import { AggregatedDiscoveryServiceClient, CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS, CLUSTER_TYPE_URL as CDS, LISTENER_TYPE_URL as LDS } from '@ursa/proto/xds';
import { call } from '@ursa/test-support/api.js';
import { removeDirs, startGlobal, startFederatedZone, type GlobalProc, type ZoneProc } from '@ursa/test-support/cluster.js';
import { DeltaClient } from '@ursa/test-support/delta-ads.js';
import { digShort, requireDig } from '@ursa/test-support/dig.js';
import { freePort, waitFor } from '@ursa/test-support/process.js';
import { eventually } from '@ursa/test-support/zone.js';

/** A TCP listener standing in for an Envoy: keeps the first bytes of each connection (a TLS ClientHello). */
async function standIn(): Promise<{ server: Server; port: number; hellos: Buffer[] }> {
  const hellos: Buffer[] = [];
  const server = createServer((s: Socket) => {
    s.once('data', (d) => {
      hellos.push(d);
      s.destroy();
    });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as { port: number }).port, hellos };
}

const endpointsOf = (value: Buffer) =>
  ClusterLoadAssignment.decode(value).endpoints.flatMap((l) =>
    l.lbEndpoints.map((e) => {
      const a = e.hostIdentifier?.$case === 'endpoint' ? e.hostIdentifier.value.address?.address : undefined;
      return a?.$case === 'socketAddress' ? `${a.value.address}:${a.value.portSpecifier?.$case === 'portValue' ? a.value.portSpecifier.value : '?'}` : '?';
    }),
  );

describe('zone egress: cross-zone traffic through the local egress (real processes, scripted ADS clients)', () => {
  let global: GlobalProc;
  const zones: Record<string, ZoneProc> = {};
  let ingress: Awaited<ReturnType<typeof standIn>>;
  let egress: Awaited<ReturnType<typeof standIn>>;
  let ads: AggregatedDiscoveryServiceClient;
  const clients: DeltaClient[] = [];
  const xdsPort = { z2: 0 };
  /** The sidecar's and the egress's streams, kept open for the MeshExternalService checks. */
  let webClient: DeltaClient;
  let egClient: DeltaClient;

  beforeAll(async () => {
    ingress = await standIn();
    egress = await standIn();
    global = await startGlobal();
    const mesh = { type: 'Mesh', name: 'default', mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] }, routing: { zoneEgress: true } };
    expect((await call(global.url, 'PUT', '/meshes/default', { body: mesh })).status).toBeLessThan(300);
    xdsPort.z2 = await freePort();
    for (const name of ['zone-1', 'zone-2']) zones[name] = await startFederatedZone(global.url, name, name === 'zone-2' ? { xdsPort: xdsPort.z2 } : {});
    const put = async (url: string, path: string, body: unknown) => expect((await call(url, 'PUT', path, { body })).status).toBeLessThan(300);
    const z1 = zones['zone-1']!.url;
    const z2 = zones['zone-2']!.url;
    await put(z1, '/meshes/default/dataplanes/echo-1', { type: 'Dataplane', mesh: 'default', name: 'echo-1', networking: { address: '127.0.0.1', inbound: [{ port: await freePort(), tags: { 'kuma.io/service': 'echo' } }] } });
    await put(z1, '/zoneingresses/ingress', { type: 'ZoneIngress', name: 'ingress', networking: { address: '127.0.0.1', advertisedAddress: '127.0.0.1', port: ingress.port, advertisedPort: ingress.port } });
    await put(z2, '/zoneegresses/egress-1', { type: 'ZoneEgress', name: 'egress-1', networking: { address: '127.0.0.1', port: egress.port } });
    await put(z2, '/meshes/default/dataplanes/web', { type: 'Dataplane', mesh: 'default', name: 'web', networking: { address: '127.0.0.2', inbound: [{ port: 8080, tags: { 'kuma.io/service': 'web' } }], transparentProxying: { redirectPortInbound: 15006, redirectPortOutbound: 15001 } } });
    await eventually("zone-2 received zone-1's ingress with echo", async () => {
      const items = ((await call(z2, 'GET', '/zoneingresses')).body.items ?? []) as { labels?: Record<string, string>; availableServices?: { tags: Record<string, string> }[] }[];
      return (items.find((i) => i.labels?.['kuma.io/zone'] === 'zone-1')?.availableServices ?? []).some((a) => a.tags['kuma.io/service'] === 'echo');
    }, 30_000);
    ads = new AggregatedDiscoveryServiceClient(`127.0.0.1:${xdsPort.z2}`, grpc.credentials.createInsecure());
  }, 150_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    ads?.close();
    await Promise.all(Object.values(zones).map((z) => z.stop()));
    await global?.stop();
    for (const s of [ingress, egress]) await new Promise((r) => s?.server.close(r));
    await removeDirs([global?.dataDir, ...Object.values(zones).map((z) => z.dataDir)].filter(Boolean) as string[]);
  });

  const token = async (body: Record<string, unknown>) => {
    const r = await call(zones['zone-2']!.url, 'POST', '/tokens/dataplane', { body: { validFor: '1h', ...body } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body.token as string;
  };
  const connect = (node: Partial<Node>, tok: string) => {
    const c = new DeltaClient(ads, Node.fromPartial({ userAgentName: 'envoy', ...node }), tok);
    clients.push(c);
    return c;
  };

  it("sends the sidecar's cross-zone connection to zone-2's egress, SNI unchanged", async () => {
    const web = (webClient = connect({ id: 'default.web' }, await token({ mesh: 'default', name: 'web' })));
    web.subscribe(CDS);
    const clusters = await waitFor('cluster echo', async () => (web.get(CDS).has('echo') ? web.get(CDS) : undefined), 20_000);
    web.subscribe(EDS, ['echo']);
    const cla = await waitFor('endpoints of echo', async () => web.get(EDS).get('echo'), 20_000);
    expect(endpointsOf(cla.value)).toEqual([`127.0.0.1:${egress.port}`]);
    const upstream = UpstreamTlsContext.decode(Cluster.decode(clusters.get('echo')!.value).transportSocket!.configType!.value.value);
    expect(upstream.sni).toBe('echo{mesh=default}');

    // What the sidecar's Envoy would do with that cluster: a TLS connection with that SNI to that endpoint.
    const [host, port] = endpointsOf(cla.value)[0]!.split(':');
    const socket = tls.connect({ host, port: Number(port), servername: upstream.sni, rejectUnauthorized: false });
    socket.on('error', () => {});
    await waitFor('a ClientHello at the egress', async () => (egress.hellos.length > 0 ? true : undefined), 10_000);
    socket.destroy();
    expect(egress.hellos[0]!.includes(Buffer.from('echo{mesh=default}'))).toBe(true);
    expect(ingress.hellos).toEqual([]);
  });

  it('gives the egress (kuma-dp --proxy-type=egress) an SNI chain to zone-1\'s ingress', async () => {
    const eg = (egClient = connect({ id: '.egress-1', metadata: { 'dataplane.proxyType': 'egress' } }, await token({ type: 'egress', name: 'egress-1' })));
    eg.subscribe(LDS);
    eg.subscribe(CDS);
    const listeners = await waitFor('egress listener', async () => (eg.get(LDS).size > 0 ? eg.get(LDS) : undefined), 20_000);
    const l = Listener.decode(listeners.get(`inbound:127.0.0.1:${egress.port}`)!.value);
    // The SNI chain, and the plaintext one for proxyless clients (test/zone-xds-proxyless-egress.test.ts).
    expect(l.filterChains.map((c) => [c.filterChainMatch?.transportProtocol, c.filterChainMatch?.serverNames])).toEqual([['tls', ['echo{mesh=default}']], ['raw_buffer', []]]);
    expect(l.listenerFilters.map((f) => f.name)).toEqual(['envoy.filters.listener.tls_inspector']);
    eg.subscribe(EDS, ['default:echo']);
    const cla = await waitFor('egress endpoints', async () => eg.get(EDS).get('default:echo'), 20_000);
    expect(endpointsOf(cla.value)).toEqual([`127.0.0.1:${ingress.port}`]);
  });

  it('names a MeshExternalService <name>.extsvc.mesh.local with its own VIP in the zone resolver', async () => {
    await requireDig();
    const mes = { type: 'MeshExternalService', mesh: 'default', name: 'httpbin', spec: { match: { type: 'HostnameGenerator', port: 443, protocol: 'tcp' }, endpoints: [{ address: 'httpbin.org', port: 443 }], tls: { enabled: true } } };
    const bad = await call(global.url, 'PUT', '/meshes/default/meshexternalservices/broken', { body: { ...mes, name: 'broken', spec: { ...mes.spec, endpoints: [{ address: 'httpbin.org' }] } } });
    expect(bad.status).toBe(400);
    expect(bad.body.invalid_parameters).toEqual([expect.objectContaining({ field: 'spec.endpoints[0].port', reason: 'port must be a valid (1-65535)' })]);
    expect((await call(global.url, 'PUT', '/meshes/default/meshexternalservices/httpbin', { body: mes })).status).toBe(201);
    const dns = zones['zone-2']!.dnsPort;
    const vip = await waitFor('httpbin.extsvc.mesh.local in zone-2', async () => (await digShort(dns, 'httpbin.extsvc.mesh.local')) || undefined, 30_000);
    expect(vip).toMatch(/^24\d\.\d+\.\d+\.\d+$/);
    const echo = await waitFor('echo.mesh in zone-2', async () => (await digShort(dns, 'echo.mesh')) || undefined, 30_000);
    expect(echo).not.toBe(vip);
  });

  it('routes the MeshExternalService from the sidecar through the egress, and an endpoint edit reaches the egress', async () => {
    const name = 'default_httpbin___extsvc_443';
    const sni = 'a260442408b1a89a9.httpbin.443.default.mes';
    const vip = await digShort(zones['zone-2']!.dnsPort, 'httpbin.extsvc.mesh.local');
    // The sidecar: a listener on the VIP and port, a cluster to the egress with Kuma's SNI and the egress's identity.
    const clusters = await waitFor('sidecar cluster for httpbin', async () => (webClient.get(CDS).has(name) ? webClient.get(CDS) : undefined), 60_000);
    const upstream = UpstreamTlsContext.decode(Cluster.decode(clusters.get(name)!.value).transportSocket!.configType!.value.value);
    expect(upstream.sni).toBe(sni);
    expect(JSON.stringify(upstream.commonTlsContext?.validationContextType)).toContain('spiffe://default/zone-egress');
    webClient.subscribe(LDS);
    await waitFor(`sidecar listener outbound:${vip}:443`, async () => webClient.get(LDS).has(`outbound:${vip}:443`) || undefined, 60_000);
    // DNS in the proxy: the same name and VIP as the zone resolver, in the table kuma-dp reads.
    const dnsListener = Listener.decode(webClient.get(LDS).get('_kuma:dynamicconfig')!.value);
    const dnsConfig = dnsListener.filterChains[0]!.filters[0]!.configType;
    const dnsHcm = dnsConfig?.$case === 'typedConfig' ? HttpConnectionManager.decode(dnsConfig.value.value) : undefined;
    const dnsRoute = dnsHcm?.routeSpecifier?.$case === 'routeConfig' ? dnsHcm.routeSpecifier.value.virtualHosts[0]!.routes.find((r) => r.action?.$case === 'directResponse' && r.action.value.status === 200) : undefined;
    const dnsBody = dnsRoute?.action?.$case === 'directResponse' && dnsRoute.action.value.body?.specifier?.$case === 'inlineString' ? dnsRoute.action.value.body.specifier.value : '{}';
    expect((JSON.parse(dnsBody) as { records?: { name: string; ips: string[] }[] }).records).toContainEqual({ name: 'httpbin.extsvc.mesh.local', ips: [vip] });
    webClient.subscribe(EDS, [name]);
    const cla = await waitFor('sidecar endpoints of httpbin', async () => webClient.get(EDS).get(name), 20_000);
    expect(endpointsOf(cla.value)).toEqual([`127.0.0.1:${egress.port}`]);
    const socket = tls.connect({ host: '127.0.0.1', port: egress.port, servername: sni, rejectUnauthorized: false });
    socket.on('error', () => {});
    await waitFor('a ClientHello with the MeshExternalService SNI at the egress', async () => egress.hellos.some((h) => h.includes(Buffer.from(sni))) || undefined, 10_000);
    socket.destroy();

    // The egress: a chain for that SNI, and a cluster to the service's endpoint with TLS origination.
    const clusterOn = async (address: string) =>
      waitFor(`egress cluster to ${address}`, async () => {
        const c = egClient.get(CDS).get(name);
        return c && endpointsOf(ClusterLoadAssignment.encode(Cluster.decode(c.value).loadAssignment!).finish() as Buffer).includes(`${address}:443`) ? Cluster.decode(c.value) : undefined;
      }, 60_000);
    const direct = await clusterOn('httpbin.org');
    expect(UpstreamTlsContext.decode(direct.transportSocket!.configType!.value.value).sni).toBe('httpbin.org');
    const l = Listener.decode(egClient.get(LDS).get(`inbound:127.0.0.1:${egress.port}`)!.value);
    expect(l.filterChains.map((c) => c.filterChainMatch?.serverNames)).toEqual([['echo{mesh=default}'], [sni], []]);

    const mes = { type: 'MeshExternalService', mesh: 'default', name: 'httpbin', spec: { match: { type: 'HostnameGenerator', port: 443, protocol: 'tcp' }, endpoints: [{ address: 'eu.httpbin.org', port: 443 }], tls: { enabled: true } } };
    expect((await call(global.url, 'PUT', '/meshes/default/meshexternalservices/httpbin', { body: mes })).status).toBe(200);
    const edited = await clusterOn('eu.httpbin.org');
    expect(UpstreamTlsContext.decode(edited.transportSocket!.configType!.value.value).sni).toBe('eu.httpbin.org');
  }, 240_000);

  it('admits an egress only with an egress token, and a sidecar never with one', async () => {
    const asSidecar = connect({ id: '.egress-1', metadata: { 'dataplane.proxyType': 'egress' } }, await token({ mesh: 'default', name: 'web' }));
    asSidecar.subscribe(LDS);
    await waitFor('refusal', async () => asSidecar.error, 10_000);
    expect(asSidecar.error!.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(asSidecar.error!.details).toMatch(/the token is for a dataplane, and this proxy is a zone egress/);
    const unknown = connect({ id: '.nope', metadata: { 'dataplane.proxyType': 'egress' } }, await token({ type: 'egress' }));
    unknown.subscribe(LDS);
    await waitFor('not found', async () => unknown.error, 10_000);
    expect(unknown.error!.code).toBe(grpc.status.NOT_FOUND);
    expect(unknown.error!.details).toMatch(/no ZoneEgress "nope" in zone zone-2; register the ZoneEgress first/);
  });
});
