/**
 * Revocation and expiry take effect at once, cache or no cache. Two global replicas (A and B) serve one
 * database; each caches token checks (API tokens) and signing keys (zone tokens) for itself.
 * - API tokens: a token revoked on A is refused by A on the very next request, and by B within
 *   TOKEN_CACHE_MS; an expired token is refused from its expiry on, though its check was cached.
 * - Zone tokens: revoking a token, or retiring the key that signed it, on A is refused by B on the next
 *   request, although B holds that key in its cache; an expired zone token is refused at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Frames, PollRequest } from '@ursa/proto/gen/kds.js';
import { TOKEN_CACHE_MS } from '@ursa/core';
import { call, startApi, type ApiServer } from '@ursa/test-support/api.js';
import { backends } from '@ursa/test-support/backends.js';
import { rawHello } from '@ursa/test-support/kds-hello.js';

/** Waits until the wall clock is past `at` (a condition on the clock, not a guess at a delay). */
async function until(at: number): Promise<void> {
  while (Date.now() <= at) await new Promise((r) => setTimeout(r, Math.max(1, Math.min(50, at - Date.now() + 1))));
}

for (const backend of backends()) {
  describe(`revocation and expiry on ${backend.name}`, () => {
    let a: ApiServer;
    let b: ApiServer;

    beforeAll(async () => {
      a = await startApi(backend, {}, { instanceId: 'replica-a' });
      b = await startApi(backend, {}, { database: a.database, ownConnection: true, instanceId: 'replica-b' });
      expect((await call(a.url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default' } })).status).toBe(201);
    });
    afterAll(async () => {
      await b?.close();
      await a?.close();
    });

    const issue = async (validFor?: number) => {
      const r = await call(a.url, 'POST', '/tokens', { body: { name: 'ci', role: 'read-only', ...(validFor ? { validFor } : {}) } });
      expect(r.status).toBe(201);
      return r.body as { id: string; secret: string; expirationTime: string | null };
    };

    it('an API token revoked on a replica is refused by it on the next request, and by another replica within TOKEN_CACHE_MS', async () => {
      const t = await issue();
      // Both replicas have checked (and cached) the token.
      expect((await call(a.url, 'GET', '/meshes', { token: t.secret })).status).toBe(200);
      expect((await call(b.url, 'GET', '/meshes', { token: t.secret })).status).toBe(200);
      expect((await call(a.url, 'DELETE', `/tokens/${t.id}`)).status).toBe(200);
      const revokedAt = Date.now();
      const onA = await call(a.url, 'GET', '/meshes', { token: t.secret });
      expect([onA.status, onA.body.detail]).toEqual([401, 'the token is invalid, expired or revoked']);
      // B: refused within the documented bound (plus scheduling slack on a loaded machine).
      let refusedAfter = -1;
      while (Date.now() - revokedAt < TOKEN_CACHE_MS + 2000) {
        if ((await call(b.url, 'GET', '/meshes', { token: t.secret })).status === 401) {
          refusedAfter = Date.now() - revokedAt;
          break;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(refusedAfter, 'B still accepted the revoked token').toBeGreaterThanOrEqual(0);
      expect(refusedAfter).toBeLessThanOrEqual(TOKEN_CACHE_MS + 500);
    });

    it('an expired API token is refused from its expiry on, although its check was cached', async () => {
      // Two seconds: time for both replicas to check (and cache) it first, well within the old 5 s cache.
      const t = await issue(2);
      expect((await call(a.url, 'GET', '/meshes', { token: t.secret })).status).toBe(200);
      expect((await call(b.url, 'GET', '/meshes', { token: t.secret })).status).toBe(200);
      await until(Date.parse(t.expirationTime!));
      for (const url of [a.url, b.url]) {
        const r = await call(url, 'GET', '/meshes', { token: t.secret });
        expect([r.status, r.body.detail]).toEqual([401, 'the token is invalid, expired or revoked']);
      }
    });

    describe('zone tokens', () => {
      const poll = async (url: string, zone: string, token: string) => {
        const body = PollRequest.encode({ hello: rawHello({ zone, token, instanceId: `${zone}-probe`, lastRevision: await a.resources.currentRevision('default') }), rejections: [], snapshotRevision: 0 }).finish();
        const res = await fetch(`${url}/kds/v1/poll?wait=0`, { method: 'POST', body: body as Uint8Array<ArrayBuffer>, headers: { 'content-type': 'application/x-protobuf' } });
        const frames = Frames.decode(new Uint8Array(await res.arrayBuffer())).frames;
        const err = frames.find((f) => f.body?.$case === 'error');
        return { status: res.status, error: err?.body?.$case === 'error' ? err.body.value : undefined };
      };

      it('retiring the signing key on one replica is refused by another at once, although it caches the key', async () => {
        const old = await a.stores.zoneTokens.issue('default', 'zone-k', 3600);
        // B verifies (and caches the signing key).
        expect((await poll(b.url, 'zone-k', old.token)).status).toBe(200);
        await a.stores.zoneTokens.rotate('default');
        expect(await a.stores.zoneTokens.retireOldKeys('default')).toBeGreaterThan(0);
        expect(await poll(b.url, 'zone-k', old.token)).toEqual({ status: 401, error: { code: 'unauthenticated', message: 'the signing key of the zone token was retired' } });
        // A token of the new key works on both.
        const fresh = await a.stores.zoneTokens.issue('default', 'zone-k', 3600);
        expect((await poll(b.url, 'zone-k', fresh.token)).status).toBe(200);
        expect((await poll(a.url, 'zone-k', fresh.token)).status).toBe(200);
      });

      it('a zone token revoked on one replica is refused by another at once', async () => {
        const t = await a.stores.zoneTokens.issue('default', 'zone-r', 3600);
        expect((await poll(b.url, 'zone-r', t.token)).status).toBe(200);
        expect((await call(a.url, 'DELETE', `/tokens/zone/${t.jti}`)).status).toBe(200);
        expect(await poll(b.url, 'zone-r', t.token)).toEqual({ status: 401, error: { code: 'unauthenticated', message: 'the zone token was revoked' } });
      });

      it('an expired zone token is refused at once', async () => {
        // Expiry is in whole seconds (`exp`): 3 s leaves at least 2 s for the first poll.
        const t = await a.stores.zoneTokens.issue('default', 'zone-e', 3);
        expect((await poll(b.url, 'zone-e', t.token)).status).toBe(200);
        await until(t.expiresAt.getTime());
        const r = await poll(b.url, 'zone-e', t.token);
        expect(r.status).toBe(401);
        expect(r.error?.message).toBe(`the zone token expired at ${t.expiresAt.toISOString()}`);
      });
    });
  });
}
