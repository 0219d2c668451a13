/**
 * HTTP API throughput and latency of the global plane on real PostgreSQL, against the floor of the same
 * HTTP stack: GET one policy, GET a list of 1,000 policies (`size=1000`), PUT a policy (update in place),
 * and a bare Hono handler that returns a constant JSON body.
 *
 * Run: `npx tsx bench/api.ts` (PostgreSQL from DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test;
 * a fresh database is created and dropped). BENCH_CONCURRENCY (default 16) keep-alive clients per workload,
 * BENCH_SECONDS (default 10) measured seconds per workload after 2 s of warm-up.
 *
 * Layout: this process creates the database, issues a token and drives the load; a child process (this file
 * with `--serve`) runs the servers, so clients and servers do not share an event loop. The child serves
 * the real app (`createApp`, as `npm start` does on PostgreSQL, HTTP API only) with @hono/node-server, and
 * on a second port a bare Hono app with one route. A separate app rather than a route inside Ursa's app:
 * Ursa's `*` middleware (per-request stores, authentication) would run for any route mounted there, and
 * the floor is meant to be the HTTP stack without Ursa: same process, same event loop, same node-server and
 * Hono, same client. The ratio bare/ursa is how many bare requests the server could answer in the time it
 * takes to answer one Ursa request.
 *
 * CPU columns: the server process's CPU (from /proc, 100% = one core; PostgreSQL's own CPU is not in it) and
 * this process's. When the client is near 100% the row is client-bound (the bare handler usually is on a
 * 2-vCPU machine), and then `server µs/req` (server CPU per request) is the fairer measure of cost.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_MS = 2_000;
const POLICIES = 1_000;

// The bare handler's body: a constant MeshTimeout, about the size of the real GET-one response.
const BARE_BODY = {
  type: 'MeshTimeout',
  mesh: 'bench',
  name: 'mt-0500',
  creationTime: '2026-01-01T00:00:00.000Z',
  modificationTime: '2026-01-01T00:00:00.000Z',
  labels: { team: 't0' },
  kri: 'kri_mt_bench___mt-0500_',
  spec: { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { http: { requestTimeout: '5s' } } }] },
};

const policy = (mesh: string, name: string, timeout: string, team = 't0') => ({
  type: 'MeshTimeout',
  mesh,
  name,
  labels: { team },
  spec: { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { http: { requestTimeout: timeout } } }] },
});

// ---------------------------------------------------------------------------------------------------------
// Child: the servers.

async function serveMain(databaseUrl: string): Promise<void> {
  const [{ serve }, { Hono }, { createApp }, { openPostgres }, { createStores }] = await Promise.all([
    import('@hono/node-server'),
    import('hono'),
    import('@ursa/core'),
    import('@ursa/core'),
    import('@ursa/core'),
  ]);
  const database = openPostgres(databaseUrl); // the pool `npm start` uses (10 connections)
  const stores = createStores(database.db);
  const app = createApp({
    instanceId: 'bench-0000',
    hostname: 'bench',
    defaultTenant: 'default',
    openStores: () => stores,
    // Every request carries a bearer token, as remote clients do (verified tokens are cached per process).
    auth: { loopbackAdmin: false, isLoopback: () => false },
    meshDefaults: true,
    config: { bench: true },
  });
  const bare = new Hono();
  bare.get('/bare', (c) => c.json(BARE_BODY));

  const listen = (fetch: (req: Request) => Response | Promise<Response>) =>
    new Promise<http.Server>((resolve) => {
      const server = serve({ fetch, hostname: '127.0.0.1', port: 0 }) as http.Server;
      server.once('listening', () => resolve(server));
    });
  const ursaServer = await listen(app.fetch);
  const bareServer = await listen(bare.fetch);
  const port = (s: http.Server) => (s.address() as AddressInfo).port;
  process.stdout.write(`${JSON.stringify({ ursa: port(ursaServer), bare: port(bareServer) })}\n`);

  process.on('SIGTERM', () => {
    ursaServer.closeAllConnections();
    bareServer.closeAllConnections();
    ursaServer.close();
    bareServer.close();
    database.close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 3000).unref();
  });
}

// ---------------------------------------------------------------------------------------------------------
// Parent: the load.

interface Target {
  readonly port: number;
  readonly method: 'GET' | 'PUT';
  /** Path and body for client `i`'s `k`-th request. */
  request(i: number, k: number): { path: string; body?: string };
}

interface Result {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly requests: number;
  readonly errors: number;
  readonly statuses: Record<number, number>;
  readonly serverCpu: number;
  readonly clientCpu: number;
}

