/**
 * Zone tokens: compact JWTs (HS256) bound to a tenant and a zone name, with an expiry and an id (`jti`).
 * Signed with per-tenant keys kept in the database; the key id (`kid`) in the header picks the key, so a
 * rotation adds a key that new tokens use while tokens signed with older active keys keep working until
 * those keys are retired. Only imported keys are cached (5 s); expiry, revocation and retirement are checked
 * on every verification, so each takes effect at once, on every replica.
 * WebCrypto only: the same code verifies zones on Node and in workerd.
 */
import type { CryptoKey } from '@ursa/proto';
import type { KdsStore } from '../store/kds-store.js';

export interface ZoneClaims {
  readonly tenant: string;
  readonly zone: string;
  readonly jti: string;
  readonly exp: number;
}

/** Kuma's zone token scopes: `cp` lets a zone control plane connect over KDS; `ingress`/`egress` are for zone proxies. */
export const ZONE_TOKEN_SCOPES = ['cp', 'ingress', 'egress'] as const;
export type ZoneTokenScope = (typeof ZONE_TOKEN_SCOPES)[number];

export type TokenCheck = { ok: true; claims: ZoneClaims } | { ok: false; code: 'unauthenticated' | 'forbidden'; message: string };

const KEY_CACHE_MS = 5_000;
const enc = new TextEncoder();

export class ZoneTokens {
  #keys = new Map<string, { at: number; keys: Map<string, CryptoKey>; newest?: string }>();

  constructor(private readonly store: KdsStore) {}

  /** Issues a token for `zone`; creates the tenant's first signing key if it has none. */
  async issue(tenant: string, zone: string, validForSeconds: number, now = Date.now(), scopes: readonly ZoneTokenScope[] = ZONE_TOKEN_SCOPES): Promise<{ token: string; jti: string; expiresAt: Date }> {
    let keys = await this.store.activeKeys(tenant);
    if (keys.length === 0) {
      await this.store.addKey(tenant, newKid(), randomB64(32));
      keys = await this.store.activeKeys(tenant);
    }
    const key = keys[keys.length - 1]!;
    const jti = randomB64(12);
    const exp = Math.floor(now / 1000) + validForSeconds;
    const token = await signJwt(key, { iss: 'ursa', scope: 'zone', scopes, tenant, zone, sub: zone, jti, iat: Math.floor(now / 1000), exp });
    await this.store.recordZoneToken({ jti, tenant, zone, kid: key.kid, expiresAt: new Date(exp * 1000) });
    this.#keys.delete(tenant);
    return { token, jti, expiresAt: new Date(exp * 1000) };
  }

  /** Adds a new signing key; new tokens use it, older active keys still verify. Returns its kid. */
  async rotate(tenant: string): Promise<string> {
    const kid = newKid();
    await this.store.addKey(tenant, kid, randomB64(32));
    this.#keys.delete(tenant);
    return kid;
  }

  /** Retires every key except the newest: tokens signed with the others stop working. */
  async retireOldKeys(tenant: string): Promise<number> {
    const keys = await this.store.activeKeys(tenant);
    const newest = keys[keys.length - 1];
    if (!newest) return 0;
    const n = await this.store.retireKeysExcept(tenant, newest.kid);
    this.#keys.delete(tenant);
    return n;
  }

