/**
 * A global whose PostgreSQL connections are dropped under load (what a failover does): the Node entry as a real
 * child process on a scratch database, reached through a TCP forwarder so the database can also be made
 * unreachable for a while without touching the server other suites share. Eight clients send mixed reads and
 * writes over HTTP and one zone syncs over KDS, while every backend of the database is terminated several
 * times (`pg_terminate_backend`) and then the database is unreachable for a few seconds.
 *
 * What a user may see: every answer is 2xx, or 503 with Kuma's error body and nothing of the database in it;
 * never a 500, never an answer later than a deadline. What must hold: the process lives, requests succeed
 * again soon after the database is back, every acknowledged write is there, and the zone converges to it.
 *
 * PostgreSQL only (DATABASE_URL); skipped otherwise.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { scratchDatabase, type ScratchDatabase } from '@ursa/test-support/backends.js';
import { removeDirs, startGlobal, type GlobalProc } from '@ursa/test-support/cluster.js';
import { call } from '@ursa/test-support/api.js';
import { mulberry32 } from '@ursa/test-support/random.js';
import { tcpProxy, type TcpProxy } from '@ursa/test-support/tcp-proxy.js';
import { eventually, startZone, type TestZone } from '@ursa/test-support/zone.js';

const DATABASE_URL = process.env.DATABASE_URL;
const SEED = 0x0db0_d12e;
const CLIENTS = 8;
/** No request may take longer than this, database or not. */
const REQUEST_DEADLINE_MS = 15_000;
/** Once the database is reachable again, a write must succeed within this. */
const RECOVERY_MS = 10_000;
const TERMINATION_ROUNDS = 6;

const policy = (name: string, timeout: string) => ({
  type: 'MeshTimeout',
  mesh: 'default',
  name,
  spec: { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { http: { requestTimeout: timeout } } }] },
});

