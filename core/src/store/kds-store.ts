/**
 * What KDS keeps besides resources: each zone's cursors and liveness lease, inventory snapshots in transit,
 * zone-token signing keys and issued zone tokens. Plain SQL over drizzle, the same on PGlite and PostgreSQL.
 */
import { and, asc, count, eq, gt, inArray, isNull, ne, sql } from 'drizzle-orm';
import { Coalescer } from '../coalescer.js';
import type { Db } from './db.js';
import { kdsStaging, signingKeys, tenants, zoneSessions, zoneTokens } from './schema.js';
import { rowsOf } from './insight-queries.js';
import { jsonByteLength, STAGING_LIMITS, type StagingLimits } from '../limits.js';

/** One resource of a zone's inventory snapshot in transit, as the global will store it. */
export interface StagedRow {
  kind: string;
  mesh: string;
  name: string;
  labels: Record<string, string>;
  spec: Record<string, unknown>;
}

/** What the zone has staged after a chunk, or the limit the chunk would have crossed (nothing was kept). */
export type StageResult =
  | { ok: true; resources: number; bytes: number }
  | { ok: false; limit: 'resources' | 'bytes'; max: number; resources: number; bytes: number };

class OverLimit extends Error {
  constructor(readonly result: Extract<StageResult, { ok: false }>) {
    super(`staging limit: ${result.limit}`);
  }
}

/** Bytes a staged resource counts for: its JSON, as the store measures resources (MAX_RESOURCE_BYTES). */
const stagedBytes = (r: StagedRow) => jsonByteLength(r.spec) + jsonByteLength(r.labels) + r.kind.length + r.mesh.length + r.name.length;

export type ZoneSessionRow = typeof zoneSessions.$inferSelect;
export type ZoneTokenState = typeof zoneTokens.$inferSelect & { keyRetired: boolean };

type SessionOpen = { tenant: string; zone: string; sessionId: string; globalInstanceId: string; ttlMs: number };

/** Keys per `IN (...)` of a batched read or rows per batched upsert (parameters stay far below PostgreSQL's limit). */
const BATCH = 500;

export class KdsStore {
  /**
   * Hellos arrive in waves (a deploy, a global restart: thousands of zones at once), and each checked its token
   * and took its lease in a round trip (and, for the lease, a commit) of its own; profile and pg_stat_activity
   * of bench/kds-fanout.ts at 10,000 zones: see README, "Many zones on one global process". Concurrent calls
   * now share one query each: one `IN (...)` token read, one multi-row lease upsert.
   */
  #tokenStates = new Coalescer((jtis: string[]) => this.#zoneTokenStatesNow(jtis), BATCH);
  #opens = new Coalescer((opens: SessionOpen[]) => this.#openSessionsNow(opens), BATCH);
  /** Sessions closing together (zones that gave up, a replica's sockets cut) release their leases in one UPDATE. */
  #closes = new Coalescer((closes: { tenant: string; zone: string; sessionId: string }[]) => this.#closeSessionsNow(closes), BATCH);
  /** Zones completing their inventory upload together (each of a wave of hellos uploads one) share one UPDATE. */
  #inventoryRevisions = new Coalescer((sets: { tenant: string; zone: string; revision: number }[]) => this.#setInventoryRevisionsNow(sets), BATCH);

  constructor(private readonly db: Db) {}

  async session(tenant: string, zone: string): Promise<ZoneSessionRow | undefined> {
    const [row] = await this.db.select().from(zoneSessions).where(and(eq(zoneSessions.tenantId, tenant), eq(zoneSessions.zone, zone)));
    return row;
  }

  async sessions(tenant: string): Promise<ZoneSessionRow[]> {
    return this.db.select().from(zoneSessions).where(eq(zoneSessions.tenantId, tenant)).orderBy(asc(zoneSessions.zone));
  }

