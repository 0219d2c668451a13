/**
 * A proxyless gRPC client reaches other zones and its own zone's sidecars through its zone's egress (README
 * "Proxyless gRPC clients"), and is never handed an endpoint whose listener would refuse it (issue 16 item 7).
 *
 * Real processes: a global; zone-1 with a `remote-only` echo instance and a ZoneIngress whose advertised
 * address is a TCP listener of this test (it counts connections and closes them, as the ingress's Envoy
 * closes plaintext); zone-2 with a local `echo` Dataplane, a ZoneEgress, and a real `@grpc/grpc-js-xds`
 * client. Mesh `default` has builtin mTLS and `routing.zoneEgress: true`. The local `echo` Dataplane's
 * inbound is another counting listener that closes every connection: it stands in for the sidecar's
 * inbound, which requires a mesh client certificate (`tls.ts`) and so refuses a plaintext client.
 * No Envoy runs here. The ZoneEgress's address is a plaintext HTTP/2 forwarder of this test
 * (test/support/h2-forwarder.ts) that sends `remote-only` straight to zone-1's echo instance and `echo` to
 * zone-2's echo server: it stands in for the egress's plaintext chain *and* the hop it originates (mesh
 * mTLS to zone-1's ingress or to the local sidecar, then the workload). What is real: the agent's xDS to
 * the client and to the egress (a scripted delta ADS client with kuma-dp's egress metadata and an egress
 * token), and the client's own load balancing.
 * Shown: calls to `xds:///remote-only` and to the local `xds:///echo` are answered through the egress
 * address with `:authority` the service, the name the egress's plaintext chain (`raw_buffer`) has a virtual
 * host for; every endpoint the client was handed is that egress listener; neither the ingress nor the local
 * sidecar is ever dialled. With `routing.zoneEgress` turned off (mTLS still on), every endpoint is withheld:
 * calls answer UNAVAILABLE, and still nothing dials the sidecar or the ingress.
 */
import { createServer, type Server } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '@ursa/proto/gen/envoy/config/cluster/v3/cluster.js';
import { Node } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import { Listener } from '@ursa/proto/gen/envoy/config/listener/v3/listener.js';
import { HttpConnectionManager } from '@ursa/proto/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import { UpstreamTlsContext } from '@ursa/proto/gen/envoy/extensions/transport_sockets/tls/v3/tls.js';
import { AggregatedDiscoveryServiceClient, CLUSTER_TYPE_URL as CDS, LISTENER_TYPE_URL as LDS } from '@ursa/proto/xds';
import { call } from '@ursa/test-support/api.js';
import { removeDirs, startGlobal, startFederatedZone, type GlobalProc, type ZoneProc } from '@ursa/test-support/cluster.js';
import { DeltaClient } from '@ursa/test-support/delta-ads.js';
import { echoDataplane, EchoClients, registerXdsClient, startEcho, type EchoServer } from '@ursa/test-support/grpc-echo.js';
import { h2Forwarder, type H2Forwarder } from '@ursa/test-support/h2-forwarder.js';
import { freePort, waitFor } from '@ursa/test-support/process.js';
import { eventually } from '@ursa/test-support/zone.js';

type ConfigDump = { notes?: string[]; resources: { EDS?: { items: { name: string; resource: { endpoints?: { locality?: { zone?: string }; lbEndpoints: { endpoint: { address: { socketAddress: { address: string; portValue: number } } } }[] }[] } }[] } } };

