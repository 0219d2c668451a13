/**
 * A federated zone's check of a zone token the GLOBAL issued (`POST /tokens/zone` there, scope ingress or
 * egress), presented by this zone's ZoneIngress/ZoneEgress. The global signs with ES256 and publishes each
 * active key's public half as the GlobalSecret `zone-token-signing-public-key-<kid>`, and the ids of revoked
 * tokens as `zone-token-revocations` (Kuma's names and formats); KDS brings both here like any GlobalSecret,
 * so this reads the zone's own copy and never asks the global. A retired key's secret is deleted on the
 * global, so its tokens are refused here once that change has synced (as fast as any other change).
 */
import { decodeJwt, importEs256PublicPem, ZONE_TOKEN_REVOCATIONS, zoneTokenPublicKeyName } from '@ursa/core';
import type { CryptoKey } from '@ursa/proto';
import { quote } from './limits.js';

/** Reads a GlobalSecret's data (decoded text) from the zone's store; undefined when there is none. */
export type GlobalSecretText = (name: string) => Promise<string | undefined>;

export type GlobalZoneTokenCheck =
  | { readonly ok: true; readonly jti: string; readonly exp: number }
  | { readonly ok: false; readonly code: 'unauthenticated' | 'forbidden'; readonly message: string };

export class GlobalZoneTokens {
  /** Imported keys by kid, with the PEM they came from (a replaced secret is imported again). */
  #keys = new Map<string, { pem: string; key: CryptoKey | undefined }>();

  constructor(
    private readonly secret: GlobalSecretText,
    private readonly zone: string,
  ) {}

  async verify(jwt: NonNullable<ReturnType<typeof decodeJwt>>, proxyType: 'dataplane' | 'ingress' | 'egress', now = Date.now()): Promise<GlobalZoneTokenCheck> {
    const c = jwt.claims as { scopes?: unknown; zone?: unknown; jti?: unknown; exp?: unknown };
    const key = await this.#key(jwt.kid);
    if (!key) {
      return fail('unauthenticated', `the zone token's signing key ${quote(jwt.kid)} is not known in this zone (GlobalSecret ${quote(zoneTokenPublicKeyName(jwt.kid))} is missing: the token was issued by another global or tenant, its key was retired, or the key has not synced yet)`);
    }
    if (!(await jwt.signedWith(key))) return fail('unauthenticated', 'the zone token signature is not valid');
    if (typeof c.exp !== 'number' || typeof c.jti !== 'string' || typeof c.zone !== 'string' || !Array.isArray(c.scopes)) return fail('unauthenticated', 'the zone token lacks its zone, scopes, id or expiry');
    if (c.exp * 1000 <= now) return fail('unauthenticated', `the zone token expired at ${new Date(c.exp * 1000).toISOString()}`);
    if ((await this.revoked()).has(c.jti)) return fail('unauthenticated', 'the zone token was revoked');
    if (c.zone !== this.zone) return fail('forbidden', `the zone token is for zone ${quote(c.zone)}, not ${quote(this.zone)}`);
    if (proxyType === 'dataplane') return fail('forbidden', 'a zone token admits zone ingresses and egresses, not a dataplane: use a dataplane token');
    if (!c.scopes.includes(proxyType)) return fail('forbidden', `the zone token's scopes ${JSON.stringify(c.scopes)} do not include "${proxyType}"`);
    return { ok: true, jti: c.jti, exp: c.exp };
  }

  /** Read on every check: admission of a zone proxy is rare, and revocation then applies at once. */
  private async revoked(): Promise<Set<string>> {
    const text = await this.secret(ZONE_TOKEN_REVOCATIONS);
    return new Set((text ?? '').split(',').map((s) => s.trim()).filter(Boolean));
  }

  async #key(kid: string): Promise<CryptoKey | undefined> {
    const pem = await this.secret(zoneTokenPublicKeyName(kid));
    if (pem === undefined) return undefined;
    const cached = this.#keys.get(kid);
    if (cached?.pem === pem) return cached.key;
    const key = await importEs256PublicPem(pem);
    this.#keys.set(kid, { pem, key });
    return key;
  }
}

function fail(code: 'unauthenticated' | 'forbidden', message: string): GlobalZoneTokenCheck {
  return { ok: false, code, message };
}
