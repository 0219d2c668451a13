/**
 * Crash safety of the zone agent's own writes, with real processes: a federated zone agent (WebSocket, a
 * running global) takes dataplane registrations as fast as eight concurrent writers can send them through
 * its API, and is killed with SIGKILL at a random moment of each burst, 50 times, always restarted on the
 * same data directory and ports. After every restart:
 * - every registration the agent acknowledged (201) exists with exactly the content sent (plus the zone's
 *   stamp: the `kuma.io/zone` label and tag, `kuma.io/origin: zone`, Kuma's computed `kuma.io/mesh`);
 * - nothing exists that was never sent; a registration in flight at the kill may exist or not, but once
 *   seen (or not) after a restart it stays that way for the rest of the run;
 * - the API and the `.mesh` resolver answer (the real `dig`), every service with a registered dataplane has
 *   a VIP, and a VIP once handed out never changes.
 * Every 10 iterations and at the end, the global must converge to the zone's inventory (the set of display
 * names of dataplanes labelled with the zone): the zone's KDS cursors survived the kills too.
 *
 * Kill delays come from a seeded PRNG; the seed is printed (`URSA_ZONE_CRASH_SEED=<n>` replays the same
 * delays; the writers' interleaving with them is timing-dependent). `URSA_ZONE_CRASH_ITERATIONS` changes
 * the number of iterations for local experiments.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '@ursa/test-support/api.js';
import { removeDirs, spawnZoneAgent, startGlobal, type AgentSetup, type GlobalProc } from '@ursa/test-support/cluster.js';
import { digShort } from '@ursa/test-support/dig.js';
import { freePort, getJson, groupGone, killGroup, waitFor, type Child } from '@ursa/test-support/process.js';
import { mulberry32 } from '@ursa/test-support/random.js';

const ZONE = 'crash-zone';
const ITERATIONS = Number(process.env.URSA_ZONE_CRASH_ITERATIONS ?? 50);
const WRITERS = 8;
const BURST_MIN_MS = 300;
const BURST_MAX_MS = 800;
const SERVICES = 4;
const SEED = process.env.URSA_ZONE_CRASH_SEED ? Number(process.env.URSA_ZONE_CRASH_SEED) : Number(BigInt.asUintN(32, BigInt(Date.now()) ^ BigInt(process.pid << 8)));

// --- processes -------------------------------------------------------------------------------------------

const isVip = (s: string) => /^2(4\d|5[0-5])\.\d+\.\d+\.\d+$/.test(s);

// --- resources -------------------------------------------------------------------------------------------

type Body = Record<string, unknown>;

const serviceOf = (n: number) => `svc-${n % SERVICES}`;

/** A dataplane whose content depends on its name, so a mix-up of two registrations shows. */
function dataplaneBody(name: string, iteration: number, n: number): Body {
  return {
    type: 'Dataplane',
    mesh: 'default',
    name,
    labels: { app: serviceOf(n), iteration: String(iteration) },
    networking: {
      address: `10.${iteration % 250}.${(n >> 8) % 250}.${n % 250}`,
      inbound: [{ port: 8000 + (n % 1000), servicePort: 9000 + (n % 500), tags: { 'kuma.io/service': serviceOf(n), version: `v${n % 3}`, name } }],
    },
  };
}

/** What the zone API gives back for a registration: the body with the zone's stamp (labels and tags). */
function expected(body: Body): Body {
  const networking = structuredClone(body.networking) as { inbound: { tags: Record<string, string> }[] };
  for (const ib of networking.inbound) ib.tags['kuma.io/zone'] = ZONE;
  return { ...body, labels: { ...(body.labels as Record<string, string>), 'kuma.io/mesh': body.mesh as string, 'kuma.io/zone': ZONE, 'kuma.io/origin': 'zone' }, networking };
}

/** An item of a list or GET without the fields the server sets (times, the Kuma resource identifier). */
function content(item: Body): Body {
  const { creationTime: _c, modificationTime: _m, kri: _k, ...rest } = item;
  return rest;
}

