/**
 * Keeps the leases of every WebSocket session of this process alive with one statement per tick, and
 * checks all their zone tokens for revocation, expiry and retired signing keys with one query, instead of a few queries per
 * session per heartbeat. A session whose lease was taken over, or whose token is gone, is told so and ends.
 */
import { and, eq, inArray, or, sql } from 'drizzle-orm';
import { createLogger, type Db, errorText, type Logger, rowsOf, signingKeys, zoneSessions, zoneTokens } from '@ursa/core';

export interface KeptSession {
  readonly tenant: string;
  readonly zone: string;
  readonly sessionId: string;
  readonly jti: string;
  readonly expiresAt: number;
  /** Global revision the zone acknowledged, recorded with the lease. */
  acked(): number;
  lost(code: 'superseded' | 'unauthenticated', message: string): void;
}

/**
 * How often the keeper ticks: often enough for leases (a quarter of their TTL) and for revocation, expiry and
 * key retirement to end a live session within one heartbeat.
 */
export function keeperIntervalMs(leaseTtlMs: number, heartbeatMs: number): number {
  return Math.max(100, Math.min(Math.floor(leaseTtlMs / 4), heartbeatMs));
}

export class LeaseKeeper {
  #sessions = new Set<KeptSession>();
  #timer: ReturnType<typeof setInterval>;
  #busy = false;

  constructor(
    private readonly db: Db,
    private readonly leaseTtlMs: number,
    intervalMs = Math.max(100, Math.floor(leaseTtlMs / 4)),
    private readonly log: Logger = createLogger({ level: 'info', name: 'kds' }),
  ) {
    this.#timer = setInterval(() => void this.tick(), intervalMs);
    this.#timer.unref?.();
  }

  add(s: KeptSession): () => void {
    this.#sessions.add(s);
    return () => this.#sessions.delete(s);
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** Renews every lease and checks every token; exposed for tests. */
  async tick(): Promise<void> {
    if (this.#busy || this.#sessions.size === 0) return;
    this.#busy = true;
    try {
      const sessions = [...this.#sessions];
      const expires = new Date(Date.now() + this.leaseTtlMs);
      for (let i = 0; i < sessions.length; i += 500) {
        const chunk = sessions.slice(i, i + 500);
        // The keys as one JSON parameter, not 500 `(tenant = $ and zone = $ and session = $)` terms: drizzle
        // building that OR for 10,000 sessions every tick was most of the keeper's CPU (profile of the global
        // at 10,000 zones: query building `buildQueryFromSourceParams`/`is`, with the insight waves', 0.17 s of
        // 3.9 s around three changes).
        const keys = JSON.stringify(chunk.map((s) => ({ t: s.tenant, z: s.zone, s: s.sessionId })));
        const renewed = rowsOf<{ tenant: string; zone: string }>(
          await this.db.execute(sql`
            update ${zoneSessions} set lease_expires_at = ${expires.toISOString()}::timestamptz, last_seen_at = ${new Date().toISOString()}::timestamptz
            from jsonb_to_recordset(${keys}::jsonb) as k(t text, z text, s text)
            where ${zoneSessions.tenantId} = k.t and ${zoneSessions.zone} = k.z and ${zoneSessions.sessionId} = k.s
            returning ${zoneSessions.tenantId} as tenant, ${zoneSessions.zone} as zone`),
        );
        const held = new Set(renewed.map((r) => `${r.tenant}/${r.zone}`));
        for (const s of chunk) if (!held.has(`${s.tenant}/${s.zone}`)) s.lost('superseded', `a newer session of zone ${s.zone} took over`);

        // A retired signing key invalidates every token it signed (that is what retiring is for, after a
        // leak), so sessions holding one end like revoked ones, not only their next connect.
        const bad = await this.db
          .select({ jti: zoneTokens.jti, revokedAt: zoneTokens.revokedAt, keyRetiredAt: signingKeys.retiredAt })
          .from(zoneTokens)
          .leftJoin(signingKeys, and(eq(signingKeys.tenantId, zoneTokens.tenantId), eq(signingKeys.kid, zoneTokens.kid)))
          .where(
            and(
              inArray(zoneTokens.jti, chunk.map((s) => s.jti)),
              or(sql`${zoneTokens.revokedAt} is not null`, sql`${zoneTokens.expiresAt} <= now()`, sql`${signingKeys.retiredAt} is not null`),
            ),
          );
        const reasons = new Map(
          bad.map((b) => [b.jti, b.revokedAt ? 'the zone token was revoked' : b.keyRetiredAt ? 'the signing key of the zone token was retired' : 'the zone token expired']),
        );
        for (const s of chunk) {
          const reason = reasons.get(s.jti);
          if (reason) s.lost('unauthenticated', reason);
          else if (s.expiresAt <= Date.now()) s.lost('unauthenticated', 'the zone token expired');
        }
      }
    } catch (err) {
      // A database hiccup: leases have slack (a tick is a quarter of the TTL); try again next tick.
      this.log.warn('lease renewal failed (retried next tick)', { error: errorText(err) });
    } finally {
      this.#busy = false;
    }
  }

  close(): void {
    clearInterval(this.#timer);
    this.#sessions.clear();
  }
}
