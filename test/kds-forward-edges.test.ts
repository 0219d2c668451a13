/**
 * Forwarding a proxy's `xds` to its zone when the zone cannot answer, with an in-process global (PGlite, and
 * PostgreSQL when DATABASE_URL is set) and in-process zones (`startZone`) over real sockets:
 * - a zone agent that does not announce `inspect-v1` (an older agent): 400 naming the feature, at once;
 * - a zone that never answers: 504 once the global's wait runs out;
 * - a zone connected over long-poll: 400 saying only WebSocket sessions carry forwarded requests.
 * The happy path and the real agent are in `kds-forward.test.ts`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL } from '@ursa/zone-agent';
import { backends } from '@ursa/test-support/backends.js';
import { call, startApi, type ApiServer } from '@ursa/test-support/api.js';
import { startZone, type TestZone } from '@ursa/test-support/zone.js';
import { waitFor } from '@ursa/test-support/process.js';

type Json = Record<string, any>;
const dataplane = (name: string) => ({ kind: 'Dataplane', mesh: 'default', name, spec: { networking: { address: '10.0.0.1', inbound: [{ port: 8080, tags: { 'kuma.io/service': name } }] } } });

for (const backend of backends()) {
  describe(`forwarding to zones that cannot answer, global on ${backend.name}`, () => {
    let api: ApiServer;
    const zones: TestZone[] = [];
    const onGlobal: Record<string, string> = {};

    beforeAll(async () => {
      api = await startApi(backend, {}, { forwardTimeoutMs: 1500 });
      // Tokens first, in a row: no request reuses a keep-alive socket left idle while a zone's database opens.
      const names = ['old', 'silent', 'polling'] as const;
      const tokens = new Map<string, string>();
      for (const name of names) tokens.set(name, (await call(api.url, 'POST', '/tokens/zone', { body: { zone: name, validFor: 3600 } })).body.token as string);
      const never = () => new Promise<never>(() => {});
      for (const name of names) {
        const z = await startZone({ name, globalUrl: api.url, token: tokens.get(name)!, transport: name === 'polling' ? 'poll' : 'ws', ...(name === 'old' ? {} : { inspect: never }) });
        zones.push(z);
        await z.store.create(LOCAL, dataplane(`web-${name}`));
      }
      await waitFor('the three dataplanes on the global', async () => {
        const items = ((await call(api.url, 'GET', '/meshes/default/dataplanes')).body.items ?? []) as Json[];
        for (const i of items) onGlobal[i.labels?.['kuma.io/zone']] = i.name;
        return onGlobal.old && onGlobal.silent && onGlobal.polling ? true : undefined;
      }, 60_000);
    }, 150_000);

    afterAll(async () => {
      await Promise.all(zones.map((z) => z.stop()));
      await api?.close();
    });

    const xds = (zone: string) => call(api.url, 'GET', `/meshes/default/dataplanes/${onGlobal[zone]}/xds`);

    it('an agent without inspect-v1: 400 naming the feature', async () => {
      const r = await xds('old');
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ status: 400, title: 'Could not execute admin operation' });
      expect(r.body.detail).toBe('could not send XDSConfigRequest: the zone agent of zone old does not answer forwarded requests (it lacks the KDS feature inspect-v1): upgrade it');
    });

    it('a zone that never answers: 504 once the wait runs out', async () => {
      const began = Date.now();
      const r = await xds('silent');
      expect(r.status).toBe(504);
      expect(r.body.detail).toBe('could not send XDSConfigRequest: zone silent: no answer from the zone within 2 s');
      expect(Date.now() - began).toBeGreaterThanOrEqual(1400);
    });

    it('a long-poll zone: 400 saying only WebSocket sessions carry forwarded requests', async () => {
      const r = await xds('polling');
      expect(r.status).toBe(400);
      expect(r.body.detail).toMatch(/^could not send XDSConfigRequest: zone polling is connected over long-poll/);
    });
  });
}
