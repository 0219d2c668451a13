/**
 * Crash safety of the zone side of KDS, with real processes: a global seeded with a mesh and ~1,500
 * policies (a few hundred KB, so a first sync takes a while), a background writer changing policies and
 * secrets through the global's API, and one zone agent killed with SIGKILL at random points of its life,
 * 50 times, on the same data directory (wiped now and then, so some kills land in a first snapshot sync).
 * After every restart the zone must converge to exactly what the global sends (a content hash over every
 * kind the global sends to zones, compared with the zone's API), without ever logging a failed apply.
 *
 * Kill delays come from a seeded PRNG; the seed is printed (`URSA_CRASH_SEED=<n>` replays the same
 * delays and wipes; the writer's interleaving with them is timing-dependent). The loop runs 50 times on
 * embedded Postgres and 10 times on PostgreSQL (about 100 process starts take minutes already);
 * `URSA_CRASH_ITERATIONS` changes that for local experiments.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sentToZones } from '@ursa/proto';
import { call } from '@ursa/test-support/api.js';
import { removeDirs, startGlobal, startZoneAgent, type GlobalProc, type ZoneProc } from '@ursa/test-support/cluster.js';
import { eventually } from '@ursa/test-support/zone.js';
import { scratchDatabase } from '@ursa/test-support/backends.js';
import { groupGone } from '@ursa/test-support/process.js';
import { mulberry32 } from '@ursa/test-support/random.js';

const ZONE = 'crash-zone';
const POLICIES = 1500;
const SEED_CONCURRENCY = 50;
/** Iterations of the full loop on embedded Postgres; the PostgreSQL run (DATABASE_URL) is shorter. */
const ITERATIONS = Number(process.env.URSA_CRASH_ITERATIONS ?? 50);
const PG_ITERATIONS = Math.min(ITERATIONS, 10);
const MAX_KILL_DELAY_MS = 1500;

// --- seeded PRNG ---------------------------------------------------------------------------------------

const SEED = process.env.URSA_CRASH_SEED ? Number(process.env.URSA_CRASH_SEED) : Number(BigInt.asUintN(32, BigInt(Date.now()) ^ BigInt(process.pid << 8)));

// --- resources -----------------------------------------------------------------------------------------

type Body = Record<string, unknown>;
interface Managed {
  readonly path: string;
  readonly make: (n: number) => Body;
}

const mesh = (m: string): Body => ({ type: 'Mesh', name: m });
const policyKinds: Record<string, { type: string; spec: (n: number) => Body }> = {
  meshtimeouts: {
    type: 'MeshTimeout',
    spec: (n) => ({
      targetRef: { kind: 'Mesh' },
      to: [{ targetRef: { kind: 'Mesh' }, default: { connectionTimeout: `${1 + (n % 30)}s`, idleTimeout: `${10 + (n % 50)}m`, http: { requestTimeout: `${1 + (n % 90)}s`, streamIdleTimeout: `${n % 60}m` } } }],
    }),
  },
  meshretries: {
    type: 'MeshRetry',
    spec: (n) => ({
      targetRef: { kind: 'Mesh' },
      to: [{ targetRef: { kind: 'Mesh' }, default: { tcp: { maxConnectAttempt: 1 + (n % 9) }, http: { numRetries: 1 + (n % 7), perTryTimeout: `${1 + (n % 20)}s`, backOff: { baseInterval: '25ms', maxInterval: `${100 + n}ms` } } } }],
    }),
  },
  meshcircuitbreakers: {
    type: 'MeshCircuitBreaker',
    spec: (n) => ({
      targetRef: { kind: 'Mesh' },
      to: [{ targetRef: { kind: 'Mesh' }, default: { connectionLimits: { maxConnections: 100 + n, maxPendingRequests: 50 + (n % 100), maxRequests: 200 + n, maxRetries: 1 + (n % 5) } } }],
    }),
  },
  meshhealthchecks: {
    type: 'MeshHealthCheck',
    spec: (n) => ({
      targetRef: { kind: 'Mesh' },
      to: [{ targetRef: { kind: 'Mesh' }, default: { interval: `${5 + (n % 25)}s`, timeout: `${1 + (n % 4)}s`, unhealthyThreshold: 1 + (n % 5), healthyThreshold: 1 + (n % 3), http: { path: `/health/${n}` } } }],
    }),
  },
  meshtrafficpermissions: {
    type: 'MeshTrafficPermission',
    spec: (n) => ({ targetRef: { kind: 'Mesh' }, from: [{ targetRef: { kind: 'Mesh' }, default: { action: n % 3 === 0 ? 'Deny' : 'Allow' } }] }),
  },
};
const policyPaths = Object.keys(policyKinds);

