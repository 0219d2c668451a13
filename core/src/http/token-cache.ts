/**
 * A short per-process cache of API-token checks, so a busy client costs one database lookup per second
 * rather than one per request. What it may never do is outlive what it caches:
 * - expiry: each entry keeps the token's expiry, checked on every request (an expired token is refused at
 *   the millisecond it expires, cached or not);
 * - revocation on this process: `DELETE /tokens/{id}` drops the token's entries at once;
 * - revocation on another replica (or another isolate on Workers): entries live at most TOKEN_CACHE_MS, so a
 *   revoked token stops working everywhere within that bound (1 s; a KDS heartbeat is 5 s by default).
 * One cache per `AuthOptions` object: every middleware built from the same options (the API, and the zone
 * agent's dataplane-token and inspect routes) shares it, and so does the revoking route.
 */
import type { Principal } from '../store/token-store.js';

/** How long a token check is reused: the bound on revocation reaching other replicas. */
export const TOKEN_CACHE_MS = 1_000;
const CACHE_MAX = 10_000;

interface Entry {
  readonly principal: Principal | undefined;
  /** When the token expires (ms since epoch), if it does. */
  readonly expiresAt: number | undefined;
  /** When this entry must be checked against the database again. */
  readonly until: number;
}

export class TokenCache {
  readonly #entries = new Map<string, Entry>();

  constructor(readonly ttlMs: number = TOKEN_CACHE_MS) {}

  /** The cached check of `token`: a principal, `undefined` (known bad), or `miss` (ask the database). */
  get(token: string, now = Date.now()): Principal | undefined | 'miss' {
    const e = this.#entries.get(token);
    if (!e || e.until <= now) return 'miss';
    if (e.expiresAt !== undefined && e.expiresAt <= now) {
      this.#entries.delete(token);
      return undefined;
    }
    return e.principal;
  }

  set(token: string, principal: Principal | undefined, expiresAt: Date | null | undefined, now = Date.now()): void {
    if (this.#entries.size >= CACHE_MAX) this.#entries.clear();
    this.#entries.set(token, { principal, expiresAt: expiresAt ? expiresAt.getTime() : undefined, until: now + this.ttlMs });
  }

  /** Forgets every entry of token `id` (it was just revoked here). */
  revoked(id: string): void {
    for (const [token, e] of this.#entries) if (e.principal?.subject === id) this.#entries.delete(token);
  }
}

const caches = new WeakMap<object, TokenCache>();

/** The cache shared by everything built from these auth options. */
export function tokenCacheFor(opts: { readonly tokenCacheMs?: number }): TokenCache {
  let cache = caches.get(opts);
  if (!cache) caches.set(opts, (cache = new TokenCache(opts.tokenCacheMs ?? TOKEN_CACHE_MS)));
  return cache;
}
