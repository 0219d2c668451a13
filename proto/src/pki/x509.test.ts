import { execFileSync } from 'node:child_process';
import { createPrivateKey, randomBytes, sign, verify, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as der from './der.js';
import { generateCa, issueLeaf, parseCertificate, type KeyType } from './x509.js';

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

const OPENSSL = ((): string | undefined => {
  try {
    return execFileSync('which', ['openssl'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
})();

/** Runs openssl on PEM files written to a temp dir; returns stdout (throws on non-zero exit). */
function openssl(files: Record<string, string>, args: (dir: string) => string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'ursa-pki-'));
  try {
    for (const [name, pem] of Object.entries(files)) writeFileSync(join(dir, name), pem);
    return execFileSync(OPENSSL!, args(dir), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('der', () => {
  it('encodes INTEGER minimally with a sign pad', () => {
    expect(hex(der.integer(Uint8Array.of(0, 0, 0x80)))).toBe('02020080');
    expect(hex(der.integer(Uint8Array.of(0, 1)))).toBe('020101');
    expect(hex(der.integer(new Uint8Array(0)))).toBe('020100');
    expect(hex(der.integerFromNumber(2))).toBe('020102');
    expect(hex(der.integerFromNumber(256))).toBe('02020100');
  });

  it('encodes OIDs, lengths, named bits, booleans and tags', () => {
    expect(hex(der.oid('1.2.840.10045.4.3.2'))).toBe('06082a8648ce3d040302');
    expect(der.decodeOid(der.parse(der.oid('2.5.29.37')).content)).toBe('2.5.29.37');
    expect(hex(der.octetString(new Uint8Array(200)).subarray(0, 3))).toBe('0481c8');
    expect(hex(der.octetString(new Uint8Array(300)).subarray(0, 4))).toBe('0482012c');
    expect(hex(der.namedBitString([0, 5, 6]))).toBe('03020186'); // CA key usage
    expect(hex(der.namedBitString([0, 2]))).toBe('030205a0'); // leaf key usage
    expect(hex(der.boolean(true))).toBe('0101ff');
    expect(hex(der.nullValue())).toBe('0500');
    expect(hex(der.explicit(0, der.integerFromNumber(2)))).toBe('a003020102');
    expect(hex(der.implicit(6, Uint8Array.of(0x61)))).toBe('860161');
    expect(hex(der.set(der.integerFromNumber(2), der.integerFromNumber(1)))).toBe('3106020101020102');
    expect(hex(der.printableString('Ursa'))).toBe('130455727361');
    expect(() => der.printableString('é')).toThrow();
  });

  it('switches UTCTime to GeneralizedTime after 2049 and round-trips both', () => {
    const a = new Date('2049-12-31T23:59:59Z');
    const b = new Date('2050-01-01T00:00:00Z');
    expect(new TextDecoder().decode(der.parse(der.time(a)).content)).toBe('491231235959Z');
    expect(der.time(a)[0]).toBe(der.TAG.UTC_TIME);
    expect(new TextDecoder().decode(der.parse(der.time(b)).content)).toBe('20500101000000Z');
    expect(der.time(b)[0]).toBe(der.TAG.GENERALIZED_TIME);
    expect(der.decodeTime(der.parse(der.time(a))).getTime()).toBe(a.getTime());
    expect(der.decodeTime(der.parse(der.time(b))).getTime()).toBe(b.getTime());
  });

  it('base64 and PEM match Buffer without using it', () => {
    for (let n = 0; n < 70; n++) {
      const bytes = new Uint8Array(randomBytes(n));
      const b64 = Buffer.from(bytes).toString('base64');
      expect(der.base64Encode(bytes)).toBe(b64);
      expect(hex(der.base64Decode(b64))).toBe(hex(bytes));
    }
    const pem = der.pemEncode('CERTIFICATE', new Uint8Array(100).fill(7));
    expect(pem.split('\n')[1]).toHaveLength(64);
    expect(der.pemDecode(`junk\n${pem}`, 'CERTIFICATE').der).toEqual(new Uint8Array(100).fill(7));
    expect(() => der.pemDecode(pem, 'PRIVATE KEY')).toThrow();
  });
});

describe.each<KeyType>(['ecdsa-p256', 'rsa-2048'])('builtin mesh CA (%s)', (keyType) => {
  it('generates a self-signed CA, and issues leaves that chain to it', async () => {
    const now = new Date();
    const ca = await generateCa({ commonName: 'default', spiffeTrustDomain: 'default', validForSeconds: 10 * 365 * 86400, now, keyType });
    expect(ca.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const caCert = new X509Certificate(ca.certPem);
    expect(caCert.ca).toBe(true);
    expect(caCert.checkIssued(caCert)).toBe(true);
    expect(caCert.verify(caCert.publicKey)).toBe(true);
    expect(caCert.subject).toBe('O=Ursa\nCN=default');
    expect(caCert.issuer).toBe(caCert.subject);
    expect(caCert.subjectAltName).toContain('URI:spiffe://default');
    expect(caCert.serialNumber).toMatch(/^[4-7][0-9A-F]{31}$/); // positive, 16 bytes
    expect(caCert.publicKey.asymmetricKeyType).toBe(keyType === 'rsa-2048' ? 'rsa' : 'ec');
    expect(new Date(caCert.validTo).getTime()).toBe(ca.notAfter.getTime());
    expect(ca.notAfter.getTime()).toBe(Math.floor(now.getTime() / 1000) * 1000 + 10 * 365 * 86400_000);
    expect(new Date(caCert.validFrom).getTime()).toBeLessThanOrEqual(now.getTime());

    // The PKCS#8 key is the private half of the certificate's public key.
    const data = new TextEncoder().encode('ursa');
    const caKey = createPrivateKey(ca.keyPem);
    expect(verify('sha256', data, caCert.publicKey, sign('sha256', data, caKey))).toBe(true);

    // parseCertificate agrees with Node.
    const parsed = parseCertificate(ca.certPem);
    expect(Buffer.from(parsed.spkiDer)).toEqual(caCert.publicKey.export({ type: 'spki', format: 'der' }));
    expect(parsed.notAfter.getTime()).toBe(ca.notAfter.getTime());
    expect(parsed.notBefore.getTime()).toBe(new Date(caCert.validFrom).getTime());
    expect(parsed.subjectKeyIdentifier).toHaveLength(20);

    const leaf = await issueLeaf({
      caCertPem: ca.certPem,
      caKeyPem: ca.keyPem,
      uris: ['spiffe://default/backend'],
      dnsNames: ['backend.default.svc'],
      validForSeconds: 24 * 3600,
      now,
    });
    const leafCert = new X509Certificate(leaf.certPem);
    expect(leafCert.ca).toBe(false);
    expect(leafCert.verify(caCert.publicKey)).toBe(true);
    expect(leafCert.checkIssued(caCert)).toBe(true);
    expect(leafCert.issuer).toBe(caCert.subject);
    expect(leafCert.subjectAltName).toBe('URI:spiffe://default/backend, DNS:backend.default.svc');
    expect(leafCert.publicKey.asymmetricKeyType).toBe('ec'); // leaf keys default to P-256
    expect(leafCert.checkPrivateKey(createPrivateKey(leaf.keyPem!))).toBe(true);
    expect(new Date(leafCert.validTo).getTime()).toBe(leaf.notAfter.getTime());
    expect(new Date(leafCert.validFrom).getTime()).toBe(Math.floor(now.getTime() / 1000) * 1000 - 60_000);

    if (OPENSSL) {
      const files = { 'ca.pem': ca.certPem, 'leaf.pem': leaf.certPem };
      expect(openssl(files, (d) => ['verify', '-x509_strict', '-CAfile', join(d, 'ca.pem'), join(d, 'leaf.pem')])).toMatch(/: OK\s*$/);
      const caText = openssl(files, (d) => ['x509', '-noout', '-text', '-in', join(d, 'ca.pem')]);
      expect(caText).toMatch(/CA:TRUE/);
      expect(caText).toMatch(/Digital Signature, Certificate Sign, CRL Sign/);
      expect(caText).toContain(keyType === 'rsa-2048' ? 'sha256WithRSAEncryption' : 'ecdsa-with-SHA256');
      const leafText = openssl(files, (d) => ['x509', '-noout', '-text', '-in', join(d, 'leaf.pem')]);
      expect(leafText).toMatch(/CA:FALSE/);
      expect(leafText).toMatch(/Digital Signature, Key Encipherment/);
      expect(leafText).toMatch(/TLS Web Server Authentication, TLS Web Client Authentication/);
      const ski = /Subject Key Identifier:\s*\n\s*([0-9A-F:]+)/.exec(caText)?.[1];
      const aki = /Authority Key Identifier:\s*\n\s*(?:keyid:)?([0-9A-F:]+)/.exec(leafText)?.[1];
      expect(ski).toBeDefined();
      expect(aki).toBe(ski);
    }
  });

  it('signs a caller-supplied public key, and accepts legacy PKCS#1/SEC1 CA keys', async () => {
    const ca = await generateCa({ commonName: 'legacy', validForSeconds: 3600, keyType });
    const legacyPem = createPrivateKey(ca.keyPem).export({ type: keyType === 'rsa-2048' ? 'pkcs1' : 'sec1', format: 'pem' }) as string;
    expect(legacyPem).toMatch(keyType === 'rsa-2048' ? /BEGIN RSA PRIVATE KEY/ : /BEGIN EC PRIVATE KEY/);
    const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
    const leaf = await issueLeaf({ caCertPem: ca.certPem, caKeyPem: legacyPem, publicKey: pair.publicKey, uris: ['spiffe://legacy/web'], validForSeconds: 60 });
    expect(leaf.keyPem).toBeUndefined();
    const leafCert = new X509Certificate(leaf.certPem);
    expect(leafCert.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
    expect(leafCert.publicKey.export({ type: 'spki', format: 'der' })).toEqual(
      Buffer.from(await crypto.subtle.exportKey('spki', pair.publicKey)),
    );
    expect(new X509Certificate(ca.certPem).subjectAltName).toBeUndefined(); // no trust domain given
  });
});

describe('issueLeaf guards', () => {
  it('rejects a CA key that does not match the CA certificate', async () => {
    const a = await generateCa({ commonName: 'a', validForSeconds: 3600 });
    const b = await generateCa({ commonName: 'b', validForSeconds: 3600 });
    await expect(issueLeaf({ caCertPem: a.certPem, caKeyPem: b.keyPem, uris: ['spiffe://a/x'], validForSeconds: 60 })).rejects.toThrow(/does not match/);
  });

  it('caps the leaf at the CA notAfter and refuses an expired CA', async () => {
    const now = new Date('2030-01-01T00:00:00Z');
    const ca = await generateCa({ commonName: 'short', validForSeconds: 3600, now });
    const leaf = await issueLeaf({ caCertPem: ca.certPem, caKeyPem: ca.keyPem, uris: ['spiffe://short/x'], validForSeconds: 86400, now });
    expect(leaf.notAfter.getTime()).toBe(ca.notAfter.getTime());
    await expect(
      issueLeaf({ caCertPem: ca.certPem, caKeyPem: ca.keyPem, uris: ['spiffe://short/x'], validForSeconds: 60, now: new Date('2031-01-01T00:00:00Z') }),
    ).rejects.toThrow(/expired/);
  });

  it('produces valid DER ECDSA signatures across many random r/s values', async () => {
    const ca = await generateCa({ commonName: 'many', validForSeconds: 3600 });
    const caCert = new X509Certificate(ca.certPem);
    const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
    for (let i = 0; i < 40; i++) {
      const leaf = await issueLeaf({ caCertPem: ca.certPem, caKeyPem: ca.keyPem, publicKey: pair.publicKey, uris: [`spiffe://many/s${i}`], validForSeconds: 60 });
      expect(new X509Certificate(leaf.certPem).verify(caCert.publicKey)).toBe(true);
    }
  });
});

describe('validity after 2049', () => {
  it('encodes GeneralizedTime and still parses', async () => {
    const now = new Date('2040-06-01T12:00:00Z');
    const ca = await generateCa({ commonName: 'long', spiffeTrustDomain: 'long', validForSeconds: 20 * 365 * 86400, now });
    expect(ca.notAfter.getUTCFullYear()).toBe(2060);
    const cert = der.parse(der.pemDecode(ca.certPem, 'CERTIFICATE').der);
    const tbs = der.children(der.children(cert)[0]!);
    const [notBefore, notAfter] = der.children(tbs[4]!);
    expect(notBefore!.tag).toBe(der.TAG.UTC_TIME);
    expect(notAfter!.tag).toBe(der.TAG.GENERALIZED_TIME);
    expect(new TextDecoder().decode(notAfter!.content)).toMatch(/^2060\d{10}Z$/);

    const x = new X509Certificate(ca.certPem);
    expect(new Date(x.validTo).getTime()).toBe(ca.notAfter.getTime());
    expect(parseCertificate(ca.certPem).notAfter.getTime()).toBe(ca.notAfter.getTime());
    const leaf = await issueLeaf({ caCertPem: ca.certPem, caKeyPem: ca.keyPem, uris: ['spiffe://long/x'], validForSeconds: 15 * 365 * 86400, now });
    expect(new X509Certificate(leaf.certPem).checkIssued(x)).toBe(true);
    expect(new Date(new X509Certificate(leaf.certPem).validTo).getUTCFullYear()).toBe(2055);
    if (OPENSSL) {
      const text = openssl({ 'ca.pem': ca.certPem }, (d) => ['x509', '-noout', '-text', '-in', join(d, 'ca.pem')]);
      expect(text).toMatch(/Not After : \w+ +\d+ [\d:]+ 2060 GMT/);
    }
  });
});
