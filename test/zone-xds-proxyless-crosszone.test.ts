/**
 * A proxyless gRPC client is never handed an endpoint it cannot use. Another zone is reached through its zone
 * ingress, which accepts only mesh mTLS routed by SNI and closes anything else; a gRPC xDS client speaks
 * neither, so the zone agent withholds other zones' ingresses from it (README "What proxies get").
 *
 * Real processes: a global, zone-1 (an `echo` instance, a `remote-only` instance, and a ZoneIngress whose
 * advertised address is a TCP listener of this test, standing in for the ingress's Envoy: it counts every
 * connection and closes it, as the real listener closes a plaintext one), and zone-2 (a local `echo`
 * instance and a real `@grpc/grpc-js-xds` client). Once zone-2 has received zone-1's ingress, every call to
 * `xds:///echo` is answered in zone-2, a call to `xds:///remote-only` fails (no endpoint) instead of going to
 * the ingress, nothing ever connects to the ingress, and the client's `_config` says why. Mesh `default` has
 * mTLS off, so zone-2's own instances take plaintext and are handed out directly; in an mTLS mesh they would
 * refuse it, and the client goes through the egress or gets nothing (test/zone-xds-proxyless-egress.test.ts).
 */
import { createServer, type Server } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '@ursa/test-support/api.js';
import { removeDirs, startGlobal, startFederatedZone, type GlobalProc, type ZoneProc } from '@ursa/test-support/cluster.js';
import { echoDataplane, EchoClients, registerXdsClient, startEcho, type EchoServer } from '@ursa/test-support/grpc-echo.js';
import { freePort, waitFor } from '@ursa/test-support/process.js';
import { eventually } from '@ursa/test-support/zone.js';

describe('proxyless gRPC client across zones (real processes, grpc-js-xds)', () => {
  let global: GlobalProc;
  const zones: Record<string, ZoneProc> = {};
  const echoes: EchoServer[] = [];
  const clients = new EchoClients();
  let ingress: Server;
  let ingressConnections = 0;

  beforeAll(async () => {
    // The stand-in for zone-1's ingress listener: plaintext is refused (closed) there.
    ingress = createServer((s) => {
      ingressConnections++;
      s.destroy();
    });
    await new Promise<void>((r) => ingress.listen(0, '127.0.0.1', () => r()));
    const ingressPort = (ingress.address() as { port: number }).port;

    global = await startGlobal();
    expect((await call(global.url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default' } })).status).toBeLessThan(300);
    const xdsPort = await freePort();
    for (const name of ['zone-1', 'zone-2']) zones[name] = await startFederatedZone(global.url, name, name === 'zone-2' ? { xdsPort: xdsPort } : {});
    const z1 = zones['zone-1']!.url;
    const z2 = zones['zone-2']!.url;
    echoes.push(await startEcho('echo-zone-1'), await startEcho('remote-only-zone-1'), await startEcho('echo-zone-2'));
    const put = async (url: string, path: string, body: unknown) => expect((await call(url, 'PUT', path, { body })).status).toBeLessThan(300);
    await put(z1, '/meshes/default/dataplanes/echo-zone-1', echoDataplane('echo-zone-1', 'echo', echoes[0]!.port));
    await put(z1, '/meshes/default/dataplanes/remote-only-zone-1', echoDataplane('remote-only-zone-1', 'remote-only', echoes[1]!.port));
    await put(z1, '/zoneingresses/ingress', { type: 'ZoneIngress', name: 'ingress', networking: { address: '127.0.0.1', advertisedAddress: '127.0.0.1', port: ingressPort, advertisedPort: ingressPort } });
    await put(z2, '/meshes/default/dataplanes/echo-zone-2', echoDataplane('echo-zone-2', 'echo', echoes[2]!.port));
    await put(z2, '/meshes/default/dataplanes/client', echoDataplane('client', 'client', await freePort()));
    // zone-2 knows that zone-1's ingress reaches `echo` and `remote-only`.
    await eventually('zone-2 received zone-1\'s ingress with both services', async () => {
      const items = ((await call(z2, 'GET', '/zoneingresses')).body.items ?? []) as { labels?: Record<string, string>; availableServices?: { tags: Record<string, string> }[] }[];
      const remote = items.find((i) => i.labels?.['kuma.io/zone'] === 'zone-1');
      return new Set((remote?.availableServices ?? []).map((a) => a.tags['kuma.io/service'])).size === 2;
    }, 30_000);
    const token = (await call(z2, 'POST', '/tokens/dataplane', { body: { mesh: 'default', name: 'client', validFor: '1h' } })).body.token as string;
    await registerXdsClient({ xdsPort, nodeId: 'default.client', zone: 'zone-2', token });
  }, 150_000);

  afterAll(async () => {
    clients.close();
    await Promise.all(Object.values(zones).map((z) => z.stop()));
    await global?.stop();
    await Promise.all(echoes.map((e) => e.close()));
    await new Promise((r) => ingress?.close(r));
    await removeDirs([global?.dataDir, ...Object.values(zones).map((z) => z.dataDir)].filter(Boolean) as string[]);
  });

  it('answers in its own zone, fails fast where only another zone has the service, and never dials the ingress', async () => {
    await waitFor('a first RPC through xds:///echo', () => clients.rpc('echo').catch(() => undefined), 20_000);
    expect(await clients.count('echo', 200, 20)).toEqual({ 'echo-zone-2': 200 });

    const err = await clients.rpc('remote-only').then(
      (id) => new Error(`answered by ${id}`),
      (e: grpc.ServiceError) => e,
    );
    expect((err as grpc.ServiceError).code, err.message).toBe(grpc.status.UNAVAILABLE);
    expect(ingressConnections, 'connections the client made to the other zone\'s ingress').toBe(0);

    const config = (await call(zones['zone-2']!.url, 'GET', '/meshes/default/dataplanes/client/_config')).body as { proxyType?: string; notes?: string[]; resources: { EDS?: { items: { name: string; resource: { endpoints?: unknown[] } }[] } } };
    expect(config.proxyType).toBe('proxyless');
    expect(config.notes?.[0]).toMatch(/this zone's instances only.*ingress accepts only mesh mTLS.*withheld/);
    const eds = Object.fromEntries((config.resources.EDS?.items ?? []).map((i) => [i.name, i.resource.endpoints ?? []]));
    expect(eds['remote-only']).toEqual([]);
    expect(eds.echo).toHaveLength(1);
  });
});