function send(agent: http.Agent, port: number, method: string, path: string, token: string | undefined, body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(body);
    }
    const req = http.request({ agent, host: '127.0.0.1', port, method, path, headers }, (res) => {
      res.on('data', () => {});
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Server process CPU time in seconds, from /proc (0 where /proc is missing). */
function procCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in USER_HZ (100 on Linux)
  } catch {
    return 0;
  }
}

/** N keep-alive clients, each sending its next request as soon as the previous answer has arrived. */
async function load(target: Target, token: string | undefined, serverPid: number): Promise<Result> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const t0 = performance.now();
  const measureFrom = t0 + WARMUP_MS;
  const end = measureFrom + SECONDS * 1000;
  const latencies: number[] = [];
  const statuses: Record<number, number> = {};
  let errors = 0;
  let server0 = 0;
  let client0 = process.cpuUsage();
  const marker = setTimeout(() => {
    server0 = procCpuSeconds(serverPid);
    client0 = process.cpuUsage();
  }, WARMUP_MS);

  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, i) => {
      for (let k = 0; ; k++) {
        const start = performance.now();
        if (start >= end) return;
        const { path, body } = target.request(i, k);
        let status = 0;
        try {
          status = await send(agent, target.port, target.method, path, token, body);
        } catch {
          status = 0;
        }
        const done = performance.now();
        if (start < measureFrom || done > end) continue;
        latencies.push(done - start);
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (status < 200 || status >= 300) errors++;
      }
    }),
  );
  clearTimeout(marker);
  const seconds = SECONDS;
  const serverCpu = (procCpuSeconds(serverPid) - server0) / seconds;
  const c = process.cpuUsage(client0);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
  return {
    rps: latencies.length / seconds,
    p50: pct(50),
    p99: pct(99),
    requests: latencies.length,
    errors,
    statuses,
    serverCpu,
    clientCpu: (c.user + c.system) / 1e6 / seconds,
  };
}

