/**
 * xDS benchmark, Kong Mesh's performance workload: 2,000 dataplanes (1,000 services × 2 instances) in one
 * zone, each with a connected ADS client, against the real zone agent (its own process, standalone,
 * embedded database, dataplane auth on: every client presents a token).
 *
 * Measures:
 * - cold start: from opening the 2,000 streams (admission, first snapshots, first responses) to every
 *   proxy holding a response of each type (CDS, EDS, LDS, RDS);
 * - change propagation: one endpoint change (a Dataplane's address, through the zone API) to every proxy
 *   that holds that service's endpoints having received the update, per change, over ROUNDS changes, and
 *   the per-proxy distribution;
 * - the agent's memory per dataplane: its JS heap after a full GC (read over the inspector) and its RSS,
 *   once all proxies are configured, minus the same with the 2,000 Dataplanes registered and nobody
 *   connected, divided by the number of proxies. The heap is the headline (RSS also moves with garbage not
 *   yet collected and allocator slack); both are printed.
 *
 * The clients are light (`support/ads-light.ts`): raw grpc-js streams that ACK like a proxy but never
 * decode resources, spread over CONNS HTTP/2 connections.
 *
 * Variants (issue 15): `--dps N` dataplanes (`--instances` per service, default 2); `--reach K` gives each
 * dataplane `networking.transparentProxying.reachableServices` of K other services (svc-(i+1) .. svc-(i+K)),
 * as large Kuma users configure it, so a change reaches the K x instances proxies that can reach the
 * service and nobody else (the bench checks both: every affected proxy updated, no other proxy woken).
 * - `npx tsx bench/xds.ts --dps 2000`: everyone reaches everyone; goals: change p99 <= 200 ms, cold start <= 20 s;
 * - `npx tsx bench/xds.ts --dps 10000 --reach 20`: 5,000 services x 2; goals: change p99 <= 200 ms, cold
 *   start <= 60 s, <= 50 KB heap and <= 150 KB RSS per dataplane.
 *
 * Serving processes (issue 15): `--xds-processes 0,1` runs the agent once per value (`--xds-processes` of the
 * agent) over the same registered Dataplanes and prints the runs side by side, then each against the first;
 * CPU and RSS include the serving processes' (the heap is the main process's), and the CPU per change is
 * split between the main process and the serving ones. `npx tsx bench/xds.ts --dps 2000 --xds-processes 0,1
 * --rounds 10 --warmup 1` keeps both runs within about 5 minutes on a quiet 2-vCPU VM.
 *
 * Run: `npx tsx bench/xds.ts [--dps 2000] [--reach K] [--variant delta|sotw] [--named-eds] [--rounds 20] [--warmup 2] [--conns 50] [--xds-processes 0[,1...]] [--profile FILE] [--profile-cold FILE] [--heap-snapshot FILE]`
 * (each variant finishes in under 5 minutes on a 2-vCPU VM; the last line gives the figures, the goals and
 * their ratio). The agent runs with its
 * resolver on (VIPs, hence VIP listeners, as in the workload); `BENCH_AGENT_ARGS` adds agent flags, e.g.
 * `BENCH_AGENT_ARGS="--xds-status-flush-ms 600000"` to take insight flushes out of the picture.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { freePort, getJson, start, waitFor } from '@ursa/test-support/process.js';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL } from '@ursa/proto/xds';
import { LightProxy, type Scanned, type Variant } from './support/ads-light.js';
import { heapAfterGc, heapSnapshot, startCpuProfile } from './support/inspector.js';

const { values: args } = parseArgs({
  options: {
    variant: { type: 'string', default: 'delta' },
    /** Dataplanes (services = dps / instances); `--services` sets the services instead. */
    dps: { type: 'string', default: '2000' },
    services: { type: 'string' },
    /** Reachable services per dataplane (0: every service of the mesh, no `reachableServices`). */
    reach: { type: 'string', default: '0' },
    instances: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '2' },
    conns: { type: 'string', default: '50' },
    'user-agent': { type: 'string', default: 'envoy' },
    /** Ask for EDS by the names the clusters give, as Envoy does (default: wildcard). */
    'named-eds': { type: 'boolean', default: false },
    /** Write a V8 CPU profile of the agent during the endpoint changes to this file (where the time goes). */
    profile: { type: 'string' },
    /** The same for the cold start (streams opening, first snapshots and responses). */
    'profile-cold': { type: 'string' },
    /** Write a heap snapshot of the agent to this file once every proxy is configured (what holds its memory). */
    'heap-snapshot': { type: 'string' },
    /**
     * `--xds-processes` of the agent; a comma-separated list runs the agent once per value on the same
     * registered Dataplanes (one registration) and prints the runs side by side, e.g. `0,1`.
     */
    'xds-processes': { type: 'string', default: '0' },
  },
});
const PROCESSES = args['xds-processes']!.split(',').map((v) => Number(v.trim()));
if (PROCESSES.some((n) => !Number.isInteger(n) || n < 0)) throw new Error('--xds-processes: a comma-separated list of counts, e.g. 0,1');
const VARIANT = args.variant as Variant;
const INSTANCES = Number(args.instances);
const SERVICES = args.services ? Number(args.services) : Math.ceil(Number(args.dps) / INSTANCES);
const REACH = Math.min(Number(args.reach), SERVICES - 1);
const PROXIES = SERVICES * INSTANCES;
const ROUNDS = Number(args.rounds);
const WARMUP = Number(args.warmup);
const CONNS = Number(args.conns);
const EDS = CLUSTER_LOAD_ASSIGNMENT_TYPE_URL;
const ROOT = new URL('..', import.meta.url).pathname;

