/**
 * Dataplane tokens: what a proxy presents to prove it IS the Dataplane its `node.id` names (Kuma's
 * dataplane tokens, `POST /tokens/dataplane`). Compact HS256 JWTs signed with the same code as zone
 * tokens (`core/src/tokens/zone-tokens.ts`), with keys kept in the zone's own database
 * (`signing_keys`, tenant `local`, key ids prefixed `dp-` so they never mix with other keys there). The
 * token is bound to a mesh and, optionally as in Kuma, to a Dataplane name and to tag values; a token
 * without a name admits any Dataplane of its mesh. A zone ingress token (`type: "ingress"`) or zone egress
 * token (`type: "egress"`) has no mesh and admits the ZoneIngress / ZoneEgress it names (any, without a name).
 *
 * Only proxies of this zone ever present them, to this zone's agent, so nothing needs to travel to the
 * global. Rotating the key (`rotate`) makes new tokens use a new key; tokens of older active keys still
 * verify.
 */
import { decodeJwt, importSigningKey, newSigningKey, randomB64, signJwt } from '@ursa/core';
import type { CryptoKey } from '@ursa/proto';
import { dataplaneOf, tagValues, type DataplaneResource } from '../model/dataplane.js';
import { GlobalZoneTokens, type GlobalSecretText } from './global-zone-tokens.js';
import { quote } from './limits.js';

/** Where signing keys live: `KdsStore`'s key table (the zone's database). */
export interface SigningKeyStore {
  activeKeys(tenant: string): Promise<{ kid: string; secret: string }[]>;
  addKey(tenant: string, kid: string, secret: string): Promise<void>;
}

export type ProxyTokenType = 'dataplane' | 'ingress' | 'egress';

/** The zone proxy kind a token type names, and its resource kind. */
const ZONE_PROXY_KINDS: Readonly<Record<string, string>> = { ingress: 'ZoneIngress', egress: 'ZoneEgress' };

export interface DataplaneTokenRequest {
  /** Default `dataplane`. */
  readonly type?: ProxyTokenType;
  /** Required for `dataplane`, absent for `ingress`. */
  readonly mesh: string;
  /** Unset: any Dataplane of the mesh. */
  readonly name?: string;
  /** Tag name -> allowed values: every value the Dataplane has for the tag must be one of them. */
  readonly tags?: Readonly<Record<string, readonly string[]>>;
  readonly validForSeconds: number;
}

export interface DataplaneClaims {
  readonly type: ProxyTokenType;
  readonly mesh: string;
  readonly name?: string;
  readonly tags?: Readonly<Record<string, readonly string[]>>;
  readonly jti: string;
  readonly exp: number;
}

export type DataplaneTokenCheck =
  | { readonly ok: true; readonly claims: DataplaneClaims }
  | { readonly ok: false; readonly code: 'unauthenticated' | 'forbidden'; readonly message: string };

const KID_PREFIX = 'dp';
const KEY_CACHE_MS = 5_000;

export class DataplaneTokens {
  #cache: { at: number; keys: Map<string, CryptoKey> } | undefined;
  readonly #global: GlobalZoneTokens | undefined;

  constructor(
    private readonly store: SigningKeyStore,
    /** The zone's tenant in its own database. */
    private readonly tenant: string,
    /** This zone's name: zone tokens (below) it issued are valid only for it. */
    private readonly zone?: string,
    /** A federated zone: reads the GlobalSecrets the global publishes, to check the global's zone tokens. */
    globalSecret?: GlobalSecretText,
  ) {
    this.#global = globalSecret && zone !== undefined ? new GlobalZoneTokens(globalSecret, zone) : undefined;
  }

  /**
   * A standalone zone's zone token for its zone ingress/egress proxies (`kumactl generate zone-token --scope
   * ingress`, Kuma's standalone flow): signed with this zone's dataplane keys, `scope: zone`, the scopes it
   * admits and the zone. (A federated zone's proxies present the global's zone tokens instead, checked
   * with the ES256 public keys that reach the zone over KDS: `global-zone-tokens.ts`.)
   */
  async issueZoneToken(req: { readonly zone: string; readonly scopes: readonly ('ingress' | 'egress')[]; readonly validForSeconds: number }, now = Date.now()): Promise<{ token: string; jti: string; expiresAt: Date }> {
    return this.#sign(req.validForSeconds, now, (base) => ({ iss: 'ursa', scope: 'zone', scopes: req.scopes, zone: req.zone, sub: req.zone, ...base }));
  }

