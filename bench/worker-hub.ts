/**
 * The Workers KDS hub's limit: how many zones of one tenant one hub (Durable Object) carries, measured the way
 * bench/kds-fanout.ts measures the Node global. The Worker runs in `wrangler dev` (workerd, PostgreSQL 15 through
 * the local Hyperdrive binding); zones are real KDS clients over WebSocket with in-memory state, spread over
 * client processes (bench/support/kds-zone-proc.ts). Zones are added in steps (`--zones 100,300,1000`); at each
 * step: one policy change to all of them (per-zone latency p50/p99 over `--rounds` changes, from just before the
 * PUT to the zone applying it) and workerd's RSS per connected zone.
 *
 * Locally every Durable Object of the Worker shares workerd's one thread, so this measures one hub's cost per
 * zone (CPU per change, memory); the hosted limits a hub must also respect are documented ones (about 1,000
 * messages a second per object, 32,768 WebSockets, 128 MB per isolate), and the last line turns both into the
 * zones one hub carries and the shards (`KDS_HUB_SHARDS`) 10,000 zones need.
 *
 * Run: `npx tsx bench/worker-hub.ts [--zones 100,300,1000] [--rounds 5] [--procs 2] [--shards 1]`
 * (PostgreSQL from DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test).
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { createStores, openPostgres, TokenStore } from '@ursa/core';
import { migrate } from '@ursa/core/node';
import { scratchDatabase } from '@ursa/test-support/backends.js';
import { freePort, stopGroup } from '@ursa/test-support/process.js';
import { ms, pct } from './support/stats.js';
import { timeChange } from './support/zone-procs.js';
import { waitFor } from './support/wait.js';

const { values: args } = parseArgs({
  options: { zones: { type: 'string', default: '100,300,1000' }, rounds: { type: 'string', default: '5' }, procs: { type: 'string', default: '2' }, shards: { type: 'string', default: '1' } },
});
const STEPS = args.zones.split(',').map(Number);
const ROUNDS = Number(args.rounds);
const PROCS = Number(args.procs);
const SHARDS = Number(args.shards);
const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ROOT = new URL('../', import.meta.url).pathname;
const TENANT = 'bench';
const HEARTBEAT_MS = 5000;
/** Documented Durable Object ceilings (../shared/reference/anchors-and-xds.md, "Limits a design must respect"). */
const DO_MESSAGES_PER_S = 1000;
const DO_WEBSOCKETS = 32_768;
const GOAL_P99_MS = 500;

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;

/** The workerd processes wrangler started (its proxy and the Worker with its Durable Objects): their RSS is summed. */
function workerdPids(wranglerPid: number): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      // wrangler was spawned detached, so its process group is its pid, and workerd is in it.
      const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      if (pgrp === wranglerPid && readFileSync(`/proc/${d}/comm`, 'utf8').trim() === 'workerd') pids.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

const policy = (name: string) => ({
  type: 'MeshTimeout',
  mesh: 'default',
  name,
  spec: { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { http: { requestTimeout: '5s' } } }] },
});

type ZoneProcMessage = { type: string; name?: string; arrivals?: number[]; count?: number };