async function listDataplanes(base: string): Promise<Map<string, Body>> {
  const out = new Map<string, Body>();
  for (let offset = 0; ; offset += 1000) {
    const res = await call(base, 'GET', `/meshes/default/dataplanes?size=1000&offset=${offset}`);
    if (res.status !== 200) throw new Error(`GET ${base}/meshes/default/dataplanes: ${res.status} ${JSON.stringify(res.body)}`);
    for (const item of res.body.items as Body[]) out.set(String(item.name), item);
    if (!res.body.next) return out;
  }
}

/** Display names of the dataplanes the global holds for the zone. */
async function globalInventory(base: string): Promise<Set<string>> {
  const out = new Set<string>();
  for (let offset = 0; ; offset += 1000) {
    const res = await call(base, 'GET', `/meshes/default/dataplanes?filter[labels.kuma.io/zone]=${ZONE}&size=1000&offset=${offset}`);
    if (res.status !== 200) throw new Error(`GET global dataplanes: ${res.status} ${JSON.stringify(res.body)}`);
    for (const item of res.body.items as { labels: Record<string, string> }[]) out.add(item.labels['kuma.io/display-name']!);
    if (!res.body.next) return out;
  }
}

const sameSet = (a: Set<string>, b: Set<string>) => a.size === b.size && [...a].every((x) => b.has(x));

// --- the test --------------------------------------------------------------------------------------------

console.log(`zone-crash: seed ${SEED} (replay with URSA_ZONE_CRASH_SEED=${SEED})`);

