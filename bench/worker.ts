/**
 * Worker benchmark: propagation of a policy PUT to 10 connected zones (p50/p99), through the global plane in
 * workerd (`wrangler dev`: the Worker, its KDS hub Durable Object, PostgreSQL through the Hyperdrive binding)
 * and through the Node global, each over WebSocket and over long-poll, in one run on one fresh database.
 *
 * Both globals run as their own processes with their default settings (Worker: wrangler.jsonc's vars, e.g. a
 * 500 ms revision watch; Node: NOTIFY). Zones are real KDS clients (zone-agent/src/kds/client.ts) in this
 * process with in-memory state, so the globals' side is what is measured. A round is timed from just before
 * the PUT until the policy is applied in each zone; one warm-up round per configuration is not counted.
 * The last line prints the comparison.
 *
 * Run: `npx tsx bench/worker.ts` (PostgreSQL from DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { migrate } from '@ursa/core/node';
import { openPostgres, TokenStore } from '@ursa/core';
import { scratchDatabase } from '@ursa/test-support/backends.js';
import { freePort, stopGroup } from '@ursa/test-support/process.js';
import { timeDelivery } from './support/delivery.js';
import { memoryZone } from './support/memory-zone.js';
import { ms, pct } from './support/stats.js';
import { waitFor } from './support/wait.js';

const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ZONES = 10;
const ROUNDS = 20;
const ROOT = new URL('../', import.meta.url).pathname;

const policy = (name: string) => ({
  type: 'MeshTimeout',
  mesh: 'default',
  name,
  spec: { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { http: { requestTimeout: '5s' } } }] },
});

interface Global {
  readonly name: string;
  readonly url: string;
  /** Bearer token for the API (the Worker has no loopback admin). */
  readonly token?: string;
  readonly proc: ChildProcess;
}

async function request(g: Global, method: string, path: string, body: unknown): Promise<unknown> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json', ...(g.token ? { authorization: `Bearer ${g.token}` } : {}) };
  const send = () => fetch(`${g.url}${path}`, { method, headers, body: JSON.stringify(body) });
  // A kept-alive connection the server closed just as a request went out fails with "other side closed"
  // (seen once behind wrangler dev's proxy): send again once. PUTs are idempotent; a zone token issued twice is harmless.
  const res = await send().catch((err: unknown) => {
    if ((err as { cause?: { code?: string } }).cause?.code !== 'UND_ERR_SOCKET') throw err;
    return send();
  });
  if (res.status >= 300) throw new Error(`${g.name}: ${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** p50/p99 of policy PUT -> applied, over ROUNDS rounds to ZONES zones of `g` over `transport`. */
async function propagation(g: Global, transport: 'ws' | 'poll'): Promise<number[]> {
  const tag = `${g.name}-${transport}`.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  const zones = await Promise.all(
    Array.from({ length: ZONES }, async (_, i) => {
      const name = `${tag}-${i}`;
      const { token } = (await request(g, 'POST', '/tokens/zone', { zone: name, validFor: 3600 })) as { token: string };
      return memoryZone({ name, globalUrl: g.url, token, transport });
    }),
  );
  try {
    for (const z of zones) z.client.start();
    await waitFor(`${tag}: ${ZONES} zones synced`, () => zones.every((z) => z.state.resources.has('Mesh//default')), 60_000);
    const lat: number[] = [];
    for (let round = -1; round < ROUNDS; round++) {
      const name = `prop-${tag}-${round + 1}`;
      const arrived = await timeDelivery(zones, name, () => request(g, 'PUT', `/meshes/default/meshtimeouts/${name}`, policy(name)), `${tag}: round ${round} in ${ZONES} zones`);
      if (round >= 0) lat.push(...arrived); // round -1 warms up (a hub is created on first use)
    }
    return lat;
  } finally {
    await Promise.all(zones.map((z) => z.client.stop()));
  }
}

async function main() {
  const began = performance.now();
  const scratch = await scratchDatabase(ADMIN_URL, 'ursa_bench_worker');
  const dbUrl = new URL(scratch.url);
  const db = openPostgres(scratch.url, { max: 2 });
  const procs: ChildProcess[] = [];
  try {
    await migrate(db);
    // The Worker's tenant and its admin token; the Node global serves `default` to loopback admin.
    const tokens = new TokenStore(db.db);
    await tokens.createTenant('bench');
    const workerToken = (await tokens.issue('bench', { name: 'bench', role: 'admin' })).token;

    const nodePort = await freePort();
    const node: Global = {
      name: 'Node',
      url: `http://127.0.0.1:${nodePort}`,
      proc: spawn(process.execPath, ['--import', 'tsx', `${ROOT}global-api/src/node.ts`], {
        env: { ...process.env, DATABASE_URL: dbUrl.toString(), URSA_PORT: String(nodePort) },
        stdio: ['ignore', 'ignore', 'inherit'],
        detached: true,
      }),
    };
    procs.push(node.proc);

    const [workerPort, inspector] = [await freePort(), await freePort()];
    const hyperdrive = new URL(dbUrl.toString());
    if (!hyperdrive.password) hyperdrive.password = 'trust'; // wrangler wants one; a trust-auth server ignores it
    const worker: Global = {
      name: 'Worker',
      url: `http://127.0.0.1:${workerPort}`,
      token: workerToken,
      proc: spawn(
        `${ROOT}node_modules/.bin/wrangler`,
        ['dev', '--config', `${ROOT}global-api/wrangler.jsonc`, '--ip', '127.0.0.1', '--port', String(workerPort), '--inspector-port', String(inspector), '--show-interactive-dev-session=false'],
        {
          env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', CI: '1', CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: hyperdrive.toString() },
          stdio: ['ignore', 'ignore', 'inherit'],
          detached: true,
        },
      ),
    };
    procs.push(worker.proc);
    for (const g of [node, worker]) {
      await waitFor(`${g.name} global`, async () => (await fetch(`${g.url}/`).catch(() => undefined))?.ok === true, 60_000);
      await request(g, 'PUT', '/meshes/default', { type: 'Mesh', name: 'default' });
    }

    const results: { what: string; lat: number[] }[] = [];
    for (const [g, transport] of [
      [node, 'ws'],
      [worker, 'ws'],
      [node, 'poll'],
      [worker, 'poll'],
    ] as const) {
      const lat = await propagation(g, transport);
      results.push({ what: `${g.name} ${transport}`, lat });
      console.log(`${g.name.padEnd(6)} ${transport.padEnd(4)}: policy PUT -> applied in ${ZONES} zones: p50 ${ms(pct(lat, 50))}, p99 ${ms(pct(lat, 99))} (${lat.length} deliveries)`);
    }
    console.log(`(${((performance.now() - began) / 1000).toFixed(0)} s in all)`);
    console.log(`propagation to ${ZONES} zones, p50/p99: ${results.map((r) => `${r.what} ${pct(r.lat, 50).toFixed(1)}/${pct(r.lat, 99).toFixed(1)} ms`).join(' | ')}`);
  } finally {
    await Promise.all(procs.map(stopGroup)); // detached: wrangler's workerd goes with it
    await db.close();
    await scratch.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