  /**
   * Checks a token for a zone: signature with an active key, not expired, not revoked, and bound to this
   * zone (and tenant, when the caller names one).
   */
  async verify(token: string, expect: { zone: string; tenant?: string }, now = Date.now()): Promise<TokenCheck> {
    const jwt = decodeJwt(token);
    if (!jwt) return fail('unauthenticated', 'the zone token is malformed');
    const claims = jwt.claims as Partial<ZoneClaims & { scope: string; scopes: unknown }>;
    if (typeof claims.tenant !== 'string' || typeof claims.zone !== 'string' || typeof claims.jti !== 'string' || typeof claims.exp !== 'number' || claims.scope !== 'zone') {
      return fail('unauthenticated', 'the zone token lacks its tenant, zone, id or expiry');
    }
    if (!(await jwt.signedWith(await this.#key(claims.tenant, jwt.kid)))) {
      return fail('unauthenticated', 'the zone token signature is not valid (unknown or retired signing key?)');
    }
    if (claims.exp * 1000 <= now) return fail('unauthenticated', `the zone token expired at ${new Date(claims.exp * 1000).toISOString()}`);
    // Tokens issued before scopes existed carry none and keep working (they were all for the zone CP).
    if (Array.isArray(claims.scopes) && !claims.scopes.includes('cp')) {
      return fail('forbidden', `the zone token's scope (${claims.scopes.join(', ') || 'none'}) does not include "cp", which a zone control plane needs`);
    }
    if (claims.zone !== expect.zone) return fail('forbidden', `the zone token is for zone "${claims.zone}", not "${expect.zone}"`);
    if (expect.tenant !== undefined && expect.tenant !== '' && claims.tenant !== expect.tenant) {
      return fail('forbidden', `the zone token is for another tenant`);
    }
    // Revocation and key retirement are read from the database on every check (the key cache only saves
    // importing keys), so both take effect at once on every replica.
    const row = await this.store.zoneTokenState(claims.jti);
    if (!row || row.tenantId !== claims.tenant || row.kid !== jwt.kid) return fail('unauthenticated', 'the zone token is unknown');
    if (row.revokedAt) return fail('unauthenticated', 'the zone token was revoked');
    if (row.keyRetired) return fail('unauthenticated', 'the signing key of the zone token was retired');
    return { ok: true, claims: { tenant: claims.tenant, zone: claims.zone, jti: claims.jti, exp: claims.exp } };
  }

  async #key(tenant: string, kid: string): Promise<CryptoKey | undefined> {
    let entry = this.#keys.get(tenant);
    if (!entry || Date.now() - entry.at > KEY_CACHE_MS || !entry.keys.has(kid)) {
      const rows = await this.store.activeKeys(tenant);
      const keys = new Map<string, CryptoKey>();
      for (const r of rows) keys.set(r.kid, await importKey(r.secret));
      entry = { at: Date.now(), keys };
      this.#keys.set(tenant, entry);
    }
    return entry.keys.get(kid);
  }
}

// --- HS256 JWTs: shared with the zone agent's dataplane tokens (`zone-agent/src/xds/tokens.ts`) ------------------

/** Signs `claims` as a compact HS256 JWT with `key` (its `kid` goes in the header). */
export async function signJwt(key: { readonly kid: string; readonly secret: string }, claims: Readonly<Record<string, unknown>>): Promise<string> {
  const header = b64json({ alg: 'HS256', typ: 'JWT', kid: key.kid });
  const payload = b64json(claims);
  const sig = await crypto.subtle.sign('HMAC', await importKey(key.secret), enc.encode(`${header}.${payload}`));
  return `${header}.${payload}.${b64(new Uint8Array(sig))}`;
}

/**
 * Splits a compact HS256 JWT without trusting it: its `kid`, its claims (unverified), and a check of the
 * signature against the key the caller picks by `kid`. Undefined when it is not a well-formed HS256 JWT.
 */
export function decodeJwt(token: string): { kid: string; claims: Record<string, unknown>; signedWith: (key: CryptoKey | undefined) => Promise<boolean> } | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [h, p, s] = parts as [string, string, string];
  const header = parseB64Json(h) as { alg?: string; kid?: string } | undefined;
  const claims = parseB64Json(p) as Record<string, unknown> | undefined;
  if (!header || !claims || header.alg !== 'HS256' || typeof header.kid !== 'string') return undefined;
  const sig = fromB64(s);
  return {
    kid: header.kid,
    claims,
    signedWith: async (key) => Boolean(key && sig && (await crypto.subtle.verify('HMAC', key, sig, enc.encode(`${h}.${p}`)))),
  };
}

/** A new signing key: its id and a base64url secret of 32 random bytes. */
export function newSigningKey(prefix = 'k'): { kid: string; secret: string } {
  return { kid: newKid(prefix), secret: randomB64(32) };
}

export { importKey as importSigningKey, randomB64 };

function fail(code: 'unauthenticated' | 'forbidden', message: string): TokenCheck {
  return { ok: false, code, message };
}

async function importKey(secretB64: string): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', fromB64(secretB64)!, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
}

function newKid(prefix = 'k'): string {
  return `${prefix}-${Date.now().toString(36)}-${randomB64(4)}`;
}

function randomB64(n: number): string {
  return b64(crypto.getRandomValues(new Uint8Array(n)));
}

function b64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromB64(s: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) return undefined;
  try {
    const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

function b64json(v: unknown): string {
  return b64(enc.encode(JSON.stringify(v)));
}

function parseB64Json(s: string): unknown {
  const bytes = fromB64(s);
  if (!bytes) return undefined;
  try {
    const v = JSON.parse(new TextDecoder().decode(bytes));
    return typeof v === 'object' && v !== null ? v : undefined;
  } catch {
    return undefined;
  }
}
