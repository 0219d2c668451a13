/**
 * KDS on Cloudflare Workers: the global plane in workerd (`wrangler dev`, a real child process) over a fresh
 * PostgreSQL database reached through the Hyperdrive binding, and two real zone-agent processes syncing with
 * it over HTTP long-poll (`--transport poll`; a Worker cannot LISTEN, so each waiting poll reads its
 * tenant's revision: `global-api/src/worker/request-scope.ts`).
 *
 * The database is migrated with `npm run db:migrate`'s CLI, as a deployment's would be; the tenant and its
 * admin token are made with TokenStore on that database, and everything else goes over HTTP to the Worker.
 * wrangler dev is restarted once mid-test on the same port, as a deploy cuts every connection.
 *
 * Always runs: the request-scoped waker in Node (its timers end with the request) and the Worker's settings.
 * With DATABASE_URL: the end-to-end suite.
 */
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, type Database, openPostgres, type Stores, TokenStore } from '@ursa/core';
import { maskedSettings, newRequestScope, requestWaker, withRequestScope, workerSettings, ZoneSession } from '@ursa/global-api';
import { call } from '@ursa/test-support/api.js';
import { scratchDatabase, type ScratchDatabase } from '@ursa/test-support/backends.js';
import { removeDirs, startZoneAgent, type ZoneProc } from '@ursa/test-support/cluster.js';
import { meshTimeoutBody as mt } from '@ursa/test-support/fixtures.js';
import { freePort, getJson } from '@ursa/test-support/process.js';
import { startWorkerd, type Workerd } from '@ursa/test-support/workerd.js';
import { kdsReady, onlineZones, snapshotBytes as snapshotSize, webDataplane as dataplane, welcomes as welcomesOf, zoneHasTimeout } from '@ursa/test-support/worker-kds.js';
import { eventually } from '@ursa/test-support/zone.js';

const DATABASE_URL = process.env.DATABASE_URL;
const ROOT = new URL('../', import.meta.url).pathname;
const TSX = `${ROOT}node_modules/.bin/tsx`;

