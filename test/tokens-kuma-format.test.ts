/**
 * Zone tokens in Kuma's format, end to end with real processes: `POST /tokens/zone` with the body kumactl and
 * Kuma's docs send (`{"zone", "scope": ["cp"], "validFor": "24h"}`) answers the token alone as `text/plain`
 * with 200; written to a file as `curl > file` or an editor leaves it (trailing newline), a real
 * `zone-agent --token-file` connects with it. A token whose scope lacks `cp` is refused at the KDS handshake.
 * Bad input is a 400 naming the field. The global runs on its embedded PostgreSQL, or on a scratch database
 * of DATABASE_URL's server when that is set.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '@ursa/test-support/api.js';
import { scratchDatabase } from '@ursa/test-support/backends.js';
import { removeDirs, startGlobal, startZoneAgent, type GlobalProc, type ZoneProc } from '@ursa/test-support/cluster.js';
import { getJson, waitFor } from '@ursa/test-support/process.js';

/** As kumactl asks: no Accept header beyond curl's. */
const KUMACTL = { accept: '*/*' };

describe('zone tokens as Kuma issues them (real global and zone agent)', () => {
  let global: GlobalProc | undefined;
  const agents: ZoneProc[] = [];
  let drop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    let databaseUrl: string | undefined;
    if (process.env.DATABASE_URL) ({ url: databaseUrl, drop } = await scratchDatabase(process.env.DATABASE_URL, 'ursa_tokfmt'));
    global = await startGlobal({ databaseUrl });
    expect((await call(global.url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default' } })).status).toBeLessThan(300);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await global?.stop();
    await drop?.();
    await removeDirs([...agents.map((a) => a.dataDir), global?.dataDir ?? ''].filter(Boolean));
  });

  it('answers a plain-text token that zone-agent --token-file connects with', async () => {
    const res = await call(global!.url, 'POST', '/tokens/zone', { body: { zone: 'z1', scope: ['cp'], validFor: '24h' }, headers: KUMACTL });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const token = res.body as string;
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    // Listed with its expiry a day out (Ursa's extension to Kuma's API).
    const listed = (await call(global!.url, 'GET', '/tokens/zone')).body.items as { zone: string; expirationTime: string }[];
    const mine = listed.find((t) => t.zone === 'z1')!;
    expect(Math.abs(Date.parse(mine.expirationTime) - Date.now() - 24 * 3600_000)).toBeLessThan(120_000);

    const agent = await startZoneAgent({ name: 'z1', globalUrl: global!.url, token: `${token}\n`, transport: 'ws' });
    agents.push(agent);
    await waitFor('z1 connected to the global', async () => ((await getJson(`${agent.url}/ready`)) as { kds?: { connected?: boolean } }).kds?.connected || undefined, 60_000, agent.child);
    await waitFor('mesh default synced to z1', async () => ((await call(agent.url, 'GET', '/meshes/default')).status === 200 ? true : undefined), 15_000, agent.child);
  }, 120_000);

  it('refuses a zone token whose scope lacks cp, saying why', async () => {
    const res = await call(global!.url, 'POST', '/tokens/zone', { body: { zone: 'z2', scope: ['ingress', 'egress'], validFor: '1h30m' }, headers: KUMACTL });
    expect(res.status).toBe(200);
    const agent = await startZoneAgent({ name: 'z2', globalUrl: global!.url, token: res.body as string, transport: 'ws' });
    agents.push(agent);
    const lastError = await waitFor('z2 refused', async () => ((await getJson(`${agent.url}/ready`)) as { kds?: { lastError?: string } }).kds?.lastError || undefined, 30_000, agent.child);
    expect(lastError).toMatch(/scope.*does not include "cp"/);
    expect(((await getJson(`${agent.url}/ready`)) as { kds: { connected: boolean } }).kds.connected).toBe(false);
  }, 60_000);

  it('answers JSON with the id and expiry to a client that asks for it', async () => {
    const res = await call(global!.url, 'POST', '/tokens/zone', { body: { zone: 'z3', validFor: 3600 }, headers: { accept: 'application/json' } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ id: expect.any(String), zone: 'z3', scope: ['cp', 'ingress', 'egress'], token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/) });
  });

  it('names each bad field with Kuma\'s error body, never a 500', async () => {
    for (const [body, fields] of [
      [{ zone: 'z1', scope: ['cp'], validFor: 'forever' }, ['validFor']],
      [{ zone: 'z1', scope: ['cp'], validFor: '-1h' }, ['validFor']],
      [{ zone: 'z1', scope: ['cp'], validFor: 1.5 }, ['validFor']],
      [{ zone: 'z1', scope: ['cp', 'dataplane'], validFor: '1h' }, ['scope[1]']],
      [{ zone: 'Not A Zone', scope: [], validFor: '1d' }, ['scope', 'validFor', 'zone']],
    ] as const) {
      const res = await call(global!.url, 'POST', '/tokens/zone', { body, headers: KUMACTL });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body).toMatchObject({ type: '/std-errors', status: 400, title: 'Invalid request', detail: 'Resource is not valid' });
      expect(res.body.invalid_parameters.map((p: { field: string }) => p.field).sort()).toEqual(fields);
    }
    const bad = await call(global!.url, 'POST', '/tokens/zone', { body: { zone: 'z1', scope: ['cp'], validFor: 'forever' }, headers: KUMACTL });
    expect(bad.body.invalid_parameters[0].reason).toMatch(/^is invalid: time: invalid duration "forever"/);
  });
});
