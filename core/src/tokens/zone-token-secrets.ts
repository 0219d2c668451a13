/**
 * What zones need to verify the global's zone tokens, published as Kuma does: GlobalSecrets, which KDS
 * already carries global-to-zones (one resource type, one sync path; nothing new on the wire).
 *  - `zone-token-signing-public-key-<kid>`: the PEM public key of each active ES256 signing key (never the
 *    private key, never an HS256 secret). A retired key's secret is deleted, so its tokens stop working on
 *    zones too.
 *  - `zone-token-revocations`: the ids (`jti`) of revoked, unexpired zone tokens, comma-separated (Kuma's
 *    format for its revocation secrets).
 * The global's own checks read its database; these copies are only for zones.
 */
import type { KdsStore } from '../store/kds-store.js';
import type { ResourceStore, WriteOp } from '../store/resource-store.js';
import { es256PublicPem, isEs256Secret } from './es256.js';

export const ZONE_TOKEN_PUBLIC_KEY_PREFIX = 'zone-token-signing-public-key-';
export const ZONE_TOKEN_REVOCATIONS = 'zone-token-revocations';
const KIND = 'GlobalSecret';

/** The GlobalSecret holding the public key a token with `kid` was signed with. */
export function zoneTokenPublicKeyName(kid: string): string {
  return `${ZONE_TOKEN_PUBLIC_KEY_PREFIX}${kid}`;
}

const b64 = (text: string) => btoa(String.fromCharCode(...new TextEncoder().encode(text)));

/**
 * Makes the published secrets match the tenant's active keys and revocations: upserts (an unchanged one is
 * no write) and deletes in one transaction. Idempotent, so a failure between a key change and this call is
 * repaired by the next rotation, retirement or revocation.
 */
export async function publishZoneTokenSecrets(kds: KdsStore, resources: ResourceStore, tenant: string, now = Date.now()): Promise<void> {
  const keys = (await kds.activeKeys(tenant)).filter((k) => isEs256Secret(k.secret));
  const wanted = new Set(keys.map((k) => zoneTokenPublicKeyName(k.kid)));
  const ops: WriteOp[] = [];
  for (const k of keys) ops.push({ op: 'upsert', resource: { kind: KIND, name: zoneTokenPublicKeyName(k.kid), spec: { data: b64(await es256PublicPem(k.secret)) } } });
  const published = await resources.list(tenant, KIND, { nameContains: ZONE_TOKEN_PUBLIC_KEY_PREFIX, limit: 1000 });
  for (const r of published.items) {
    if (r.name.startsWith(ZONE_TOKEN_PUBLIC_KEY_PREFIX) && !wanted.has(r.name)) ops.push({ op: 'delete', key: { kind: KIND, name: r.name }, ifExists: true });
  }
  const revoked = (await kds.listZoneTokens(tenant)).filter((t) => t.revokedAt && t.expiresAt.getTime() > now).map((t) => t.jti).sort();
  if (revoked.length > 0) ops.push({ op: 'upsert', resource: { kind: KIND, name: ZONE_TOKEN_REVOCATIONS, spec: { data: b64(revoked.join(',')) } } });
  else ops.push({ op: 'delete', key: { kind: KIND, name: ZONE_TOKEN_REVOCATIONS }, ifExists: true });
  await resources.apply(tenant, ops);
}
