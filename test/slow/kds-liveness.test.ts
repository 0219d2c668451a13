/**
 * Zone liveness and zone-token enforcement with real processes (global heartbeat 500 ms, zone lease
 * 2,000 ms, zone agents reconnecting within 1 s):
 * - a zone agent killed with SIGKILL turns Offline on the global;
 * - Kuma's failure case: the global is killed, then the zone while the global is down; the restarted
 *   global shows the zone Offline at once, because the lease ran out meanwhile (Kuma would show it Online
 *   until something wrote the subscription's disconnect time);
 * - two global replicas on one PostgreSQL (only with DATABASE_URL): a zone on replica A gets a policy
 *   written through replica B, and turns Offline on B when the zone and A die together;
 * - zone tokens: malformed, for another zone, expired and revoked tokens are refused, revoking the token
 *   of a connected zone ends its session, signing-key rotation keeps old tokens working until the old keys
 *   are retired (live sessions on them end too), and a new token written to the token file is picked up
 *   without a restart;
 * - the global refuses data plane proxies (xDS) and says where they belong.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '@ursa/test-support/api.js';
import { removeDirs, startGlobal, startZoneAgent, type GlobalProc, type ZoneProc } from '@ursa/test-support/cluster.js';
import { eventually } from '@ursa/test-support/zone.js';
import { scratchDatabase } from '@ursa/test-support/backends.js';
import { groupGone, killGroup as killChildGroup, type Child } from '@ursa/test-support/process.js';

const LEASE_MS = 2000;
/** Real processes on a possibly loaded machine: each agent or global start can take several seconds. */
const TEST_TIMEOUT = 240_000;

interface KdsReady {
  federated: boolean;
  connected: boolean;
  sessions: number;
  lastError?: string;
  connectedAt?: string;
  sessionId?: string;
}

const kdsOf = async (z: ZoneProc): Promise<KdsReady> => (await call(z.url, 'GET', '/ready')).body.kds as KdsReady;
const onlineCount = async (g: GlobalProc): Promise<number> => (await call(g.url, 'GET', '/global-insight')).body.zones.controlPlanes.online as number;

/** Whether the zone's overview on `g` shows an open subscription (what kumactl reads as Online). */
async function overviewOnline(g: GlobalProc, zone: string): Promise<boolean> {
  const res = await call(g.url, 'GET', `/zones/${zone}/_overview`);
  if (res.status !== 200) throw new Error(`GET /zones/${zone}/_overview: ${res.status}`);
  const subs = (res.body.zoneInsight?.subscriptions ?? []) as { connectTime?: string; disconnectTime?: string }[];
  return subs.some((s) => s.connectTime && !s.disconnectTime);
}

