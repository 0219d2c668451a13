/**
 * The zone agent answers DNS from its persisted answers before its database opens, then hands over to the
 * live table (real standalone agent process, real `dig`). The data directory has an answers file but no
 * database yet, so the agent creates its database (seconds) while the file's names already resolve; once
 * `/ready` says ready, DNS answers from the database, which never had those names, and the file follows
 * the live table.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '@ursa/zone-agent';
import { call } from '@ursa/test-support/api.js';
import { removeDirs } from '@ursa/test-support/cluster.js';
import { dig, requireDig } from '@ursa/test-support/dig.js';
import { cleanEnv, freePort, start, waitFor, type Child } from '@ursa/test-support/process.js';
import { firstUdpAnswer } from '@ursa/test-support/dns-probe.js';

const ZONE = new URL('../zone-agent/bin/zone-agent.js', import.meta.url).pathname;
const status = (out: string) => /status: ([A-Z]+)/.exec(out)?.[1];

describe('zone agent DNS from persisted answers (real process, real dig)', () => {
  let upstream: FakeUpstream;
  let dataDir: string;
  let agent: Child | undefined;
  /** Left by the first test for the restart test: web.mesh's VIP and the agent's ports. */
  let webIp: string | undefined;
  let ports: { apiPort: number; dnsPort: number } | undefined;

  beforeAll(async () => {
    await requireDig();
    upstream = await startFakeUpstream({});
    dataDir = await mkdtemp(join(tmpdir(), 'ursa-dns-persisted-'));
  });
  afterAll(async () => {
    await agent?.stop();
    await upstream?.close();
    if (dataDir) await removeDirs([dataDir]);
  });

  it('answers from the answers file while the database opens, then from the database; /ready tells the phases apart', async () => {
    // What a previous run left: a name the (new, empty) database will not have.
    await writeFile(join(dataDir, 'dns-answers.json'), `${JSON.stringify({ version: 1, records: [{ name: 'stale.mesh', ip: '240.0.0.77', mesh: 'default', service: 'stale' }] })}\n`);
    const [apiPort, dnsPort] = [await freePort(), await freePort()];
    const url = `http://127.0.0.1:${apiPort}`;
    agent = start(process.execPath, [ZONE, '--zone', 'persisted-zone', '--data-dir', dataDir, '--api-port', String(apiPort), '--dns-port', String(dnsPort), '--xds-port', '0', '--dns-upstream', `127.0.0.1:${upstream.port}`], { env: cleanEnv() });
    const child = agent;

    // Every /ready answer until ready, side by side with the DNS probe.
    const seen: { status: number; body: any }[] = [];
    let ready: { status: number; body: any } | undefined;
    const readyPoll = waitFor(
      '/ready 200',
      async () => {
        const res = await fetch(`${url}/ready`).catch(() => undefined);
        if (!res) return undefined;
        const r = { status: res.status, body: await res.json() };
        seen.push(r);
        return res.ok ? (ready = r) : undefined;
      },
      120_000,
      child,
    );
    const stale = await waitFor('stale.mesh from the answers file', async () => (await dig(dnsPort, 'stale.mesh', '+short', '+time=1')) || undefined, 30_000, child);
    expect(stale).toBe('240.0.0.77');
    await readyPoll;

    // Before ready: 503, phase starting, DNS from the persisted answers (or already live, at the very end).
    for (const r of seen.slice(0, -1)) {
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ ready: false, phase: 'starting', zone: 'persisted-zone' });
      expect(['persisted', 'live']).toContain(r.body.dns);
    }
    expect(ready!.body).toMatchObject({ ready: true, phase: 'ready', dns: 'live', kds: { federated: false } });
    // The database never had it: forwarded to the upstream, which does not know it either.
    expect(status(await dig(dnsPort, 'stale.mesh'))).toBe('NXDOMAIN');
    expect(upstream.seen).toContain('stale.mesh');
    const answers = async () => JSON.parse(await readFile(join(dataDir, 'dns-answers.json'), 'utf8')) as { version: number; records: { name: string; ip: string }[] };
    expect(await answers()).toEqual({ version: 1, records: [] });

    // A new service: in DNS and, for the next start, in the file.
    expect((await call(url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default' } })).status).toBe(201);
    const dp = { type: 'Dataplane', mesh: 'default', name: 'web-1', networking: { address: '10.0.0.9', inbound: [{ port: 8080, tags: { 'kuma.io/service': 'web' } }] } };
    expect((await call(url, 'PUT', '/meshes/default/dataplanes/web-1', { body: dp })).status).toBe(201);
    const ip = await waitFor('web.mesh in DNS', async () => (await dig(dnsPort, 'web.mesh', '+short')) || undefined, 10_000, child);
    await waitFor('web.mesh in the answers file', async () => ((await answers()).records.some((r) => r.name === 'web.mesh' && r.ip === ip) ? true : undefined), 10_000, child);
    webIp = ip;
    ports = { apiPort, dnsPort };
  }, 180_000);

  it('answers within 0.5 s of a restart (median of 5), before its database is open, and dig agrees', async () => {
    expect(webIp, 'the test above ran').toBeDefined();
    const { apiPort, dnsPort } = ports!;
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      await agent!.stop();
      const spawnedAt = Date.now();
      agent = start(process.execPath, [ZONE, '--zone', 'persisted-zone', '--data-dir', dataDir, '--api-port', String(apiPort), '--dns-port', String(dnsPort), '--xds-port', '0', '--dns-upstream', `127.0.0.1:${upstream.port}`], { env: cleanEnv() });
      times.push((await firstUdpAnswer(dnsPort, 'web.mesh', webIp!, 30_000)) - spawnedAt);
      expect(await dig(dnsPort, 'web.mesh', '+short'), 'dig, once the probe had its answer').toBe(webIp);
      await waitFor('/ready 200 after the restart', async () => ((await fetch(`http://127.0.0.1:${apiPort}/ready`).catch(() => undefined))?.ok ? true : undefined), 60_000, agent);
    }
    const median = [...times].sort((a, b) => a - b)[2]!;
    console.log(`[zone-dns-persisted] first answer after 5 restarts (from spawn): ${times.join(', ')} ms; median ${median} ms (budget 500 ms)`);
    expect(median).toBeLessThan(500);
  }, 180_000);
});
