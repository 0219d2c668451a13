/** The bookkeeping component in process, over an in-memory PGlite store and its NOTIFY doorbell. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Database, memoryLogger as testLogger, notifyWaker, type Resource, type ResourceDraft, ResourceStore, type Waker } from '@ursa/core';
import { migrate, openPglite } from '@ursa/core/node';
import type { ZoneConfig } from '../config.js';
import type { Stop } from '../component.js';
import { LOCAL } from '../kds/state.js';
import { startIngressBookkeeping } from './component.js';

const ZONE = { 'kuma.io/origin': 'zone', 'kuma.io/zone': 'zone-1' };
const ingressSpec = (port: number, extra: Record<string, unknown> = {}) => ({ networking: { address: '10.0.0.1', advertisedAddress: '192.0.2.1', port, advertisedPort: port }, ...extra });
const dataplane = (name: string, service: string, inbound: Record<string, unknown> = {}): ResourceDraft => ({
  kind: 'Dataplane',
  mesh: 'default',
  name,
  labels: ZONE,
  spec: { networking: { address: '10.0.0.2', inbound: [{ port: 8080, tags: { 'kuma.io/service': service, 'kuma.io/zone': 'zone-1' }, ...inbound }] } },
});

async function until<T>(what: string, check: () => Promise<T | undefined>, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await check();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A store whose next ZoneIngress update first lets a concurrent writer in (a version conflict). */
class RacyStore extends ResourceStore {
  races = 0;
  override async update(tenant: string, draft: ResourceDraft, opts: { expectedVersion?: number } = {}): Promise<Resource> {
    if (draft.kind === 'ZoneIngress' && this.races > 0) {
      this.races--;
      const cur = (await this.get(tenant, { kind: 'ZoneIngress', name: draft.name }))!;
      await super.update(tenant, { kind: 'ZoneIngress', name: draft.name, labels: { ...cur.labels, touched: String(this.races) }, spec: cur.spec });
    }
    return super.update(tenant, draft, opts);
  }
}