  /** Issues a token; creates the first signing key when there is none. */
  async issue(req: DataplaneTokenRequest, now = Date.now()): Promise<{ token: string; jti: string; expiresAt: Date }> {
    const type = req.type ?? 'dataplane';
    return this.#sign(req.validForSeconds, now, (base) => ({ iss: 'ursa', scope: 'dataplane', type, mesh: req.mesh, ...(req.name ? { name: req.name, sub: `${req.mesh}.${req.name}` } : {}), ...(req.tags ? { tags: req.tags } : {}), ...base }));
  }

  /** Signs `claims({jti, iat, exp})` with the newest key, creating the first signing key when there is none. */
  async #sign(validForSeconds: number, now: number, claims: (base: { jti: string; iat: number; exp: number }) => Record<string, unknown>): Promise<{ token: string; jti: string; expiresAt: Date }> {
    let keys = await this.keys();
    if (keys.length === 0) {
      await this.rotate();
      keys = await this.keys();
    }
    const key = keys[keys.length - 1]!;
    const jti = randomB64(12);
    const exp = Math.floor(now / 1000) + validForSeconds;
    return { token: await signJwt(key, claims({ jti, iat: Math.floor(now / 1000), exp })), jti, expiresAt: new Date(exp * 1000) };
  }

  /** Adds a signing key that new tokens use; returns its id. */
  async rotate(): Promise<string> {
    const key = newSigningKey(KID_PREFIX);
    await this.store.addKey(this.tenant, key.kid, key.secret);
    this.#cache = undefined;
    return key.kid;
  }

  /**
   * Checks a token presented for `proxy` (the Dataplane `node.id` names; `dataplane` once it is known to
   * exist, for the tag check): signature with an active dataplane key and expiry (else `unauthenticated`),
   * then that it was issued for this mesh, name and tags (else `forbidden`).
   */
  async verify(token: string, proxy: { readonly type: ProxyTokenType; readonly mesh: string; readonly name: string; readonly dataplane?: DataplaneResource }, now = Date.now()): Promise<DataplaneTokenCheck> {
    const jwt = decodeJwt(token.trim());
    if (!jwt) return fail('unauthenticated', 'the dataplane token is malformed (expected the JWT that POST /tokens/dataplane returns)');
    const c = jwt.claims as { scope?: unknown; scopes?: unknown; zone?: unknown; type?: unknown; mesh?: unknown; name?: unknown; tags?: unknown; jti?: unknown; exp?: unknown };
    // Only an agent that knows its zone issues (and so accepts) zone tokens; they are signed with its dp- keys.
    if (c.scope === 'zone' && this.zone !== undefined && jwt.kid.startsWith(`${KID_PREFIX}-`)) return this.verifyZoneToken(jwt, c, proxy, now);
    // The global's zone tokens (ES256), on a federated zone: checked with the public keys KDS brought.
    if (c.scope === 'zone' && jwt.alg === 'ES256' && this.zone !== undefined) {
      if (!this.#global) return fail('unauthenticated', 'the zone token was issued by a global, and this zone is not federated (issue one with POST /tokens/zone on this zone)');
      const r = await this.#global.verify(jwt, proxy.type, now);
      return r.ok ? { ok: true, claims: { type: proxy.type, mesh: '', jti: r.jti, exp: r.exp } } : r;
    }
    if (c.scope === 'zone' && this.#global) return fail('unauthenticated', 'the zone token is signed with a shared-secret (HS256) key, which only the global can check: issue a new zone token on the global (it signs with ES256)');
    if (c.scope !== 'dataplane') return fail('unauthenticated', 'the token is not a dataplane token (issue one with POST /tokens/dataplane on the zone API)');
    if (typeof c.mesh !== 'string' || typeof c.jti !== 'string' || typeof c.exp !== 'number' || (c.name !== undefined && typeof c.name !== 'string')) {
      return fail('unauthenticated', 'the dataplane token lacks its mesh, id or expiry');
    }
    if (!jwt.kid.startsWith(`${KID_PREFIX}-`) || !(await jwt.signedWith(await this.key(jwt.kid)))) {
      return fail('unauthenticated', 'the dataplane token signature is not valid (issued by another zone, or with a retired key?)');
    }
    if (c.exp * 1000 <= now) return fail('unauthenticated', `the dataplane token expired at ${new Date(c.exp * 1000).toISOString()}`);
    const type: ProxyTokenType = c.type === 'ingress' || c.type === 'egress' ? c.type : 'dataplane';
    const claims: DataplaneClaims = { type, mesh: c.mesh, name: c.name as string | undefined, tags: c.tags as DataplaneClaims['tags'], jti: c.jti, exp: c.exp };
    const what = (t: ProxyTokenType) => (ZONE_PROXY_KINDS[t] ? `a zone ${t}` : 'a dataplane');
    if (claims.type !== proxy.type) return fail('forbidden', `the token is for ${what(claims.type)}, and this proxy is ${what(proxy.type)}`);
    if (claims.mesh !== proxy.mesh) return fail('forbidden', `the dataplane token is for mesh ${quote(claims.mesh)}, not ${quote(proxy.mesh)}`);
    if (claims.name !== undefined && claims.name !== proxy.name) {
      const what = ZONE_PROXY_KINDS[proxy.type] ?? 'Dataplane';
      return fail('forbidden', `the dataplane token is for ${what} ${quote(claims.name)}, not ${quote(proxy.name)}`);
    }
    if (claims.tags && proxy.dataplane) {
      const problem = tagProblem(claims.tags, tagValues(dataplaneOf(proxy.dataplane)));
      if (problem) return fail('forbidden', `the dataplane token does not allow this Dataplane: ${problem}`);
    }
    return { ok: true, claims };
  }

  /** A zone token this zone issued (`issueZoneToken`): admits its zone ingresses when its scopes say so. */
  private async verifyZoneToken(
    jwt: NonNullable<ReturnType<typeof decodeJwt>>,
    c: { scopes?: unknown; zone?: unknown; jti?: unknown; exp?: unknown },
    proxy: { readonly type: ProxyTokenType; readonly mesh: string; readonly name: string },
    now: number,
  ): Promise<DataplaneTokenCheck> {
    if (!(await jwt.signedWith(await this.key(jwt.kid)))) return fail('unauthenticated', 'the zone token signature is not valid (issued by another zone, or with a retired key?)');
    if (typeof c.exp !== 'number' || typeof c.jti !== 'string' || typeof c.zone !== 'string' || !Array.isArray(c.scopes)) return fail('unauthenticated', 'the zone token lacks its zone, scopes, id or expiry');
    if (c.exp * 1000 <= now) return fail('unauthenticated', `the zone token expired at ${new Date(c.exp * 1000).toISOString()}`);
    if (c.zone !== this.zone) return fail('forbidden', `the zone token is for zone ${quote(c.zone)}, not ${quote(this.zone ?? '')}`);
    if (proxy.type === 'dataplane') return fail('forbidden', 'a zone token admits zone ingresses and egresses, not a dataplane: use a dataplane token');
    if (!c.scopes.includes(proxy.type)) return fail('forbidden', `the zone token's scopes ${JSON.stringify(c.scopes)} do not include "${proxy.type}"`);
    return { ok: true, claims: { type: proxy.type, mesh: '', jti: c.jti, exp: c.exp } };
  }

  private async keys(): Promise<{ kid: string; secret: string }[]> {
    return (await this.store.activeKeys(this.tenant)).filter((k) => k.kid.startsWith(`${KID_PREFIX}-`));
  }

  private async key(kid: string): Promise<CryptoKey | undefined> {
    if (!this.#cache || Date.now() - this.#cache.at > KEY_CACHE_MS || !this.#cache.keys.has(kid)) {
      const keys = new Map<string, CryptoKey>();
      for (const k of await this.keys()) keys.set(k.kid, await importSigningKey(k.secret));
      this.#cache = { at: Date.now(), keys };
    }
    return this.#cache.keys.get(kid);
  }
}

/** Kuma's rule: each tag the token names must be on the Dataplane, with only allowed values. */
function tagProblem(allowed: Readonly<Record<string, readonly string[]>>, has: Map<string, Set<string>>): string | undefined {
  for (const [tag, values] of Object.entries(allowed)) {
    const dpValues = has.get(tag);
    if (!dpValues) return `it has no tag ${JSON.stringify(tag)}, which the token requires`;
    for (const v of dpValues) if (!values.includes(v)) return `its tag ${JSON.stringify(tag)} is ${JSON.stringify(v)}, and the token allows only ${JSON.stringify(values)}`;
  }
  return undefined;
}

function fail(code: 'unauthenticated' | 'forbidden', message: string): DataplaneTokenCheck {
  return { ok: false, code, message };
}
