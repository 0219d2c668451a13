/**
 * Policies through the zone agent's xDS, end to end, against REAL gRPC xDS clients (`@grpc/grpc-js-xds`):
 * a global and two zone agents (real processes, KDS in between); policies are written on the global and
 * reach zone-1 over KDS like any Kuma policy; the client in zone-1 dials `xds:///<service>` and makes real
 * RPCs, and each gRPC server answers with its own id, so the client sees where its calls went.
 *
 * - `echo` has 1 instance in zone-1 and 2 in zone-2 behind zone-2's ingress: a proxyless client is never handed
 *   that ingress (it accepts only mTLS routed by SNI), so every call stays in zone-1, with or without a
 *   locality-aware MeshLoadBalancingStrategy, and fails with UNAVAILABLE once zone-1 has no instance. How
 *   sidecars spread over zones by instances and fail over by locality: the goldens in
 *   zone-agent/src/xds/testdata/golden and the locality tests in zone-agent/src/xds/generator.test.ts;
 * - MeshHTTPRoute: an 80/20 split between two backend services, within ±5 points over 2,500 calls.
 *
 * Zone-2's ingress is a ZoneIngress resource registered in zone-2 (it reaches zone-1 through the global
 * exactly as a real one does) whose advertised address is a plain gRPC server answering `zone-2`: were it
 * handed to the client, calls would reach it and say so.
 * MeshTrafficPermission enforcement by a real gRPC server: zone-agent/src/xds/policy/rbac-grpc.test.ts.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '@ursa/test-support/api.js';
import { removeDirs, startGlobal, startZoneAgent, type GlobalProc, type ZoneProc } from '@ursa/test-support/cluster.js';
import { echoDataplane, EchoClients, registerXdsClient, startEcho, type EchoServer } from '@ursa/test-support/grpc-echo.js';
import { cleanEnv, freePort, getJson, start, waitFor, type Child } from '@ursa/test-support/process.js';
import { eventually } from '@ursa/test-support/zone.js';

const ZONE_BIN = new URL('../zone-agent/bin/zone-agent.js', import.meta.url).pathname;
const meshPolicy = (type: string, name: string, spec: Record<string, unknown>) => ({ type, mesh: 'default', name, spec });

describe('policies through xDS with real gRPC xDS clients, global + 2 zones', () => {
  let global: GlobalProc;
  let zone2: ZoneProc;
  let zone1: Child;
  let zone1Url: string;
  let zone1Dir: string;
  const echoes = new Map<string, EchoServer>();
  const clients = new EchoClients();
  const count = (service: string, n: number, parallel = 25): Promise<Record<string, number>> => clients.count(service, n, parallel);
  const onGlobal = async (method: string, path: string, body?: unknown) => {
    const res = await call(global.url, method, path, body === undefined ? {} : { body });
    expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
  };

  beforeAll(async () => {
    global = await startGlobal();
    await onGlobal('PUT', '/meshes/default', { type: 'Mesh', name: 'default' });
    const token = async (zone: string) => (await call(global.url, 'POST', '/tokens/zone', { body: { zone, validFor: 3600 } })).body.token as string;

    // zone-1 runs with its xDS server on (the shared helper starts agents with xDS off).
    zone1Dir = await mkdtemp(join(tmpdir(), 'ursa-zone-1-'));
    const tokenFile = join(zone1Dir, 'token');
    await writeFile(tokenFile, await token('zone-1'));
    const apiPort = await freePort();
    const xdsPort = await freePort();
    zone1 = start(process.execPath, [ZONE_BIN, '--zone', 'zone-1', '--global-url', global.url, '--token-file', tokenFile, '--data-dir', zone1Dir, '--api-port', String(apiPort), '--xds-port', String(xdsPort), '--dns-port', '0', '--transport', 'ws', '--reconnect-max-ms', '1000'], { env: cleanEnv() });
    zone1Url = `http://127.0.0.1:${apiPort}`;
    await waitFor('zone-1 GET /ready', () => getJson(`${zone1Url}/ready`), 60_000, zone1);
    zone2 = await startZoneAgent({ name: 'zone-2', globalUrl: global.url, token: await token('zone-2'), transport: 'poll' });
    for (const [name, url] of [['zone-1', zone1Url], ['zone-2', zone2.url]] as const) {
      await eventually(`${name} has mesh default`, async () => (await call(url, 'GET', '/meshes/default')).status === 200, 30_000);
    }

    for (const id of ['zone-1', 'zone-2', 'split', 'split-v1', 'split-v2']) echoes.set(id, await startEcho(id));
    // zone-2: two instances of echo behind its ingress (never dialed: the ingress stand-in answers for them).
    for (const name of ['echo-a', 'echo-b']) expect((await call(zone2.url, 'PUT', `/meshes/default/dataplanes/${name}`, { body: echoDataplane(name, 'echo', 9000) })).status).toBe(201);
    const ingressPort = echoes.get('zone-2')!.port;
    const ingress = { type: 'ZoneIngress', name: 'ingress', networking: { address: '127.0.0.1', port: ingressPort, advertisedAddress: '127.0.0.1', advertisedPort: ingressPort } };
    expect((await call(zone2.url, 'PUT', '/zoneingresses/ingress', { body: ingress })).status).toBe(201);
    // zone-1: one local echo, the split services, and the client itself.
    const put1 = async (name: string, service: string, port: number) => expect((await call(zone1Url, 'PUT', `/meshes/default/dataplanes/${name}`, { body: echoDataplane(name, service, port) })).status).toBe(201);
    await put1('echo-1', 'echo', echoes.get('zone-1')!.port);
    for (const s of ['split', 'split-v1', 'split-v2']) await put1(s, s, echoes.get(s)!.port);
    await put1('client', 'client', await freePort());
    const issued = await call(zone1Url, 'POST', '/tokens/dataplane', { body: { mesh: 'default', name: 'client', validFor: '1h' } });
    expect(issued.status).toBe(201);
    await eventually(
      "zone-2's ingress (2 echo instances) in zone-1",
      async () => {
        const items = (await call(zone1Url, 'GET', '/zoneingresses')).body.items as { labels?: Record<string, string>; availableServices?: { instances?: number; tags: Record<string, string> }[] }[];
        return items.some((i) => i.labels?.['kuma.io/zone'] === 'zone-2' && i.availableServices?.some((a) => a.tags['kuma.io/service'] === 'echo' && a.instances === 2));
      },
      30_000,
    );

    await registerXdsClient({ xdsPort, nodeId: 'default.client', zone: 'zone-1', token: issued.body.token as string });
  }, 180_000);

  afterAll(async () => {
    clients.close();
    await zone1?.stop();
    await zone2?.stop();
    await global?.stop();
    await Promise.all([...echoes.values()].map((e) => e.close()));
    await removeDirs([global?.dataDir, zone2?.dataDir, zone1Dir].filter(Boolean) as string[]);
  });

  it('keeps every call in zone-1 (zone-2\'s ingress is withheld from a proxyless client), and a MeshLoadBalancingStrategy is matched', async () => {
    // zone-1 knows zone-2's ingress reaches echo, but its listener takes only mTLS routed by SNI: a gRPC client is
    // not handed it (README "What proxies get"), with or without a locality policy.
    await waitFor('echo answering', async () => (Object.keys(await count('echo', 20)).length > 0 ? true : undefined), 20_000, zone1);
    expect(await count('echo', 600)).toEqual({ 'zone-1': 600 });
    await onGlobal(
      'PUT',
      '/meshes/default/meshloadbalancingstrategies/local-first',
      meshPolicy('MeshLoadBalancingStrategy', 'local-first', { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'MeshService', name: 'echo' }, default: { localityAwareness: { disabled: false } } }] }),
    );
    await eventually('the policy in zone-1', async () => (await call(zone1Url, 'GET', '/meshes/default/meshloadbalancingstrategies/local-first')).status === 200, 20_000);
    expect(await count('echo', 300)).toEqual({ 'zone-1': 300 });
    // Without a local instance there is no endpoint at all: calls fail at once instead of dialing the ingress.
    expect((await call(zone1Url, 'DELETE', '/meshes/default/dataplanes/echo-1')).status).toBeLessThan(300);
    const failed = await waitFor('calls to echo failing', async () => (await clients.rpc('echo').then(() => undefined, (e: { code?: number }) => e)) ?? undefined, 10_000, zone1);
    expect(failed.code).toBe(14); // UNAVAILABLE
  });

  it('honours a MeshHTTPRoute 80/20 split within ±5 points over 2,500 calls', async () => {
    expect(Object.keys(await count('split', 20))).toEqual(['split']);
    await onGlobal(
      'PUT',
      '/meshes/default/meshhttproutes/split-80-20',
      meshPolicy('MeshHTTPRoute', 'split-80-20', {
        targetRef: { kind: 'Mesh' },
        to: [
          {
            targetRef: { kind: 'MeshService', name: 'split' },
            rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], default: { backendRefs: [{ kind: 'MeshService', name: 'split-v1', weight: 80 }, { kind: 'MeshService', name: 'split-v2', weight: 20 }] } }],
          },
        ],
      }),
    );
    await waitFor('the split in effect', async () => {
      const seen = await count('split', 50);
      return seen.split === undefined && seen['split-v1'] !== undefined && seen['split-v2'] !== undefined ? true : undefined;
    }, 20_000, zone1);
    const n = 2500;
    const spread = await count('split', n);
    const v1 = (spread['split-v1'] ?? 0) / n;
    console.log(`[zone-xds-policies] ${n} calls to split: ${JSON.stringify(spread)} (split-v1 share ${v1.toFixed(3)}, expected 0.8)`);
    expect(Object.keys(spread).sort()).toEqual(['split-v1', 'split-v2']);
    expect(Math.abs(v1 - 0.8)).toBeLessThan(0.05);
    // The client accepted everything it was sent.
    expect(zone1.output()).not.toMatch(/rejected|NACK/);
  });

  it('shows which policies matched the client on the zone API (_policies)', async () => {
    const res = await call(zone1Url, 'GET', '/meshes/default/dataplanes/client/_policies');
    expect(res.status).toBe(200);
    const body = res.body as { policies: { kind: string; name: string; origin: string }[]; outbounds: { service: string; policies: Record<string, { matched: { name: string }[]; conf: unknown }> }[] };
    expect(body.policies).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'MeshHTTPRoute', name: 'split-80-20', origin: 'global' }),
        expect.objectContaining({ kind: 'MeshLoadBalancingStrategy', name: 'local-first', origin: 'global' }),
      ]),
    );
    const split = body.outbounds.find((o) => o.service === 'split');
    expect(split?.policies.MeshHTTPRoute?.matched.map((p) => p.name)).toEqual(['split-80-20']);
    const echo = body.outbounds.find((o) => o.service === 'echo');
    expect(echo?.policies.MeshLoadBalancingStrategy?.conf).toEqual({ localityAwareness: { disabled: false } });
  });
});
