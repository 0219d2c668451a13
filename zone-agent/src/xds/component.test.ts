/**
 * `startXds` in process, over a fake store and a hand-rung doorbell: node admission against the store,
 * snapshots rebuilt on the doorbell, unchanged rebuilds sending nothing, port 0 and a taken port.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryLogger as testLogger, type Resource, type ResourceStore, type WakeListener, type Waker } from '@ursa/core';
import { Node } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import { ClusterLoadAssignment } from '@ursa/proto/gen/envoy/config/endpoint/v3/endpoint.js';
import { AggregatedDiscoveryServiceClient, CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, DiscoveryRequest, LISTENER_TYPE_URL, type DiscoveryResponse } from '@ursa/proto/xds';
import type { Stop } from '../component.js';
import { parseZoneConfig } from '../config.js';
import { startXds } from './component.js';

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

const res = (kind: string, mesh: string, name: string, spec: Record<string, unknown>, labels: Record<string, string> = {}): Resource => ({
  kind,
  mesh,
  name,
  labels,
  spec,
  version: 1,
  revision: 1,
  creationTime: new Date(0),
  modificationTime: new Date(0),
});
const dp = (name: string, port: number, service = 'echo') => res('Dataplane', 'default', name, { networking: { address: '10.0.0.1', inbound: [{ port, tags: { 'kuma.io/service': service } }] } });

class FakeStore {
  items: Resource[] = [];
  reads = 0;
  async snapshotPage(_tenant: string, opts: { kinds: readonly string[] }): Promise<{ resources: Resource[] }> {
    this.reads++;
    return { resources: this.items.filter((r) => opts.kinds.includes(r.kind)) };
  }
  async get(_tenant: string, key: { kind: string; mesh?: string; name: string }): Promise<Resource | undefined> {
    return this.items.find((r) => r.kind === key.kind && r.mesh === (key.mesh ?? '') && r.name === key.name);
  }
  async getMany(_tenant: string, kind: string, keys: readonly { mesh: string; name: string }[]): Promise<Map<string, Resource>> {
    const out = new Map<string, Resource>();
    for (const k of keys) {
      const r = this.items.find((x) => x.kind === kind && x.mesh === k.mesh && x.name === k.name);
      if (r) out.set(`${k.mesh}/${k.name}`, r);
    }
    return out;
  }
  /** DataplaneInsight writes (`insight.ts`); their content is tested in test/zone-xds-admission.test.ts. */
  writes = 0;
  async apply(): Promise<unknown[]> {
    this.writes++;
    return [];
  }
}

