/**
 * Zone tokens: compact JWTs bound to a tenant and a zone name, with scopes, an expiry and an id (`jti`).
 * Signed with per-tenant keys kept in the database; the key id (`kid`) in the header picks the key, so a
 * rotation adds a key that new tokens use while tokens signed with older active keys keep working until
 * those keys are retired. New keys are ES256 (`es256.ts`), whose public halves are published as
 * GlobalSecrets for zones (`zone-token-secrets.ts`) so a federated zone verifies ingress/egress tokens;
 * HS256 keys from before that keep verifying the tokens they signed (on the global only). Only imported keys are cached (5 s); expiry, revocation and retirement are checked
 * on every verification, so each takes effect at once, on every replica.
 * WebCrypto only: the same code verifies zones on Node and in workerd.
 */
import type { CryptoKey } from '@ursa/proto';
import type { KdsStore } from '../store/kds-store.js';
import type { ResourceStore } from '../store/resource-store.js';
import { ES256_PARAMS, importEs256Private, importEs256Public, isEs256Secret, newEs256Secret } from './es256.js';
import { publishZoneTokenSecrets } from './zone-token-secrets.js';

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
  /** A tenant's key rows being read: hellos arriving meanwhile share the read instead of each starting one. */
  #loading = new Map<string, Promise<Map<string, CryptoKey>>>();
  /** Imported keys by kid and secret: a refresh re-reads the rows (retirement) but imports only new keys. */
  #imported = new Map<string, { secret: string; key: CryptoKey }>();

  /** `resources`: where the public keys and revocations for zones are published (absent: not published). */
  constructor(
    private readonly store: KdsStore,
    private readonly resources?: ResourceStore,
  ) {}

  /**
   * Issues a token for `zone`, signed with the newest ES256 key; creates one if the tenant has none (its
   * first token, or the first since HS256 keys were all it had).
   */
  async issue(tenant: string, zone: string, validForSeconds: number, now = Date.now(), scopes: readonly ZoneTokenScope[] = ZONE_TOKEN_SCOPES): Promise<{ token: string; jti: string; expiresAt: Date }> {
    let keys = (await this.store.activeKeys(tenant)).filter((k) => isEs256Secret(k.secret));
    if (keys.length === 0) {
      await this.rotate(tenant);
      keys = (await this.store.activeKeys(tenant)).filter((k) => isEs256Secret(k.secret));
    }
    const key = keys[keys.length - 1]!;
    const jti = randomB64(12);
    const exp = Math.floor(now / 1000) + validForSeconds;
    const token = await signJwt(key, { iss: 'ursa', scope: 'zone', scopes, tenant, zone, sub: zone, jti, iat: Math.floor(now / 1000), exp });
    await this.store.recordZoneToken({ jti, tenant, zone, kid: key.kid, expiresAt: new Date(exp * 1000) });
    this.#forget(tenant);
    return { token, jti, expiresAt: new Date(exp * 1000) };
  }

  /** Adds a new signing key; new tokens use it, older active keys still verify. Returns its kid. */
  async rotate(tenant: string): Promise<string> {
    // Lowercase hex: the kid is part of a GlobalSecret name (`zone-token-signing-public-key-<kid>`).
    const kid = `es-${Date.now().toString(36)}-${hex(4)}`;
    await this.store.addKey(tenant, kid, await newEs256Secret());
    this.#forget(tenant);
    await this.publish(tenant);
    return kid;
  }

  /** Revokes a token (false: no such token of this tenant); zones learn it with the revocations secret. */
  async revoke(tenant: string, jti: string): Promise<boolean> {
    if (!(await this.store.revokeZoneToken(tenant, jti))) return false;
    await this.publish(tenant);
    return true;
  }

  /** Brings the GlobalSecrets zones verify with up to date (`zone-token-secrets.ts`). */
  async publish(tenant: string): Promise<void> {
    if (this.resources) await publishZoneTokenSecrets(this.store, this.resources, tenant);
  }

  /** Retires every key except the newest: tokens signed with the others stop working. */
  async retireOldKeys(tenant: string): Promise<number> {
    const keys = await this.store.activeKeys(tenant);
    const newest = keys[keys.length - 1];
    if (!newest) return 0;
    const n = await this.store.retireKeysExcept(tenant, newest.kid);
    this.#forget(tenant);
    await this.publish(tenant);
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
    const entry = this.#keys.get(tenant);
    if (entry && Date.now() - entry.at <= KEY_CACHE_MS && entry.keys.has(kid)) return entry.keys.get(kid);
    // Profile of bench/kds-fanout.ts (1,000 zones connecting): 37 s of 200 s CPU went to importing the same
    // ES256 key once per hello, every hello of a burst reloading the expired entry on its own.
    let loading = this.#loading.get(tenant);
    if (!loading) {
      const mine = this.#load(tenant).finally(() => {
        if (this.#loading.get(tenant) === mine) this.#loading.delete(tenant);
      });
      this.#loading.set(tenant, mine);
      loading = mine;
    }
    return (await loading).get(kid);
  }

  /** The tenant's keys changed: a read already under way may predate the change, so it is not shared either. */
  #forget(tenant: string): void {
    this.#keys.delete(tenant);
    this.#loading.delete(tenant);
  }

  async #load(tenant: string): Promise<Map<string, CryptoKey>> {
    const rows = await this.store.activeKeys(tenant);
    const keys = new Map<string, CryptoKey>();
    for (const r of rows) {
      const id = `${tenant}\u0000${r.kid}`;
      let known = this.#imported.get(id);
      if (known?.secret !== r.secret) {
        known = { secret: r.secret, key: isEs256Secret(r.secret) ? await importEs256Public(r.secret) : await importKey(r.secret) };
        this.#imported.set(id, known);
      }
      keys.set(r.kid, known.key);
    }
    this.#keys.set(tenant, { at: Date.now(), keys });
    return keys;
  }
}

