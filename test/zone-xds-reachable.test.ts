/**
 * `reachableServices` end to end (issue 15, `zone-agent/src/xds/generate/visit-plan.ts`): a real zone agent,
 * real delta ADS streams. An endpoint change reaches the proxies that can reach the service and sends
 * nothing to one that cannot; editing a proxy's `reachableServices` and adding a policy still reach it.
 */
import { Resolver } from 'node:dns/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Node } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import { ClusterLoadAssignment } from '@ursa/proto/gen/envoy/config/endpoint/v3/endpoint.js';
import { AggregatedDiscoveryServiceClient, CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS, CLUSTER_TYPE_URL as CDS, LISTENER_TYPE_URL as LDS } from '@ursa/proto/xds';
import { DeltaClient } from '@ursa/test-support/delta-ads.js';
import { call } from '@ursa/test-support/api.js';
import { removeDirs } from '@ursa/test-support/cluster.js';
import { cleanEnv, freePort, getJson, start, waitFor, type Child } from '@ursa/test-support/process.js';

const ZONE_BIN = new URL('../zone-agent/bin/zone-agent.js', import.meta.url).pathname;
const dataplane = (name: string, address: string, service: string, reach: string[]) => ({
  type: 'Dataplane',
  mesh: 'default',
  name,
  networking: {
    address,
    inbound: [{ port: 8080, tags: { 'kuma.io/service': service, 'kuma.io/protocol': 'http' } }],
    transparentProxying: { redirectPortInbound: 15006, redirectPortOutbound: 15001, reachableServices: reach },
  },
});

describe('zone agent xDS: reachable services', () => {
  let agent: Child | undefined;
  let dataDir: string;
  let url: string;
  let ads: AggregatedDiscoveryServiceClient;
  let dnsPort: number;
  const clients: DeltaClient[] = [];
  const until = <T>(what: string, f: () => T | undefined, ms = 15_000) => waitFor(what, async () => f(), ms, agent);
  const put = async (body: Record<string, unknown>) => expect((await call(url, 'PUT', `/meshes/default/dataplanes/${body.name}`, { body })).status).toBeLessThan(300);
  const connect = async (name: string) => {
    const r = await call(url, 'POST', '/tokens/dataplane', { body: { validFor: '1h', mesh: 'default', name } });
    expect(r.status).toBe(201);
    const c = new DeltaClient(ads, Node.fromPartial({ id: `default.${name}`, userAgentName: 'envoy' }), r.body.token as string);
    clients.push(c);
    for (const t of [CDS, EDS, LDS]) c.subscribe(t);
    return c;
  };
  const addresses = (c: DeltaClient, service: string) =>
    ClusterLoadAssignment.decode(c.get(EDS).get(service)?.value ?? Buffer.alloc(0)).endpoints.flatMap((l) => l.lbEndpoints.map((e) => (e.hostIdentifier?.$case === 'endpoint' ? e.hostIdentifier.value.address?.address?.$case === 'socketAddress' ? e.hostIdentifier.value.address.address.value.address : undefined : undefined)));

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'ursa-xds-reachable-'));
    const apiPort = await freePort();
    const xdsPort = await freePort();
    dnsPort = await freePort();
    agent = start(process.execPath, [ZONE_BIN, '--zone', 'reach-zone', '--data-dir', dataDir, '--api-port', String(apiPort), '--xds-port', String(xdsPort), '--dns-port', String(dnsPort), '--dns-upstream', '127.0.0.1:9'], { env: cleanEnv() });
    url = `http://127.0.0.1:${apiPort}`;
    await waitFor('zone agent GET /ready', () => getJson(`${url}/ready`), 30_000, agent);
    await waitFor('xds server up', async () => (agent!.output().includes('.xds\tADS (') ? true : undefined), 10_000, agent);
    expect((await call(url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default' } })).status).toBe(201);
    await put(dataplane('web-1', '127.0.0.11', 'web', ['api']));
    await put(dataplane('db-1', '127.0.0.12', 'db', ['cache']));
    await put(dataplane('api-1', '127.0.0.21', 'api', []));
    await put(dataplane('cache-1', '127.0.0.31', 'cache', []));
    ads = new AggregatedDiscoveryServiceClient(`127.0.0.1:${xdsPort}`, grpc.credentials.createInsecure());
  }, 90_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    ads?.close();
    await agent?.stop();
    if (dataDir) await removeDirs([dataDir]);
  });

  it('sends an endpoint change to the proxies reaching the service only; a list edit and a policy reach their proxies', async () => {
    const web = await connect('web-1');
    const db = await connect('db-1');
    await until('web-1 has api endpoints', () => (addresses(web, 'api').includes('127.0.0.21') ? true : undefined));
    await until('db-1 has cache endpoints', () => (addresses(db, 'cache').includes('127.0.0.31') ? true : undefined));
    expect(db.get(CDS).has('api')).toBe(false);
    // Settle first: VIPs are allocated after the Dataplanes are written, and a proxy's listeners (its VIP
    // outbounds, the `_kuma:dynamicconfig` DNS table) change once they are. Cache was written last, so a
    // VIP table holding cache's holds all four; wait until DNS answers it and db-1 has its VIP outbound.
    const resolver = new Resolver();
    resolver.setServers([`127.0.0.1:${dnsPort}`]);
    const cacheVip = await waitFor('cache.mesh has a VIP', async () => (await resolver.resolve4('cache.mesh').catch(() => []))[0], 15_000, agent);
    await until('db-1 has its outbound on cache\'s VIP', () => (db.get(LDS).has(`outbound:${cacheVip}:8080`) ? true : undefined));

    // api-1 moves: web-1 (reaching api) gets it; db-1 (not reaching api) gets nothing at all.
    const dbBefore = db.responses;
    await put(dataplane('api-1', '127.0.0.22', 'api', []));
    await until('web-1 sees api-1 move', () => (addresses(web, 'api').includes('127.0.0.22') ? true : undefined));
    // Absence can only be shown by waiting: a pass is over well within 1 s once web-1 has its update.
    await new Promise((r) => setTimeout(r, 1000));
    expect(db.log.slice(dbBefore)).toEqual([]);

    // db-1 now also lists api: it gets api's cluster and endpoints.
    await put(dataplane('db-1', '127.0.0.12', 'db', ['cache', 'api']));
    await until('db-1 has api endpoints', () => (addresses(db, 'api').includes('127.0.0.22') ? true : undefined));

    // A policy for the whole mesh reaches both proxies.
    const webCds = web.get(CDS).get('api')!.version;
    const dbCds = db.get(CDS).get('api')!.version;
    const policy = await call(url, 'PUT', '/meshes/default/meshtimeouts/slow', {
      body: { type: 'MeshTimeout', mesh: 'default', name: 'slow', spec: { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { connectionTimeout: '7s' } }] } },
    });
    expect(policy.status).toBeLessThan(300);
    await until('both proxies get the timeout', () => (web.get(CDS).get('api')!.version !== webCds && db.get(CDS).get('api')!.version !== dbCds ? true : undefined));
  }, 60_000);
});