/** A policy body; labels pad it a little, so the whole set is a few hundred KB. */
function policyBody(path: string, meshName: string, name: string, n: number): Body {
  const k = policyKinds[path]!;
  return {
    type: k.type,
    mesh: meshName,
    name,
    labels: { team: `team-${n % 17}`, 'app.example.com/owner': `owner-${(n * 7919) % 1000}`, revision: String(n) },
    spec: k.spec(n),
  };
}
const secretBody = (meshName: string, name: string, n: number): Body => ({ type: 'Secret', mesh: meshName, name, data: Buffer.from(`secret-${name}-${n}-${'x'.repeat(n % 200)}`).toString('base64') });
const globalSecretBody = (name: string, n: number): Body => ({ type: 'GlobalSecret', name, data: Buffer.from(`global-${name}-${n}`).toString('base64') });

/** One writable resource on the global, by URL path. */
interface Key {
  readonly url: string;
  readonly body: (n: number) => Body;
}
const policyKey = (path: string, meshName: string, name: string): Key => ({ url: `/meshes/${meshName}/${path}/${name}`, body: (n) => policyBody(path, meshName, name, n) });

async function put(base: string, key: Key, n: number): Promise<void> {
  const res = await call(base, 'PUT', key.url, { body: key.body(n) });
  if (res.status !== 200 && res.status !== 201) throw new Error(`PUT ${key.url}: ${res.status} ${JSON.stringify(res.body)}`);
}

async function inBatches<T>(items: T[], size: number, run: (t: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(run));
}

// --- content hash ------------------------------------------------------------------------------------------

const DOWN = sentToZones();

function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

async function listAll(base: string, path: string): Promise<Body[]> {
  const out: Body[] = [];
  for (let offset = 0; ; offset += 1000) {
    const res = await call(base, 'GET', `/${path}?size=1000&offset=${offset}`);
    if (res.status !== 200) throw new Error(`GET ${base}/${path}: ${res.status} ${JSON.stringify(res.body)}`);
    out.push(...(res.body.items as Body[]));
    if (!res.body.next) return out;
  }
}

/**
 * Hash of everything of the kinds the global sends to zones, as seen through `base`'s API. `side` picks
 * what counts: on the global what it sends to zone `ZONE` (its own resources, other zones' synced ones),
 * on the zone what came from the global. Timestamps and the `kuma.io/origin` label are left out.
 */
async function contentHash(base: string, side: 'global' | 'zone'): Promise<{ hash: string; count: number }> {
  const lines = (
    await Promise.all(
      DOWN.map(async (desc) => {
        const items = await listAll(base, desc.path);
        return items
          .filter((item) => {
            const labels = (item.labels ?? {}) as Record<string, string>;
            const origin = labels['kuma.io/origin'];
            if (side === 'zone') return origin === 'global';
            if (desc.kds === 'global-to-zones') return origin === undefined || origin === 'global';
            return origin === 'zone' && labels['kuma.io/zone'] !== ZONE;
          })
          .map((item) => {
            const { creationTime: _c, modificationTime: _m, labels, ...rest } = item;
            const kept = Object.fromEntries(Object.entries((labels ?? {}) as Record<string, string>).filter(([k]) => k !== 'kuma.io/origin'));
            return `${desc.kind}\t${String(item.mesh ?? '')}\t${String(item.name)}\t${stable({ ...rest, labels: kept })}`;
          });
      }),
    )
  )
    .flat()
    .sort();
  return { hash: createHash('sha256').update(lines.join('\n')).digest('hex'), count: lines.length };
}

// --- background writer -------------------------------------------------------------------------------------

/**
 * Changes the global continuously: updates, creates and deletes policies, updates secrets. One request at
 * a time; `pause()` resolves once the request in flight has finished, so the global is quiet.
 */
