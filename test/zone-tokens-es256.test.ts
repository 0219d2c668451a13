/**
 * The global's zone tokens (`core/src/tokens/`) against a real database (PGlite, and PostgreSQL when DATABASE_URL is set): new
 * tokens are ES256 and their public keys (never private ones) and the revoked ids are published as Kuma's
 * GlobalSecrets for zones; tokens signed with an HS256 key stored before ES256 keep verifying; a token whose
 * header names another algorithm than its key's is refused. The zone side: test/zone-global-zone-tokens.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '@ursa/test-support/backends.js';
import { importEs256PublicPem, KdsStore, randomB64, ResourceStore, signJwt, ZONE_TOKEN_REVOCATIONS, ZoneTokens, zoneTokenPublicKeyName } from '@ursa/core';

const TENANT = 'local';
const header = (token: string) => JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { alg: string; kid: string };

for (const backend of backends()) {
  describe(`zone tokens on the global (${backend.name})`, () => {
    let dispose: () => Promise<void>;
    let kds: KdsStore;
    let resources: ResourceStore;
    let tokens: ZoneTokens;
    const secretText = async (name: string) => {
      const r = await resources.get(TENANT, { kind: 'GlobalSecret', name });
      return r ? Buffer.from(r.spec.data as string, 'base64').toString('utf8') : undefined;
    };

    beforeAll(async () => {
      const opened = await backend.open();
      dispose = opened.dispose;
      kds = new KdsStore(opened.database.db);
      resources = new ResourceStore(opened.database.db);
      tokens = new ZoneTokens(kds, resources);
    });
    afterAll(async () => dispose?.());

    it('keeps verifying a token signed with an HS256 key from before, while new tokens are ES256 with a published public key', async () => {
      // What the global stored and issued before this change: an HS256 key and a token it signed.
      await kds.addKey(TENANT, 'k-legacy', randomB64(32));
      const now = Math.floor(Date.now() / 1000);
      const legacy = await signJwt({ kid: 'k-legacy', secret: (await kds.activeKeys(TENANT))[0]!.secret }, { iss: 'ursa', scope: 'zone', scopes: ['cp'], tenant: TENANT, zone: 'z1', sub: 'z1', jti: 'legacy-1', iat: now, exp: now + 600 });
      await kds.recordZoneToken({ jti: 'legacy-1', tenant: TENANT, zone: 'z1', kid: 'k-legacy', expiresAt: new Date((now + 600) * 1000) });
      expect(header(legacy).alg).toBe('HS256');
      expect(await tokens.verify(legacy, { zone: 'z1', tenant: TENANT })).toMatchObject({ ok: true });

      const issued = await tokens.issue(TENANT, 'z1', 600);
      const { alg, kid } = header(issued.token);
      expect(alg).toBe('ES256');
      expect(kid).toMatch(/^es-[0-9a-z]+-[0-9a-f]{8}$/);
      expect(await tokens.verify(issued.token, { zone: 'z1', tenant: TENANT })).toMatchObject({ ok: true });
      expect(await tokens.verify(legacy, { zone: 'z1', tenant: TENANT })).toMatchObject({ ok: true });

      const pem = await secretText(zoneTokenPublicKeyName(kid));
      expect(pem).toMatch(/^-----BEGIN PUBLIC KEY-----\n[\s\S]+-----END PUBLIC KEY-----\n$/);
      expect(await importEs256PublicPem(pem!)).toBeDefined();
      // The HS256 secret is never published: it would let a zone sign tokens.
      expect(await secretText(zoneTokenPublicKeyName('k-legacy'))).toBeUndefined();
      expect((await resources.list(TENANT, 'GlobalSecret')).items.map((r) => r.name)).toEqual([zoneTokenPublicKeyName(kid)]);
    });

    it('refuses a token whose header claims HS256 under an ES256 key id (no algorithm confusion)', async () => {
      const issued = await tokens.issue(TENANT, 'z1', 600);
      const [, payload, sig] = issued.token.split('.');
      const h = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: header(issued.token).kid })).toString('base64url');
      expect(await tokens.verify(`${h}.${payload}.${sig}`, { zone: 'z1' })).toMatchObject({ ok: false, code: 'unauthenticated', message: expect.stringMatching(/signature is not valid/) });
    });

    it('publishes revocations and drops the public keys of retired keys', async () => {
      const a = await tokens.issue(TENANT, 'z1', 600);
      expect(await tokens.revoke(TENANT, a.jti)).toBe(true);
      expect(await tokens.revoke(TENANT, 'no-such-token')).toBe(false);
      expect((await secretText(ZONE_TOKEN_REVOCATIONS))!.split(',')).toContain(a.jti);

      const oldKid = header(a.token).kid;
      const newKid = await tokens.rotate(TENANT);
      expect(await secretText(zoneTokenPublicKeyName(newKid))).toBeDefined();
      expect(await secretText(zoneTokenPublicKeyName(oldKid))).toBeDefined();
      await tokens.retireOldKeys(TENANT);
      expect(await secretText(zoneTokenPublicKeyName(oldKid))).toBeUndefined();
      expect(await secretText(zoneTokenPublicKeyName(newKid))).toBeDefined();
    });
  });
}