describe('Worker KDS waker (in Node)', () => {
  /** Stores whose only used part is `resources`: a revision the test moves, and a feed of one kind. */
  function fakeStores(state: { revision: number; kind: string; reads: number }): Stores {
    const resources = {
      currentRevision: async () => {
        state.reads += 1;
        return state.revision;
      },
      changesSince: async (_t: string, _r: number, opts: { kinds?: readonly string[] }) => ({
        changes: opts.kinds?.includes(state.kind) ? [{ op: 'upsert', revision: state.revision, resource: { kind: state.kind } }] : [],
        revision: state.revision,
        more: false,
        resyncRequired: false,
      }),
    };
    return { resources } as unknown as Stores;
  }

  it('rings for a change of a kind zones receive, not for inventory; its timer ends with the request', async () => {
    const state = { revision: 1, kind: 'MeshTimeout', reads: 0 };
    const waker = requestWaker({ intervalMs: 10, kinds: ZoneSession.interest() });
    const scope = newRequestScope(() => fakeStores(state));
    let rings = 0;
    await withRequestScope(scope, async () => {
      const unsubscribe = waker.subscribe('t', () => (rings += 1));
      await sleep(50);
      expect(rings).toBe(0);
      expect(scope.timers.size).toBe(1);
      state.kind = 'Dataplane'; // a zone's inventory moved the revision: no wake-up
      state.revision = 2;
      await sleep(50);
      expect(rings).toBe(0);
      state.kind = 'MeshTimeout';
      state.revision = 3;
      await sleep(50);
      expect(rings).toBe(1);
      expect(scope.timers.size).toBe(0); // rang once, and stopped polling
      unsubscribe();
      // A subscription the request never ended (an aborted poll): cleared with the request.
      waker.subscribe('t', () => {});
      expect(scope.timers.size).toBe(1);
    });
    expect(scope.timers.size).toBe(0);
    const reads = state.reads;
    await sleep(50);
    expect(state.reads).toBe(reads);
  });

  it('refuses to subscribe outside a request', () => {
    expect(() => requestWaker({ intervalMs: 10, kinds: new Set() }).subscribe('t', () => {})).toThrow(/outside a request/);
  });

  it('reads its settings from vars (strings or numbers), masks the operator token, names a bad variable', () => {
    const s = workerSettings({ ZONE_LEASE_MS: 2000, KDS_HEARTBEAT_MS: '500', URSA_OPERATOR_TOKEN: 'operator-token-0123456789' });
    expect(s).toMatchObject({ defaultTenant: 'default', zoneLeaseMs: 2000, kdsHeartbeatMs: 500, kdsPollIntervalMs: 500, meshDefaults: true });
    expect(maskedSettings(s)).toMatchObject({ runtime: 'workerd', operatorToken: '****' });
    expect(() => workerSettings({ ZONE_LEASE_MS: 'soon' })).toThrow(ConfigError);
    expect(() => workerSettings({ ZONE_LEASE_MS: 'soon' })).toThrow(/ZONE_LEASE_MS/);
  });
});

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { env, cwd: ROOT }, (err, stdout, stderr) => (err ? reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stdout}${stderr}`)) : resolve(stdout))),
  );
}

if (DATABASE_URL) {
  describe('KDS long-poll against the global in workerd (PostgreSQL through Hyperdrive)', () => {
    const LEASE_MS = 2000;
    const vars = { ZONE_LEASE_MS: String(LEASE_MS), KDS_HEARTBEAT_MS: '500', KDS_POLL_INTERVAL_MS: '250' };
    let scratch: ScratchDatabase | undefined;
    let databaseUrl = '';
    let database: Database | undefined;
    let port = 0;
    let worker: Workerd | undefined;
    /** Output of the wrangler dev runs stopped so far (the restart replaces `worker`). */
    const earlierOutput: string[] = [];
    let adminToken = '';
    const zones: Record<string, ZoneProc> = {};

    const api = (method: string, path: string, body?: unknown) => call(worker!.url, method, path, { body, token: adminToken });
    const ready = (zone: string) => kdsReady(zones[zone]!);
    const zoneHas = (zone: string, name: string, timeout: string) => zoneHasTimeout(zones[zone]!, name, timeout);
    /** Lines the agent logged for each new session: `…kds connected to <global> (poll, snapshot|resume, ...)`. */
    const welcomes = (zone: string) => welcomesOf(zones[zone]!);

    beforeAll(async () => {
      scratch = await scratchDatabase(DATABASE_URL, 'ursa_wkds');
      databaseUrl = scratch.url;
      // As a deployment does: the Worker never migrates, `npm run db:migrate` does.
      const migrated = await run(TSX, [`${ROOT}global-api/src/migrate-cli.ts`], { ...process.env, DATABASE_URL: databaseUrl });
      expect(migrated).toContain('is up to date');
      database = openPostgres(databaseUrl, { max: 2 });
      const tokens = new TokenStore(database.db);
      await tokens.createTenant('acme');
      adminToken = (await tokens.issue('acme', { name: 'admin', role: 'admin' })).token;

      port = await freePort();
      worker = await startWorkerd({ port, databaseUrl, vars });
      expect((await api('PUT', '/meshes/default', { type: 'Mesh', name: 'default' })).status).toBe(201);
      await Promise.all(
        ['zone-a', 'zone-b'].map(async (name) => {
          const issued = await api('POST', '/tokens/zone', { zone: name, validFor: 3600 });
          expect(issued.status).toBe(201);
          zones[name] = await startZoneAgent({ name, globalUrl: worker!.url, token: issued.body.token as string, transport: 'poll' });
        }),
      );
    }, 120_000);

    afterAll(async () => {
      await Promise.all(Object.values(zones).map((z) => z.stop()));
      await worker?.stop();
      await database?.close();
      await scratch?.drop().catch(() => {});
      await removeDirs(Object.values(zones).map((z) => z.dataDir));
    });

    it('both zones connect over long-poll, are registered Online and receive the mesh', async () => {
      await eventually('2 zones online', async () => onlineZones((await api('GET', '/zones/_overview')).body).length === 2, 30_000);
      for (const z of Object.keys(zones)) await eventually(`${z} has the mesh`, async () => (await call(zones[z]!.url, 'GET', '/meshes/default')).status === 200, 20_000);
      for (const z of Object.keys(zones)) expect(welcomes(z)[0]).toMatch(/\(poll, snapshot/);
    });

    it('a policy created through the Worker reaches both zones, and its update and deletion too', async () => {
      const began = Date.now();
      expect((await api('PUT', '/meshes/default/meshtimeouts/slow', mt('slow', '3s'))).status).toBe(201);
      await Promise.all(Object.keys(zones).map((z) => eventually(`${z} has slow`, () => zoneHas(z, 'slow', '3s'), 20_000)));
      // Woken by the revision poll (250 ms), not by the 25 s poll timeout or the 500 ms heartbeat alone.
      expect(Date.now() - began).toBeLessThan(5000);
      await api('PUT', '/meshes/default/meshtimeouts/slow', mt('slow', '9s'));
      await Promise.all(Object.keys(zones).map((z) => eventually(`${z} has slow=9s`, () => zoneHas(z, 'slow', '9s'), 20_000)));
      expect((await api('DELETE', '/meshes/default/meshtimeouts/slow')).status).toBe(200);
      await Promise.all(
        Object.keys(zones).map((z) => eventually(`${z} lost slow`, async () => (await call(zones[z]!.url, 'GET', '/meshes/default/meshtimeouts/slow')).status === 404, 20_000)),
      );
    });

    it("zone inventory reaches the Worker's API in the zone's slice", { timeout: 90_000 }, async () => {
      expect((await call(zones['zone-a']!.url, 'PUT', '/meshes/default/dataplanes/web-1', { body: dataplane('web-1') })).status).toBe(201);
      expect((await call(zones['zone-b']!.url, 'PUT', '/meshes/default/dataplanes/web-1', { body: dataplane('web-1') })).status).toBe(201);
      // 40 s: a poll-transport agent pushes a local change only once its poll in flight returns (up to 25 s).
      for (const z of Object.keys(zones)) {
        await eventually(`web-1 of ${z} on the global`, async () => (await api('GET', `/meshes/default/dataplanes?filter[labels.kuma.io/zone]=${z}`)).body.total === 1, 40_000);
        const dp = (await api('GET', `/meshes/default/dataplanes?filter[labels.kuma.io/zone]=${z}`)).body.items[0];
        expect(dp.labels).toMatchObject({ 'kuma.io/origin': 'zone', 'kuma.io/zone': z, 'kuma.io/display-name': 'web-1' });
        expect(dp.networking.inbound[0].tags['kuma.io/zone']).toBe(z);
      }
    });

    it('after a restart of the Worker (as a deploy cuts every connection) both zones resume: no snapshot either way', { timeout: 120_000 }, async () => {
      // Enough content that a resent snapshot would show: 40 policies.
      for (let i = 0; i < 40; i++) expect((await api('PUT', `/meshes/default/meshtimeouts/bulk-${i}`, mt(`bulk-${i}`, `${i + 1}s`))).status).toBe(201);
      await Promise.all(Object.keys(zones).map((z) => eventually(`${z} has bulk-39`, () => zoneHas(z, 'bulk-39', '40s'), 30_000)));
      // What a snapshot of this mesh costs a zone: the bytes a fresh long-poll session receives (zone-c, never synced).
      const probe = await api('POST', '/tokens/zone', { zone: 'zone-c', validFor: 600 });
      const snapshotBytes = await snapshotSize(worker!.url, probe.body.token as string, 'poll', 'bulk-39');
      expect(snapshotBytes).toBeGreaterThan(5000);

      const before = Object.fromEntries(await Promise.all(Object.keys(zones).map(async (z) => [z, { ready: await ready(z), welcomes: welcomes(z).length }] as const)));
      const oldInstance = ((await getJson(`${worker!.url}/`)) as { instanceId: string }).instanceId;
      await worker!.stop();
      earlierOutput.push(worker!.child.output());
      // The zones notice: their poll in flight was cut.
      await Promise.all(Object.keys(zones).map((z) => eventually(`${z} disconnected`, async () => (await ready(z)).connected === false, 20_000)));
      worker = await startWorkerd({ port, databaseUrl, vars });
      const newInstance = ((await getJson(`${worker.url}/`)) as { instanceId: string }).instanceId;
      expect(newInstance).not.toBe(oldInstance);

      // A change made after the restart arrives over the resumed sessions.
      expect((await api('PUT', '/meshes/default/meshtimeouts/after-restart', mt('after-restart', '7s'))).status).toBe(201);
      await Promise.all(Object.keys(zones).map((z) => eventually(`${z} has after-restart`, () => zoneHas(z, 'after-restart', '7s'), 30_000)));
      for (const z of Object.keys(zones)) {
        const now = await ready(z);
        expect(now.connected).toBe(true);
        expect(now.sessions).toBeGreaterThan(before[z]!.ready.sessions);
        // The signal: the session's Welcome said "resume" (downstream continues from the zone's revision) with
        // the inventory revision the global had (upstream continues too), and far fewer bytes came in than a
        // snapshot of the mesh takes.
        const lines = welcomes(z).slice(before[z]!.welcomes);
        expect(lines.length, `${z}: a new session after the restart`).toBeGreaterThan(0);
        for (const line of lines) {
          expect(line).toContain(`connected to ${newInstance} (poll, resume`);
          expect(line).not.toMatch(/inventory from 0\)/);
        }
        const received = now.bytesIn - before[z]!.ready.bytesIn;
        expect(received, `${z} received ${received} B after the restart; a snapshot is ${snapshotBytes} B`).toBeLessThan(snapshotBytes / 4);
        console.log(`${z}: ${received} B received across the restart and one change; a snapshot of the mesh is ${snapshotBytes} B`);
      }
      // The zones' inventory was not resent either: still exactly one web-1 per zone on the global.
      for (const z of Object.keys(zones)) expect((await api('GET', `/meshes/default/dataplanes?filter[labels.kuma.io/zone]=${z}`)).body.total).toBe(1);
    });

    it('a disabled zone is cut off and refused, and comes back when enabled', async () => {
      expect((await api('PUT', '/zones/zone-b', { type: 'Zone', name: 'zone-b', enabled: false })).status).toBe(200);
      await eventually('zone-b refused', async () => {
        const r = await ready('zone-b');
        return r.connected === false && /zone-disabled/.test(r.lastError ?? '');
      }, 20_000);
      await api('PUT', '/meshes/default/meshtimeouts/while-disabled', mt('while-disabled', '2s'));
      await eventually('zone-a has while-disabled', () => zoneHas('zone-a', 'while-disabled', '2s'), 20_000);
      expect(await zoneHas('zone-b', 'while-disabled', '2s')).toBe(false);
      expect((await api('PUT', '/zones/zone-b', { type: 'Zone', name: 'zone-b', enabled: true })).status).toBe(200);
      await eventually('zone-b back with while-disabled', () => zoneHas('zone-b', 'while-disabled', '2s'), 30_000);
    });

    it('a zone cannot be deleted while connected; once its agent stops it is, when the lease runs out', { timeout: 90_000 }, async () => {
      const refused = await api('DELETE', '/zones/zone-b');
      expect(refused.status).toBe(400);
      expect(refused.body.invalid_parameters[0]).toMatchObject({ field: 'zone', reason: 'unable to delete Zone, Zone CP is still connected, please shut it down first' });
      await zones['zone-b']!.stop();
      const stopped = Date.now();
      // Local workerd does not abort request.signal when the agent hangs up (neither behind wrangler dev's proxy
      // nor serving directly: docs/architecture.md), so the abandoned poll renews the lease until its wait
      // (25 s) ends; then the lease runs out. Where the runtime delivers the abort, only the lease remains.
      await eventually('zone-b deletable', async () => (await api('DELETE', '/zones/zone-b')).status === 200, 25_000 + LEASE_MS + 10_000);
      const tookMs = Date.now() - stopped;
      expect((await api('GET', '/meshes/default/dataplanes?filter[labels.kuma.io/zone]=zone-b')).body.total).toBe(0);
      expect((await api('GET', '/zone-insights/zone-b')).status).toBe(404);
      // zone-a is unaffected.
      expect((await ready('zone-a')).connected).toBe(true);
      console.log(`zone-b deletable ${tookMs} ms after its agent stopped (lease ${LEASE_MS} ms)`);
    });

    it('workerd logged no uncaught error, cross-request I/O or cancelled hanging work', () => {
      const logs = [...earlierOutput, worker!.child.output()].join('\n');
      expect(logs).toContain('POST /kds/v1/poll 200');
      expect(logs).not.toMatch(/Uncaught|unhandled|Cannot perform I\/O|hanging Promise|Stream was cancelled|ursa kds: poll failed/i);
    });
  });
}
