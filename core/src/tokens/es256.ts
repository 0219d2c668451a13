/**
 * ES256 (ECDSA P-256, SHA-256) signing keys for zone tokens issued by the global. Asymmetric, so the public
 * half can go to every zone (which then verifies zone-ingress/egress tokens) without letting a zone mint
 * tokens. ES256 rather than Kuma's RS256: both are in WebCrypto on Node and workerd, but a P-256 key is made
 * in well under a millisecond (an RSA-2048 key can take a second on a loaded machine, inside a request), and
 * keys and signatures are a tenth of the size. Kuma's zones never verify Ursa's tokens, so nothing needs RSA.
 *
 * The private key is kept as its JWK (JSON) in the `signing_keys.secret` column, next to older HS256 keys
 * (a base64url secret): the first character tells them apart, so no migration was needed.
 */
import type { CryptoKey } from '@ursa/proto';

/** An EC JWK (declared here: with `types: ["node"]` there is no global JsonWebKey type). */
type Jwk = { kty?: string; crv?: string; x?: string; y?: string; d?: string };

const ALG = { name: 'ECDSA', namedCurve: 'P-256' } as const;
/** What `crypto.subtle.sign/verify` take for ES256 (JWS: raw r||s signature, which WebCrypto produces). */
export const ES256_PARAMS = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** True when a stored key secret is an ES256 private JWK (else it is an HS256 secret). */
export function isEs256Secret(secret: string): boolean {
  return secret.startsWith('{');
}

/** A new key pair; the private JWK (JSON) is what gets stored. */
export async function newEs256Secret(): Promise<string> {
  const pair = (await crypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as unknown as { privateKey: CryptoKey };
  return JSON.stringify(await crypto.subtle.exportKey('jwk', pair.privateKey));
}

export async function importEs256Private(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey('jwk', JSON.parse(secret) as Jwk, ALG, false, ['sign']);
}

/** The verifying half of a stored private JWK. */
export async function importEs256Public(secret: string): Promise<CryptoKey> {
  const { kty, crv, x, y } = JSON.parse(secret) as Jwk;
  return crypto.subtle.importKey('jwk', { kty, crv, x, y }, ALG, true, ['verify']);
}

/** The public key as a PEM `PUBLIC KEY` (SPKI), the form Kuma keeps in `zone-token-signing-public-key-N`. */
export async function es256PublicPem(secret: string): Promise<string> {
  const spki = new Uint8Array((await crypto.subtle.exportKey('spki', await importEs256Public(secret))) as ArrayBuffer);
  let bin = '';
  for (const b of spki) bin += String.fromCharCode(b);
  const body = btoa(bin).replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN PUBLIC KEY-----\n${body}\n-----END PUBLIC KEY-----\n`;
}

/** Imports a PEM `PUBLIC KEY` (what a zone receives); undefined when it is not a P-256 public key. */
export async function importEs256PublicPem(pem: string): Promise<CryptoKey | undefined> {
  const m = /-----BEGIN PUBLIC KEY-----([\s\S]*?)-----END PUBLIC KEY-----/.exec(pem);
  if (!m) return undefined;
  try {
    const der = Uint8Array.from(atob(m[1]!.replace(/\s+/g, '')), (c) => c.charCodeAt(0));
    return await crypto.subtle.importKey('spki', der, ALG, false, ['verify']);
  } catch {
    return undefined;
  }
}