class FakeWaker implements Waker {
  readonly listeners = new Set<WakeListener>();
  subscribe(_tenant: string, l: WakeListener) {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  ring(kind: string) {
    for (const l of this.listeners) l(kind);
  }
  async close() {}
}

describe('startXds', () => {
  const stops: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const s of stops.splice(0).reverse()) await s();
  });

  const start = async (port: number, store: FakeStore, waker = new FakeWaker(), lines: string[] = []) => {
    // Dataplane tokens need the zone's database (signing keys), which this fake store does not have; these
    // tests are about rebuilding and admission by node id. Tokens: test/zone-xds-admission.test.ts.
    // The dp-server keeps its generated certificate in the data dir.
    const dataDir = mkdtempSync(join(tmpdir(), 'ursa-xds-component-'));
    stops.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const { config } = parseZoneConfig(['--zone', 'z1', '--xds-port', String(port), '--dataplane-auth', 'false', '--data-dir', dataDir], {}) as { config: Parameters<typeof startXds>[0]['config'] };
    const stop: Stop = await startXds({ config, store: store as unknown as ResourceStore, waker, log: testLogger(lines) }, { rebuildDelayMs: 10 });
    stops.push(stop);
    return { waker, lines };
  };

  const stream = (port: number) => {
    const client = new AggregatedDiscoveryServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const call = client.streamAggregatedResources();
    const got: DiscoveryResponse[] = [];
    let error: grpc.ServiceError | undefined;
    call.on('data', (r: DiscoveryResponse) => got.push(r));
    call.on('error', (e: grpc.ServiceError) => (error = e));
    stops.push(() => {
      call.cancel();
      client.close();
    });
    const until = async <T>(f: () => T | undefined, ms = 3000): Promise<T> => {
      const deadline = Date.now() + ms;
      for (;;) {
        const v = f();
        if (v !== undefined) return v;
        if (Date.now() > deadline) throw new Error('timed out');
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    return { call, got, error: () => error, until };
  };

  it('admits registered Dataplanes, serves their mesh, and pushes only real changes', async () => {
    const port = await freePort();
    const store = new FakeStore();
    store.items = [res('Mesh', '', 'default', {}), dp('client', 9000, 'client'), dp('echo-1', 5001)];
    const { waker } = await start(port, store);

    const s = stream(port);
    s.call.write(DiscoveryRequest.fromPartial({ node: Node.fromPartial({ id: 'default.client' }), typeUrl: LISTENER_TYPE_URL, resourceNames: ['echo'] }));
    const lds = await s.until(() => s.got[0]);
    expect(lds.resources).toHaveLength(1);
    s.call.write(DiscoveryRequest.fromPartial({ typeUrl: LISTENER_TYPE_URL, resourceNames: ['echo'], versionInfo: lds.versionInfo, responseNonce: lds.nonce }));
    s.call.write(DiscoveryRequest.fromPartial({ typeUrl: CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, resourceNames: ['echo'] }));
    const eds = await s.until(() => s.got[1]);
    const endpoints = (r: DiscoveryResponse) => ClusterLoadAssignment.decode(r.resources[0]!.value).endpoints.flatMap((l) => l.lbEndpoints).length;
    expect(endpoints(eds)).toBe(1);
    s.call.write(DiscoveryRequest.fromPartial({ typeUrl: CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, resourceNames: ['echo'], versionInfo: eds.versionInfo, responseNonce: eds.nonce }));

    // A doorbell that changes nothing (a policy, the same Dataplane written again): nothing is sent.
    const reads = store.reads;
    waker.ring('MeshTimeout');
    waker.ring('Dataplane');
    await s.until(() => (store.reads > reads ? true : undefined));
    await new Promise((r) => setTimeout(r, 100));
    expect(s.got).toHaveLength(2);
    // Kinds that do not matter do not even rebuild.
    const reads2 = store.reads;
    waker.ring('DataplaneInsight');
    await new Promise((r) => setTimeout(r, 100));
    expect(store.reads).toBe(reads2);

    store.items = [...store.items, dp('echo-2', 5002)];
    waker.ring('Dataplane');
    const eds2 = await s.until(() => s.got[2]);
    expect(eds2.typeUrl).toBe(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL);
    expect(endpoints(eds2)).toBe(2);
  });

  it('a proxy that reconnects before any change gets its configuration again', async () => {
    const port = await freePort();
    const store = new FakeStore();
    store.items = [res('Mesh', '', 'default', {}), dp('client', 9000, 'client'), dp('echo-1', 5001)];
    const { lines } = await start(port, store);
    const ask = (s: ReturnType<typeof stream>) => s.call.write(DiscoveryRequest.fromPartial({ node: Node.fromPartial({ id: 'default.client' }), typeUrl: LISTENER_TYPE_URL, resourceNames: ['echo'] }));

    const first = stream(port);
    ask(first);
    const lds = await first.until(() => first.got[0]);
    first.call.cancel();
    await first.until(() => (lines.some((l) => l.includes('default.client disconnected')) ? true : undefined));

    // Nothing changed in the zone since: no pass ran between the disconnect and this stream.
    const again = stream(port);
    ask(again);
    const lds2 = await again.until(() => again.got[0]);
    expect(lds2.versionInfo).toBe(lds.versionInfo);
    expect(lds2.resources).toHaveLength(1);
  });

  it('ends the stream of a node id without a Dataplane (NOT_FOUND) or a malformed one (INVALID_ARGUMENT)', async () => {
    const port = await freePort();
    const store = new FakeStore();
    store.items = [res('Mesh', '', 'default', {})];
    await start(port, store);
    for (const [id, code, message] of [
      ['default.ghost', grpc.status.NOT_FOUND, /no Dataplane "ghost" in mesh "default" in zone z1; register the Dataplane first/],
      ['ghost', grpc.status.INVALID_ARGUMENT, /is not "<mesh>.<dataplane-name>"/],
      ['', grpc.status.INVALID_ARGUMENT, /must carry node.id/],
    ] as const) {
      const s = stream(port);
      s.call.write(DiscoveryRequest.fromPartial({ node: Node.fromPartial({ id }), typeUrl: LISTENER_TYPE_URL, resourceNames: ['echo'] }));
      const err = await s.until(() => s.error());
      expect(err.code).toBe(code);
      expect(err.details).toMatch(message);
    }
  });

  it('is off with port 0, and a taken port does not take the agent down', async () => {
    const store = new FakeStore();
    const off = await start(0, store);
    expect(off.lines.join('\n')).toMatch(/server off/);
    expect(off.waker.listeners.size).toBe(0);

    const blocker = createServer();
    const port = await new Promise<number>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as { port: number }).port)));
    stops.push(() => new Promise<void>((r) => blocker.close(() => r())));
    const taken = await start(port, store);
    expect(taken.lines.join('\n')).toMatch(/cannot listen on 127\.0\.0\.1:\d+ .*the xDS server is OFF/);
  });
});
