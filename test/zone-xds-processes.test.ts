/**
 * xDS served by several processes (`--xds-processes 2`), end to end: a real zone agent process, real grpc-js
 * ADS clients over their own HTTP/2 connections (plaintext and TLS), real serving processes.
 *
 * Shown: connections are spread over both serving processes (the sockets on the xDS port, per process, from
 * /proc); every proxy gets its endpoints and a change reaches all of them; ACKs and a NACK land in the
 * DataplaneInsights (the zone API) as with one process; `_config` answers from the main process; a serving
 * process killed with SIGKILL ends exactly its streams, is restarted, and their clients reconnect and get
 * their configuration again while the others keep theirs; kuma-dp's HTTPS bootstrap (piped back to the main
 * process) and ADS over TLS work with the processes on; stopping the agent stops them.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, readlink } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Node } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import { AggregatedDiscoveryServiceClient, CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, CLUSTER_TYPE_URL, DiscoveryRequest, type DiscoveryResponse } from '@ursa/proto/xds';
import { call } from '@ursa/test-support/api.js';
import { removeDirs } from '@ursa/test-support/cluster.js';
import { alive, childrenOf, cleanEnv, freePort, getJson, start, waitFor, type Child } from '@ursa/test-support/process.js';

const ZONE = new URL('../zone-agent/bin/zone-agent.js', import.meta.url).pathname;
const EDS = CLUSTER_LOAD_ASSIGNMENT_TYPE_URL;
const WEBS = ['web-1', 'web-2', 'web-3', 'web-4'];

/** Established TCP connections whose local port is `port` held by process `pid` (its descriptors, matched in /proc/net/tcp). */
async function connectionsOn(pid: number, port: number): Promise<number> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [] as string[])) {
    const m = /^socket:\[(\d+)\]$/.exec(await readlink(`/proc/${pid}/fd/${fd}`).catch(() => ''));
    if (m) inodes.add(m[1]!);
  }
  let n = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of (await readFile(file, 'utf8').catch(() => '')).split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const localPort = parseInt(f[1]!.split(':')[1]!, 16);
      if (localPort === port && f[3] === '01' && inodes.has(f[9]!)) n++;
    }
  }
  return n;
}

const dataplane = (name: string, service: string, address: string, port: number) => ({
  type: 'Dataplane',
  mesh: 'default',
  name,
  networking: { address, inbound: [{ port, tags: { 'kuma.io/service': service } }], outbound: [{ port: 18000, tags: { 'kuma.io/service': 'api' } }] },
});

/** One SotW ADS stream subscribed to every ClusterLoadAssignment, acknowledging (or rejecting) what it gets. */
class Ads {
  readonly got: DiscoveryResponse[] = [];
  error: grpc.ServiceError | undefined;
  /** Reject the next response instead of acknowledging it. */
  rejectNext = false;
  private readonly stream: grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;

  constructor(client: AggregatedDiscoveryServiceClient, id: string, token: string) {
    const meta = new grpc.Metadata();
    meta.set('authorization', `Bearer ${token}`);
    this.stream = client.streamAggregatedResources(meta);
    this.stream.on('data', (r: DiscoveryResponse) => {
      this.got.push(r);
      const errorDetail = this.rejectNext ? { code: 3, message: 'endpoints rejected by test', details: [] } : undefined;
      this.rejectNext = false;
      this.stream.write(DiscoveryRequest.fromPartial({ typeUrl: r.typeUrl, versionInfo: errorDetail ? '' : r.versionInfo, responseNonce: r.nonce, errorDetail }));
    });
    this.stream.on('error', (e: grpc.ServiceError) => (this.error = e));
    this.stream.write(DiscoveryRequest.fromPartial({ node: Node.fromPartial({ id, userAgentName: 'scripted-ads' }), typeUrl: EDS }));
  }

  /** Waits for a response holding `text` (an endpoint address) among its resources' bytes. */
  holding(text: string, ms = 15_000): Promise<DiscoveryResponse> {
    return waitFor(`an EDS response holding ${text}`, async () => {
      if (this.error) throw new Error(`stream ended: ${this.error.code} ${this.error.details}`);
      return this.got.find((r) => r.resources.some((x) => Buffer.from(x.value).includes(Buffer.from(text))));
    }, ms);
  }

  close(): void {
    this.stream.cancel();
  }
}