class Writer {
  ops = 0;
  error?: unknown;
  #n = 1_000_000;
  #created = 0;
  #paused = false;
  #stopped = false;
  #gate?: { promise: Promise<void>; open: () => void };
  #step: Promise<void> = Promise.resolve();
  #loop?: Promise<void>;

  constructor(
    private readonly base: string,
    private readonly rand: () => number,
    private readonly live: Key[],
    private readonly secrets: Key[],
  ) {}

  start(): void {
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      if (this.#gate) {
        await this.#gate.promise;
        continue;
      }
      this.#step = this.#once();
      try {
        await this.#step;
        this.ops += 1;
      } catch (err) {
        this.error ??= err;
        return;
      }
    }
  }

  async #once(): Promise<void> {
    const r = this.rand();
    const n = (this.#n += 1);
    const pick = () => Math.floor(this.rand() * this.live.length);
    if (r < 0.45 && this.live.length > 0) {
      await put(this.base, this.live[pick()]!, n);
    } else if (r < 0.67) {
      const path = policyPaths[Math.floor(this.rand() * policyPaths.length)]!;
      const key = policyKey(path, this.rand() < 0.8 ? 'default' : 'second', `writer-${(this.#created += 1)}`);
      await put(this.base, key, n);
      this.live.push(key);
    } else if (r < 0.89 && this.live.length > 0) {
      const i = pick();
      const key = this.live[i]!;
      const res = await call(this.base, 'DELETE', key.url);
      if (res.status !== 200) throw new Error(`DELETE ${key.url}: ${res.status} ${JSON.stringify(res.body)}`);
      this.live.splice(i, 1);
    } else {
      await put(this.base, this.secrets[Math.floor(this.rand() * this.secrets.length)]!, n);
    }
  }

  /** Stops writing after the request in flight. */
  async pause(): Promise<void> {
    if (!this.#gate) {
      let open!: () => void;
      const promise = new Promise<void>((resolve) => (open = resolve));
      this.#gate = { promise, open };
    }
    this.#paused = true;
    await this.#step.catch(() => {});
  }

  resume(): void {
    this.#paused = false;
    const gate = this.#gate;
    this.#gate = undefined;
    gate?.open();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.resume();
    await this.#loop;
  }

  get paused(): boolean {
    return this.#paused;
  }
}

// --- the test ----------------------------------------------------------------------------------------------


/**
 * Lines a healthy zone agent never prints: a KDS session that failed, sync stopped, a resource refused, or
 * the process or its database dying. (Lines of the agent's other components, DNS or xDS, are not this
 * test's subject.)
 */
const isTrouble = (line: string) =>
  (/\bkds\b/.test(line) && /session ended|sync stopped|rejected|error|failed/i.test(line)) || /abort|unhandled|uncaught|failed to start/i.test(line);
/** What a global logs when a session fails unexpectedly (not a zone that went away). */
const GLOBAL_TROUBLE = /session failed|closing session failed|renewal failed|failed:|unhandled/i;

/**
 * Heartbeat and lease of the global in this file. Liveness timing is `kds-liveness.test.ts`'s subject (with
 * cluster.ts's 500 / 2,000 ms); here a 500 ms heartbeat makes the global drop sessions whose zone is
 * busy committing a large batch: PGlite runs on the agent's main thread, so a ~1,600-resource snapshot
 * commit (about 2 s on a loaded machine) sends nothing for longer than 3 heartbeats. That is reported,
 * not what this test is about, so the global here waits 3 x 2 s.
 */
const HEARTBEAT_MS = 2000;
const LEASE_MS = 8000;

/** Processes whose command line names `dataDir` (an agent whose start timed out is left running). */
async function agentPids(dataDir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^[0-9]+$/.test(entry)) continue;
    const cmd = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmd.split('\0').includes(dataDir)) pids.push(Number(entry));
  }
  return pids;
}

const backendsToRun = process.env.DATABASE_URL ? (['pglite', 'postgres'] as const) : (['pglite'] as const);

console.log(`kds-crash: seed ${SEED} (replay with URSA_CRASH_SEED=${SEED})`);

