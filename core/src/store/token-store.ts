/**
 * Tenants and their API tokens. Tokens are opaque (`ursa_<id>_<secret>`), checked against a stored SHA-256
 * of the secret: there is no signing key to rotate, and it all runs on WebCrypto, so the same code works in
 * workerd. Checks here always read the database; the API caches them briefly (`http/token-cache.ts`).
 */
import { and, asc, eq, isNull } from 'drizzle-orm';
import type { Db } from './db.js';
import { apiTokens, tenants } from './schema.js';
import { constantTimeEqual } from '../text.js';

export type Role = 'admin' | 'read-only';
export const ROLES: readonly Role[] = ['admin', 'read-only'];

export interface TokenInfo {
  readonly id: string;
  readonly tenant: string;
  readonly name: string;
  readonly role: Role;
  readonly createdAt: Date;
  readonly expiresAt: Date | null;
  readonly revokedAt: Date | null;
}

export interface Principal {
  readonly tenant: string;
  readonly role: Role;
  /** The token id, or `loopback` / `operator` for principals without a token. */
  readonly subject: string;
}

const TOKEN = /^ursa_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export class TokenStore {
  constructor(private readonly db: Db) {}

  /** Creates a tenant; false when it already exists. */
  async createTenant(id: string): Promise<boolean> {
    const rows = await this.db.insert(tenants).values({ id }).onConflictDoNothing().returning({ id: tenants.id });
    return rows.length === 1;
  }

  async listTenants(): Promise<{ id: string; revision: number; createdAt: Date }[]> {
    return this.db.select({ id: tenants.id, revision: tenants.revision, createdAt: tenants.createdAt }).from(tenants).orderBy(asc(tenants.id));
  }

  async tenantExists(id: string): Promise<boolean> {
    return (await this.db.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, id))).length === 1;
  }

  /** Issues a token; the secret is returned once and never stored. */
  async issue(tenant: string, opts: { name: string; role: Role; expiresAt?: Date }): Promise<TokenInfo & { token: string }> {
    const id = hex(randomBytes(8));
    const secret = base64url(randomBytes(32));
    const [row] = await this.db
      .insert(apiTokens)
      .values({ id, tenantId: tenant, name: opts.name, role: opts.role, secretHash: await sha256(secret), expiresAt: opts.expiresAt ?? null })
      .returning();
    return { ...toInfo(row!), token: `ursa_${id}_${secret}` };
  }

  async list(tenant: string): Promise<TokenInfo[]> {
    const rows = await this.db.select().from(apiTokens).where(eq(apiTokens.tenantId, tenant)).orderBy(asc(apiTokens.createdAt), asc(apiTokens.id));
    return rows.map(toInfo);
  }

  /** Revokes a token of this tenant; false when there is no such live token. */
  async revoke(tenant: string, id: string): Promise<boolean> {
    // Ids are 16 hex digits; anything else names no token (and `%00` would be a driver error, a 500).
    if (!/^[0-9a-f]{16}$/.test(id)) return false;
    const rows = await this.db
      .update(apiTokens)
      .set({ revokedAt: new Date() })
      .where(and(eq(apiTokens.id, id), eq(apiTokens.tenantId, tenant), isNull(apiTokens.revokedAt)))
      .returning({ id: apiTokens.id });
    return rows.length === 1;
  }

  /** The principal a token stands for, or undefined when it is malformed, unknown, revoked or expired. */
  async verify(token: string, now = new Date()): Promise<Principal | undefined> {
    return (await this.check(token, now)).principal;
  }

  /**
   * `verify`, and when the token is good, when it expires: a cache of this answer must still refuse the
   * token from that moment on (see `http/token-cache.ts`).
   */
  async check(token: string, now = new Date()): Promise<{ principal: Principal | undefined; expiresAt: Date | null }> {
    const m = TOKEN.exec(token);
    if (!m) return { principal: undefined, expiresAt: null };
    const [row] = await this.db.select().from(apiTokens).where(eq(apiTokens.id, m[1]!));
    if (!row || row.revokedAt || (row.expiresAt && row.expiresAt <= now)) return { principal: undefined, expiresAt: null };
    if (!constantTimeEqual(row.secretHash, await sha256(m[2]!))) return { principal: undefined, expiresAt: null };
    return { principal: { tenant: row.tenantId, role: row.role, subject: row.id }, expiresAt: row.expiresAt };
  }

  /** True when `token` has the shape of an API token (only those are looked up, and cached). */
  static wellFormed(token: string): boolean {
    return TOKEN.test(token);
  }
}

function toInfo(row: typeof apiTokens.$inferSelect): TokenInfo {
  return { id: row.id, tenant: row.tenantId, name: row.name, role: row.role, createdAt: row.createdAt, expiresAt: row.expiresAt, revokedAt: row.revokedAt };
}

function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

async function sha256(text: string): Promise<string> {
  return hex(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))));
}