describe('zone agent killed with SIGKILL during heavy local registration (real processes)', () => {
  let global: GlobalProc;
  let setup: AgentSetup;
  let current: Child | undefined;
  const dirs: string[] = [];

  beforeAll(async () => {
    global = await startGlobal();
    dirs.push(global.dataDir);
    // The mesh before the token: on a fresh global, POST /tokens/zone fails (500, signing_keys_tenant_fk)
    // until the tenant has a row, which the first resource write creates.
    expect((await call(global.url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default' } })).status).toBe(201);
    const token = (await call(global.url, 'POST', '/tokens/zone', { body: { zone: ZONE, validFor: 24 * 3600 } })).body.token as string;
    const dataDir = await mkdtemp(join(tmpdir(), 'ursa-zone-crash-'));
    dirs.push(dataDir);
    const tokenFile = join(dataDir, 'token');
    await writeFile(tokenFile, token);
    setup = { dataDir, tokenFile, globalUrl: global.url, apiPort: await freePort(), dnsPort: await freePort(), xdsPort: await freePort() };
  }, 60_000);

  afterAll(async () => {
    await current?.stop();
    await global?.stop();
    await removeDirs(dirs);
  });

  it(
    `keeps exactly what it acknowledged across ${ITERATIONS} kills during registration bursts`,
    async () => {
      const rand = mulberry32(SEED);
      const zoneUrl = `http://127.0.0.1:${setup.apiPort}`;
      /** Every body ever sent, by name. */
      const sent = new Map<string, Body>();
      /** Names that must exist: acknowledged, or seen after a restart. */
      const durable = new Set<string>();
      /** Names sent but not acknowledged and not there after the restart that followed: must never appear. */
      const absent = new Set<string>();
      const vips = new Map<string, string>();
      const stats = { acked: 0, inFlight: 0, inFlightKept: 0, refusedBeforeKill: [] as string[], restartApiMs: [] as number[], restartDnsMs: [] as number[], burstMs: [] as number[], putMs: [] as number[], globalChecks: 0 };
      const trouble: string[] = [];
      const began = Date.now();

      /**
       * Starts the agent and waits for its API and, given a service that has a VIP, for its first DNS
       * answer (side by side); returns the child and both times from spawn.
       */
      const launch = async (label: string, probe?: string) => {
        const { child, spawnedAt } = spawnZoneAgent(ZONE, setup);
        current = child;
        const [apiMs, dnsMs] = await Promise.all([
          waitFor(`${label}: zone API`, async () => ((await getJson(`${zoneUrl}/ready`)) ? Date.now() - spawnedAt : undefined), 60_000, child),
          probe
            ? waitFor(`${label}: ${probe}.mesh answered`, async () => ((await digShort(setup.dnsPort, `${probe}.mesh`).catch(() => undefined)) ? Date.now() - spawnedAt : undefined), 60_000, child)
            : undefined,
        ]);
        return { child, spawnedAt, apiMs, dnsMs };
      };

      /** Checks the zone against everything sent so far; `pending` are this burst's unacknowledged names. */
      const verify = async (label: string, pending: Set<string>) => {
        const items = await listDataplanes(zoneUrl);
        const problems: string[] = [];
        for (const [name, item] of items) {
          const body = sent.get(name);
          if (!body) problems.push(`${name} exists but was never sent`);
          else if (!isDeepStrictEqual(content(item), expected(body))) problems.push(`${name}: content ${JSON.stringify(content(item))} is not what was sent ${JSON.stringify(expected(body))}`);
          if (absent.has(name)) problems.push(`${name} was missing after an earlier restart and is back`);
        }
        for (const name of durable) if (!items.has(name)) problems.push(`${name} was acknowledged (or seen after a restart) and is gone`);
        expect(problems, `${label}: ${problems.length} problem(s)\n${problems.slice(0, 20).join('\n')}`).toEqual([]);
        for (const name of pending) {
          if (items.has(name)) {
            durable.add(name);
            stats.inFlightKept += 1;
          } else {
            absent.add(name);
          }
        }
        return items;
      };

      /** Every service with a dataplane answers with its VIP; a VIP once seen never changes. */
      const verifyDns = async (label: string, items: Map<string, Body>, child: Child) => {
        const services = new Set<string>();
        for (const item of items.values()) services.add(((item.labels ?? {}) as Record<string, string>).app!);
        for (const s of [...services].sort()) {
          // The record table is built from the persisted state before the sockets open, so every answer of
          // a restarted agent is complete; only a service registered just now may take a rebuild (100 ms).
          const ip = vips.has(s) ? await digShort(setup.dnsPort, `${s}.mesh`) : await waitFor(`${label}: ${s}.mesh answered`, async () => (await digShort(setup.dnsPort, `${s}.mesh`).catch(() => '')) || undefined, 10_000, child);
          expect(ip, `${label}: ${s}.mesh`).toSatisfy(isVip);
          const before = vips.get(s);
          if (before) expect(ip, `${label}: VIP of ${s} changed`).toBe(before);
          else vips.set(s, ip);
        }
      };

      const checkGlobal = async (label: string) => {
        const zoneSide = new Set([...(await listDataplanes(zoneUrl)).keys()]);
        const t = Date.now();
        let last = new Set<string>();
        await waitFor(
          `${label}: the global converges to the zone's ${zoneSide.size} dataplanes`,
          async () => {
            last = await globalInventory(global.url);
            return sameSet(last, zoneSide) ? true : undefined;
          },
          60_000,
        ).catch((err: Error) => {
          const missing = [...zoneSide].filter((n) => !last.has(n));
          const extra = [...last].filter((n) => !zoneSide.has(n));
          throw new Error(`${err.message.split('\n')[0]}; global has ${last.size}, missing ${missing.length} (${missing.slice(0, 5).join(', ')}), extra ${extra.length} (${extra.slice(0, 5).join(', ')})`);
        });
        stats.globalChecks += 1;
        console.log(`[zone-crash] ${label}: the global holds the zone's ${zoneSide.size} dataplanes (converged in ${Date.now() - t} ms)`);
      };

      let agent = await launch('first start');
      await waitFor('mesh default in the zone', async () => ((await call(zoneUrl, 'GET', '/meshes/default')).status === 200 ? true : undefined), 30_000, agent.child);

      for (let i = 0; i < ITERATIONS; i++) {
        const label = `iteration ${i}`;
        const delay = BURST_MIN_MS + Math.floor(rand() * (BURST_MAX_MS - BURST_MIN_MS));
        const acked = new Set<string>();
        const unacked = new Set<string>();
        let killed = false;
        let n = 0;
        const writer = async () => {
          while (!killed) {
            const k = n++;
            const name = `dp-${i}-${k}`;
            const body = dataplaneBody(name, i, k);
            sent.set(name, body);
            const t = Date.now();
            try {
              const res = await fetch(`${zoneUrl}/meshes/default/dataplanes/${name}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
              const text = await res.text();
              if (res.status === 201) {
                acked.add(name);
                stats.putMs.push(Date.now() - t);
              } else {
                unacked.add(name);
                if (!killed) stats.refusedBeforeKill.push(`${label}: PUT ${name}: ${res.status} ${text.slice(0, 200)}`);
              }
            } catch {
              unacked.add(name); // the connection died with the agent: outcome unknown
            }
          }
        };
        const burstStart = Date.now();
        const writers = Array.from({ length: WRITERS }, writer);
        await new Promise((r) => setTimeout(r, delay)); // the random kill point, not a wait for a condition
        killGroup(agent.child);
        killed = true;
        await Promise.all(writers);
        stats.burstMs.push(Date.now() - burstStart);
        await groupGone(agent.child);
        for (const line of agent.child.output().split('\n')) if (/failed|unhandled|uncaught|exception/i.test(line)) trouble.push(`${label} (killed agent): ${line}`);
        for (const name of acked) durable.add(name);
        stats.acked += acked.size;
        stats.inFlight += unacked.size;

        agent = await launch(`${label} restart`, [...vips.keys()][0]);
        stats.restartApiMs.push(agent.apiMs);
        if (agent.dnsMs !== undefined) stats.restartDnsMs.push(agent.dnsMs);
        const items = await verify(label, unacked);
        await verifyDns(label, items, agent.child);
        console.log(`[zone-crash] ${label}: killed after ${delay} ms, ${acked.size} acknowledged, ${unacked.size} unacknowledged; restart: API ${agent.apiMs} ms, DNS ${agent.dnsMs ?? '-'} ms; ${items.size} dataplanes`);
        if (i % 10 === 9 && i !== ITERATIONS - 1) await checkGlobal(label);
      }

      await checkGlobal('final');
      const ready = (await getJson(`${zoneUrl}/ready`)) as { kds: { connected: boolean } };
      expect(ready.kds.connected).toBe(true);
      for (const line of agent.child.output().split('\n')) if (/failed|unhandled|uncaught|exception/i.test(line)) trouble.push(`final agent: ${line}`);

      const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
      console.log(
        `[zone-crash] seed ${SEED}: ${ITERATIONS} kills in ${((Date.now() - began) / 1000).toFixed(0)} s; ${sent.size} registrations sent, ${stats.acked} acknowledged (all kept), ` +
          `${stats.inFlight} unacknowledged at a kill (${stats.inFlightKept} of them had committed); ${durable.size} dataplanes in the end; ${vips.size} VIPs stable\n` +
          `[zone-crash] burst ${pct(stats.burstMs, 0)}..${pct(stats.burstMs, 1)} ms with ${WRITERS} writers; acknowledged PUT: median ${pct(stats.putMs, 0.5)} ms, p90 ${pct(stats.putMs, 0.9)} ms; restart to API: median ${pct(stats.restartApiMs, 0.5)} ms, max ${pct(stats.restartApiMs, 1)} ms; ` +
          `restart to DNS: median ${pct(stats.restartDnsMs, 0.5)} ms, max ${pct(stats.restartDnsMs, 1)} ms; ${stats.globalChecks} global convergence checks`,
      );
      if (trouble.length > 0) console.log(`[zone-crash] ${trouble.length} log line(s) worth a look:\n${trouble.slice(0, 20).join('\n')}`);
      expect(stats.refusedBeforeKill, stats.refusedBeforeKill.slice(0, 10).join('\n')).toEqual([]);
      expect(stats.acked).toBeGreaterThan(ITERATIONS);
    },
    1_800_000,
  );
});