const pct = (xs: readonly number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
};
const ownRssMb = async (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8').catch(() => 'VmRSS: 0 kB'))?.[1] ?? 0) / 1024;
/**
 * The agent's CPU seconds so far (user + system, /proc/<pid>/stat, in clock ticks of 1/100 s): on a machine
 * shared with other work, wall time also counts the time the agent waited for a CPU (and the bench's own
 * clients, on the same CPUs), so the cold start is also given as the agent's own CPU time.
 */
const ownCpu = async (pid: number) => {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')).replace(/^.*\) /, '').split(' ');
  return fields.length > 12 ? (Number(fields[11]) + Number(fields[12])) / 100 : 0;
};
/** The direct children of `pid` (of every thread: the resolver's thread forks the DNS processes). */
const childrenOf = async (pid: number): Promise<number[]> => {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  const out: number[] = [];
  for (const t of tasks) out.push(...(await readFile(`/proc/${pid}/task/${t}/children`, 'utf8').catch(() => '')).split(/\s+/).filter(Boolean).map(Number));
  return out;
};
/** The agent's RSS with its serving processes' (`--xds-processes`). */
const rssMb = async (pid: number) => {
  let sum = await ownRssMb(pid);
  for (const c of await childrenOf(pid)) sum += await ownRssMb(c);
  return sum;
};
/** The agent's and its serving processes' CPU (`--xds-processes`; a restarted child's earlier CPU is not counted). */
const cpuSeconds = async (pid: number) => {
  let sum = await ownCpu(pid);
  for (const c of await childrenOf(pid)) sum += await ownCpu(c);
  return sum;
};
/** The same, split: [main process, serving processes]. */
const cpuSplit = async (pid: number): Promise<[number, number]> => {
  let kids = 0;
  for (const c of await childrenOf(pid)) kids += await ownCpu(c);
  return [await ownCpu(pid), kids];
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const address = (i: number, j: number, gen = 0) => `10.${gen}.${Math.floor((i * INSTANCES + j) / 250)}.${((i * INSTANCES + j) % 250) + 1}`;
/** The services svc-i reaches with `--reach`: the next REACH ones. */
const reachOf = (i: number) => Array.from({ length: REACH }, (_, k) => `svc-${(i + 1 + k) % SERVICES}`);
/** Whether a proxy of svc-i can reach svc-c (everyone reaches everyone without `--reach`). */
const reaches = (i: number, c: number) => REACH === 0 || ((c - i - 1 + SERVICES) % SERVICES) < REACH;
const dataplane = (i: number, j: number, gen = 0) => ({
  type: 'Dataplane',
  mesh: 'default',
  name: `svc-${i}-${j}`,
  // Transparent proxying: every service of the mesh is reachable, as in Kong Mesh's Kubernetes perf runs,
  // unless `--reach` limits it as Kuma's `reachableServices` does.
  networking: {
    address: address(i, j, gen),
    inbound: [{ port: 8080, tags: { 'kuma.io/service': `svc-${i}`, 'kuma.io/protocol': 'http' } }],
    transparentProxying: { redirectPortInbound: 15006, redirectPortOutbound: 15001, ...(REACH > 0 ? { reachableServices: reachOf(i) } : {}) },
  },
});

async function api(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, text: await res.text() };
}

async function pool<T>(items: readonly T[], n: number, f: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) await f(items[next++]!);
  }));
}

