/**
 * DNS benchmark: dnsperf (UDP) against the zone agent's `.mesh` resolver and against `unbound` serving the
 * same records as `local-data` (loopback, a free port, as many threads as the agent has UDP answering
 * processes: its resolver thread and `--dns-udp-processes` more, BENCH_DNS_UDP_PROCESSES, default the agent's: 1
 * with 4 or more CPUs, else 0),
 * both running, in alternating rounds (agent, unbound; unbound, agent; ...): on a machine shared with other
 * work the load drifts by the minute, so each round's ratio compares runs seconds apart, and the last line
 * gives the median of the rounds' ratios, the goal (>= 1.0x unbound's queries/s, no query lost) and the load.
 *
 * Needs `dnsperf`, `unbound` and `dig`: `apt-get install -y dnsperf unbound bind9-dnsutils`.
 * Then a flood: dnsperf offering a fixed rate (BENCH_DNS_FLOOD_QPS, default 40,000 queries/s, far more than
 * one event loop answers) with many queries outstanding; it prints how many were answered (the rest the
 * kernel drops when the socket buffer is full; a resolver that keeps answering at its full rate under the
 * flood answers about its closed-loop rate).
 * Run: `npx tsx bench/dns.ts` (about two minutes; env BENCH_DNS_SECONDS per run, default 10; BENCH_DNS_ROUNDS,
 * default 3; BENCH_DNS_SERVICES, default 200; BENCH_DNS_UDP_PROCESSES=1 compares two agent processes with two
 * unbound threads; BENCH_DNS_UDP_BATCH=false runs the agent with `--dns-udp-batch false`, node:dgram's path).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '@ursa/test-support/process.js';
import { until } from './support/wait.js';

const run = promisify(execFile);
const SECONDS = Number(process.env.BENCH_DNS_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_DNS_ROUNDS ?? 3);
const SERVICES = Number(process.env.BENCH_DNS_SERVICES ?? 200);
const FLOOD_QPS = Number(process.env.BENCH_DNS_FLOOD_QPS ?? 40_000);
/** The agent's own default (`--dns-udp-processes`: 1 extra with 4 or more CPUs, else 0): the bench measures it as deployed. */
const UDP_PROCESSES = Number(process.env.BENCH_DNS_UDP_PROCESSES ?? (availableParallelism() >= 4 ? 1 : 0));
/** Batched UDP I/O (`--dns-udp-batch`, the native addon): BENCH_DNS_UDP_BATCH=false measures node:dgram's path. */
const UDP_BATCH = (process.env.BENCH_DNS_UDP_BATCH ?? 'true') !== 'false';
/** The agent's answering processes (its resolver thread and the extra ones), and so unbound's threads. */
const THREADS = 1 + UDP_PROCESSES;
const TSX = new URL('../node_modules/.bin/tsx', import.meta.url).pathname;
const ZONE = new URL('../zone-agent/src/main.ts', import.meta.url).pathname;

async function need(cmd: string, pkg: string): Promise<void> {
  try {
    await run('sh', ['-c', `command -v ${cmd}`]);
  } catch {
    throw new Error(`\`${cmd}\` is missing: apt-get install -y ${pkg}`);
  }
}

const dig = async (port: number, name: string, type = 'A') => (await run('dig', ['@127.0.0.1', '-p', String(port), '+short', '+tries=1', '+time=2', name, type])).stdout.trim();

interface PerfResult {
  qps: number;
  avgMs: number;
  stddevMs: number;
  lost: string;
}

async function dnsperf(port: number, datafile: string, flood = false): Promise<PerfResult> {
  const load = flood ? ['-Q', String(FLOOD_QPS), '-q', '20000', '-c', '8', '-t', '2'] : ['-q', '100', '-c', '4'];
  const { stdout } = await run('dnsperf', ['-s', '127.0.0.1', '-p', String(port), '-d', datafile, '-l', String(SECONDS), ...load], { maxBuffer: 16 << 20 });
  const num = (re: RegExp) => Number(re.exec(stdout)?.[1] ?? NaN);
  const lost = /Queries lost:\s+(.*)/.exec(stdout)?.[1]?.trim() ?? '?';
  const result = { qps: num(/Queries per second:\s+([\d.]+)/), avgMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000, stddevMs: num(/Latency StdDev \(s\):\s+([\d.]+)/) * 1000, lost };
  const rcodes = /Response codes:\s+(.*)/.exec(stdout)?.[1];
  if (Number.isNaN(result.qps)) throw new Error(`could not read dnsperf's output:\n${stdout}`);
  if (rcodes && !/^NOERROR [\d]+ \(100\.00%\)$/.test(rcodes.trim())) console.log(`  response codes: ${rcodes}`);
  return result;
}