async function startServers(databaseUrl: string): Promise<{ child: ChildProcess; ports: { ursa: number; bare: number } }> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, [...process.execArgv, self, '--serve', databaseUrl], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ports = await new Promise<{ ursa: number; bare: number }>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the server process did not start in 30 s: ${out}`)), 30_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(JSON.parse(out.slice(0, nl)));
      }
    });
    child.once('exit', (code) => reject(new Error(`the server process exited (${code}) before it was ready`)));
  });
  return { child, ports };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Runs `fn` for every item with `n` in flight. */
async function pool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

const num = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(1));

async function main(): Promise<void> {
  const [{ migrate }, { openPostgres }, { TokenStore }] = await Promise.all([
    import('@ursa/core/node'),
    import('@ursa/core'),
    import('@ursa/core'),
  ]);
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const dbName = `ursa_bench_${randomBytes(4).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${dbName}`);
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  const databaseUrl = url.toString();
  let child: ChildProcess | undefined;
  const started = performance.now();
  // Shown with the results: other work on the machine skews every row.
  const loadAtStart = loadavg()[0]!;
  try {
    const database = openPostgres(databaseUrl, { max: 1 });
    await migrate(database);
    const tokens = new TokenStore(database.db);
    await tokens.createTenant('bench');
    const token = (await tokens.issue('bench', { name: 'bench', role: 'admin' })).token;
    await database.close();

    const servers = await startServers(databaseUrl);
    child = servers.child;
    const { ursa, bare } = servers.ports;
    const serverPid = child.pid!;

    // Seed over the API, as a user would: two meshes without default policies, 1,000 policies in one, and
    // one policy per client (in the other mesh, so the list holds exactly 1,000) for the PUT workload.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const must = async (method: string, path: string, body: unknown, ok: number[]) => {
      const status = await send(agent, ursa, method, path, token, JSON.stringify(body));
      if (!ok.includes(status)) throw new Error(`seeding: ${method} ${path} answered ${status}`);
    };
    for (const mesh of ['bench', 'bench-put']) await must('PUT', `/meshes/${mesh}`, { type: 'Mesh', name: mesh, skipCreatingInitialPolicies: ['*'] }, [201]);
    const names = Array.from({ length: POLICIES }, (_, i) => `mt-${String(i).padStart(4, '0')}`);
    await pool(names, 8, (name) => must('PUT', `/meshes/bench/meshtimeouts/${name}`, policy('bench', name, `${(Number(name.slice(3)) % 60) + 1}s`, `t${Number(name.slice(3)) % 10}`), [201]));
    await pool(Array.from({ length: CONCURRENCY }, (_, i) => i), 8, (i) => must('PUT', `/meshes/bench-put/meshtimeouts/put-${i}`, policy('bench-put', `put-${i}`, '1s'), [201]));
    agent.destroy();

    // Check what each workload answers before timing it.
    const check = await fetch(`http://127.0.0.1:${ursa}/meshes/bench/meshtimeouts?size=1000`, { headers: { authorization: `Bearer ${token}` } });
    const listBody = (await check.json()) as { total: number; items: unknown[] };
    if (listBody.total !== POLICIES || listBody.items.length !== POLICIES) throw new Error(`the list holds ${listBody.items.length} of ${listBody.total}`);
    const listBytes = Buffer.byteLength(JSON.stringify(listBody));
    const one = await fetch(`http://127.0.0.1:${ursa}/meshes/bench/meshtimeouts/mt-0500`, { headers: { authorization: `Bearer ${token}` } });
    const oneBytes = (await one.text()).length;
    const bareBytes = (await (await fetch(`http://127.0.0.1:${bare}/bare`)).text()).length;

    // Each client alternates between two bodies, so every PUT is a real change (a new version).
    const putBodies = Array.from({ length: CONCURRENCY }, (_, i) => [0, 1].map((k) => JSON.stringify(policy('bench-put', `put-${i}`, `${k + 2}s`))));
    const workloads: { name: string; target: Target; token?: string }[] = [
      { name: 'bare Hono handler', target: { port: bare, method: 'GET', request: () => ({ path: '/bare' }) } },
      { name: 'GET 1 policy', token, target: { port: ursa, method: 'GET', request: () => ({ path: '/meshes/bench/meshtimeouts/mt-0500' }) } },
      { name: 'GET list of 1000', token, target: { port: ursa, method: 'GET', request: () => ({ path: '/meshes/bench/meshtimeouts?size=1000' }) } },
      { name: 'PUT 1 policy', token, target: { port: ursa, method: 'PUT', request: (i, k) => ({ path: `/meshes/bench-put/meshtimeouts/put-${i}`, body: putBodies[i]![k % 2] }) } },
    ];
    const results: Record<string, Result> = {};
    for (const w of workloads) {
      results[w.name] = await load(w.target, w.token, serverPid);
      const r = results[w.name]!;
      process.stderr.write(`  ${w.name}: ${num(r.rps)} req/s, p50 ${ms(r.p50)} ms, p99 ${ms(r.p99)} ms, statuses ${JSON.stringify(r.statuses)}\n`);
      if (r.errors > 0) throw new Error(`${w.name}: ${r.errors} requests failed: ${JSON.stringify(r.statuses)}`);
    }
    const b = results['bare Hono handler']!;

    console.log(
      `\nHTTP API on PostgreSQL (${CONCURRENCY} keep-alive clients, ${SECONDS} s per workload after ${WARMUP_MS / 1000} s warm-up; ` +
        `responses: bare ${bareBytes} B, one policy ${oneBytes} B, list ${num(listBytes / 1024)} KiB; ${cpus().length} CPUs, load average ${loadAtStart.toFixed(1)} at start)`,
    );
    const header = ['workload'.padEnd(18), 'req/s'.padStart(9), 'p50 ms'.padStart(9), 'p99 ms'.padStart(9), 'bare/ursa'.padStart(10), 'server CPU'.padStart(11), 'server µs/req'.padStart(14), 'client CPU'.padStart(11)];
    console.log(header.join(''));
    for (const w of workloads) {
      const r = results[w.name]!;
      const ratio = w.name === 'bare Hono handler' ? '-' : `x${(b.rps / r.rps).toFixed(1)}`;
      console.log(
        [
          w.name.padEnd(18),
          num(r.rps).padStart(9),
          ms(r.p50).padStart(9),
          ms(r.p99).padStart(9),
          ratio.padStart(10),
          `${Math.round(r.serverCpu * 100)}%`.padStart(11),
          num((r.serverCpu * 1e6) / r.rps).padStart(14),
          `${Math.round(r.clientCpu * 100)}%`.padStart(11),
        ].join(''),
      );
    }
    process.stderr.write(`  (bench took ${((performance.now() - started) / 1000).toFixed(0)} s)\n`);
    const head = (label: string, name: string) => {
      const r = results[name]!;
      return `${label} ${num(r.rps)} req/s p99 ${ms(r.p99)} ms (x${(b.rps / r.rps).toFixed(1)})`;
    };
    const g = results['GET 1 policy']!;
    console.log(
      `api: GET 1 policy ${num(g.rps)} req/s p99 ${ms(g.p99)} ms (bare ${num(b.rps)} req/s, x${(b.rps / g.rps).toFixed(1)}) | ${head('list 1000', 'GET list of 1000')} | ${head('PUT', 'PUT 1 policy')}`,
    );
  } finally {
    if (child) await stopChild(child);
    await admin.unsafe(`drop database if exists ${dbName} with (force)`);
    await admin.end();
  }
}

if (process.argv[2] === '--serve') {
  serveMain(process.argv[3]!).catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
