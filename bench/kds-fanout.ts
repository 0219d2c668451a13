/**
 * KDS at scale: N zones of one tenant (default 10,000) on ONE global Node process, as real KDS clients over
 * WebSocket spread over P client processes (default 4; in-memory zone state, so the global is what is
 * measured). Figures: time to connect and sync them; one policy change to all of them (per-zone latency
 * p50/p99 over 5 changes, from just before the PUT to the zone applying it); the global's RSS and heap per
 * connected zone. Goals (issue 15): p99 <= 500 ms, <= 50 KB RSS per zone.
 *
 * Run: `npx tsx bench/kds-fanout.ts [--zones 10000] [--procs 4] [--profile FILE]` (PostgreSQL from DATABASE_URL,
 * default postgres://postgres@127.0.0.1:5432/test). `--profile`: a V8 CPU profile of the global during the
 * changes only (not the connect), over the inspector. During the changes the bench also counts the database's
 * transactions (`pg_stat_database`) and samples `pg_stat_activity`, so the per-change database work per zone
 * is printed next to the latency.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createStores, openPostgres } from '@ursa/core';
import { migrate } from '@ursa/core/node';
import { scratchDatabase } from '@ursa/test-support/backends.js';
import { freePort } from '@ursa/test-support/process.js';
import postgres from 'postgres';
import { startCpuProfile } from './support/inspector.js';
import { ms, pct } from './support/stats.js';
import { timeChange } from './support/zone-procs.js';
import { waitFor } from './support/wait.js';

const { values: args } = parseArgs({ options: { zones: { type: 'string', default: '10000' }, procs: { type: 'string', default: '4' }, rounds: { type: 'string', default: '5' }, profile: { type: 'string' } } });
const ZONES = Number(args.zones);
const PROCS = Number(args.procs);
const ROUNDS = Number(args.rounds);
const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const GOAL_P99_MS = 500;
const GOAL_KB_PER_ZONE = 50;

/** CPU seconds (user + system) a process has used so far (`/proc/<pid>/stat`, clock ticks of 10 ms). */
const cpuS = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;

const policy = (name: string) => ({
  type: 'MeshTimeout',
  mesh: 'default',
  name,
  spec: { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { http: { requestTimeout: '5s' } } }] },
});