function spawnLogged(cmd: string, args: string[]): ChildProcess & { out: () => string } {
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }) as ChildProcess & { out: () => string };
  let out = '';
  p.stdout!.on('data', (d) => (out += d));
  p.stderr!.on('data', (d) => (out += d));
  p.out = () => out;
  return p;
}

async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

const fmt = (name: string, r: PerfResult) => `${name.padEnd(22)} ${r.qps.toFixed(0).padStart(8)} queries/s   latency avg ${r.avgMs.toFixed(3)} ms (stddev ${r.stddevMs.toFixed(3)} ms)   lost ${r.lost}`;

async function main() {
  await need('dnsperf', 'dnsperf');
  await need('unbound', 'unbound');
  await need('dig', 'bind9-dnsutils');
  const dir = await mkdtemp(join(tmpdir(), 'ursa-bench-dns-'));
  const procs: ChildProcess[] = [];
  try {
    // 1. The agent, standalone, with SERVICES services in mesh default (half of them with `_`, for dotted aliases).
    const [apiPort, dnsPort] = [await freePort(), await freePort()];
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('URSA_') && k !== 'DATABASE_URL'));
    const agent = spawn(TSX, [ZONE, '--zone', 'bench', '--data-dir', join(dir, 'zone'), '--api-port', String(apiPort), '--dns-port', String(dnsPort), '--dns-upstream', '127.0.0.1:9', '--dns-udp-processes', String(UDP_PROCESSES), '--dns-udp-batch', String(UDP_BATCH)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let agentOut = '';
    agent.stdout.on('data', (d) => (agentOut += d));
    agent.stderr.on('data', (d) => (agentOut += d));
    procs.push(agent);
    const api = `http://127.0.0.1:${apiPort}`;
    await until('the zone agent', async () => ((await fetch(`${api}/ready`)).ok ? true : undefined), 120_000, 100).catch((e) => {
      throw new Error(`${e.message}\n${agentOut}`);
    });
    const put = async (path: string, body: unknown) => {
      const res = await fetch(`${api}${path}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (!res.ok) throw new Error(`PUT ${path}: ${res.status} ${await res.text()}`);
    };
    await put('/meshes/default', { type: 'Mesh', name: 'default' });
    const services = Array.from({ length: SERVICES }, (_, i) => (i % 2 === 0 ? `svc-${i}` : `svc-${i}_bench_svc_80`));
    for (let i = 0; i < services.length; i += 10) {
      await Promise.all(
        services.slice(i, i + 10).map((s, j) =>
          put(`/meshes/default/dataplanes/dp-${i + j}`, { type: 'Dataplane', mesh: 'default', name: `dp-${i + j}`, networking: { address: '10.0.0.1', inbound: [{ port: 8080, tags: { 'kuma.io/service': s } }] } }),
        ),
      );
    }
    const last = services[services.length - 1]!;
    await until(`${last}.mesh in the agent's DNS`, async () => (await dig(dnsPort, `${last}.mesh`)) || undefined, 10_000, 100);
    if (UDP_PROCESSES > 0) {
      await until(`the agent's ${UDP_PROCESSES} extra UDP process(es)`, async () => (agentOut.includes(`UDP answered by ${THREADS} processes`) ? true : undefined), 30_000, 100).catch((e) => {
        throw new Error(`${e.message}\n${agentOut}`);
      });
    }

    // The record table, read back from the agent: every name it answers, with its VIP.
    const records: { name: string; ip: string }[] = [];
    for (const s of services) {
      const ip = await dig(dnsPort, `${s}.mesh`);
      records.push({ name: `${s}.mesh`, ip });
      if (s.includes('_')) records.push({ name: `${s.replaceAll('_', '.')}.mesh`, ip });
    }
    const queries = records.flatMap((r, i) => [`${r.name} A`, ...(i % 4 === 0 ? [`${r.name} AAAA`] : [])]);
    const datafile = join(dir, 'queries.txt');
    await writeFile(datafile, `${queries.join('\n')}\n`);
    const mode = /udp answered (in batches|through dgram[^\n]*)/.exec(agentOut)?.[0] ?? 'udp mode not logged';
    console.log(`${records.length} names (${services.length} services), ${queries.length} distinct queries (A, and AAAA for a quarter), ${SECONDS} s per run, dnsperf -c 4 -q 100; the agent answers UDP from ${THREADS} process(es), unbound runs ${THREADS} thread(s); agent: ${mode}`);

    // 2. unbound with the same records.
    const ubPort = await freePort();
    const conf = join(dir, 'unbound.conf');
    await writeFile(
      conf,
      [
        'server:',
        '  interface: 127.0.0.1',
        `  port: ${ubPort}`,
        '  do-ip6: no',
        '  do-daemonize: no',
        '  use-syslog: no',
        '  logfile: ""',
        '  username: ""',
        '  chroot: ""',
        `  directory: "${dir}"`,
        '  pidfile: ""',
        '  verbosity: 0',
        `  num-threads: ${THREADS}`,
        '  access-control: 127.0.0.0/8 allow',
        '  module-config: "iterator"',
        '  local-zone: "mesh." static',
        ...records.flatMap((r) => [`  local-data: "${r.name}. 30 IN A ${r.ip}"`, `  local-data: "${r.name}. 30 IN AAAA ::ffff:${r.ip}"`]),
        'remote-control:',
        '  control-enable: no',
        '',
      ].join('\n'),
    );
    const ub = spawnLogged('unbound', ['-d', '-c', conf]);
    procs.push(ub);
    await until('unbound', async () => ((await dig(ubPort, records[0]!.name)) === records[0]!.ip ? true : undefined), 10_000, 100).catch((e) => {
      throw new Error(`${e.message}\n${ub.out()}`);
    });
    const ratios: number[] = [];
    let lost = 0;
    const lostOf = (r: PerfResult) => Number(/^(\d+)/.exec(r.lost)?.[1] ?? NaN);
    for (let round = 1; round <= ROUNDS; round++) {
      // Alternate who goes first, so a drift in the machine's load favours neither.
      const order = round % 2 === 1 ? (['agent', 'unbound'] as const) : (['unbound', 'agent'] as const);
      const got: Record<string, PerfResult> = {};
      for (const who of order) {
        got[who] = await dnsperf(who === 'agent' ? dnsPort : ubPort, datafile);
        console.log(fmt(`${round}: ${who === 'agent' ? `ursa (${THREADS} proc)` : `unbound (${THREADS} thr)`}`, got[who]!));
      }
      lost += lostOf(got.agent!);
      ratios.push(got.agent!.qps / got.unbound!.qps);
      console.log(`${round}: ratio ursa/unbound ${ratios[ratios.length - 1]!.toFixed(2)}x queries/s, ${(got.agent!.avgMs / got.unbound!.avgMs).toFixed(2)}x average latency`);
    }
    console.log(fmt(`agent flood ${FLOOD_QPS / 1000}k q/s`, await dnsperf(dnsPort, datafile, true)));
    console.log(fmt(`unbound flood ${FLOOD_QPS / 1000}k q/s`, await dnsperf(ubPort, datafile, true)));
    await stop(ub);
    await stop(agent);
    const median = [...ratios].sort((a, b) => a - b)[Math.floor(ratios.length / 2)]!;
    console.log(
      `dns: ursa (${THREADS} UDP processes) / unbound (${THREADS} threads) queries/s median ${median.toFixed(2)}x over ${ROUNDS} rounds (${ratios.map((r) => `${r.toFixed(2)}x`).join(', ')}; goal >= 1.00x, ${median >= 1 ? 'met' : 'missed'}), agent lost ${lost} (goal 0); load ${loadavg()[0]!.toFixed(1)}`,
    );
  } finally {
    for (const p of procs) await stop(p).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
