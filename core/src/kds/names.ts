/**
 * Naming of zone-originated resources on the global, as Kuma does it (`pkg/kds/hash/hash.go`): the name a
 * zone used becomes the `kuma.io/display-name` label, and the stored name gets a hash suffix over mesh,
 * display name and zone, so two zones can both have a dataplane called `web-1`.
 */

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK = 0xffffffffffffffffn;
/** k8s `rand.SafeEncodeString` alphabet: no vowels, no look-alike characters. */
const SAFE = 'bcdfghjklmnpqrstvwxz2456789';
const MAX_BASE = 236; // 253 - len("-") - 16

/** FNV-1a, 64 bits, over the UTF-8 bytes of `text` (Kuma's hashes: names here, MeshExternalService SNIs in the zone). */
export function fnv1a64(text: string): bigint {
  let h = FNV_OFFSET;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= BigInt(byte);
    h = (h * FNV_PRIME) & MASK;
  }
  return h;
}

/**
 * Kuma's hashed name: `truncate(base, 236) + "-" + safeEncode(hex(fnv1a64(mesh + base + zone + namespace)))`.
 * The hash input has no separators, exactly as Kuma's, so names match what a Kuma global would store.
 */
export function hashedName(mesh: string, base: string, zone = '', namespace = ''): string {
  const hex = fnv1a64(mesh + base + zone + namespace).toString(16).padStart(16, '0');
  let encoded = '';
  for (const c of hex) encoded += SAFE[c.charCodeAt(0) % SAFE.length];
  return `${base.slice(0, MAX_BASE)}-${encoded}`;
}