for (const store of backendsToRun) {
  const iterations = store === 'pglite' ? ITERATIONS : PG_ITERATIONS;

  describe(`zone agent killed with SIGKILL mid-sync, global on ${store === 'pglite' ? 'embedded Postgres' : 'PostgreSQL'}`, () => {
    let global: GlobalProc;
    let drop: (() => Promise<void>) | undefined;
    let token: string;
    let writer: Writer | undefined;
    const zoneDirs: string[] = [];
    let current: ZoneProc | undefined;
    const live: Key[] = [];
    const secrets: Key[] = [];

    beforeAll(async () => {
      let databaseUrl: string | undefined;
      if (store === 'postgres') ({ url: databaseUrl, drop } = await scratchDatabase(process.env.DATABASE_URL!, 'ursa_crash'));
      global = await startGlobal({ databaseUrl, heartbeatMs: HEARTBEAT_MS, leaseMs: LEASE_MS });
      const t0 = Date.now();
      for (const m of ['default', 'second']) {
        const res = await call(global.url, 'PUT', `/meshes/${m}`, { body: mesh(m) });
        expect(res.status, JSON.stringify(res.body)).toBe(201);
      }
      const keys: { key: Key; n: number }[] = [];
      for (let i = 0; i < POLICIES; i++) {
        const path = policyPaths[i % policyPaths.length]!;
        keys.push({ key: policyKey(path, i % 10 === 9 ? 'second' : 'default', `seed-${i}`), n: i });
      }
      for (let i = 0; i < 20; i++) secrets.push({ url: `/meshes/default/secrets/sec-${i}`, body: (n) => secretBody('default', `sec-${i}`, n) });
      for (let i = 0; i < 5; i++) secrets.push({ url: `/global-secrets/gsec-${i}`, body: (n) => globalSecretBody(`gsec-${i}`, n) });
      await inBatches([...keys, ...secrets.map((key, n) => ({ key, n }))], SEED_CONCURRENCY, ({ key, n }) => put(global.url, key, n));
      live.push(...keys.map((k) => k.key));
      const seeded = await contentHash(global.url, 'global');
      console.log(`kds-crash[${store}]: seeded ${seeded.count} resources (${POLICIES} policies) in ${Date.now() - t0} ms`);
      token = (await call(global.url, 'POST', '/tokens/zone', { body: { zone: ZONE, validFor: 24 * 3600 } })).body.token as string;
    }, 300_000);

    afterAll(async () => {
      await writer?.stop();
      await current?.stop();
      await global?.stop();
      await drop?.();
      await removeDirs([global?.dataDir, ...zoneDirs].filter(Boolean) as string[]);
    });

    it(
      `converges to exactly the global's state after each of ${iterations} kills at random points`,
      async () => {
        const rand = mulberry32(SEED + (store === 'pglite' ? 0 : 1));
        writer = new Writer(global.url, mulberry32(SEED ^ 0x5eed), live, secrets);
        writer.start();
        const dataDir = await mkdtemp(join(tmpdir(), `ursa-${ZONE}-`));
        zoneDirs.push(dataDir);
        const stats = { starts: 0, startMs: 0, convergeMs: 0, snapshotsAfterKill: 0, killedBeforeConnect: 0, wipes: 0, retries: 0 };
        const trouble: string[] = [];
        const began = Date.now();

        const launch = async (): Promise<ZoneProc> => {
          const t = Date.now();
          let z: ZoneProc;
          try {
            z = await startZoneAgent({ name: ZONE, globalUrl: global.url, token, transport: 'ws', dataDir });
          } catch (err) {
            // startZoneAgent gives an agent 20 s to answer; on a loaded machine a start can take longer.
            // End what it left running (found by its data directory, which only this test uses) and retry once.
            for (const pid of await agentPids(dataDir)) {
              try {
                process.kill(pid, 'SIGKILL');
              } catch {
                /* gone */
              }
            }
            await eventually('the timed-out agent gone', async () => (await agentPids(dataDir)).length === 0, 10_000);
            stats.retries += 1;
            console.log(`kds-crash[${store}]: an agent start timed out; retrying (${(err as Error).message.split('\n')[0]})`);
            z = await startZoneAgent({ name: ZONE, globalUrl: global.url, token, transport: 'ws', dataDir });
          }
          stats.starts += 1;
          stats.startMs += Date.now() - t;
          current = z;
          return z;
        };
        const collect = (z: ZoneProc, label: string) => {
          for (const line of z.child.output().split('\n')) if (isTrouble(line)) trouble.push(`${label}: ${line}`);
        };

        for (let i = 0; i < iterations; i++) {
          if (writer.error) throw writer.error;
          // A few iterations start from nothing: the kill then likely lands in the first (snapshot) sync.
          const wipe = i % 7 === 0;
          if (wipe) {
            await rm(join(dataDir, 'db'), { recursive: true, force: true });
            stats.wipes += 1;
          }
          const delay = Math.floor(rand() * MAX_KILL_DELAY_MS);
          const victim = await launch();
          await new Promise((r) => setTimeout(r, delay)); // the random kill point, not a wait for a condition
          victim.kill();
          await groupGone(victim.child);
          const victimOut = victim.child.output();
          // Only approximate: a line still buffered for the pipe dies with the process.
          if (!victimOut.includes('.kds\tconnected')) stats.killedBeforeConnect += 1;
          collect(victim, `iteration ${i} (killed)`);

          // Restart on the same data directory while the writer keeps going, then let it converge.
          const zone = await launch();
          const t = Date.now();
          await writer.pause();
          if (writer.error) throw writer.error;
          const want = await contentHash(global.url, 'global');
          let got = { hash: '', count: 0 };
          await eventually(
            `iteration ${i}: zone converges to the global's ${want.count} resources`,
            async () => {
              got = await contentHash(zone.url, 'zone');
              return got.hash === want.hash;
            },
            60_000,
          ).catch((err: Error) => {
            throw new Error(`${err.message}; zone has ${got.count} (seed ${SEED})\n--- zone output ---\n${zone.child.output()}`);
          });
          const convergeMs = Date.now() - t;
          stats.convergeMs += convergeMs;
          await eventually(`iteration ${i}: zone connected`, async () => (await call(zone.url, 'GET', '/ready')).body.kds.connected === true, 20_000);
          const mode = /\.kds\tconnected to \S+ \(ws, (snapshot|resume)/.exec(zone.child.output())?.[1] ?? '?';
          if (mode === 'snapshot') stats.snapshotsAfterKill += 1;
          console.log(
            `kds-crash[${store}] #${i}${wipe ? ' (wiped)' : ''}: killed after ${delay} ms${victimOut.includes('.kds\tconnected') ? '' : ' (no "connected" logged yet)'}; restart ${mode}, converged in ${convergeMs} ms to ${want.count} resources (writer ops so far ${writer.ops})`,
          );
          writer.resume();
          // The next iteration kills a fresh start; this converged agent goes first.
          zone.kill();
          await groupGone(zone.child);
          collect(zone, `iteration ${i} (restarted)`);
          current = undefined;
        }

        await writer.stop();
        if (writer.error) throw writer.error;
        const total = Date.now() - began;
        console.log(
          `kds-crash[${store}]: ${iterations} iterations in ${Math.round(total / 1000)} s (seed ${SEED}); ${stats.starts} agent starts averaging ${Math.round(stats.startMs / stats.starts)} ms, ` +
            `convergence after restart averaging ${Math.round(stats.convergeMs / iterations)} ms; ${stats.wipes} wipes; ${stats.killedBeforeConnect} kills before the agent logged "connected"; ` +
            `${stats.snapshotsAfterKill} restarts needed a snapshot (the kill interrupted a first sync); ${writer.ops} writer operations; ${stats.retries} start retries`,
        );
        expect(trouble, `zone agent logged trouble (seed ${SEED})`).toEqual([]);
        const globalTrouble = global.child.output().split('\n').filter((l) => GLOBAL_TROUBLE.test(l));
        expect(globalTrouble, `global logged trouble (seed ${SEED})`).toEqual([]);
        // The global saw no downstream rejections from the zone in any session.
        const insight = (await call(global.url, 'GET', `/zone-insights/${ZONE}`)).body;
        for (const sub of insight.subscriptions as { status?: { total?: { responsesRejected?: string } } }[]) {
          expect(sub.status?.total?.responsesRejected ?? '0').toBe('0');
        }
      },
      2_400_000,
    );
  });
}