  /**
   * Takes the zone's lease for a new session. A newer session always wins (the old connection is dead or
   * about to be closed by its replica when it sees the session id change).
   */
  async openSession(tenant: string, zone: string, s: { sessionId: string; globalInstanceId: string; ttlMs: number }): Promise<ZoneSessionRow> {
    return this.#opens.run({ tenant, zone, ...s });
  }

  async #openSessionsNow(opens: SessionOpen[]): Promise<ZoneSessionRow[]> {
    // One statement may not upsert a row twice: a zone twice in one wave (a quick reconnect) goes one by one, in order.
    if (opens.length === 1 || new Set(opens.map((o) => `${o.tenant}/${o.zone}`)).size !== opens.length) {
      const out: ZoneSessionRow[] = [];
      for (const o of opens) out.push(await this.#openSession(o.tenant, o.zone, o));
      return out;
    }
    const now = new Date();
    const rows = await this.db
      .insert(zoneSessions)
      .values(opens.map((o) => ({ tenantId: o.tenant, zone: o.zone, sessionId: o.sessionId, globalInstanceId: o.globalInstanceId, leaseExpiresAt: new Date(now.getTime() + o.ttlMs), connectedAt: now, lastSeenAt: now })))
      .onConflictDoUpdate({
        target: [zoneSessions.tenantId, zoneSessions.zone],
        set: { sessionId: sql`excluded.session_id`, globalInstanceId: sql`excluded.global_instance_id`, leaseExpiresAt: sql`excluded.lease_expires_at`, connectedAt: sql`excluded.connected_at`, lastSeenAt: sql`excluded.last_seen_at` },
      })
      .returning();
    const byKey = new Map(rows.map((r) => [`${r.tenantId}/${r.zone}`, r]));
    return opens.map((o) => byKey.get(`${o.tenant}/${o.zone}`)!);
  }