async function issue(g: GlobalProc, zone: string, validFor = 3600): Promise<{ id: string; token: string; expirationTime: string }> {
  const res = await call(g.url, 'POST', '/tokens/zone', { body: { zone, validFor } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

/** Fails unless `check` stays true for the whole of `ms` (polled), e.g. "still connected". */
async function holds(what: string, check: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!(await check())) throw new Error(`${what} stopped holding after ${ms - (end - Date.now())} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGKILL a process group and wait until every process of it is gone. */
async function killGroup(proc: { child: Child }): Promise<void> {
  killChildGroup(proc.child);
  await groupGone(proc.child);
}


const policy = (name: string, timeout: string) => ({
  type: 'MeshTimeout',
  mesh: 'default',
  name,
  spec: { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { http: { requestTimeout: timeout } } }] },
});

describe('zone liveness and zone tokens, global on embedded Postgres', () => {
  let global: GlobalProc;
  const zones: ZoneProc[] = [];

  const zone = async (name: string, token: string): Promise<ZoneProc> => {
    const z = await startZoneAgent({ name, globalUrl: global.url, token, transport: 'ws' });
    zones.push(z);
    return z;
  };
  const connected = (z: ZoneProc, ms = 20_000) => eventually(`${z.name} connected`, async () => (await kdsOf(z)).connected, ms);

  beforeAll(async () => {
    global = await startGlobal();
    expect((await call(global.url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default' } })).status).toBe(201);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(zones.map((z) => z.stop()));
    await global?.stop();
    await removeDirs([global?.dataDir, ...zones.map((z) => z.dataDir)].filter(Boolean) as string[]);
  });

  it('a zone agent killed with SIGKILL turns Offline within 30 s', async () => {
    const z = await zone('killed', (await issue(global, 'killed')).token);
    await connected(z);
    await eventually('killed Online on the global', async () => (await onlineCount(global)) === 1 && (await overviewOnline(global, 'killed')), 20_000);
    const refused = await call(global.url, 'DELETE', '/zones/killed');
    expect(refused.status).toBe(400);

    const t0 = Date.now();
    await killGroup(z);
    await eventually('killed Offline on the global', async () => (await onlineCount(global)) === 0 && !(await overviewOnline(global, 'killed')), 30_000);
    const offlineMs = Date.now() - t0;
    console.log(`kds-liveness: SIGKILLed zone Offline on the global after ${offlineMs} ms (lease ${LEASE_MS} ms)`);
    expect(offlineMs).toBeLessThan(30_000);
    expect((await call(global.url, 'DELETE', '/zones/killed')).status).toBe(200);
  }, TEST_TIMEOUT);

  it('the global refuses data plane proxies and sends them to their zone agent', async () => {
    const res = await call(global.url, 'POST', '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources', {
      body: '',
      headers: { 'content-type': 'application/grpc' },
    });
    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(/connect Envoy to its zone agent/);
  }, TEST_TIMEOUT);

  it('refuses zone agents without a valid token: malformed, for another zone, expired, revoked', async () => {
    const expired = await issue(global, 'tok-refused', 1);
    const revoked = await issue(global, 'tok-refused');
    expect((await call(global.url, 'DELETE', `/tokens/zone/${revoked.id}`)).status).toBe(200);
    const other = await issue(global, 'someone-else');
    // validFor: 1 — wait (a condition, not a fixed sleep) until it has run out.
    await eventually('the 1 s token expired', () => Date.now() > Date.parse(expired.expirationTime) + 50, 5_000);

    const cases = [
      { what: 'malformed', token: 'this-is-not-a-token', reason: /global refused the session: unauthenticated: the zone token is malformed/ },
      { what: 'for another zone', token: other.token, reason: /global refused the session: forbidden: the zone token is for zone "someone-else", not "tok-refused"/ },
      { what: 'expired', token: expired.token, reason: /global refused the session: unauthenticated: the zone token expired at/ },
      { what: 'revoked', token: revoked.token, reason: /global refused the session: unauthenticated: the zone token was revoked/ },
    ];
    // One agent, its token file rewritten for each case: the agent re-reads it on every attempt.
    const z = await zone('tok-refused', cases[0]!.token);
    for (const c of cases) {
      await writeFile(join(z.dataDir, 'token'), c.token);
      let seen: number | undefined;
      // Refused on every attempt, not only once: two more attempts with this reason.
      await eventually(`tok-refused refused: ${c.what}`, async () => {
        const k = await kdsOf(z);
        if (!c.reason.test(k.lastError ?? '')) return false;
        seen ??= k.sessions;
        return k.sessions >= seen + 2 && c.reason.test(k.lastError ?? '');
      }, 20_000).catch(async (err: Error) => {
        throw new Error(`${err.message}: ${JSON.stringify(await kdsOf(z))}`);
      });
      const k = await kdsOf(z);
      expect(k.connected).toBe(false);
      expect(k.connectedAt).toBeUndefined();
    }
    // Never connected: the global did not even register the zone.
    expect((await call(global.url, 'GET', '/zones/tok-refused')).status).toBe(404);
    expect(await onlineCount(global)).toBe(0);
    await z.stop();
  }, TEST_TIMEOUT);

  it('revoking the token of a connected zone ends its session within 10 s', async () => {
    const t = await issue(global, 'tok-live');
    const z = await zone('tok-live', t.token);
    await connected(z);
    await eventually('tok-live Online', () => overviewOnline(global, 'tok-live'), 20_000);

    const t0 = Date.now();
    expect((await call(global.url, 'DELETE', `/tokens/zone/${t.id}`)).status).toBe(200);
    await eventually('tok-live disconnected for revocation', async () => {
      const k = await kdsOf(z);
      return !k.connected && /the zone token was revoked/.test(k.lastError ?? '');
    }, 10_000);
    const endedMs = Date.now() - t0;
    console.log(`kds-liveness: session of a zone whose token was revoked ended after ${endedMs} ms`);
    expect(endedMs).toBeLessThan(10_000);
    // It stays out: reconnects are refused, and the global shows it Offline.
    await eventually('tok-live refused on reconnect', async () => /global refused the session: unauthenticated: the zone token was revoked/.test((await kdsOf(z)).lastError ?? ''), 10_000);
    await eventually('tok-live Offline', async () => !(await overviewOnline(global, 'tok-live')) && (await onlineCount(global)) === 0, 10_000);
    expect((await kdsOf(z)).connected).toBe(false);
    await z.stop();
  }, TEST_TIMEOUT);

  it('rotating signing keys keeps connected zones and old tokens; after retiring, old tokens are refused; a new token file is picked up', async () => {
    const oldA = await issue(global, 'rot-a');
    const oldB = await issue(global, 'rot-b');
    const a = await zone('rot-a', oldA.token);
    await connected(a);
    const before = await kdsOf(a);

    const rotated = await call(global.url, 'POST', '/tokens/zone/signing-keys/rotate');
    expect(rotated.status).toBe(201);
    const newKey = rotated.body.signingKey as string;
    // Live sessions are checked every heartbeat (500 ms): the connected zone must survive several.
    await holds('rot-a connected on its session', async () => {
      const k = await kdsOf(a);
      return k.connected && k.sessionId === before.sessionId && k.sessions === before.sessions;
    }, 2_500);
    // ...and keeps receiving changes.
    expect((await call(global.url, 'PUT', '/meshes/default/meshtimeouts/after-rotation', { body: policy('after-rotation', '4s') })).status).toBe(201);
    await eventually('rot-a has after-rotation', async () => (await call(a.url, 'GET', '/meshes/default/meshtimeouts/after-rotation')).status === 200, 20_000);
    expect((await kdsOf(a)).sessionId).toBe(before.sessionId);
    // A token signed with the old key still opens a new session.
    const b = await zone('rot-b', oldB.token);
    await connected(b);
    await b.stop();
    // New tokens are signed with the new key.
    const fresh = await issue(global, 'rot-c');
    const listed = (await call(global.url, 'GET', '/tokens/zone')).body.items as { id: string; signingKey: string }[];
    expect(listed.find((t) => t.id === fresh.id)?.signingKey).toBe(newKey);
    expect(listed.find((t) => t.id === oldB.id)?.signingKey).not.toBe(newKey);

    const retired = await call(global.url, 'POST', '/tokens/zone/signing-keys/retire');
    expect(retired.status).toBe(200);
    expect(retired.body.retired).toBeGreaterThanOrEqual(1);
    // rot-b comes back (same data directory, same old-key token): refused, on every attempt.
    const b2 = await startZoneAgent({ name: 'rot-b', globalUrl: global.url, token: oldB.token, transport: 'ws', dataDir: b.dataDir });
    zones.push(b2);
    const refusal = /global refused the session: unauthenticated: the zone token signature is not valid/;
    await eventually('rot-b refused with its old-key token', async () => {
      const k = await kdsOf(b2);
      return !k.connected && k.sessions >= 2 && refusal.test(k.lastError ?? '');
    }, 20_000).catch(async (err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(await kdsOf(b2))}\n${b2.child.output()}`);
    });
    expect((await kdsOf(b2)).connectedAt).toBeUndefined();
    // A freshly issued token works.
    const c = await zone('rot-c', fresh.token);
    await connected(c);

    // Writing a new token into rot-b's token file is enough: the running agent re-reads it on each connect.
    const pid = b2.child.proc.pid;
    const renewed = await issue(global, 'rot-b');
    await writeFile(join(b2.dataDir, 'token'), renewed.token);
    await eventually('rot-b reconnected with the new token', async () => (await kdsOf(b2)).connected, 15_000);
    expect(b2.child.proc.exitCode).toBeNull();
    expect(b2.child.proc.pid).toBe(pid);
    expect((await kdsOf(b2)).lastError).toBeUndefined();
    await eventually('rot-b Online', () => overviewOnline(global, 'rot-b'), 10_000);
    // Retiring a key invalidates the tokens it signed, live sessions included (that is what retiring is
    // for after a leak): rot-a, connected with an old-key token since before the rotation, is cut within a
    // keeper tick and refused from then on.
    await eventually('rot-a cut: its token was signed with a retired key', async () => {
      const k = await kdsOf(a);
      return !k.connected && /retired|signature is not valid/.test(k.lastError ?? '');
    }, 15_000).catch(async (err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(await kdsOf(a))}`);
    });
    await Promise.all([a, b2, c].map((z) => z.stop()));
  }, TEST_TIMEOUT);
});

describe("Kuma's failure case: the global is killed, then the zone while the global is down", () => {
  const dirs: string[] = [];
  let global: GlobalProc | undefined;
  let agent: ZoneProc | undefined;

  afterAll(async () => {
    await agent?.stop();
    await global?.stop();
    await removeDirs(dirs);
  });

  it('the restarted global shows the zone Offline at once: its lease ran out', async () => {
    const first = await startGlobal();
    global = first;
    dirs.push(first.dataDir);
    const port = Number(new URL(first.url).port);
    await call(first.url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default' } });
    const token = (await issue(first, 'orphan')).token;
    agent = await startZoneAgent({ name: 'orphan', globalUrl: first.url, token, transport: 'ws' });
    dirs.push(agent.dataDir);
    await eventually('orphan connected', async () => (await kdsOf(agent!)).connected, 20_000);
    await eventually('orphan Online', async () => (await onlineCount(first)) === 1 && (await overviewOnline(first, 'orphan')), 20_000);

    const killedAt = Date.now();
    await killGroup(first);
    await eventually('orphan saw the global go', async () => !(await kdsOf(agent!)).connected, 10_000);
    await killGroup(agent);

    global = await startGlobal({ dataDir: first.dataDir, port });
    const restartedAfter = Date.now() - killedAt;
    // The last lease renewal was at most one heartbeat before the kill; once the lease has run out the
    // zone must be Offline with nothing having told the global (restarts slower than that check at once).
    const leaseEnd = killedAt + LEASE_MS + 100;
    if (Date.now() < leaseEnd) await eventually('lease run out', () => Date.now() > leaseEnd, LEASE_MS + 1000);
    console.log(`kds-liveness: global restarted ${restartedAfter} ms after it was killed`);
    expect(await onlineCount(global)).toBe(0);
    expect(await overviewOnline(global, 'orphan')).toBe(false);
    expect((await call(global.url, 'DELETE', '/zones/orphan')).status).toBe(200);
  }, TEST_TIMEOUT);
});

const pgUrl = process.env.DATABASE_URL;
if (pgUrl) {
  describe('two global replicas on one PostgreSQL', () => {
    let drop: (() => Promise<void>) | undefined;
    const globals: GlobalProc[] = [];
    let agent: ZoneProc | undefined;

    afterAll(async () => {
      await agent?.stop();
      await Promise.all(globals.map((g) => g.stop()));
      await drop?.();
      await removeDirs([...globals.map((g) => g.dataDir), agent?.dataDir].filter(Boolean) as string[]);
    });

    it('a policy written through replica B reaches a zone on A; when A and the zone die, B shows it Offline within 30 s', async () => {
      let databaseUrl: string;
      ({ url: databaseUrl, drop } = await scratchDatabase(pgUrl, 'ursa_live'));
      // One after the other: the first applies the migrations.
      const a = await startGlobal({ databaseUrl });
      globals.push(a);
      const b = await startGlobal({ databaseUrl });
      globals.push(b);
      const aId = (await call(a.url, 'GET', '/')).body.instanceId as string;
      expect((await call(b.url, 'GET', '/')).body.instanceId).not.toBe(aId);

      expect((await call(b.url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default' } })).status).toBe(201);
      const token = (await issue(b, 'replicated')).token;
      agent = await startZoneAgent({ name: 'replicated', globalUrl: a.url, token, transport: 'ws' });
      await eventually('replicated connected', async () => (await kdsOf(agent!)).connected, 20_000);
      await eventually('replicated Online on B, held by A', async () => {
        const ov = (await call(b.url, 'GET', '/zones/replicated/_overview')).body;
        const subs = (ov.zoneInsight?.subscriptions ?? []) as { globalInstanceId?: string; disconnectTime?: string }[];
        return subs.at(-1)?.globalInstanceId === aId && !subs.at(-1)?.disconnectTime && (await onlineCount(b)) === 1;
      }, 20_000);

      expect((await call(b.url, 'PUT', '/meshes/default/meshtimeouts/via-b', { body: policy('via-b', '6s') })).status).toBe(201);
      await eventually('via-b reached the zone on A', async () => (await call(agent!.url, 'GET', '/meshes/default/meshtimeouts/via-b')).body?.spec?.to?.[0]?.default?.http?.requestTimeout === '6s', 20_000);

      // Nobody closes the session now: replica A dies with it. Only the lease can tell B.
      const t0 = Date.now();
      await Promise.all([killGroup(a), killGroup(agent)]);
      await eventually('replicated Offline on B', async () => (await onlineCount(b)) === 0 && !(await overviewOnline(b, 'replicated')), 30_000);
      const offlineMs = Date.now() - t0;
      console.log(`kds-liveness: zone and its replica SIGKILLed; Offline on the other replica after ${offlineMs} ms (lease ${LEASE_MS} ms)`);
      expect(offlineMs).toBeLessThan(30_000);
      expect((await call(b.url, 'DELETE', '/zones/replicated')).status).toBe(200);
    }, TEST_TIMEOUT);
  });
}