describe('ingress bookkeeping component', () => {
  let database: Database;
  let store: RacyStore;
  let waker: Waker;
  let stop: Stop | undefined;
  const logs: string[] = [];

  beforeAll(async () => {
    database = await openPglite();
    await migrate(database);
    store = new RacyStore(database.db);
    waker = await notifyWaker(database);
    await store.create(LOCAL, { kind: 'Mesh', name: 'default', spec: {} });
  });
  afterEach(async () => {
    await stop?.();
    stop = undefined;
    store.races = 0;
    const { resources } = await store.snapshot(LOCAL, { kinds: ['Dataplane', 'ZoneIngress'] });
    await store.apply(LOCAL, resources.map((r) => ({ op: 'delete' as const, key: r })));
  });
  afterAll(async () => {
    await waker.close();
    await database.close();
  });

  const start = async () => {
    stop = await startIngressBookkeeping({ config: { zone: 'zone-1' } as ZoneConfig, store, waker, log: testLogger(logs) }, { resyncMs: 0 });
  };
  const services = async (name: string) => (await store.get(LOCAL, { kind: 'ZoneIngress', name }))?.spec.availableServices as { instances: number }[] | undefined;
  const countIs = (name: string, n: number) => until(`${name} has ${n}`, async () => ((await services(name))?.reduce((a, s) => a + s.instances, 0) === n ? true : undefined));

  it('fills local ingresses at start, offline ones included, and follows dataplane changes', async () => {
    await store.create(LOCAL, dataplane('b1', 'backend'));
    await store.create(LOCAL, { kind: 'ZoneIngress', name: 'ingress', labels: ZONE, spec: ingressSpec(10001) });
    await store.create(LOCAL, { kind: 'ZoneIngress', name: 'offline', labels: ZONE, spec: ingressSpec(10002, { zone: '' }) });
    await start();
    await countIs('ingress', 1);
    await countIs('offline', 1);
    const ing = (await store.get(LOCAL, { kind: 'ZoneIngress', name: 'ingress' }))!;
    expect(ing.labels).toEqual(ZONE);
    expect(ing.spec.networking).toEqual(ingressSpec(10001).networking);
    expect(ing.spec.availableServices).toEqual([{ mesh: 'default', instances: 1, tags: { 'kuma.io/service': 'backend', 'kuma.io/zone': 'zone-1' } }]);

    const t0 = Date.now();
    await store.create(LOCAL, dataplane('b2', 'backend'));
    await countIs('ingress', 2);
    expect(Date.now() - t0).toBeLessThan(1000);
    await store.update(LOCAL, dataplane('b2', 'backend', { health: { ready: false } }));
    await countIs('ingress', 1);
    await store.delete(LOCAL, { kind: 'Dataplane', mesh: 'default', name: 'b1' });
    await countIs('ingress', 0);
    expect(await services('ingress')).toEqual([]);
  });

  it('a newly registered ingress gets the list; user-sent lists are replaced', async () => {
    await store.create(LOCAL, dataplane('b1', 'backend'));
    await start();
    await store.create(LOCAL, { kind: 'ZoneIngress', name: 'late', labels: ZONE, spec: ingressSpec(10001, { availableServices: [{ mesh: 'default', instances: 7, tags: { 'kuma.io/service': 'bogus' } }] }) });
    await until('late corrected', async () => ((await services('late'))?.length === 1 && (await services('late'))![0]!.instances === 1 ? true : undefined));
  });

  it('never touches ingresses from the global or pinned to another zone', async () => {
    const remoteSpec = ingressSpec(10003, { zone: 'zone-2', availableServices: [{ mesh: 'default', instances: 5, tags: { 'kuma.io/service': 'far', 'kuma.io/zone': 'zone-2' } }] });
    const remote = await store.create(LOCAL, { kind: 'ZoneIngress', name: 'ingress-remote', labels: { 'kuma.io/origin': 'global', 'kuma.io/zone': 'zone-2' }, spec: remoteSpec });
    await store.create(LOCAL, { kind: 'ZoneIngress', name: 'ingress', labels: ZONE, spec: ingressSpec(10001) });
    await store.create(LOCAL, dataplane('b1', 'backend'));
    await start();
    await countIs('ingress', 1);
    await store.create(LOCAL, dataplane('b2', 'backend'));
    await countIs('ingress', 2);
    const after = (await store.get(LOCAL, { kind: 'ZoneIngress', name: 'ingress-remote' }))!;
    expect(after.version).toBe(remote.version);
    expect(after.spec).toEqual(remote.spec);
  });

  it('re-reads and retries on a version conflict, keeping the concurrent writer\'s change', async () => {
    await store.create(LOCAL, { kind: 'ZoneIngress', name: 'ingress', labels: ZONE, spec: ingressSpec(10001) });
    await store.create(LOCAL, dataplane('b1', 'backend'));
    store.races = 2;
    await start();
    await countIs('ingress', 1);
    const ing = (await store.get(LOCAL, { kind: 'ZoneIngress', name: 'ingress' }))!;
    expect(ing.labels.touched).toBe('0');
    expect(store.races).toBe(0);
  });

  it('logs failures and keeps going', async () => {
    await store.create(LOCAL, { kind: 'ZoneIngress', name: 'ingress', labels: ZONE, spec: ingressSpec(10001) });
    store.races = 100; // more conflicts than the retry budget
    stop = await startIngressBookkeeping({ config: { zone: 'zone-1' } as ZoneConfig, store, waker, log: testLogger(logs) }, { resyncMs: 0, retryMs: 50, maxConflicts: 2 });
    await store.create(LOCAL, dataplane('b1', 'backend'));
    await until('a failure logged', async () => (logs.some((l) => l.includes('ingress bookkeeping: pass failed')) ? true : undefined));
    store.races = 0;
    await countIs('ingress', 1);
  });
});
