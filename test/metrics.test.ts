/**
 * `/metrics` on the global's Node entry and the zone agent (real processes, the zone over WebSocket): Prometheus text that a
 * parser reads, Kuma's families (`cp_info`, `api_server_http_*`, `kds_delta_*`) and Ursa's (feed revision, per
 * zone applied revision and revisions behind); a policy write moves the KDS counter and the feed/lag gauges; a DNS
 * query moves the zone resolver's counters (the zone's xds_* families: test/zone-xds.test.ts).
 */
import { createSocket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import parsePrometheus from 'parse-prometheus-text-format';
import { call } from '@ursa/test-support/api.js';
import { scratchDatabase, type ScratchDatabase } from '@ursa/test-support/backends.js';
import { removeDirs, startGlobal, startZoneAgent, type GlobalProc, type ZoneProc } from '@ursa/test-support/cluster.js';
import { waitFor } from '@ursa/test-support/process.js';

type Families = ReturnType<typeof parsePrometheus>;

async function scrape(url: string): Promise<Families> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await res.text());
}

const value = (f: Families, name: string, labels: Record<string, string> = {}): number | undefined => {
  const s = f.find((x) => x.name === name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return s?.value === undefined ? undefined : Number(s.value);
};

describe('/metrics on the global (Node entry) and the zone agent', () => {
  let global: GlobalProc;
  let zone: ZoneProc;
  let scratch: ScratchDatabase | undefined;
  const dirs: string[] = [];

  beforeAll(async () => {
    // On PostgreSQL when DATABASE_URL is set (the feed revision is read from the store at scrape), else PGlite.
    scratch = process.env.DATABASE_URL ? await scratchDatabase(process.env.DATABASE_URL, 'ursa_metrics') : undefined;
    global = await startGlobal({ databaseUrl: scratch?.url, heartbeatMs: 300, leaseMs: 1500 });
    dirs.push(global.dataDir);
    expect((await call(global.url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default' } })).status).toBe(201);
    const token = (await call(global.url, 'POST', '/tokens/zone', { body: { zone: 'east' } })).body.token as string;
    zone = await startZoneAgent({ name: 'east', globalUrl: global.url, token, transport: 'ws' });
    dirs.push(zone.dataDir);
  }, 120_000);

  afterAll(async () => {
    await zone?.stop();
    await global?.stop();
    await scratch?.drop();
    await removeDirs(dirs);
  });

  it("parses as Prometheus text with Kuma's and Ursa's families; a policy write moves the KDS counter and the lag gauges", async () => {
    const caughtUp = await waitFor(
      'east connected and caught up',
      async () => {
        const f = await scrape(global.url);
        return value(f, 'kds_delta_streams_active', { transport: 'ws' }) === 1 && value(f, 'ursa_zone_revisions_behind', { zone_name: 'east' }) === 0 ? f : undefined;
      },
      60_000,
    );
    expect(caughtUp.find((f) => f.name === 'cp_info')?.metrics[0]?.labels).toMatchObject({ product: 'Ursa', mode: 'global' });
    expect(caughtUp.find((f) => f.name === 'api_server_http_requests_total')?.metrics).toContainEqual(expect.objectContaining({ labels: { method: 'PUT', handler: '/meshes/:name', code: '201' } }));
    expect(caughtUp.find((f) => f.name === 'api_server_http_request_duration_seconds')?.type).toBe('HISTOGRAM');
    const sentBefore = value(caughtUp, 'kds_delta_responses_sent', { zone_name: 'east' })!;
    const feedBefore = value(caughtUp, 'ursa_feed_revision', { tenant: 'default' })!;
    expect(sentBefore).toBeGreaterThan(0);
    expect(value(caughtUp, 'ursa_zone_applied_revision', { zone_name: 'east' })).toBe(feedBefore);

    const policy = { type: 'MeshTimeout', name: 'm1', mesh: 'default', spec: { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { connectionTimeout: '2s' } }] } };
    expect((await call(global.url, 'PUT', '/meshes/default/meshtimeouts/m1', { body: policy })).status).toBe(201);
    // The write moves the feed at once; the zone is sent a frame and applies it, and the lag returns to 0.
    const moved = await scrape(global.url);
    expect(value(moved, 'ursa_feed_revision', { tenant: 'default' })).toBeGreaterThan(feedBefore);
    const after = await waitFor(
      'the policy sent to east and applied',
      async () => {
        const f = await scrape(global.url);
        return value(f, 'kds_delta_responses_sent', { zone_name: 'east' })! > sentBefore && value(f, 'ursa_zone_revisions_behind', { zone_name: 'east' }) === 0 ? f : undefined;
      },
      30_000,
    );
    expect(value(after, 'ursa_zone_applied_revision', { zone_name: 'east' })).toBeGreaterThan(feedBefore);
    expect(value(after, 'ursa_zone_lag_seconds', { zone_name: 'east' })).toBe(0);
    expect([value(after, 'ursa_zones', { status: 'online' }), value(after, 'ursa_zones', { status: 'offline' })]).toEqual([1, 0]);
    // Kuma's store summary: the PUT that created the policy, timed by operation and type.
    // (Read from the text: the parser drops the labels of labelled summaries.)
    expect(after.find((f) => f.name === 'store')?.type).toBe('SUMMARY');
    const text = await (await fetch(`${global.url}/metrics`)).text();
    expect(text).toContain('store_count{operation="create",resource_type="MeshTimeout"} 1\n');
    expect(text).toMatch(/^store_count\{operation="get",resource_type="Mesh"\} \d+$/m);

    // The zone agent's own /metrics: cp_info, its API requests, its KDS client's state and applied revision.
    expect((await call(zone.url, 'GET', '/meshes/default/meshtimeouts/m1')).status).toBe(200);
    const z = await waitFor(
      'the zone applied the policy (zone /metrics)',
      async () => {
        const f = await scrape(zone.url);
        return value(f, 'ursa_zone_applied_revision')! >= value(after, 'ursa_zone_applied_revision', { zone_name: 'east' })! ? f : undefined;
      },
      30_000,
    );
    expect(z.find((f) => f.name === 'cp_info')?.metrics[0]?.labels).toMatchObject({ product: 'Ursa', mode: 'zone', zone: 'east' });
    expect(value(z, 'ursa_kds_connected', { transport: 'ws' })).toBe(1);
    expect(value(z, 'ursa_kds_sessions', { transport: 'ws' })).toBeGreaterThanOrEqual(1);
    // Counted from the first scrape on: the request after it is there.
    expect((await call(zone.url, 'GET', '/meshes/default/meshtimeouts/m1')).status).toBe(200);
    expect(value(await scrape(zone.url), 'api_server_http_requests_total', { method: 'GET', handler: '/meshes/:mesh/meshtimeouts/:name', code: '200' })).toBeGreaterThanOrEqual(1);

    // The resolver's counters (its own thread, read at scrape).
    const before = value(await scrape(zone.url), 'ursa_dns_queries_total') ?? 0;
    const query = Buffer.from('00010100000100000000000007756e6b6e6f776e046d6573680000010001', 'hex'); // A unknown.mesh
    const sock = createSocket('udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        sock.once('message', () => resolve());
        sock.once('error', reject);
        sock.send(query, zone.dnsPort, '127.0.0.1');
      });
    } finally {
      sock.close();
    }
    const d = await scrape(zone.url);
    expect(value(d, 'ursa_dns_queries_total')).toBe(before + 1);

    // Every family the Grafana dashboards in docs/ query is one these planes serve.
    const served = new Set<string>();
    for (const text of [await (await fetch(`${global.url}/metrics`)).text(), await (await fetch(`${zone.url}/metrics`)).text()]) {
      for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
        served.add(m[1]!);
        for (const suffix of ['_bucket', '_sum', '_count']) served.add(m[1]! + suffix);
      }
    }
    for (const file of ['ursa-global.json', 'ursa-zone.json']) {
      const dashboard = JSON.parse(await readFile(new URL(`../docs/grafana/${file}`, import.meta.url), 'utf8')) as { panels: { targets: { expr: string }[] }[] };
      const names = dashboard.panels.flatMap((p) => p.targets.flatMap((t) => t.expr.match(/\b(?:cp_|kds_|xds_|ursa_|api_server_|store|process_|nodejs_)[a-z0-9_]*/g) ?? []));
      expect(names.length, file).toBeGreaterThan(5);
      for (const n of names) expect(served.has(n), `${file} queries ${n}`).toBe(true);
    }
    // Not a .mesh name the zone has: forwarded upstream (answered, or SERVFAIL when this host has no resolver).
    expect((value(d, 'ursa_dns_answers_total', { outcome: 'forwarded' }) ?? 0) + (value(d, 'ursa_dns_answers_total', { outcome: 'servfail' }) ?? 0)).toBe(1);
  }, 120_000);

  it('a zone that stops applying shows its lag in revisions and in seconds, growing', async () => {
    await zone.stop();
    const policy = { type: 'MeshTimeout', name: 'm2', mesh: 'default', spec: { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { connectionTimeout: '3s' } }] } };
    expect((await call(global.url, 'PUT', '/meshes/default/meshtimeouts/m2', { body: policy })).status).toBe(201);
    const first = await scrape(global.url);
    expect(value(first, 'ursa_zone_revisions_behind', { zone_name: 'east' })).toBeGreaterThanOrEqual(1);
    const lag = value(first, 'ursa_zone_lag_seconds', { zone_name: 'east' })!;
    expect(lag).toBeGreaterThanOrEqual(0);
    await waitFor('east counted Offline', async () => (value(await scrape(global.url), 'ursa_zones', { status: 'offline' }) === 1 ? true : undefined), 10_000);
    await waitFor('the lag in seconds grows while the zone is away', async () => ((value(await scrape(global.url), 'ursa_zone_lag_seconds', { zone_name: 'east' }) ?? 0) >= lag + 1 ? true : undefined), 10_000);
  }, 60_000);
});
