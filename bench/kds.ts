/**
 * KDS benchmark: (a) propagation of a policy PUT to 10 and 100 connected zones (p50/p99), beside the
 * PostgreSQL NOTIFY round trip on the same machine as the floor; (b) fan-out of one change to 1,000 zones
 * on one global process, and the global's RSS per connected zone; (c) bytes a zone receives when it resumes
 * after 5 changes among 10,000 resources, against the size of those 5 changes.
 *
 * The global runs as its own process on a fresh PostgreSQL database (DATABASE_URL, default
 * postgres://postgres@127.0.0.1:5432/test); zones are real KDS clients over WebSocket in this process,
 * with in-memory state (the zone agent's store is not what is measured here).
 * Run: `npx tsx bench/kds.ts`
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import postgres from 'postgres';
import { Resource } from '@ursa/proto/gen/kds.js';
import { openPostgres, ResourceStore, toWire, type WriteOp } from '@ursa/core';
import { migrate } from '@ursa/core/node';
import { scratchDatabase } from '@ursa/test-support/backends.js';
import { freePort } from '@ursa/test-support/process.js';
import { timeDelivery } from './support/delivery.js';
import { MemoryState, memoryZone } from './support/memory-zone.js';
import { ms, pct } from './support/stats.js';
import { waitFor } from './support/wait.js';

const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ROUNDS = 20;

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const policy = (name: string, timeout: string) => ({
  type: 'MeshTimeout',
  mesh: 'default',
  name,
  spec: { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { http: { requestTimeout: timeout } } }] },
});

async function put(base: string, path: string, body: unknown): Promise<void> {
  const res = await fetch(`${base}${path}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status >= 300) throw new Error(`PUT ${path}: ${res.status} ${await res.text()}`);
}

async function notifyFloor(url: string): Promise<number[]> {
  const listener = postgres(url, { max: 1, onnotice: () => {} });
  const sender = postgres(url, { max: 1, onnotice: () => {} });
  const pending = new Map<string, number>();
  const out: number[] = [];
  await listener.listen('bench_floor', (p) => {
    const t = pending.get(p);
    if (t !== undefined) out.push(performance.now() - t);
  });
  for (let i = 0; i < 200; i++) {
    const id = String(i);
    pending.set(id, performance.now());
    await sender`select pg_notify('bench_floor', ${id})`;
    await waitFor('notify', () => out.length > i, 2000);
  }
  await listener.end();
  await sender.end();
  return out;
}

async function main() {
  // A fresh database, migrated, and the global as its own process on it.
  const scratch = await scratchDatabase(ADMIN_URL, 'ursa_bench_kds');
  const dbUrl = new URL(scratch.url);
  const db = openPostgres(scratch.url, { max: 4 });
  await migrate(db);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = { ...process.env, DATABASE_URL: dbUrl.toString(), URSA_PORT: String(port) };
  const global = spawn(process.execPath, ['--import', 'tsx', new URL('../global-api/src/node.ts', import.meta.url).pathname], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const zones: ReturnType<typeof memoryZone>[] = [];
  try {
    await waitFor('global', async () => (await fetch(`${base}/`).catch(() => undefined))?.ok === true, 20_000);
    await put(base, '/meshes/default', { type: 'Mesh', name: 'default' });
    const token = async (zone: string) => {
      const res = await fetch(`${base}/tokens/zone`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ zone, validFor: 3600 }) });
      return ((await res.json()) as { token: string }).token;
    };

    const floor = await notifyFloor(dbUrl.toString());
    console.log(`NOTIFY round trip (floor): p50 ${ms(pct(floor, 50))}, p99 ${ms(pct(floor, 99))}`);

    // Connect zones in batches until `n` are synced.
    const connect = async (n: number) => {
      while (zones.length < n) {
        const batch = Array.from({ length: Math.min(50, n - zones.length) }, (_, i) => `zone-${zones.length + i}`);
        const made = await Promise.all(batch.map(async (name) => memoryZone({ name, globalUrl: base, token: await token(name), transport: 'ws' })));
        for (const z of made) z.client.start();
        zones.push(...made);
        await waitFor(`${zones.length} zones synced`, () => zones.every((z) => z.state.resources.has('Mesh//default')), 120_000);
      }
    };

    const propagation = async (n: number, tag: string) => {
      await connect(n);
      const active = zones.slice(0, n);
      const lat: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const name = `prop-${tag}-${round}`;
        lat.push(...(await timeDelivery(active, name, () => put(base, `/meshes/default/meshtimeouts/${name}`, policy(name, '5s')), `round ${round} in ${n} zones`)));
      }
      for (const z of active) z.state.onApplied = undefined;
      return lat;
    };

    const p10 = await propagation(10, '10');
    console.log(`propagation to 10 zones:  p50 ${ms(pct(p10, 50))}, p99 ${ms(pct(p10, 99))} (${p10.length} deliveries)`);
    const p100 = await propagation(100, '100');
    console.log(`propagation to 100 zones: p50 ${ms(pct(p100, 50))}, p99 ${ms(pct(p100, 99))} (${p100.length} deliveries)`);

    // (b) fan-out to 1,000 zones, and the global's memory per connected zone.
    const rssBefore = rssMb(global.pid!);
    const zonesBefore = zones.length;
    const connectStart = performance.now();
    await connect(1000);
    console.log(`connected and synced ${zones.length - zonesBefore} more zones in ${ms(performance.now() - connectStart)}`);
    await new Promise((r) => setTimeout(r, 1000)); // let the global settle before reading RSS
    const rssAfter = rssMb(global.pid!);
    const perZoneKb = ((rssAfter - rssBefore) * 1024) / (zones.length - zonesBefore);
    const name = 'fanout';
    let done = 0;
    for (const z of zones) {
      z.state.onApplied = (names) => {
        if (names.includes(name)) done++;
      };
    }
    const t0 = performance.now();
    await put(base, `/meshes/default/meshtimeouts/${name}`, policy(name, '5s'));
    await waitFor('fan-out to 1000 zones', () => done === zones.length, 120_000);
    const fanout = performance.now() - t0;
    console.log(`fan-out of one change to ${zones.length} zones: ${ms(fanout)}; global RSS ${rssBefore.toFixed(0)} MB -> ${rssAfter.toFixed(0)} MB, ${perZoneKb.toFixed(0)} KB per connected zone`);
    await Promise.all(zones.map((z) => z.client.stop()));
    zones.length = 0;

    // (c) resume after 5 changes among 10,000 resources.
    const store = new ResourceStore(db.db);
    for (let b = 0; b < 10; b++) {
      const ops: WriteOp[] = Array.from({ length: 1000 }, (_, i) => ({ op: 'create', resource: { kind: 'MeshTimeout', mesh: 'default', name: `bulk-${b}-${i}`, spec: policy('x', '5s').spec } }));
      await store.apply('default', ops);
    }
    const state = new MemoryState();
    const tok = await token('resumer');
    let zone = memoryZone({ name: 'resumer', globalUrl: base, token: tok, transport: 'ws', state });
    zone.client.start();
    await waitFor('initial sync of 10k', () => state.resources.size >= 10_000, 120_000);
    const initialBytes = zone.client.status.bytesIn;
    await zone.client.stop();
    const changed = [policy('bulk-0-1', '6s'), policy('bulk-1-1', '7s'), policy('bulk-2-1', '8s'), policy('new-one', '9s')];
    for (const p of changed) await put(base, `/meshes/default/meshtimeouts/${p.name}`, p);
    await fetch(`${base}/meshes/default/meshtimeouts/bulk-3-1`, { method: 'DELETE' });
    const target = await store.currentRevision('default');
    const changeBytes =
      changed.reduce((n, p) => n + Resource.encode(toWire({ kind: 'MeshTimeout', mesh: 'default', name: p.name, labels: { 'kuma.io/origin': 'global' }, spec: p.spec })).finish().byteLength, 0) +
      Resource.encode({ key: { kind: 'MeshTimeout', mesh: 'default', name: 'bulk-3-1' }, labels: {}, specJson: Buffer.alloc(0) }).finish().byteLength;
    zone = memoryZone({ name: 'resumer', globalUrl: base, token: tok, transport: 'ws', state });
    zone.client.start();
    await waitFor('resume', () => state.revision >= target && !state.resources.has('MeshTimeout/default/bulk-3-1'), 30_000);
    const resumeBytes = zone.client.status.bytesIn;
    await zone.client.stop();
    console.log(`resume after 5 changes among 10,000: ${resumeBytes} bytes received (5 changes encode to ${changeBytes} bytes; ratio ${(resumeBytes / changeBytes).toFixed(2)}; the initial full sync was ${initialBytes} bytes)`);

    console.log(
      `kds: propagation p99 ${ms(pct(p10, 99))} (10 zones), ${ms(pct(p100, 99))} (100 zones), NOTIFY floor p99 ${ms(pct(floor, 99))} | fan-out to 1000 zones ${ms(fanout)}, ${perZoneKb.toFixed(0)} KB RSS/zone | resume ${resumeBytes} B for ${changeBytes} B of changes (x${(resumeBytes / changeBytes).toFixed(2)})`,
    );
  } finally {
    await Promise.all(zones.map((z) => z.client.stop()));
    global.kill('SIGTERM');
    await new Promise((r) => global.once('exit', r));
    await db.close();
    await scratch.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
