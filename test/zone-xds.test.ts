/**
 * The zone agent's xDS server end to end, against a REAL xDS client: `@grpc/grpc-js-xds` dialing
 * `xds:///echo` through a standalone agent process. Two gRPC echo servers on 127.0.0.1 are registered as
 * Dataplanes of service `echo`; the client (node.id `default.client`, a registered Dataplane too) gets the
 * api_listener Listener, route, cluster and endpoints over ADS and makes real RPCs: both instances get
 * traffic, and deregistering one moves every call to the other within 2 s. A node id no Dataplane has is
 * refused with NOT_FOUND. Dataplane auth is on (the default): the client presents the dataplane token the
 * zone API issued, in its bootstrap's node.metadata["dataplane.token"] (grpc-js-xds cannot set call
 * metadata on its xDS channel). Admission and insights in detail: test/zone-xds-admission.test.ts.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AggregatedDiscoveryServiceClient, LISTENER_TYPE_URL, type DiscoveryResponse } from '@ursa/proto/xds';
import { call } from '@ursa/test-support/api.js';
import { removeDirs } from '@ursa/test-support/cluster.js';
import { echoDataplane, EchoClients, registerXdsClient, startEcho, type EchoServer } from '@ursa/test-support/grpc-echo.js';
import { cleanEnv, freePort, getJson, start, waitFor, type Child } from '@ursa/test-support/process.js';

const TSX = new URL('../node_modules/.bin/tsx', import.meta.url).pathname;
const ZONE = new URL('../zone-agent/bin/zone-agent.js', import.meta.url).pathname;
const ZONE_NAME = 'xds-zone';
describe('zone agent xDS server with a real gRPC xDS client (grpc-js-xds)', () => {
  let agent: Child | undefined;
  let dataDir: string;
  let url: string;
  let xdsPort: number;
  const echoes: EchoServer[] = [];
  const clients = new EchoClients();
  let nobodyToken: string;

  const count = async (n: number): Promise<Record<string, number>> => clients.count('echo', n, 20);

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'ursa-xds-'));
    const apiPort = await freePort();
    xdsPort = await freePort();
    agent = start(process.execPath, [ZONE, '--zone', ZONE_NAME, '--data-dir', dataDir, '--api-port', String(apiPort), '--xds-port', String(xdsPort), '--dns-port', '0'], { env: cleanEnv() });
    url = `http://127.0.0.1:${apiPort}`;
    await waitFor('zone agent GET /ready', () => getJson(`${url}/ready`), 30_000, agent);
    await waitFor('xds server up', async () => (agent!.output().includes('.xds\tADS (') ? true : undefined), 10_000, agent);
    // The zone counts from its first scrape on (prom-client loads with it), as Prometheus would scrape it.
    expect((await fetch(`${url}/metrics`)).status).toBe(200);

    echoes.push(await startEcho('echo-1'), await startEcho('echo-2'));
    expect((await call(url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default' } })).status).toBeLessThan(300);
    for (const e of echoes) expect((await call(url, 'PUT', `/meshes/default/dataplanes/${e.id}`, { body: echoDataplane(e.id, 'echo', e.port) })).status).toBeLessThan(300);
    const clientPort = await freePort();
    expect((await call(url, 'PUT', '/meshes/default/dataplanes/client', { body: echoDataplane('client', 'echo-client', clientPort) })).status).toBeLessThan(300);
    const issued = await call(url, 'POST', '/tokens/dataplane', { body: { mesh: 'default', name: 'client', validFor: '1h' } });
    expect(issued.status).toBe(201);
    const clientToken = issued.body.token as string;
    nobodyToken = (await call(url, 'POST', '/tokens/dataplane', { body: { mesh: 'default', name: 'nobody' } })).body.token as string;

    await registerXdsClient({ xdsPort, nodeId: 'default.client', zone: ZONE_NAME, token: clientToken });
  }, 90_000);

  afterAll(async () => {
    clients.close();
    await agent?.stop();
    await Promise.all(echoes.map((e) => e.close()));
    if (dataDir) await removeDirs([dataDir]);
  });

  it('refuses a node id that is no registered Dataplane, with NOT_FOUND and a message', async () => {
    const ads = new AggregatedDiscoveryServiceClient(`127.0.0.1:${xdsPort}`, grpc.credentials.createInsecure());
    try {
      const err = await new Promise<grpc.ServiceError>((resolve, reject) => {
        const meta = new grpc.Metadata();
        meta.set('authorization', `Bearer ${nobodyToken}`);
        const stream = ads.streamAggregatedResources(meta);
        stream.on('data', (r: DiscoveryResponse) => reject(new Error(`unexpected response ${r.typeUrl}`)));
        stream.on('error', resolve);
        stream.write({ versionInfo: '', node: { id: 'default.nobody', cluster: '', metadata: undefined, dynamicParameters: {}, locality: undefined, userAgentName: 'test', userAgentVersionType: undefined, extensions: [], clientFeatures: [], listeningAddresses: [] }, resourceNames: ['echo'], resourceLocators: [], typeUrl: LISTENER_TYPE_URL, responseNonce: '', errorDetail: undefined });
      });
      expect(err.code).toBe(grpc.status.NOT_FOUND);
      expect(err.details).toMatch(/no Dataplane "nobody" in mesh "default".*register the Dataplane/);
    } finally {
      ads.close();
    }
  });

  it('serves xds:///echo: both instances get traffic, and a deregistered one none within 2 s', async () => {
    const t0 = Date.now();
    clients.client('echo');
    const first = await waitFor('a first RPC through xds:///echo', () => clients.rpc('echo').catch(() => undefined), 15_000, agent);
    console.log(`[zone-xds] first RPC through xds:///echo answered by ${first} after ${Date.now() - t0} ms`);

    // Both endpoints may take a moment to connect; round robin then alternates.
    await waitFor('both instances answering', async () => (Object.keys(await count(40)).length === 2 ? true : undefined), 10_000);
    const spread = await count(1000);
    console.log(`[zone-xds] 1000 calls: ${JSON.stringify(spread)}`);
    expect(spread['echo-1']).toBeGreaterThan(350);
    expect(spread['echo-2']).toBeGreaterThan(350);

    const t1 = Date.now();
    expect((await call(url, 'DELETE', '/meshes/default/dataplanes/echo-2')).status).toBeLessThan(300);
    let movedAfter: number | undefined;
    while (Date.now() - t1 < 5000) {
      const batch = await count(40);
      if (JSON.stringify(Object.keys(batch)) === '["echo-1"]') {
        movedAfter = Date.now() - t1;
        break;
      }
    }
    console.log(`[zone-xds] all calls on echo-1 ${movedAfter} ms after echo-2's DELETE`);
    expect(movedAfter).toBeDefined();
    expect(movedAfter!).toBeLessThan(2000);
    const after = await count(300);
    expect(after).toEqual({ 'echo-1': 300 });
    // The client accepted everything it was sent.
    expect(agent!.output()).not.toMatch(/rejected/);
    expect(agent!.output()).toMatch(/\.xds\tdefault\.client connected \(state of the world/);

    // Kuma's xds_* families on the zone's /metrics moved with it.
    const text = await (await fetch(`${url}/metrics`)).text();
    const sample = (name: string, labels = '') => {
      const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}` : ''}`) && (labels || /^[a-z_]+ /.test(l)));
      return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    expect(sample('xds_streams_active')).toBeGreaterThanOrEqual(1);
    expect(sample('xds_responses_sent', 'type_url="ClusterLoadAssignment"')).toBeGreaterThan(0);
    expect(sample('xds_requests_received', 'confirmation="ACK",type_url="ClusterLoadAssignment"')).toBeGreaterThan(0);
    expect(sample('xds_generation_count', 'result="success"')).toBeGreaterThan(0);
  });
});