// --- JWTs (HS256, ES256): shared with the zone agent's dataplane tokens (`zone-agent/src/xds/tokens.ts`) -----------

/** Signs `claims` as a compact JWT with `key` (its `kid` goes in the header): ES256 for an EC JWK, else HS256. */
export async function signJwt(key: { readonly kid: string; readonly secret: string }, claims: Readonly<Record<string, unknown>>): Promise<string> {
  const es = isEs256Secret(key.secret);
  const header = b64json({ alg: es ? 'ES256' : 'HS256', typ: 'JWT', kid: key.kid });
  const payload = b64json(claims);
  const data = enc.encode(`${header}.${payload}`);
  const sig = es ? await crypto.subtle.sign(ES256_PARAMS, await importEs256Private(key.secret), data) : await crypto.subtle.sign('HMAC', await importKey(key.secret), data);
  return `${header}.${payload}.${b64(new Uint8Array(sig))}`;
}

/**
 * Splits a compact HS256 or ES256 JWT without trusting it: its `alg`, `kid`, its claims (unverified), and a
 * check of the signature against the key the caller picks by `kid`. The key's own algorithm decides how it
 * is checked, and it must be the one the header names (an HMAC key never checks an ES256 token, nor the
 * reverse). Undefined when it is not a well-formed JWT of either kind.
 */
export function decodeJwt(token: string): { alg: 'HS256' | 'ES256'; kid: string; claims: Record<string, unknown>; signedWith: (key: CryptoKey | undefined) => Promise<boolean> } | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [h, p, s] = parts as [string, string, string];
  const header = parseB64Json(h) as { alg?: string; kid?: string } | undefined;
  const claims = parseB64Json(p) as Record<string, unknown> | undefined;
  if (!header || !claims || (header.alg !== 'HS256' && header.alg !== 'ES256') || typeof header.kid !== 'string') return undefined;
  const alg = header.alg;
  const sig = fromB64(s);
  return {
    alg,
    kid: header.kid,
    claims,
    signedWith: async (key) => {
      if (!key || !sig) return false;
      const keyAlg = (key.algorithm as { name?: string }).name === 'ECDSA' ? 'ES256' : 'HS256';
      if (keyAlg !== alg) return false;
      return crypto.subtle.verify(alg === 'ES256' ? ES256_PARAMS : 'HMAC', key, sig, enc.encode(`${h}.${p}`));
    },
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

function hex(n: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, '0')).join('');
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
