/**
 * Who is calling, and for which tenant. A bearer token names its tenant and role; without one, a request
 * from loopback acts as admin of the default tenant (Kuma's localhost admin), unless that is turned off.
 * Every route below reads the tenant from here, never from the request, so no request can reach another
 * tenant's data.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { type Principal, TokenStore } from '../store/token-store.js';
import { tokenCacheFor } from './token-cache.js';
import type { AppEnv } from './env.js';
import { ApiError } from './errors.js';
import { constantTimeEqual } from '../text.js';

export interface AuthOptions {
  /** Requests from 127.0.0.1/::1 without a token act as admin of the default tenant. */
  readonly loopbackAdmin: boolean;
  /** Bearer token for `/_operator/*`; when unset, only loopback admin may use those routes. */
  readonly operatorToken?: string;
  /** True when the request came over loopback. Supplied by the runtime entry (Workers: never). */
  readonly isLoopback: (c: Context) => boolean;
  /**
   * How long a token check is reused (default TOKEN_CACHE_MS, 1 s): how late a revocation made on another
   * replica may take effect here. Revocation on this process and expiry are immediate whatever this is.
   */
  readonly tokenCacheMs?: number;
}

export function authenticate(opts: AuthOptions, defaultTenant: string): MiddlewareHandler<AppEnv> {
  const cache = tokenCacheFor(opts);
  return async (c, next) => {
    const header = c.req.header('authorization');
    let principal: Principal | undefined;
    if (header !== undefined) {
      const m = /^Bearer\s+(\S+)$/i.exec(header);
      if (!m) throw new ApiError(401, 'Unauthenticated', 'the Authorization header must be "Bearer <token>"');
      const token = m[1]!;
      if (c.req.path.startsWith('/_operator/') && opts.operatorToken !== undefined && constantTimeEqual(token, opts.operatorToken)) {
        principal = { tenant: defaultTenant, role: 'admin', subject: 'operator' };
      } else if (TokenStore.wellFormed(token)) {
        // Expiry is checked on every request, cached or not; see token-cache.ts for revocation.
        const hit = cache.get(token);
        if (hit !== 'miss') {
          principal = hit;
        } else {
          const checked = await c.var.stores().tokens.check(token);
          cache.set(token, checked.principal, checked.expiresAt);
          principal = checked.principal;
        }
      }
      if (!principal) throw new ApiError(401, 'Unauthenticated', 'the token is invalid, expired or revoked');
    } else if (opts.loopbackAdmin && opts.isLoopback(c)) {
      principal = { tenant: defaultTenant, role: 'admin', subject: 'loopback' };
    } else {
      throw new ApiError(401, 'Unauthenticated', 'a bearer token is required (Authorization: Bearer <token>)');
    }
    c.set('principal', principal);
    c.set('tenant', principal.tenant);
    await next();
  };
}

/** Writes need the admin role. */
export function requireAdmin(c: Context<AppEnv>): void {
  if (c.var.principal.role !== 'admin') {
    throw new ApiError(403, 'Access Denied', `the ${c.var.principal.role} role may not modify resources`);
  }
}

/** `/_operator/*` needs the operator token, or loopback admin when no operator token is configured. */
export function requireOperator(c: Context<AppEnv>, opts: AuthOptions): void {
  const p = c.var.principal;
  const ok = p.subject === 'operator' || (opts.operatorToken === undefined && p.subject === 'loopback');
  if (!ok) throw new ApiError(403, 'Access Denied', 'operator routes need the operator token');
}