/** What the clients know of each of their policies: acknowledged present (with its timeout), acknowledged deleted, or unknown (the last write was not acknowledged). */
type Known = { state: 'present'; timeout: string } | { state: 'deleted' } | { state: 'unknown' };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!DATABASE_URL)('global on PostgreSQL whose connections are dropped under load', () => {
  let scratch: ScratchDatabase;
  let proxy: TcpProxy;
  let global: GlobalProc;
  let killer: postgres.Sql;
  let zone: TestZone | undefined;

  beforeAll(async () => {
    scratch = await scratchDatabase(DATABASE_URL!, 'ursa_dbdrop');
    const direct = new URL(scratch.url);
    proxy = await tcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
    const viaProxy = new URL(scratch.url);
    viaProxy.port = String(proxy.port);
    global = await startGlobal({ databaseUrl: viaProxy.toString() });
    // The test's own connection goes around the forwarder and is the one backend spared by the terminations.
    killer = postgres(scratch.url, { max: 1, onnotice: () => {} });
    expect((await call(global.url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default' } })).status).toBe(201);
    const token = (await call(global.url, 'POST', '/tokens/zone', { body: { zone: 'zone-1', validFor: 3600 } })).body.token as string;
    zone = await startZone({ name: 'zone-1', globalUrl: global.url, token, transport: 'ws' });
  }, 120_000);

  afterAll(async () => {
    await zone?.stop();
    await global?.stop();
    await killer?.end({ timeout: 1 });
    await proxy?.close();
    await scratch?.drop();
    if (global) await removeDirs([global.dataDir]);
  });

  it('keeps serving: only 2xx or 503 with Kuma\'s body, recovers, loses no acknowledged write, and the zone converges', async () => {
    const known = new Map<string, Known>();
    const problems: string[] = [];
    const counts = { ok: 0, unavailable: 0 };
    let stop = false;

    /** One request with a deadline; checks the answer's shape, returns its status (0: no answer). */
    const request = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
      let res: Response;
      try {
        res = await fetch(`${global.url}${path}`, {
          method,
          headers: body === undefined ? {} : { 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(REQUEST_DEADLINE_MS),
        });
      } catch (err) {
        problems.push(`${method} ${path}: no answer within ${REQUEST_DEADLINE_MS} ms (${err instanceof Error ? err.message : err})`);
        return { status: 0, body: undefined };
      }
      const text = await res.text();
      const parsed = text ? JSON.parse(text) : undefined;
      if (res.status >= 200 && res.status < 300) counts.ok++;
      else if (res.status === 503) {
        counts.unavailable++;
        const shapeOk =
          parsed?.type === '/std-errors' && parsed.status === 503 && typeof parsed.title === 'string' && parsed.title !== '' && typeof parsed.detail === 'string' && typeof parsed.instance === 'string';
        if (!shapeOk) problems.push(`${method} ${path}: 503 without Kuma's error body: ${text.slice(0, 300)}`);
        if (/failed query|params:|select .* from|insert into|delete from|CONNECTION_[A-Z]|ECONN|postgres|\bat \S+ \(/i.test(text)) problems.push(`${method} ${path}: 503 leaks internals: ${text.slice(0, 300)}`);
      }
      return { status: res.status, body: parsed };
    };

    const expectStatus = (what: string, got: number, allowed: number[], body: unknown) => {
      if (got === 0 || got === 503 || allowed.includes(got)) return;
      problems.push(`${what}: ${got} (expected ${allowed.join(' or ')} or 503): ${JSON.stringify(body).slice(0, 300)}`);
    };

    // Each client owns its names, so its own acknowledgements say exactly what the store must hold. A name is
    // never written again once a DELETE was sent for it (the slot moves on to a new name): a key deleted and
    // re-created is another defect's ground (issue 12, defect 3: the zone may apply both in one Delta, in the
    // wrong order), and this suite is about losing the database.
    const client = async (i: number) => {
      const rnd = mulberry32(SEED + i);
      const generation = [0, 0, 0, 0, 0, 0];
      for (let n = 0; !stop; n++) {
        const slot = Math.floor(rnd() * generation.length);
        const name = `c${i}-p${slot}-g${generation[slot]}`;
        const path = `/meshes/default/meshtimeouts/${name}`;
        const k = known.get(name) ?? { state: 'deleted' };
        const op = rnd();
        if (op < 0.45) {
          const timeout = `${n + 1}s`;
          const r = await request('PUT', path, policy(name, timeout));
          expectStatus(`PUT ${path}`, r.status, [200, 201], r.body);
          known.set(name, r.status === 200 || r.status === 201 ? { state: 'present', timeout } : { state: 'unknown' });
        } else if (op < 0.6) {
          const r = await request('DELETE', path);
          expectStatus(`DELETE ${path}`, r.status, k.state === 'present' ? [200] : k.state === 'deleted' ? [404] : [200, 404], r.body);
          known.set(name, r.status === 200 || r.status === 404 ? { state: 'deleted' } : { state: 'unknown' });
          generation[slot]!++;
        } else if (op < 0.85) {
          const r = await request('GET', path);
          expectStatus(`GET ${path}`, r.status, k.state === 'present' ? [200] : k.state === 'deleted' ? [404] : [200, 404], r.body);
          if (r.status === 200 && k.state === 'present' && r.body?.spec?.to?.[0]?.default?.http?.requestTimeout !== k.timeout) {
            problems.push(`GET ${path}: requestTimeout ${JSON.stringify(r.body?.spec?.to?.[0]?.default?.http?.requestTimeout)}, acknowledged ${k.timeout}`);
          }
        } else {
          const r = await request('GET', '/meshes/default/meshtimeouts?size=50');
          expectStatus('GET meshtimeouts', r.status, [200], r.body);
        }
      }
    };

    /** Waits until `n` more answers of a kind arrived (the load is flowing, or failing fast). */
    const moreAnswers = async (kind: 'ok' | 'unavailable', n: number, ms: number) => {
      const target = counts[kind] + n;
      await eventually(`${n} more ${kind} answers`, () => counts[kind] >= target || global.child.proc.exitCode !== null, ms);
    };
    const alive = () => global.child.proc.exitCode === null && global.child.proc.signalCode === null;

    const clients = Array.from({ length: CLIENTS }, (_, i) => client(i));
    let terminated = 0;
    let recoveredInMs = -1;
    try {
      for (let round = 0; round < TERMINATION_ROUNDS && alive(); round++) {
        await moreAnswers('ok', 40, 20_000);
        const [row] = await killer<{ n: number }[]>`select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`;
        terminated += row!.n;
        // Let some requests run into the dropped connections before the next round.
        await sleep(300);
      }
      if (alive()) {
        await moreAnswers('ok', 40, 20_000);
        // Unreachable for a while: requests must fail fast with 503, not hang.
        await proxy.down();
        await moreAnswers('unavailable', 2 * CLIENTS, 15_000);
        await proxy.up();
        const back = Date.now();
        await eventually('a write succeeds after the database is back', async () => (await request('PUT', '/meshes/default/meshtimeouts/probe', policy('probe', '1s'))).status < 300, RECOVERY_MS);
        recoveredInMs = Date.now() - back;
        await moreAnswers('ok', 40, 20_000);
      }
    } finally {
      stop = true;
      await Promise.all(clients);
    }

    expect(alive(), `the global exited (${global.child.proc.exitCode ?? global.child.proc.signalCode}):\n${global.child.output().slice(-3000)}`).toBe(true);
    expect(problems, problems.slice(0, 20).join('\n')).toEqual([]);
    expect(terminated, 'backends terminated').toBeGreaterThan(0);
    expect(counts.unavailable, 'requests answered 503').toBeGreaterThan(0);
    expect(recoveredInMs).toBeGreaterThanOrEqual(0);
    expect(recoveredInMs).toBeLessThan(RECOVERY_MS);

    // Nothing acknowledged was lost: the API and the zone both hold exactly what was acknowledged.
    const decided = [...known].filter(([, k]) => k.state !== 'unknown');
    expect(decided.length).toBeGreaterThan(CLIENTS);
    for (const [name, k] of decided) {
      const r = await call(global.url, 'GET', `/meshes/default/meshtimeouts/${name}`);
      if (k.state === 'present') {
        expect(r.status, `GET ${name}`).toBe(200);
        expect(r.body.spec.to[0].default.http.requestTimeout, `GET ${name}`).toBe(k.timeout);
      } else {
        expect(r.status, `GET ${name}`).toBe(404);
      }
    }
    /** Policies on which the zone differs from what was acknowledged. */
    const zoneDiffers = async () => {
      const off: string[] = [];
      for (const [name, k] of decided) {
        const r = await zone!.store.get('local', { kind: 'MeshTimeout', mesh: 'default', name });
        const timeout = (r?.spec as { to?: { default?: { http?: { requestTimeout?: string } } }[] } | undefined)?.to?.[0]?.default?.http?.requestTimeout;
        if (k.state === 'present' ? timeout !== k.timeout : r !== undefined) off.push(`${name}: zone has ${r ? timeout : 'none'}, acknowledged ${k.state === 'present' ? k.timeout : 'deleted'}`);
      }
      return off;
    };
    try {
      await eventually('zone-1 holds every acknowledged policy and none acknowledged deleted', async () => (await zoneDiffers()).length === 0, 30_000);
    } catch (err) {
      const revision = (await call(global.url, 'GET', '/meshes/default/meshtimeouts?size=1')).headers.get('etag');
      throw new Error(`${err}
${(await zoneDiffers()).join('\n')}
zone KDS status: ${JSON.stringify(zone!.client.status)} (global etag ${revision})
--- global output ---
${global.child.output().slice(-4000)}`);
    }
  }, 240_000);
});