async function main(): Promise<void> {
  console.log(`xds bench: ${SERVICES} services x ${INSTANCES} instances = ${PROXIES} dataplanes, ${REACH > 0 ? `each reaching ${REACH} services` : 'everyone reaching everyone'}, ${VARIANT} ADS${args['named-eds'] ? ' (EDS by name)' : ''}, ${CONNS} connections, user agent "${args['user-agent']}"`);
  execFileSync(process.execPath, [join(ROOT, 'node_modules/.bin/tsx'), join(ROOT, 'zone-agent/build.ts')], { stdio: 'inherit' });

  const dataDir = await mkdtemp(join(tmpdir(), 'ursa-bench-xds-'));
  const runs: RunResult[] = [];
  try {
    // One registration, then one agent per `--xds-processes` value on the same data dir.
    for (let k = 0; k < PROCESSES.length; k++) runs.push(await run(dataDir, PROCESSES[k]!, k));
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
  if (runs.length > 1) {
    console.log('side by side:');
    for (const r of runs) console.log(`  ${r.line}`);
  }
  // The last line: every run's figures, goals and ratios, the load, and each run against the first.
  const first = runs[0]!;
  const vs = runs.slice(1).map((r) => `--xds-processes ${r.procs} vs ${first.procs}: change p50 x${(r.p50 / first.p50).toFixed(2)}, p99 x${(r.p99 / first.p99).toFixed(2)}, cold start x${(r.coldS / first.coldS).toFixed(2)}`);
  console.log([...runs.map((r) => r.line), ...vs].join(' || '));
}

interface RunResult {
  readonly procs: number;
  readonly line: string;
  readonly p50: number;
  readonly p99: number;
  readonly coldS: number;
}

/** One agent with `--xds-processes procs` over `dataDir` (registers the Dataplanes on the first run); returns its summary line. */
async function run(dataDir: string, procs: number, k: number): Promise<RunResult> {
  console.log(`--- agent with --xds-processes ${procs} ---`);
  const apiPort = await freePort();
  const xdsPort = await freePort();
  const base = `http://127.0.0.1:${apiPort}`;
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('URSA_') && k !== 'DATABASE_URL'));
  const dnsPort = await freePort();
  const inspectPort = await freePort();
  const nodeArgs = [`--inspect=127.0.0.1:${inspectPort}`];
  const agent = start(process.execPath, [...nodeArgs, join(ROOT, 'zone-agent/bin/zone-agent.js'), '--zone', 'bench', '--data-dir', dataDir, '--api-port', String(apiPort), '--xds-port', String(xdsPort), '--dns-port', String(dnsPort), '--xds-processes', String(procs), ...(process.env.BENCH_AGENT_ARGS ?? '').split(' ').filter(Boolean)], { env });
  const proxies: LightProxy[] = [];
  const clients: grpc.Client[] = [];
  try {
    await waitFor('zone agent /ready', () => getJson(`${base}/ready`), 60_000, agent);
    await waitFor('xds up', async () => (agent.output().includes('.xds\tADS (') ? true : undefined), 30_000, agent);
    const keys = Array.from({ length: PROXIES }, (_, k) => [Math.floor(k / INSTANCES), k % INSTANCES] as const);
    if (k === 0) {
      if ((await api(base, 'PUT', '/meshes/default', { type: 'Mesh', name: 'default' })).status >= 300) throw new Error('PUT mesh failed');
      const t0 = performance.now();
      const regCpu0 = await cpuSeconds(agent.proc.pid!);
      await pool(keys, 16, async ([i, j]) => {
        const r = await api(base, 'PUT', `/meshes/default/dataplanes/svc-${i}-${j}`, dataplane(i, j));
        if (r.status >= 300) throw new Error(`PUT svc-${i}-${j}: ${r.status} ${r.text}`);
      });
      console.log(`registered ${PROXIES} dataplanes in ${((performance.now() - t0) / 1000).toFixed(1)} s (agent CPU ${((await cpuSeconds(agent.proc.pid!)) - regCpu0).toFixed(1)} s)`);
    }
    const tok = await api(base, 'POST', '/tokens/dataplane', { mesh: 'default', validFor: '1h' });
    if (tok.status !== 200) throw new Error(`token: ${tok.status} ${tok.text}`);
    await sleep(2000);
    const heapBefore = await heapAfterGc(inspectPort);
    const rssBefore = await rssMb(agent.proc.pid!);

    // --- cold start ---------------------------------------------------------------------------------------
    let configured = 0;
    let failed: string | undefined;
    /** During a change round: when each proxy first saw an EDS update, and a spot check of its content. */
    let round: { since: number; seen: Map<LightProxy, number>; spot?: Scanned } | undefined;
    for (let c = 0; c < CONNS; c++) clients.push(new grpc.Client(`127.0.0.1:${xdsPort}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1, 'grpc.max_receive_message_length': 64 * 1024 * 1024 }));
    const stopColdProfile = args['profile-cold'] ? await startCpuProfile(inspectPort) : undefined;
    const coldStart = performance.now();
    const coldCpu0 = await cpuSeconds(agent.proc.pid!);
    let coldDone = 0;
    let coldBytes = 0;
    const done = new Set<LightProxy>();
    for (let k = 0; k < PROXIES; k++) {
      const [i, j] = keys[k]!;
      proxies.push(
        new LightProxy({
          client: clients[k % CONNS]!,
          variant: VARIANT,
          nodeId: `default.svc-${i}-${j}`,
          token: tok.text,
          userAgentName: args['user-agent']!,
          namedEds: args['named-eds'],
          onResponse: (p, r) => {
            if (!coldDone) coldBytes += r.bytes;
            if (!done.has(p) && p.configured) {
              done.add(p);
              if (++configured === PROXIES) coldDone = performance.now();
            }
            if (round && r.typeUrl === EDS && !round.seen.has(p)) {
              round.seen.set(p, performance.now());
              round.spot ??= r;
            }
          },
          onEnd: (p, err) => {
            failed ??= `${p.opts.nodeId}: ${err ? `${err.code} ${err.details}` : 'ended'}`;
          },
        }),
      );
    }
    await waitFor('every proxy configured', async () => {
      if (failed) throw new Error(`a stream ended: ${failed}`);
      return configured === PROXIES ? true : undefined;
    }, 240_000, agent).catch((err) => {
      const types = new Map<string, number>();
      for (const p of proxies) for (const [t, n] of p.received) types.set(t, (types.get(t) ?? 0) + (n > 0 ? 1 : 0));
      throw new Error(`${err instanceof Error ? err.message.split('\n')[0] : err} (${configured}/${PROXIES} configured; proxies with a response, per type: ${JSON.stringify(Object.fromEntries(types))})\n${agent.output().slice(-3000)}`);
    });
    const coldMs = coldDone - coldStart;
    const coldCpu = (await cpuSeconds(agent.proc.pid!)) - coldCpu0;
    await stopColdProfile?.(args['profile-cold']!);
    const coldResponses = proxies.reduce((n, p) => n + [...p.received.values()].reduce((a, b) => a + b, 0), 0);
    console.log(`cold start: ${PROXIES} proxies connected and configured in ${(coldMs / 1000).toFixed(2)} s, agent CPU ${coldCpu.toFixed(1)} s (${(coldResponses / PROXIES).toFixed(1)} responses per proxy, ${(coldBytes / PROXIES / 1024).toFixed(0)} KB)${args['named-eds'] ? ` (each asked for ${proxies[0]!.edsNamesAsked} ClusterLoadAssignments by name)` : ''}`);
    await sleep(3000);
    const heapAfter = await heapAfterGc(inspectPort);
    const rssAfter = await rssMb(agent.proc.pid!);
    const perDp = (heapAfter.usedMb - heapBefore.usedMb) / PROXIES;
    const rssPerDp = (rssAfter - rssBefore) / PROXIES;
    console.log(
      `agent memory, registered and idle -> ${PROXIES} proxies configured: heap after GC ${heapBefore.usedMb.toFixed(0)} -> ${heapAfter.usedMb.toFixed(0)} MB (${(perDp * 1024).toFixed(0)} KB per dataplane), RSS ${rssBefore.toFixed(0)} -> ${rssAfter.toFixed(0)} MB (${(rssPerDp * 1024).toFixed(0)} KB per dataplane); outside the heap, held: external ${heapAfter.externalMb.toFixed(0)} MB, of it ArrayBuffers ${heapAfter.arrayBuffersMb.toFixed(0)} MB`,
    );

    // The agent's own account of what it gave back to the system (`malloc-tune.ts`).
    for (const l of agent.output().split('\n').filter((x) => x.includes('returned free heap memory')).slice(-3)) console.log(`  agent: ${l.replace(/^.*?\tmalloc\t/, '')}`);
    if (args['heap-snapshot']) {
      await heapSnapshot(inspectPort, args['heap-snapshot']);
      console.log(`heap snapshot of the agent in ${args['heap-snapshot']}`);
    }

    // --- endpoint changes ---------------------------------------------------------------------------------
    const perChange: number[] = [];
    const perProxy: number[] = [];
    let affected = 0;
    let extra = 0;
    const stopProfile = args.profile ? await startCpuProfile(inspectPort) : undefined;
    const changeCpu0 = await cpuSplit(agent.proc.pid!);
    // The first WARMUP changes are not counted: they exercise the change path once (JIT, first feed reads),
    // so the figures are the steady state a running zone sees, not the agent's first change ever.
    for (let n = 0; n < WARMUP + ROUNDS; n++) {
      const measured = n >= WARMUP;
      const i = (n * 97 + 13) % SERVICES;
      // Each run moves the addresses to new ones (a later run starts from where the last one left them).
      const gen = k * 100 + n + 1;
      const logFrom = agent.output().length;
      round = { since: performance.now(), seen: new Map() };
      const r = await api(base, 'PUT', `/meshes/default/dataplanes/svc-${i}-0`, dataplane(i, 0, gen));
      if (r.status !== 200) throw new Error(`change PUT: ${r.status} ${r.text}`);
      // Affected: every proxy that holds svc-i's endpoints (all of them when everyone reaches everyone).
      // Wait until they all have it (or report how many did); a proxy that cannot reach svc-i must get nothing.
      const cur = round;
      const want = proxies.filter((_, k) => reaches(keys[k]![0], i));
      const wanted = new Set(want);
      await waitFor('every affected proxy updated', async () => (want.every((p) => cur.seen.has(p)) ? true : undefined), 20_000).catch(() => undefined);
      await sleep(300);
      const lat = want.flatMap((p) => (cur.seen.has(p) ? [cur.seen.get(p)! - cur.since] : []));
      const missed = want.length - lat.length;
      const woken = [...cur.seen.keys()].filter((p) => !wanted.has(p)).length;
      if (measured) extra += woken;
      affected = want.length;
      const last = Math.max(...lat);
      if (measured) {
        perChange.push(last);
        perProxy.push(...lat);
      }
      const spotOk = cur.spot?.bodies.some((b) => b.includes(Buffer.from(address(i, 0, gen))));
      if (missed > 0) throw new Error(`change of svc-${i}: ${missed} of ${want.length} affected proxies got no update within 20 s`);
      console.log(`${measured ? `change ${n + 1 - WARMUP}` : `warm-up ${n + 1}`}: svc-${i}-0 -> ${address(i, 0, gen)}: ${lat.length}/${want.length} affected proxies updated (${woken} others woken), last after ${last.toFixed(0)} ms (p50 per proxy ${pct(lat, 50).toFixed(0)} ms); new address in the update: ${spotOk ? 'yes' : 'NO'}`);
      // What the agent says about its rebuilds in this round (generation time, proxies touched).
      const rebuilds = agent.output().slice(logFrom).split('\n').filter((l) => / xds: .*(rebuilt|new snapshot|new configuration)/.test(l));
      for (const l of rebuilds.slice(0, 3)) console.log(`  agent: ${l.replace(/^zone-agent\[[^\]]*\] /, '')}`);
      round = undefined;
    }
    await stopProfile?.(args.profile!);
    const changeCpu1 = await cpuSplit(agent.proc.pid!);
    // CPU per change (warm-ups and the 300 ms pauses included: insight flushes, timers), main vs serving processes.
    const perChangeCpu = changeCpu1.map((v, x) => ((v - changeCpu0[x]!) * 1000) / (WARMUP + ROUNDS));
    console.log(`agent CPU per change: main process ${perChangeCpu[0]!.toFixed(0)} ms, serving processes ${perChangeCpu[1]!.toFixed(0)} ms`);
    const p50 = pct(perChange, 50);
    const p99 = pct(perChange, 99);
    console.log(
      `per proxy over all changes: p50 ${pct(perProxy, 50).toFixed(0)} ms, p99 ${pct(perProxy, 99).toFixed(0)} ms; agent RSS now ${(await rssMb(agent.proc.pid!)).toFixed(0)} MB`,
    );
    // The goals of issue 15 for this variant, and each figure's ratio to its goal (<= 1 meets it).
    const coldGoal = REACH > 0 ? 60 : 20;
    const figures: [string, number, number, string][] = [
      ['change p99', p99, 200, 'ms'],
      ['cold start', coldMs / 1000, coldGoal, 's'],
      ...(REACH > 0
        ? ([
            ['heap/DP', perDp * 1024, 50, 'KB'],
            ['RSS/DP', rssPerDp * 1024, 150, 'KB'],
          ] as [string, number, number, string][])
        : []),
    ];
    const worst = Math.max(...figures.map(([, v, g]) => v / g));
    const line =
      `xds ${PROXIES} DPs, --xds-processes ${procs} (${SERVICES} services x ${INSTANCES}, ${REACH > 0 ? `each reaching ${REACH}` : 'everyone reaches everyone'}, ${VARIANT}${args['named-eds'] ? ', EDS by name' : ''}): ` +
        figures.map(([name, v, g, unit]) => `${name} ${v.toFixed(unit === 's' ? 1 : 0)} ${unit} (goal <= ${g} ${unit}, x${(v / g).toFixed(2)})`).join('; ') +
        `; cold start agent CPU ${coldCpu.toFixed(1)} s; change p50 ${p50.toFixed(0)} ms to ${affected} affected proxies, ${extra} others woken; heap ${(perDp * 1024).toFixed(0)} KB/DP, RSS ${(rssPerDp * 1024).toFixed(0)} KB/DP; load ${loadavg()[0]!.toFixed(1)}; ${worst <= 1 ? 'all goals met' : `worst x${worst.toFixed(2)} of its goal`}; CPU per change main ${perChangeCpu[0]!.toFixed(0)} ms + serving ${perChangeCpu[1]!.toFixed(0)} ms`;
    return { procs, line, p50, p99, coldS: coldMs / 1000 };
  } finally {
    for (const p of proxies) p.close();
    for (const c of clients) c.close();
    await agent.stop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