async function main() {
  const scratch = await scratchDatabase(ADMIN_URL, 'ursa_bench_hub');
  const db = openPostgres(scratch.url, { max: 8 });
  const procs: ChildProcess[] = [];
  let wrangler: ChildProcess | undefined;
  try {
    await migrate(db);
    const tokenStore = new TokenStore(db.db);
    await tokenStore.createTenant(TENANT);
    const admin = (await tokenStore.issue(TENANT, { name: 'bench', role: 'admin' })).token;
    const names = Array.from({ length: Math.max(...STEPS) }, (_, i) => `zone-${i}`);
    const zoneTokens = createStores(db.db).zoneTokens;
    const tokens = new Map<string, string>();
    for (let i = 0; i < names.length; i += 64) {
      await Promise.all(names.slice(i, i + 64).map(async (n) => tokens.set(n, (await zoneTokens.issue(TENANT, n, 3600)).token)));
    }

    const [port, inspector] = [await freePort(), await freePort()];
    const base = `http://127.0.0.1:${port}`;
    const hyperdrive = new URL(scratch.url);
    if (!hyperdrive.password) hyperdrive.password = 'trust';
    if (!hyperdrive.username) hyperdrive.username = 'postgres';
    wrangler = spawn(
      `${ROOT}node_modules/.bin/wrangler`,
      ['dev', '--config', `${ROOT}global-api/wrangler.jsonc`, '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspector), '--show-interactive-dev-session=false', '--var', `KDS_HUB_SHARDS:${SHARDS}`, '--var', `KDS_HEARTBEAT_MS:${HEARTBEAT_MS}`, '--var', 'LOG_LEVEL:warn'],
      {
        env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', CI: '1', CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: hyperdrive.toString() },
        stdio: ['ignore', 'ignore', 'inherit'],
        detached: true,
      },
    );
    await waitFor('wrangler dev', async () => (await fetch(`${base}/`).catch(() => undefined))?.ok === true, 90_000);
    const put = async (path: string, body: unknown) => {
      const res = await fetch(`${base}${path}`, { method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` }, body: JSON.stringify(body) });
      if (res.status >= 300) throw new Error(`PUT ${path}: ${res.status} ${await res.text()}`);
    };
    await put('/meshes/default', { type: 'Mesh', name: 'default', skipCreatingInitialPolicies: ['*'] });
    const pids = workerdPids(wrangler.pid!);
    if (pids.length === 0) throw new Error('no workerd process under wrangler');
    const workerdRss = () => pids.reduce((sum, pid) => sum + rssMb(pid), 0);
    await new Promise((r) => setTimeout(r, 2000));
    const rssBefore = workerdRss();

    const rows: { zones: number; p50: number; p99: number; last: number; kbPerZone: number; connectS: number }[] = [];
    let connected = 0;
    let round = 0;
    for (const target of STEPS) {
      // Connect the zones this step adds, over new client processes.
      const t0 = performance.now();
      const adding = names.slice(connected, target);
      const share = Math.ceil(adding.length / PROCS);
      await Promise.all(
        Array.from({ length: PROCS }, (_, p) => adding.slice(p * share, (p + 1) * share)).filter((s) => s.length > 0).map((mine) => {
          const child = fork(new URL('./support/kds-zone-proc.ts', import.meta.url).pathname, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
          procs.push(child);
          child.send({ base, zones: mine.map((name) => ({ name, token: tokens.get(name)! })) });
          return new Promise<void>((resolve, reject) => {
            child.once('exit', (code) => reject(new Error(`client process exited (${code})`)));
            child.on('message', (m: ZoneProcMessage) => m.type === 'synced' && resolve());
          });
        }),
      );
      connected = target;
      console.log(`  ${connected} zones connected and synced`);
      const connectS = (performance.now() - t0) / 1000;
      await new Promise((r) => setTimeout(r, HEARTBEAT_MS)); // a heartbeat each: sessions at their steady state
      const kbPerZone = ((workerdRss() - rssBefore) * 1024) / connected;

      const lat: number[] = [];
      const lasts: number[] = [];
      for (let r = 0; r < ROUNDS; r++, round++) {
        const name = `hub-${round}`;
        const these = await timeChange(procs, name, () => put(`/meshes/default/meshtimeouts/${name}`, policy(name)));
        lat.push(...these);
        lasts.push(Math.max(...these));
        await new Promise((res) => setTimeout(res, 300));
      }
      const row = { zones: connected, p50: pct(lat, 50), p99: pct(lat, 99), last: pct(lasts, 50), kbPerZone, connectS };
      rows.push(row);
      console.log(`${String(connected).padStart(6)} zones on ${SHARDS} hub(s): one change p50 ${ms(row.p50)}, p99 ${ms(row.p99)}, last zone ${ms(row.last)} (median of ${ROUNDS}) | workerd RSS ${kbPerZone.toFixed(1)} KB per zone | connected in ${connectS.toFixed(1)} s | load ${loadavg()[0]!.toFixed(1)}`);
    }

    // One hub's ceilings, from the largest step: CPU per zone and change (the time to the last zone grows with
    // the zones: its slope is the hub's serial cost per zone), and messages a second.
    const big = rows.at(-1)!;
    const small = rows[0]!;
    const msPerZone = rows.length > 1 ? Math.max(0.001, (big.last - small.last) / (big.zones - small.zones)) : big.last / big.zones;
    const byFanout = Math.floor(GOAL_P99_MS / msPerZone);
    const byMessages = Math.floor((DO_MESSAGES_PER_S * HEARTBEAT_MS) / 1000 / 1.5); // heartbeats, plus half again for Acks and inventory
    const perHub = Math.min(byFanout, byMessages, DO_WEBSOCKETS);
    const bound = perHub === byMessages ? 'messages/s' : perHub === byFanout ? 'fan-out time' : 'WebSockets';
    // workerd's RSS holds the relays' invocations, both sockets of every zone and their native buffers as well
    // as the hub: it is printed, but it is not the hub isolate's heap that the 128 MB limit is about, so it
    // bounds nothing here (README, "Global plane on Workers").
    console.log(
      `worker-hub: ${big.zones} zones on ${SHARDS} hub(s): one change p50 ${ms(big.p50)}, p99 ${ms(big.p99)} (goal <= ${GOAL_P99_MS} ms, x${(big.p99 / GOAL_P99_MS).toFixed(2)}) | ` +
        `${msPerZone.toFixed(3)} ms of fan-out per zone, ${big.kbPerZone.toFixed(0)} KB of workerd RSS per zone (relay + hub) | one hub carries ~${perHub} zones (bound: ${bound}; fan-out ${byFanout}, messages ${byMessages}) ` +
        `-> 10,000 zones need KDS_HUB_SHARDS=${Math.ceil(10_000 / perHub)} | load ${loadavg()[0]!.toFixed(1)}`,
    );
  } finally {
    for (const c of procs) {
      c.removeAllListeners('exit');
      if (c.connected) c.send({ type: 'stop' });
    }
    await Promise.all(procs.map((c) => new Promise((r) => (c.exitCode !== null ? r(undefined) : c.once('exit', r)))));
    if (wrangler) await stopGroup(wrangler);
    await db.close();
    await scratch.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
