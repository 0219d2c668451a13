/**
 * Dataplane tokens against a real database (PGlite, and PostgreSQL when DATABASE_URL is set): what each
 * binding admits and refuses, zone ingress tokens, key rotation, and that keys of other kinds in the same
 * table (zone tokens) neither sign nor verify dataplane tokens. The end-to-end path (zone API issuing,
 * xDS refusing) is test/zone-xds-admission.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KdsStore, newSigningKey, signJwt, ZoneTokens } from '@ursa/core';
import { backends } from '@ursa/test-support/backends.js';
import { stored } from '../model/testing.js';
import { DataplaneTokens } from './tokens.js';

const dataplane = (service: string) =>
  stored('Dataplane', {
    mesh: 'default',
    name: 'web-1',
    labels: {},
    spec: { networking: { address: '10.0.0.1', inbound: [{ port: 80, tags: { 'kuma.io/service': service, version: 'v1' } }] } },
  });

for (const backend of backends()) {
  describe(`dataplane tokens (${backend.name})`, () => {
    let dispose: () => Promise<void>;
    let store: KdsStore;
    let tokens: DataplaneTokens;
    const web1 = { type: 'dataplane' as const, mesh: 'default', name: 'web-1' };

    beforeAll(async () => {
      const opened = await backend.open();
      dispose = opened.dispose;
      store = new KdsStore(opened.database.db);
      tokens = new DataplaneTokens(store, 'local');
    });
    afterAll(async () => dispose?.());

    it('binds to mesh and name; a mesh-wide token admits any Dataplane of its mesh', async () => {
      const named = (await tokens.issue({ mesh: 'default', name: 'web-1', validForSeconds: 60 })).token;
      expect(await tokens.verify(named, web1)).toMatchObject({ ok: true, claims: { mesh: 'default', name: 'web-1', type: 'dataplane' } });
      expect(await tokens.verify(named, { ...web1, name: 'web-2' })).toEqual({ ok: false, code: 'forbidden', message: 'the dataplane token is for Dataplane "web-1", not "web-2"' });
      expect(await tokens.verify(named, { ...web1, mesh: 'other' })).toMatchObject({ ok: false, code: 'forbidden' });
      const meshWide = (await tokens.issue({ mesh: 'default', validForSeconds: 60 })).token;
      expect((await tokens.verify(meshWide, { ...web1, name: 'anything' })).ok).toBe(true);
    });

    it('checks tag bindings against the Dataplane (Kuma: every value of a named tag must be allowed)', async () => {
      const t = (await tokens.issue({ mesh: 'default', tags: { 'kuma.io/service': ['web', 'api'] }, validForSeconds: 60 })).token;
      expect((await tokens.verify(t, { ...web1, dataplane: dataplane('web') })).ok).toBe(true);
      expect(await tokens.verify(t, { ...web1, dataplane: dataplane('db') })).toMatchObject({ ok: false, code: 'forbidden', message: expect.stringMatching(/tag "kuma\.io\/service" is "db"/) });
      const needsZone = (await tokens.issue({ mesh: 'default', tags: { 'kuma.io/zone': ['z1'] }, validForSeconds: 60 })).token;
      expect(await tokens.verify(needsZone, { ...web1, dataplane: dataplane('web') })).toMatchObject({ ok: false, message: expect.stringMatching(/has no tag "kuma\.io\/zone"/) });
    });

    it('zone ingress tokens admit zone ingresses only, and dataplane tokens never admit an ingress', async () => {
      const ingress = (await tokens.issue({ type: 'ingress', mesh: '', name: 'zi-1', validForSeconds: 60 })).token;
      expect((await tokens.verify(ingress, { type: 'ingress', mesh: '', name: 'zi-1' })).ok).toBe(true);
      expect(await tokens.verify(ingress, { type: 'ingress', mesh: '', name: 'zi-2' })).toMatchObject({ ok: false, message: 'the dataplane token is for ZoneIngress "zi-1", not "zi-2"' });
      expect(await tokens.verify(ingress, web1)).toMatchObject({ ok: false, code: 'forbidden', message: 'the token is for a zone ingress, and this proxy is a dataplane' });
      const dp = (await tokens.issue({ mesh: 'default', validForSeconds: 60 })).token;
      expect(await tokens.verify(dp, { type: 'ingress', mesh: '', name: 'zi-1' })).toMatchObject({ ok: false, code: 'forbidden' });
    });

    it('a standalone zone\'s zone tokens admit its zone ingresses when their scopes say so, and nothing else', async () => {
      const z1 = new DataplaneTokens(store, 'local', 'z1');
      const zi = { type: 'ingress' as const, mesh: '', name: 'any-ingress' };
      const both = (await z1.issueZoneToken({ zone: 'z1', scopes: ['ingress', 'egress'], validForSeconds: 60 })).token;
      expect(await z1.verify(both, zi)).toMatchObject({ ok: true, claims: { type: 'ingress', mesh: '' } });
      expect(await z1.verify(both, web1)).toMatchObject({ ok: false, code: 'forbidden', message: expect.stringMatching(/use a dataplane token/) });
      const egressOnly = (await z1.issueZoneToken({ zone: 'z1', scopes: ['egress'], validForSeconds: 60 })).token;
      expect(await z1.verify(egressOnly, zi)).toMatchObject({ ok: false, code: 'forbidden', message: expect.stringMatching(/do not include "ingress"/) });
      // Same keys, another zone's name: refused.
      expect(await new DataplaneTokens(store, 'local', 'z2').verify(both, zi)).toMatchObject({ ok: false, code: 'forbidden', message: 'the zone token is for zone "z1", not "z2"' });
      const expired = (await z1.issueZoneToken({ zone: 'z1', scopes: ['ingress'], validForSeconds: 1 }, Date.now() - 5000)).token;
      expect(await z1.verify(expired, zi)).toMatchObject({ ok: false, code: 'unauthenticated', message: expect.stringMatching(/expired at/) });
    });

    it('refuses expired, forged and foreign tokens as unauthenticated', async () => {
      const issuedAt = Date.now();
      const t = (await tokens.issue({ mesh: 'default', name: 'web-1', validForSeconds: 10 }, issuedAt)).token;
      expect(await tokens.verify(t, web1, issuedAt + 11_000)).toMatchObject({ ok: false, code: 'unauthenticated', message: expect.stringMatching(/expired at/) });
      const [h, p] = t.split('.');
      expect(await tokens.verify(`${h}.${p}.AAAA`, web1)).toMatchObject({ ok: false, code: 'unauthenticated', message: expect.stringMatching(/signature is not valid/) });
      // A zone token signed with a key in the same table is no dataplane token, whatever it says.
      const zone = (await new ZoneTokens(store).issue('local', 'web-1', 60)).token;
      expect(await tokens.verify(zone, web1)).toMatchObject({ ok: false, code: 'unauthenticated', message: expect.stringMatching(/not a dataplane token/) });
      expect(await tokens.verify('x.y', web1)).toMatchObject({ ok: false, code: 'unauthenticated', message: expect.stringMatching(/malformed/) });
    });

    it('a federated zone refuses a zone token signed with a shared-secret key, saying to issue a new one', async () => {
      // What the global issued before ES256: HS256 with a key only the global holds.
      const now = Math.floor(Date.now() / 1000);
      const hs = await signJwt(newSigningKey('k'), { iss: 'ursa', scope: 'zone', scopes: ['ingress'], zone: 'z1', tenant: 'default', jti: 'j', exp: now + 60 });
      const federated = new DataplaneTokens(store, 'local', 'z1', async () => undefined);
      expect(await federated.verify(hs, { type: 'ingress', mesh: '', name: 'zi-1' })).toMatchObject({ ok: false, code: 'unauthenticated', message: expect.stringMatching(/shared-secret \(HS256\) key.*issue a new zone token on the global/) });
    });

    it('rotation: new tokens use the new key, old ones keep working', async () => {
      const before = (await tokens.issue({ mesh: 'default', validForSeconds: 60 })).token;
      const kid = await tokens.rotate();
      const after = (await tokens.issue({ mesh: 'default', validForSeconds: 60 })).token;
      expect(JSON.parse(Buffer.from(after.split('.')[0]!, 'base64url').toString()).kid).toBe(kid);
      expect(kid).toMatch(/^dp-/);
      expect((await tokens.verify(before, web1)).ok).toBe(true);
      expect((await tokens.verify(after, web1)).ok).toBe(true);
    });
  });
}