describe('zone agent xDS over several serving processes (--xds-processes 2, real processes)', () => {
  let agent: Child | undefined;
  let dataDir: string;
  let url: string;
  let xdsPort: number;
  let token: string;
  const clients: AggregatedDiscoveryServiceClient[] = [];
  const streams = new Map<string, Ads>();

  const insight = async (name: string) => {
    const res = await call(url, 'GET', `/meshes/default/dataplane-insights/${name}`);
    return res.status === 200 ? (res.body as { subscriptions: Record<string, any>[] }) : undefined;
  };
  const moveApi = async (address: string) => expect((await call(url, 'PUT', '/meshes/default/dataplanes/api-1', { body: dataplane('api-1', 'api', address, 7100) })).status).toBeLessThan(300);

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'ursa-xds-procs-'));
    const apiPort = await freePort();
    xdsPort = await freePort();
    url = `http://127.0.0.1:${apiPort}`;
    const args = ['--zone', 'procs-zone', '--data-dir', dataDir, '--api-port', String(apiPort), '--xds-port', String(xdsPort), '--dns-port', '0', '--xds-status-flush-ms', '200', '--xds-processes', '2'];
    agent = start(process.execPath, [ZONE, ...args], { env: cleanEnv() });
    await waitFor('zone agent GET /ready', () => getJson(`${url}/ready`), 30_000, agent);
    await waitFor('xds server up', async () => (agent!.output().includes('.xds\tADS (') ? true : undefined), 30_000, agent);
    expect(agent.output()).toMatch(/ADS served by 2 processes/);
    expect((await call(url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default' } })).status).toBeLessThan(300);
    await moveApi('127.0.0.11');
    for (const [k, name] of WEBS.entries()) expect((await call(url, 'PUT', `/meshes/default/dataplanes/${name}`, { body: dataplane(name, 'web', '127.0.0.1', 7001 + k) })).status).toBe(201);
    const issued = await call(url, 'POST', '/tokens/dataplane', { body: { mesh: 'default' }, headers: { accept: '*/*' } });
    expect(issued.status).toBe(200);
    token = issued.body as string;
    // One HTTP/2 connection per client: the agent hands connections, not streams, to its processes.
    for (const _ of WEBS) clients.push(new AggregatedDiscoveryServiceClient(`127.0.0.1:${xdsPort}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));
  }, 90_000);

  afterAll(async () => {
    for (const s of streams.values()) s.close();
    for (const c of clients) c.close();
    await agent?.stop();
    if (dataDir) await removeDirs([dataDir]);
  });

  it('spreads connections over both processes; a change reaches every proxy; ACKs and a NACK reach the insights; _config answers', async () => {
    for (const [k, name] of WEBS.entries()) streams.set(name, new Ads(clients[k]!, `default.${name}`, token));
    for (const s of streams.values()) await s.holding('127.0.0.11');
    const pids = await childrenOf(agent!.proc.pid!);
    expect(pids).toHaveLength(2);
    // Round robin: two connections in each serving process, none left in the main one.
    expect(await Promise.all(pids.map((p) => connectionsOn(p, xdsPort)))).toEqual([2, 2]);
    expect(await connectionsOn(agent!.proc.pid!, xdsPort)).toBe(0);

    streams.get('web-1')!.rejectNext = true;
    await moveApi('127.0.0.12');
    for (const s of streams.values()) await s.holding('127.0.0.12');

    const web2 = await waitFor('web-2 insight with two EDS ACKs', async () => {
      const sub = (await insight('web-2'))?.subscriptions.at(-1);
      return sub?.status?.eds?.responsesAcknowledged === '2' ? sub : undefined;
    }, 10_000, agent);
    expect(web2.status.eds).toEqual({ responsesSent: '2', responsesAcknowledged: '2', responsesRejected: '0' });
    expect(web2.disconnectTime).toBeUndefined();
    const web1 = await waitFor('web-1 insight with its NACK', async () => {
      const sub = (await insight('web-1'))?.subscriptions.at(-1);
      return sub?.status?.eds?.responsesRejected === '1' ? sub : undefined;
    }, 10_000, agent);
    expect(web1.status.eds).toEqual({ responsesSent: '2', responsesAcknowledged: '1', responsesRejected: '1' });
    expect(agent!.output()).toMatch(/default\.web-1 rejected EDS/);

    // The main process's cache holds what the processes sent.
    const cfg = await call(url, 'GET', '/meshes/default/dataplanes/web-3/_config');
    expect(cfg.status).toBe(200);
    expect(cfg.body).toMatchObject({ nodeId: 'default.web-3', connected: true });
    expect(cfg.body.resources.EDS.version).toBe(streams.get('web-3')!.got.at(-1)!.versionInfo);

    // Kuma's xds_streams_active counts the streams of every process.
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^xds_streams_active 4$/m);
  });

  it('a killed serving process ends exactly its streams and is restarted; their clients reconnect and get their configuration', async () => {
    const [victim, survivor] = await childrenOf(agent!.proc.pid!);
    process.kill(victim!, 'SIGKILL');
    await waitFor('the restarted serving process', async () => {
      const now = await childrenOf(agent!.proc.pid!);
      return now.length === 2 && !now.includes(victim!) ? true : undefined;
    }, 15_000, agent);
    expect(alive(survivor!)).toBe(true);
    expect(agent!.output()).toMatch(new RegExp(`xds serving process ${victim} exited \\(SIGKILL\\); its streams were closed`));
    const ended = await waitFor('two streams ended', async () => {
      const e = [...streams].filter(([, s]) => s.error);
      return e.length === 2 ? e : undefined;
    }, 10_000);
    for (const [, s] of ended) expect([grpc.status.UNAVAILABLE, grpc.status.CANCELLED, grpc.status.INTERNAL]).toContain(s.error!.code);
    // Their insights say the streams ended.
    for (const [name] of ended) await waitFor(`${name} offline`, async () => ((await insight(name))?.subscriptions.at(-1)?.disconnectTime ? true : undefined), 10_000, agent);

    // The clients reconnect (Envoy would on its own): each gets its configuration again.
    for (const [name] of ended) {
      const k = WEBS.indexOf(name);
      streams.set(name, new Ads(clients[k]!, `default.${name}`, token));
    }
    for (const [name] of ended) await streams.get(name)!.holding('127.0.0.12');
    // And every stream, old or new, gets the next change.
    await moveApi('127.0.0.13');
    for (const s of streams.values()) await s.holding('127.0.0.13');
    expect([...streams.values()].filter((s) => s.error)).toHaveLength(0);
    for (const [name] of ended) expect((await insight(name))?.subscriptions.at(-1)?.disconnectTime).toBeUndefined();
  });

  it("serves kuma-dp's HTTPS bootstrap and ADS over TLS from the serving processes", async () => {
    const { stdout: ca } = await promisify(execFile)(process.execPath, [ZONE, 'ca-cert', '--data-dir', dataDir]);
    const yaml = `type: Dataplane\nmesh: default\nname: tls-1\nnetworking:\n  address: 127.0.0.1\n  inbound:\n  - port: 17050\n    servicePort: 7050\n    tags:\n      kuma.io/service: tls\n`;
    const body = {
      mesh: 'default',
      name: 'tls-1',
      proxyType: 'dataplane',
      version: { kumaDp: { version: '2.14.3', gitTag: 'v2.14.3', gitCommit: 'x', buildDate: '2026-01-01T00:00:00Z' }, envoy: { version: '1.36.2', build: 'x', kumaDpCompatible: true } },
      dataplaneToken: token,
      dataplaneResource: yaml,
    };
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', servername: 'localhost', port: xdsPort, path: '/bootstrap', method: 'POST', ca, headers: { host: `localhost:${xdsPort}`, 'content-type': 'application/json' } }, (res) => {
        let b = '';
        res.on('data', (c) => (b += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
      });
      req.on('error', reject);
      req.end(JSON.stringify(body));
    });
    expect(answer.status, answer.body).toBe(200);
    const b = parse(answer.body);
    expect(b.node.id).toBe('default.tls-1');

    const tls = new AggregatedDiscoveryServiceClient(`localhost:${xdsPort}`, grpc.credentials.createSsl(Buffer.from(ca)));
    try {
      const meta = new grpc.Metadata();
      meta.set('authorization', b.dynamicResources.adsConfig.grpcServices[0].initialMetadata.find((m: { key: string }) => m.key === 'authorization').value);
      const stream = tls.streamAggregatedResources(meta);
      const cds = await new Promise<DiscoveryResponse>((resolve, reject) => {
        stream.on('data', resolve);
        stream.on('error', reject);
        stream.write(DiscoveryRequest.fromPartial({ node: Node.fromPartial({ id: b.node.id, metadata: b.node.metadata, userAgentName: 'envoy' }), typeUrl: CLUSTER_TYPE_URL }));
      });
      expect(cds.resources.length).toBeGreaterThan(0);
      // Registered on connect, as with one process.
      expect((await call(url, 'GET', '/meshes/default/dataplanes/tls-1')).status).toBe(200);
      stream.cancel();
    } finally {
      tls.close();
    }
  });

  it('stopping the agent stops its serving processes', async () => {
    const pids = await childrenOf(agent!.proc.pid!);
    expect(pids).toHaveLength(2);
    await agent!.stop();
    agent = undefined;
    await waitFor('the serving processes gone', async () => (pids.every((p) => !alive(p)) ? true : undefined), 10_000);
  });
});