async function put(base: string, path: string, body: unknown): Promise<void> {
  const res = await fetch(`${base}${path}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status >= 300) throw new Error(`PUT ${path}: ${res.status} ${await res.text()}`);
}

/** The global's used heap (`nodejs_heap_size_used_bytes` on its /metrics; garbage not yet collected included). */
async function heapMb(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const used = /^nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1];
  return used === undefined ? NaN : Number(used) / 1024 / 1024;
}

async function main() {
  const scratch = await scratchDatabase(ADMIN_URL, 'ursa_bench_fanout');
  const db = openPostgres(scratch.url, { max: 8 });
  await migrate(db);
  // Zone tokens straight from the token store (setup, not what is measured): 10,000 API round trips would
  // take longer than the run.
  const zoneTokens = createStores(db.db).zoneTokens;
  const names = Array.from({ length: ZONES }, (_, i) => `zone-${i}`);
  const tokens = new Map<string, string>();
  const tTokens = performance.now();
  for (let i = 0; i < names.length; i += 64) {
    await Promise.all(names.slice(i, i + 64).map(async (n) => tokens.set(n, (await zoneTokens.issue('default', n, 3600)).token)));
  }
  await db.close();
  console.log(`issued ${ZONES} zone tokens in ${ms(performance.now() - tTokens)}`);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = { ...process.env, DATABASE_URL: scratch.url, URSA_PORT: String(port), URSA_LOG_LEVEL: process.env.BENCH_GLOBAL_LOG_LEVEL ?? 'warn' };
  // The young generation `npm start` gives the global (package.json; README Performance: GC during a change).
  // BENCH_GLOBAL_NODE_ARGS: extra node flags for the global (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it).
  const nodeArgs = ['--max-semi-space-size=64', ...(process.env.BENCH_GLOBAL_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  const inspectPort = args.profile ? await freePort() : 0;
  if (args.profile) nodeArgs.push(`--inspect=127.0.0.1:${inspectPort}`);
  const global = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', new URL('../global-api/src/node.ts', import.meta.url).pathname], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const procs: ChildProcess[] = [];
  try {
    await waitFor('global', async () => (await fetch(`${base}/`).catch(() => undefined))?.ok === true, 30_000);
    await put(base, '/meshes/default', { type: 'Mesh', name: 'default' });
    await new Promise((r) => setTimeout(r, 1000));
    const rssBefore = rssMb(global.pid!);
    const heapBefore = await heapMb(base);

    // Connect: each client process takes a contiguous share of the zone names.
    const t0 = performance.now();
    const synced = new Array<number>(PROCS).fill(0);
    let lastReport = 0;
    await Promise.all(
      Array.from({ length: PROCS }, (_, p) => {
        const mine = names.filter((_, i) => i % PROCS === p).map((name) => ({ name, token: tokens.get(name)! }));
        const child = fork(new URL('./support/kds-zone-proc.ts', import.meta.url).pathname, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        procs.push(child);
        child.send({ base, zones: mine });
        return new Promise<void>((resolve, reject) => {
          child.once('exit', (code) => reject(new Error(`client process ${p} exited (${code})`)));
          child.on('message', (m: { type: string; synced?: number; count?: number; tokensMs?: number; syncMs?: number }) => {
            if (m.type === 'progress') {
              synced[p] = m.synced!;
              if (process.env.BENCH_VERBOSE) console.log(`  [${p}] ${m.synced} synced (wave synced in ${ms(m.syncMs!)})`);
            }
            if (m.type === 'synced') {
              synced[p] = m.count!;
              resolve();
            }
            const total = synced.reduce((a, b) => a + b, 0);
            if (total - lastReport >= 1000) {
              lastReport = total;
              console.log(`  ${total} zones synced after ${ms(performance.now() - t0)}`);
            }
          });
        });
      }),
    );
    const connectMs = performance.now() - t0;
    console.log(`connected and synced ${ZONES} zones over ${PROCS} client processes in ${ms(connectMs)}`);
    await new Promise((r) => setTimeout(r, 3000)); // a few heartbeats: sessions reach their steady state
    const rssAfter = rssMb(global.pid!);
    const heapAfter = await heapMb(base);
    const rssKb = ((rssAfter - rssBefore) * 1024) / ZONES;
    const heapKb = ((heapAfter - heapBefore) * 1024) / ZONES;
    if (process.env.BENCH_HEAP_SNAPSHOT) {
      // With BENCH_GLOBAL_NODE_ARGS=--heapsnapshot-signal=SIGUSR2: a heap snapshot of the global with every zone connected.
      global.kill('SIGUSR2');
      await new Promise((r) => setTimeout(r, 15_000));
    }
    console.log(`global RSS ${rssBefore.toFixed(0)} -> ${rssAfter.toFixed(0)} MB (${rssKb.toFixed(1)} KB per zone), heap ${heapBefore.toFixed(0)} -> ${heapAfter.toFixed(0)} MB (${heapKb.toFixed(1)} KB per zone)`);

    // One change to all zones, ROUNDS times.
    const lat: number[] = [];
    const lasts: number[] = [];
    const watch = await watchDatabase(scratch.url);
    const stopProfile = args.profile ? await startCpuProfile(inspectPort) : undefined;
    // Where the CPU of the changes goes: the global and the client processes share the machine's cores.
    const pids = [global.pid!, ...procs.map((c) => c.pid!)];
    const cpuBefore = pids.map(cpuS);
    const tChanges = performance.now();
    for (let round = 0; round < ROUNDS; round++) {
      const name = `fanout-${round}`;
      const these = await timeChange(procs, name, () => put(base, `/meshes/default/meshtimeouts/${name}`, policy(name)));
      lat.push(...these);
      lasts.push(Math.max(...these));
      console.log(`  change ${round}: p50 ${ms(pct(these, 50))}, p99 ${ms(pct(these, 99))}, last zone ${ms(Math.max(...these))}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const wallS = (performance.now() - tChanges) / 1000;
    const cpuUsed = pids.map((pid, i) => cpuS(pid) - cpuBefore[i]!);
    console.log(`  CPU during the changes (${wallS.toFixed(1)} s): global ${cpuUsed[0]!.toFixed(1)} s, client processes ${cpuUsed.slice(1).map((c) => c.toFixed(1)).join(' + ')} s`);
    await stopProfile?.(args.profile!);
    const dbWork = await watch.stop();
    console.log(`  database during the changes: ${dbWork.commits} transactions (${(dbWork.commits / ZONES / ROUNDS).toFixed(3)} per zone per change); pg_stat_activity, ${dbWork.samples} samples: ${dbWork.top || 'nothing active'}`);
    const p99 = pct(lat, 99);
    console.log(
      `kds-fanout: ${ZONES} zones on one global process: one change p50 ${ms(pct(lat, 50))}, p99 ${ms(p99)} (goal <= ${GOAL_P99_MS} ms, x${(p99 / GOAL_P99_MS).toFixed(2)} of it), last zone ${ms(pct(lasts, 50))} median | ${rssKb.toFixed(1)} KB RSS and ${heapKb.toFixed(1)} KB heap per zone (goal <= ${GOAL_KB_PER_ZONE} KB RSS, x${(rssKb / GOAL_KB_PER_ZONE).toFixed(2)}) | connect+sync ${(connectMs / 1000).toFixed(1)} s`,
    );
  } finally {
    for (const c of procs) {
      c.removeAllListeners('exit');
      c.send({ type: 'stop' });
    }
    // A client process still closing 2,500 zones after 20 s is killed, so a failed run still reports why.
    const kill = setTimeout(() => procs.forEach((c) => c.exitCode === null && c.kill('SIGKILL')), 20_000);
    await Promise.all(procs.map((c) => new Promise((r) => (c.exitCode !== null ? r(undefined) : c.once('exit', r)))));
    clearTimeout(kill);
    global.kill('SIGTERM');
    await new Promise((r) => global.once('exit', r));
    await scratch.drop();
  }
}

