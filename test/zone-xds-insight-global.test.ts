/**
 * A proxy's DataplaneInsight reaches the global: a real global process and a federated zone agent, a
 * Dataplane registered on the zone, an ADS client connected with its dataplane token. The global's
 * dataplane overview (Kuma's, under the zone's hash-suffixed name) shows the proxy Online while its stream
 * is up, and Offline once it closes, each within seconds. The global runs on its embedded PostgreSQL, or on
 * a scratch database of DATABASE_URL's server when that is set.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Node } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import { AggregatedDiscoveryServiceClient, CLUSTER_TYPE_URL, DiscoveryRequest, type DiscoveryResponse } from '@ursa/proto/xds';
import { call } from '@ursa/test-support/api.js';
import { scratchDatabase } from '@ursa/test-support/backends.js';
import { removeDirs, startGlobal, type GlobalProc } from '@ursa/test-support/cluster.js';
import { freePort, getJson, start, waitFor, type Child } from '@ursa/test-support/process.js';

const ZONE = new URL('../zone-agent/bin/zone-agent.js', import.meta.url).pathname;

describe('DataplaneInsight from a zone agent reaches the global (real processes)', () => {
  let global: GlobalProc | undefined;
  let agent: Child | undefined;
  let zoneDir: string;
  let zoneUrl: string;
  let xdsPort: number;
  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    let databaseUrl: string | undefined;
    if (process.env.DATABASE_URL) ({ url: databaseUrl, drop } = await scratchDatabase(process.env.DATABASE_URL, 'ursa_xds_ins'));
    global = await startGlobal({ databaseUrl });
    expect((await call(global.url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default' } })).status).toBeLessThan(300);
    const zoneToken = await call(global.url, 'POST', '/tokens/zone', { body: { zone: 'ins-zone' } });
    expect(zoneToken.status).toBe(201);
    zoneDir = await mkdtemp(join(tmpdir(), 'ursa-ins-zone-'));
    await writeFile(join(zoneDir, 'token'), zoneToken.body.token);
    const apiPort = await freePort();
    xdsPort = await freePort();
    zoneUrl = `http://127.0.0.1:${apiPort}`;
    const env = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith('URSA_') || k === 'DATABASE_URL') delete env[k];
    const args = ['--zone', 'ins-zone', '--global-url', global.url, '--token-file', join(zoneDir, 'token'), '--data-dir', join(zoneDir, 'data'), '--api-port', String(apiPort), '--dns-port', '0', '--xds-port', String(xdsPort), '--reconnect-max-ms', '1000'];
    agent = start(process.execPath, [ZONE, ...args], { env });
    await waitFor('zone agent connected to the global', async () => ((await getJson(`${zoneUrl}/ready`)) as { kds?: { connected?: boolean } } | undefined)?.kds?.connected || undefined, 60_000, agent);
    // The mesh arrives from the global.
    await waitFor('mesh default on the zone', async () => ((await call(zoneUrl, 'GET', '/meshes/default')).status === 200 ? true : undefined), 15_000, agent);
  }, 120_000);

  afterAll(async () => {
    await agent?.stop();
    await global?.stop();
    await drop?.();
    await removeDirs([zoneDir, global?.dataDir ?? ''].filter(Boolean));
  });

  it('shows the proxy Online on the global while its stream is up, Offline after', async () => {
    const dp = { type: 'Dataplane', mesh: 'default', name: 'web-1', networking: { address: '127.0.0.1', inbound: [{ port: 7100, tags: { 'kuma.io/service': 'web' } }] } };
    expect((await call(zoneUrl, 'PUT', '/meshes/default/dataplanes/web-1', { body: dp })).status).toBe(201);
    const token = (await call(zoneUrl, 'POST', '/tokens/dataplane', { body: { mesh: 'default', name: 'web-1' } })).body.token as string;

    const client = new AggregatedDiscoveryServiceClient(`127.0.0.1:${xdsPort}`, grpc.credentials.createInsecure());
    const meta = new grpc.Metadata();
    meta.set('authorization', `Bearer ${token}`);
    const stream = client.streamAggregatedResources(meta);
    const got: DiscoveryResponse[] = [];
    stream.on('data', (r: DiscoveryResponse) => got.push(r));
    stream.on('error', () => {});
    stream.write(DiscoveryRequest.fromPartial({ node: Node.fromPartial({ id: 'default.web-1', userAgentName: 'scripted-ads' }), typeUrl: CLUSTER_TYPE_URL }));
    await waitFor('a CDS response', async () => got[0], 10_000, agent);

    /** The global's overview of the zone's web-1 (stored under a hash-suffixed name, Kuma's display name label). */
    const onGlobal = async () => {
      const res = await call(global!.url, 'GET', '/meshes/default/dataplanes/_overview');
      return (res.body?.items ?? []).find((i: { labels?: Record<string, string> }) => i.labels?.['kuma.io/display-name'] === 'web-1') as
        | { labels: Record<string, string>; dataplaneInsight: { subscriptions?: { connectTime?: string; disconnectTime?: string; controlPlaneInstanceId?: string }[] } }
        | undefined;
    };
    const online = await waitFor('web-1 Online on the global', async () => {
      const o = await onGlobal();
      return o?.dataplaneInsight.subscriptions?.some((s) => s.connectTime && !s.disconnectTime) ? o : undefined;
    }, 15_000, agent);
    expect(online.labels['kuma.io/zone']).toBe('ins-zone');

    stream.cancel();
    client.close();
    await waitFor('web-1 Offline on the global', async () => {
      const subs = (await onGlobal())?.dataplaneInsight.subscriptions ?? [];
      return subs.length > 0 && subs.every((s) => s.disconnectTime) ? true : undefined;
    }, 15_000, agent);
  }, 60_000);
});
