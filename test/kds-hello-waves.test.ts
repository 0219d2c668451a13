/**
 * The per-hello reads and writes that concurrent hellos share (`Coalescer` in the stores): each caller still
 * gets its own answer. A wave of 60 zones: tokens checked together (a revoked one and another zone's refused,
 * the rest accepted), leases taken in one upsert (a zone twice in the wave ends with its later session),
 * revisions and first snapshot pages read once and current. Every backend.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStores, type Database, type Stores } from '@ursa/core';
import { backends } from '@ursa/test-support/backends.js';
import { freshTenant, meshTimeout, zone } from '@ursa/test-support/fixtures.js';

for (const backend of backends()) {
  describe(`hello waves on ${backend.name}`, () => {
    let database: Database;
    let dispose: () => Promise<void>;
    let stores: Stores;

    beforeAll(async () => {
      ({ database, dispose } = await backend.open());
      stores = createStores(database.db);
    });
    afterAll(async () => dispose?.());

    it('concurrent token checks each get their own verdict', async () => {
      const t = freshTenant();
      const names = Array.from({ length: 60 }, (_, i) => `z${i}`);
      const issued = await Promise.all(names.map((n) => stores.zoneTokens.issue(t, n, 3600)));
      await stores.zoneTokens.revoke(t, issued[7]!.jti);
      const checks = await Promise.all(names.map((n, i) => stores.zoneTokens.verify(issued[i]!.token, { zone: i === 9 ? 'z8' : n, tenant: t })));
      for (const [i, c] of checks.entries()) {
        if (i === 7) expect(c).toMatchObject({ ok: false, message: 'the zone token was revoked' });
        else if (i === 9) expect(c).toMatchObject({ ok: false, code: 'forbidden' });
        else expect(c, names[i]).toMatchObject({ ok: true, claims: { tenant: t, zone: names[i] } });
      }
    });

    it('concurrent lease openings each take their own lease; a zone twice in a wave keeps the later session', async () => {
      const t = freshTenant();
      await stores.resources.create(t, zone('seed')); // the tenant row the leases refer to (a hello's Zone write makes it)
      const opens = Array.from({ length: 60 }, (_, i) => ({ zone: `z${i % 50}`, sessionId: `s${i}` }));
      const rows = await Promise.all(opens.map((o) => stores.kds.openSession(t, o.zone, { sessionId: o.sessionId, globalInstanceId: 'g', ttlMs: 60_000 })));
      for (const [i, r] of rows.entries()) expect(r).toMatchObject({ tenantId: t, zone: opens[i]!.zone });
      const sessions = await stores.kds.sessions(t);
      expect(sessions).toHaveLength(50);
      for (const s of sessions) {
        const n = Number(s.zone.slice(1));
        expect(s.sessionId, s.zone).toBe(n < 10 ? `s${n + 50}` : `s${n}`);
        expect(s.leaseExpiresAt!.getTime()).toBeGreaterThan(Date.now());
      }
      expect(await stores.kds.onlineCount(t)).toBe(50);
      // Closing together: each releases its own lease; a close naming a session the zone no longer holds changes nothing.
      await Promise.all(sessions.slice(0, 20).map((row, i) => stores.kds.closeSession(t, row.zone, i < 5 ? 'gone' : row.sessionId!)));
      expect(await stores.kds.onlineCount(t)).toBe(35);
    });

    it('concurrent revision and snapshot-page reads answer for their own tenant, never older than at the call', async () => {
      const [a, b] = [freshTenant(), freshTenant()];
      await stores.resources.create(a, zone('z'));
      await stores.resources.apply(b, [{ op: 'create', resource: { kind: 'Mesh', name: 'default', spec: {} } }, { op: 'create', resource: meshTimeout('mt') }]);
      const revs = await Promise.all(Array.from({ length: 40 }, (_, i) => stores.resources.currentRevision(i % 2 ? a : b)));
      expect(revs.every((r, i) => r === (i % 2 ? 1 : 2))).toBe(true);
      // A read asked for after a write sees it, however many reads are in flight.
      const during = Promise.all(Array.from({ length: 20 }, () => stores.resources.currentRevision(a)));
      await stores.resources.create(a, zone('z2'));
      expect(await stores.resources.currentRevision(a)).toBe(2);
      await during;
      const kinds = ['Mesh', 'MeshTimeout'];
      const pages = await Promise.all(Array.from({ length: 30 }, (_, i) => stores.resources.snapshotPage(i % 3 ? b : a, { kinds, limit: i % 2 ? 1 : 10 })));
      for (const [i, p] of pages.entries()) {
        const expected = i % 3 ? (i % 2 ? ['Mesh/default'] : ['Mesh/default', 'MeshTimeout/mt']) : [];
        expect(p.resources.map((r) => `${r.kind}/${r.name}`), `request ${i}`).toEqual(expected);
      }
    });
  });
}