describe('proxyless gRPC client across zones through the zone egress (real processes, grpc-js-xds)', () => {
  let global: GlobalProc;
  const zones: Record<string, ZoneProc> = {};
  const echoes: EchoServer[] = [];
  const clients = new EchoClients();
  let ingress: Server;
  let ingressConnections = 0;
  let sidecar: Server;
  let sidecarConnections = 0;
  let egress: H2Forwarder;
  let ads: AggregatedDiscoveryServiceClient;
  let egressXds: DeltaClient;
  let clientPort = 0;
  let sidecarPort = 0;
  const mesh = { type: 'Mesh', name: 'default', mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] }, routing: { zoneEgress: true } };

  beforeAll(async () => {
    ingress = createServer((s) => {
      ingressConnections++;
      s.destroy();
    });
    await new Promise<void>((r) => ingress.listen(0, '127.0.0.1', () => r()));
    const ingressPort = (ingress.address() as { port: number }).port;
    sidecar = createServer((s) => {
      sidecarConnections++;
      s.destroy();
    });
    await new Promise<void>((r) => sidecar.listen(0, '127.0.0.1', () => r()));
    sidecarPort = (sidecar.address() as { port: number }).port;
    echoes.push(await startEcho('remote-only-zone-1'), await startEcho('echo-zone-2'));
    egress = await h2Forwarder({ 'remote-only': { host: '127.0.0.1', port: echoes[0]!.port }, echo: { host: '127.0.0.1', port: echoes[1]!.port } });

    global = await startGlobal();
    expect((await call(global.url, 'PUT', '/meshes/default', { body: mesh })).status).toBeLessThan(300);
    const xdsPort = await freePort();
    for (const name of ['zone-1', 'zone-2']) zones[name] = await startFederatedZone(global.url, name, name === 'zone-2' ? { xdsPort: xdsPort } : {});
    const z1 = zones['zone-1']!.url;
    const z2 = zones['zone-2']!.url;
    const put = async (url: string, path: string, body: unknown) => expect((await call(url, 'PUT', path, { body })).status).toBeLessThan(300);
    await put(z1, '/meshes/default/dataplanes/remote-only-zone-1', echoDataplane('remote-only-zone-1', 'remote-only', echoes[0]!.port));
    await put(z1, '/zoneingresses/ingress', { type: 'ZoneIngress', name: 'ingress', networking: { address: '127.0.0.1', advertisedAddress: '127.0.0.1', port: ingressPort, advertisedPort: ingressPort } });
    await put(z2, '/zoneegresses/egress-1', { type: 'ZoneEgress', name: 'egress-1', networking: { address: '127.0.0.1', port: egress.port } });
    await put(z2, '/meshes/default/dataplanes/echo-zone-2', echoDataplane('echo-zone-2', 'echo', sidecarPort));
    clientPort = await freePort();
    await put(z2, '/meshes/default/dataplanes/client', echoDataplane('client', 'client', clientPort));
    await eventually("zone-2 received zone-1's ingress with remote-only", async () => {
      const items = ((await call(z2, 'GET', '/zoneingresses')).body.items ?? []) as { labels?: Record<string, string>; availableServices?: { tags: Record<string, string> }[] }[];
      return (items.find((i) => i.labels?.['kuma.io/zone'] === 'zone-1')?.availableServices ?? []).some((a) => a.tags['kuma.io/service'] === 'remote-only');
    }, 30_000);

    // The egress's own xDS stream, as kuma-dp --proxy-type=egress opens it.
    ads = new AggregatedDiscoveryServiceClient(`127.0.0.1:${xdsPort}`, grpc.credentials.createInsecure());
    const egressToken = (await call(z2, 'POST', '/tokens/dataplane', { body: { type: 'egress', name: 'egress-1', validFor: '1h' } })).body.token as string;
    egressXds = new DeltaClient(ads, Node.fromPartial({ userAgentName: 'envoy', id: '.egress-1', metadata: { 'dataplane.proxyType': 'egress' } }), egressToken);
    egressXds.subscribe(LDS);
    egressXds.subscribe(CDS);

    const token = (await call(z2, 'POST', '/tokens/dataplane', { body: { mesh: 'default', name: 'client', validFor: '1h' } })).body.token as string;
    await registerXdsClient({ xdsPort, nodeId: 'default.client', zone: 'zone-2', token });
  }, 150_000);

  afterAll(async () => {
    clients.close();
    egressXds?.close();
    ads?.close();
    await Promise.all(Object.values(zones).map((z) => z.stop()));
    await global?.stop();
    await Promise.all(echoes.map((e) => e.close()));
    await egress?.close();
    await new Promise((r) => ingress?.close(r));
    await new Promise((r) => sidecar?.close(r));
    await removeDirs([global?.dataDir, ...Object.values(zones).map((z) => z.dataDir)].filter(Boolean) as string[]);
  });

  const clientEds = async () => {
    const dump = (await call(zones['zone-2']!.url, 'GET', '/meshes/default/dataplanes/client/_config')).body as ConfigDump;
    const eds = Object.fromEntries((dump.resources.EDS?.items ?? []).map((i) => [i.name, (i.resource.endpoints ?? []).flatMap((l) => l.lbEndpoints.map((e) => ({ zone: l.locality?.zone, at: `${e.endpoint.address.socketAddress.address}:${e.endpoint.address.socketAddress.portValue}` })))]));
    return { notes: dump.notes ?? [], eds };
  };

  /** The egress listener's plaintext chain as the agent serves it: virtual host domains -> cluster. */
  const plaintextRoutes = async () => {
    const name = `inbound:127.0.0.1:${egress.port}`;
    return waitFor('the egress listener with a raw_buffer chain for remote-only and echo', async () => {
      const l = egressXds.get(LDS).get(name);
      if (!l) return undefined;
      const chain = Listener.decode(l.value).filterChains.find((c) => c.filterChainMatch?.transportProtocol === 'raw_buffer');
      const config = chain?.filters[0]?.configType;
      const hcm = config?.$case === 'typedConfig' ? HttpConnectionManager.decode(config.value.value) : undefined;
      const vhosts = hcm?.routeSpecifier?.$case === 'routeConfig' ? hcm.routeSpecifier.value.virtualHosts : [];
      const routes = Object.fromEntries(vhosts.flatMap((v) => v.domains.map((d) => [d, v.routes[0]?.action?.$case === 'route' && v.routes[0].action.value.clusterSpecifier?.$case === 'cluster' ? v.routes[0].action.value.clusterSpecifier.value : ''])));
      return routes['remote-only'] && routes['echo'] ? routes : undefined;
    }, 30_000);
  };

  it("reaches zone-1 and its own zone's sidecar through zone-2's egress address, and only ever dials the egress", async () => {
    const routes = await plaintextRoutes();
    expect(routes).toEqual({ 'remote-only': 'proxyless:default:remote-only', echo: 'proxyless:default:echo', client: 'proxyless:default:client' });
    // The egress's hop onward: mesh mTLS with the sidecar's SNI to zone-1's ingress, as the egress's identity.
    const cluster = await waitFor('the egress cluster proxyless:default:remote-only', async () => egressXds.get(CDS).get('proxyless:default:remote-only'), 20_000);
    const upstream = UpstreamTlsContext.decode(Cluster.decode(cluster.value).transportSocket!.configType!.value.value);
    expect(upstream.sni).toBe('remote-only{mesh=default}');
    expect(upstream.commonTlsContext?.tlsCertificateSdsSecretConfigs.map((s) => s.name)).toEqual(['identity_cert:secret:default']);
    // And to the local sidecar: the same mesh mTLS, the egress presenting its own certificate.
    const local = await waitFor('the egress cluster proxyless:default:echo', async () => egressXds.get(CDS).get('proxyless:default:echo'), 20_000);
    const toSidecar = UpstreamTlsContext.decode(Cluster.decode(local.value).transportSocket!.configType!.value.value);
    expect(toSidecar.sni).toBe('echo{mesh=default}');
    expect(toSidecar.commonTlsContext?.tlsCertificateSdsSecretConfigs.map((s) => s.name)).toEqual(['identity_cert:secret:default']);

    await waitFor('a first RPC through xds:///remote-only', () => clients.rpc('remote-only').catch(() => undefined), 30_000);
    expect(await clients.count('remote-only', 50, 10)).toEqual({ 'remote-only-zone-1': 50 });
    expect(egress.authorities.length).toBeGreaterThanOrEqual(51);
    expect(new Set(egress.authorities)).toEqual(new Set(['remote-only']));
    // The local service: through the egress too (its sidecar would refuse a plaintext client).
    await waitFor('a first RPC through xds:///echo', () => clients.rpc('echo').catch(() => undefined), 30_000);
    const before = egress.authorities.filter((a) => a === 'echo').length;
    expect(await clients.count('echo', 20, 10)).toEqual({ 'echo-zone-2': 20 });
    expect(egress.authorities.filter((a) => a === 'echo').length - before).toBe(20);
    expect(ingressConnections, "connections to zone-1's ingress").toBe(0);
    expect(sidecarConnections, "connections to the local echo sidecar").toBe(0);

    // Every endpoint the client holds is the egress, whose listener has the plaintext chain checked above.
    const { eds, notes } = await clientEds();
    expect(eds['remote-only']).toEqual([{ zone: 'zone-1', at: `127.0.0.1:${egress.port}` }]);
    expect(eds['echo']).toEqual([{ zone: 'zone-2', at: `127.0.0.1:${egress.port}` }]);
    const handed = Object.values(eds).flat().map((e) => e.at);
    expect(handed.length).toBeGreaterThan(0);
    expect(handed.filter((a) => a !== `127.0.0.1:${egress.port}`)).toEqual([]);
    expect(notes[0]).toMatch(/every endpoint, this zone's and other zones', is the egress address.*zone egress identity/);
  }, 120_000);

  it('withholds every endpoint, local ones too, when the mesh stops routing through the egress (mTLS still on)', async () => {
    const { routing: _, ...withoutEgress } = mesh;
    expect((await call(global.url, 'PUT', '/meshes/default', { body: withoutEgress })).status).toBeLessThan(300);
    await waitFor('every endpoint withheld from the client', async () => {
      const { eds } = await clientEds();
      return Object.values(eds).flat().length === 0 || undefined;
    }, 30_000);
    expect((await clientEds()).notes[0]).toMatch(/needs the egress path or a sidecar/);
    // The client applies the update a moment after `_config` shows it: calls may still go out until then.
    for (const service of ['remote-only', 'echo']) {
      const err = await waitFor(`the client to see no endpoint for ${service}`, () =>
        clients.rpc(service).then(
          () => undefined,
          (e: grpc.ServiceError) => e,
        ), 20_000);
      expect(err.code, err.message).toBe(grpc.status.UNAVAILABLE);
    }
    const seen = egress.authorities.length;
    for (let i = 0; i < 5; i++) {
      await expect(clients.rpc('remote-only')).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
      await expect(clients.rpc('echo')).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    }
    expect(egress.authorities.length, 'requests at the egress after the flag went off').toBe(seen);
    expect(ingressConnections, "connections to zone-1's ingress").toBe(0);
    expect(sidecarConnections, 'connections to the local echo sidecar').toBe(0);
  }, 90_000);
});