  async #openSession(tenant: string, zone: string, s: { sessionId: string; globalInstanceId: string; ttlMs: number }): Promise<ZoneSessionRow> {
    const now = new Date();
    const lease = new Date(now.getTime() + s.ttlMs);
    const [row] = await this.db
      .insert(zoneSessions)
      .values({ tenantId: tenant, zone, sessionId: s.sessionId, globalInstanceId: s.globalInstanceId, leaseExpiresAt: lease, connectedAt: now, lastSeenAt: now })
      .onConflictDoUpdate({
        target: [zoneSessions.tenantId, zoneSessions.zone],
        set: { sessionId: s.sessionId, globalInstanceId: s.globalInstanceId, leaseExpiresAt: lease, connectedAt: now, lastSeenAt: now },
      })
      .returning();
    return row!;
  }

  /** Renews the lease if this session still holds it; false means another session took over. */
  async renew(tenant: string, zone: string, sessionId: string, ttlMs: number, acked?: number): Promise<boolean> {
    const now = new Date();
    const rows = await this.db
      .update(zoneSessions)
      .set({ leaseExpiresAt: new Date(now.getTime() + ttlMs), lastSeenAt: now, ...(acked !== undefined ? { ackedRevision: acked } : {}) })
      .where(and(eq(zoneSessions.tenantId, tenant), eq(zoneSessions.zone, zone), eq(zoneSessions.sessionId, sessionId)))
      .returning({ zone: zoneSessions.zone });
    return rows.length === 1;
  }

  /** Ends a session cleanly: the lease expires now, so the zone is Offline at once. */
  async closeSession(tenant: string, zone: string, sessionId: string): Promise<void> {
    await this.#closes.run({ tenant, zone, sessionId });
  }

  async #closeSessionsNow(closes: { tenant: string; zone: string; sessionId: string }[]): Promise<void[]> {
    // Only the closing session's own lease: a newer session of the zone keeps its lease.
    const tuples = sql.join(closes.map((c) => sql`(${c.tenant}, ${c.zone}, ${c.sessionId})`), sql`, `);
    await this.db
      .update(zoneSessions)
      .set({ leaseExpiresAt: new Date() })
      .where(sql`(${zoneSessions.tenantId}, ${zoneSessions.zone}, ${zoneSessions.sessionId}) in (${tuples})`);
    return closes.map(() => undefined);
  }

  /** How many of the tenant's zones hold a live lease (Online), in one query (for `/metrics`). */
  async onlineCount(tenant: string, now = new Date()): Promise<number> {
    const [row] = await this.db
      .select({ n: count() })
      .from(zoneSessions)
      .where(and(eq(zoneSessions.tenantId, tenant), gt(zoneSessions.leaseExpiresAt, now)));
    return Number(row?.n ?? 0);
  }

  /** True while the zone holds a live lease. */
  async isOnline(tenant: string, zone: string, now = new Date()): Promise<boolean> {
    const rows = await this.db
      .select({ zone: zoneSessions.zone })
      .from(zoneSessions)
      .where(and(eq(zoneSessions.tenantId, tenant), eq(zoneSessions.zone, zone), gt(zoneSessions.leaseExpiresAt, now)));
    return rows.length === 1;
  }

  async forgetZone(tenant: string, zone: string): Promise<void> {
    await this.db.delete(zoneSessions).where(and(eq(zoneSessions.tenantId, tenant), eq(zoneSessions.zone, zone)));
    await this.db.delete(kdsStaging).where(and(eq(kdsStaging.tenantId, tenant), eq(kdsStaging.zone, zone)));
  }

  // --- upward snapshots in transit -------------------------------------------------------------------

  /**
   * Stages a chunk of the zone's inventory snapshot `snapshotId`. Only one snapshot per zone is in transit:
   * chunks of another (older, abandoned) one are dropped. What the zone then has staged must stay within
   * `limits` (counted after the chunk, so a chunk sent twice counts once); otherwise nothing of the chunk is
   * kept, the zone's staging is dropped (that snapshot can never complete) and the answer names the limit.
   */
  async stage(tenant: string, zone: string, snapshotId: string, rows: StagedRow[], limits: StagingLimits = STAGING_LIMITS): Promise<StageResult> {
    if (snapshotId === '') return { ok: true, resources: 0, bytes: 0 };
    try {
      return await this.db.transaction(async (tx) => {
        await tx.delete(kdsStaging).where(and(eq(kdsStaging.tenantId, tenant), eq(kdsStaging.zone, zone), ne(kdsStaging.snapshotId, snapshotId)));
        for (let i = 0; i < rows.length; i += 500) {
          await tx
            .insert(kdsStaging)
            .values(rows.slice(i, i + 500).map((r) => ({ tenantId: tenant, zone, snapshotId, ...r, bytes: stagedBytes(r) })))
            .onConflictDoUpdate({
              target: [kdsStaging.tenantId, kdsStaging.zone, kdsStaging.snapshotId, kdsStaging.kind, kdsStaging.mesh, kdsStaging.name],
              set: { labels: sql`excluded.labels`, spec: sql`excluded.spec`, bytes: sql`excluded.bytes`, stagedAt: sql`excluded.staged_at` },
            });
        }
        const [total] = await tx
          .select({ resources: sql<number>`count(*)::int`, bytes: sql<number>`coalesce(sum(${kdsStaging.bytes}), 0)::bigint` })
          .from(kdsStaging)
          .where(and(eq(kdsStaging.tenantId, tenant), eq(kdsStaging.zone, zone)));
        const staged = { resources: Number(total?.resources ?? 0), bytes: Number(total?.bytes ?? 0) };
        // Thrown to roll the chunk back; answered below.
        if (staged.resources > limits.resources) throw new OverLimit({ ok: false, limit: 'resources', max: limits.resources, ...staged });
        if (staged.bytes > limits.bytes) throw new OverLimit({ ok: false, limit: 'bytes', max: limits.bytes, ...staged });
        return { ok: true as const, ...staged };
      });
    } catch (err) {
      if (!(err instanceof OverLimit)) throw err;
      await this.clearStaging(tenant, zone);
      return err.result;
    }
  }

  /**
   * Drops every staged snapshot that received nothing since `before` (its zone stopped uploading), across
   * all tenants; returns how many resources were dropped. A live upload is never cut: its last chunk is
   * recent, and a zone whose session ended starts its upload over in the next one.
   */
  async sweepStaging(before: Date): Promise<number> {
    const result = await this.db.execute(sql`
      with abandoned as (
        select ${kdsStaging.tenantId} as tenant_id, ${kdsStaging.zone} as zone, ${kdsStaging.snapshotId} as snapshot_id
        from ${kdsStaging}
        group by 1, 2, 3
        having max(${kdsStaging.stagedAt}) < ${before.toISOString()}::timestamptz
      ), gone as (
        delete from ${kdsStaging} s using abandoned a
        where s.tenant_id = a.tenant_id and s.zone = a.zone and s.snapshot_id = a.snapshot_id
        returning 1
      )
      select count(*)::int as n from gone`);
    return Number(rowsOf<{ n: number | string }>(result)[0]?.n ?? 0);
  }

  async staged(tenant: string, zone: string, snapshotId: string) {
    return this.db
      .select()
      .from(kdsStaging)
      .where(and(eq(kdsStaging.tenantId, tenant), eq(kdsStaging.zone, zone), eq(kdsStaging.snapshotId, snapshotId)));
  }

  async clearStaging(tenant: string, zone: string): Promise<void> {
    await this.db.delete(kdsStaging).where(and(eq(kdsStaging.tenantId, tenant), eq(kdsStaging.zone, zone)));
  }

  async setInventoryRevision(tenant: string, zone: string, revision: number): Promise<void> {
    await this.#inventoryRevisions.run({ tenant, zone, revision });
  }

  async #setInventoryRevisionsNow(sets: { tenant: string; zone: string; revision: number }[]): Promise<void[]> {
    // A zone twice in one wave: its later value is the one to keep (one UPDATE may match a row only once).
    const last = [...new Map(sets.map((s) => [`${s.tenant}\u0000${s.zone}`, s])).values()];
    const values = sql.join(last.map((s) => sql`(${s.tenant}::text, ${s.zone}::text, ${s.revision}::bigint)`), sql`, `);
    await this.db.execute(sql`update ${zoneSessions} set inventory_revision = v.revision
      from (values ${values}) as v(tenant_id, zone, revision)
      where ${zoneSessions.tenantId} = v.tenant_id and ${zoneSessions.zone} = v.zone`);
    return sets.map(() => undefined);
  }

  /**
   * The last chunk of inventory snapshot `snapshotId`: the rows the zone staged of it before, if the whole
   * snapshot (those and `rows`, a key counted once) stays within `limits`. The chunk itself is not staged: the
   * caller applies it with the staged rows, then clears the zone's staging if anything was staged. A snapshot
   * sent in one frame (a small zone, the usual case) so costs one read instead of a staging transaction, a
   * read and a delete: per zone of a 10,000-zone wave, those were most of what pg_stat_activity showed once
   * the hellos were shared (README, "Many zones on one global process"). Over the limits, the zone's staging
   * is dropped and the limit named, as `stage` does.
   */
  async completeStaging(tenant: string, zone: string, snapshotId: string, rows: StagedRow[], limits: StagingLimits = STAGING_LIMITS): Promise<{ ok: true; staged: StagedRow[] } | Extract<StageResult, { ok: false }>> {
    const earlier = snapshotId === '' ? [] : await this.staged(tenant, zone, snapshotId);
    const key = (r: { kind: string; mesh: string; name: string }) => `${r.kind}\u0000${r.mesh}\u0000${r.name}`;
    const inChunk = new Set(rows.map(key));
    const kept = earlier.filter((r) => !inChunk.has(key(r)));
    const totals = { resources: kept.length + inChunk.size, bytes: kept.reduce((n, r) => n + r.bytes, 0) + rows.reduce((n, r) => n + stagedBytes(r), 0) };
    const over = totals.resources > limits.resources ? ('resources' as const) : totals.bytes > limits.bytes ? ('bytes' as const) : undefined;
    if (over) {
      await this.clearStaging(tenant, zone);
      return { ok: false, limit: over, max: limits[over], ...totals };
    }
    const staged = kept.map((r) => ({ kind: r.kind, mesh: r.mesh, name: r.name, labels: r.labels, spec: r.spec }));
    return { ok: true, staged: [...staged, ...rows] };
  }

  // --- zone-token signing keys and tokens ------------------------------------------------------------

  async activeKeys(tenant: string): Promise<{ kid: string; secret: string; createdAt: Date }[]> {
    return this.db
      .select({ kid: signingKeys.kid, secret: signingKeys.secret, createdAt: signingKeys.createdAt })
      .from(signingKeys)
      .where(and(eq(signingKeys.tenantId, tenant), isNull(signingKeys.retiredAt)))
      .orderBy(asc(signingKeys.createdAt));
  }

  async addKey(tenant: string, kid: string, secret: string): Promise<void> {
    // A tenant's row appears with its first resource write; a zone token may be issued before that.
    await this.db.insert(tenants).values({ id: tenant }).onConflictDoNothing();
    await this.db.insert(signingKeys).values({ tenantId: tenant, kid, secret }).onConflictDoNothing();
  }

  /** Retires every key but the newest; tokens signed with retired keys stop working. */
  async retireKeysExcept(tenant: string, kid: string): Promise<number> {
    const rows = await this.db
      .update(signingKeys)
      .set({ retiredAt: new Date() })
      .where(and(eq(signingKeys.tenantId, tenant), ne(signingKeys.kid, kid), isNull(signingKeys.retiredAt)))
      .returning({ kid: signingKeys.kid });
    return rows.length;
  }

  async recordZoneToken(t: { jti: string; tenant: string; zone: string; kid: string; expiresAt: Date }): Promise<void> {
    await this.db.insert(zoneTokens).values({ jti: t.jti, tenantId: t.tenant, zone: t.zone, kid: t.kid, expiresAt: t.expiresAt });
  }

  async zoneToken(jti: string) {
    const [row] = await this.db.select().from(zoneTokens).where(eq(zoneTokens.jti, jti));
    return row;
  }

  /**
   * A zone token's row and whether its signing key has been retired, in one query: a verifier holding the key
   * in a cache still learns of its retirement at once.
   */
  async zoneTokenState(jti: string): Promise<ZoneTokenState | undefined> {
    return this.#tokenStates.run(jti);
  }

  async #zoneTokenStatesNow(jtis: string[]): Promise<(ZoneTokenState | undefined)[]> {
    const rows = await this.db
      .select({ token: zoneTokens, keyRetiredAt: signingKeys.retiredAt, keyExists: signingKeys.kid })
      .from(zoneTokens)
      .leftJoin(signingKeys, and(eq(signingKeys.tenantId, zoneTokens.tenantId), eq(signingKeys.kid, zoneTokens.kid)))
      .where(jtis.length === 1 ? eq(zoneTokens.jti, jtis[0]!) : inArray(zoneTokens.jti, [...new Set(jtis)]));
    const byJti = new Map(rows.map((row) => [row.token.jti, { ...row.token, keyRetired: row.keyExists === null || row.keyRetiredAt !== null }]));
    return jtis.map((j) => byJti.get(j));
  }

  async listZoneTokens(tenant: string) {
    return this.db.select().from(zoneTokens).where(eq(zoneTokens.tenantId, tenant)).orderBy(asc(zoneTokens.createdAt));
  }

  async revokeZoneToken(tenant: string, jti: string): Promise<boolean> {
    const rows = await this.db
      .update(zoneTokens)
      .set({ revokedAt: new Date() })
      .where(and(eq(zoneTokens.tenantId, tenant), eq(zoneTokens.jti, jti), isNull(zoneTokens.revokedAt)))
      .returning({ jti: zoneTokens.jti });
    return rows.length === 1;
  }
}