/**
 * Counts the scratch database's committed transactions and samples its active statements (every 100 ms)
 * until `stop`: what the database did for the changes, from outside the global.
 */
async function watchDatabase(url: string): Promise<{ stop: () => Promise<{ commits: number; samples: number; top: string }> }> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const commits = async () => {
    const [row] = await sql<{ n: string }[]>`select xact_commit::text as n from pg_stat_database where datname = current_database()`;
    return Number(row!.n);
  };
  const before = await commits();
  const seen = new Map<string, number>();
  let samples = 0;
  let running = true;
  const sampling = (async () => {
    while (running) {
      const rows = await sql<{ q: string }[]>`select left(regexp_replace(regexp_replace(query, '\\s+', ' ', 'g'), '^select .*? from', 'select … from'), 110) as q from pg_stat_activity where datname = current_database() and state = 'active' and pid <> pg_backend_pid()`;
      samples += 1;
      for (const r of rows) seen.set(r.q, (seen.get(r.q) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await sampling;
      await new Promise((r) => setTimeout(r, 1500)); // backends report their counts to pg_stat_database within a second
      // Our own two statements per sample are commits too.
      const n = (await commits()) - before - samples - 1;
      await sql.end({ timeout: 5 });
      const top = [...seen].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([q, c]) => `${c}× ${q}`).join(' | ');
      return { commits: n, samples, top };
    },
  };
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
