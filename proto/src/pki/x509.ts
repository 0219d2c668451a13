// Mesh "builtin" CA: self-signed CA generation and SPIFFE workload (leaf) certificate issuance.
// Uses only WebCrypto (globalThis.crypto) and ./der.ts, so it runs unchanged in Node and workerd.
import * as der from './der.js';

type Subtle = typeof globalThis.crypto.subtle;
/** WebCrypto key (declared structurally: with `types: ["node"]` there is no global CryptoKey type). */
export type CryptoKey = Awaited<ReturnType<Subtle['importKey']>>;
export type KeyType = 'ecdsa-p256' | 'rsa-2048';

const ORGANIZATION = 'Ursa';
/** Leaf notBefore is backdated so peers with slightly slow clocks accept fresh certificates. */
const CLOCK_SKEW_MS = 60_000;

const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  prime256v1: '1.2.840.10045.3.1.7',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  rsaEncryption: '1.2.840.113549.1.1.1',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  organizationName: '2.5.4.10',
  commonName: '2.5.4.3',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

/** KeyUsage bit numbers (RFC 5280 4.2.1.3). */
const KU = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5, cRLSign: 6 } as const;

const SCHEMES = {
  'ecdsa-p256': {
    keyGen: { name: 'ECDSA', namedCurve: 'P-256' },
    importAlg: { name: 'ECDSA', namedCurve: 'P-256' },
    sign: { name: 'ECDSA', hash: 'SHA-256' },
    sigAlgId: der.sequence(der.oid(OID.ecdsaWithSHA256)), // RFC 5758: parameters absent
  },
  'rsa-2048': {
    keyGen: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: Uint8Array.of(1, 0, 1), hash: 'SHA-256' },
    importAlg: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    sign: { name: 'RSASSA-PKCS1-v1_5' },
    sigAlgId: der.sequence(der.oid(OID.sha256WithRSAEncryption), der.nullValue()), // RFC 4055: NULL parameters
  },
} as const;
type Scheme = (typeof SCHEMES)[KeyType];

const subtle = (): Subtle => globalThis.crypto.subtle;

export interface ParsedCertificate {
  /** Exact DER bytes of the subject Name. */
  subjectDer: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  subjectKeyIdentifier?: Uint8Array;
  /** DER SubjectPublicKeyInfo. */
  spkiDer: Uint8Array;
}

/** Reads only what issueLeaf needs from a PEM certificate. */
export function parseCertificate(pem: string): ParsedCertificate {
  const cert = der.parse(der.pemDecode(pem, 'CERTIFICATE').der);
  const [tbs] = der.children(cert);
  if (!tbs) throw new Error('x509: empty certificate');
  const fields = der.children(tbs);
  const i = fields[0]?.tag === 0xa0 ? 1 : 0; // [0] version is optional (absent = v1)
  const [, , , validity, subject, spki] = fields.slice(i, i + 6); // serial, sigAlg, issuer, validity, subject, spki
  if (!validity || !subject || !spki) throw new Error('x509: truncated TBSCertificate');
  const [notBefore, notAfter] = der.children(validity).map(der.decodeTime);
  if (!notBefore || !notAfter) throw new Error('x509: bad validity');

  let subjectKeyIdentifier: Uint8Array | undefined;
  const extsTagged = fields.slice(i + 6).find((f) => f.tag === 0xa3); // [3] extensions
  for (const ext of extsTagged ? der.children(der.children(extsTagged)[0]!) : []) {
    const parts = der.children(ext); // extnID, critical?, extnValue
    if (der.decodeOid(parts[0]!.content) === OID.subjectKeyIdentifier) {
      subjectKeyIdentifier = der.parse(parts[parts.length - 1]!.content).content.slice();
    }
  }
  return { subjectDer: subject.raw.slice(), notBefore, notAfter, subjectKeyIdentifier, spkiDer: spki.raw.slice() };
}

export interface GenerateCaOptions {
  commonName: string;
  /** Mesh name; adds SAN URI spiffe://<mesh>. */
  spiffeTrustDomain?: string;
  validForSeconds: number;
  now?: Date;
  keyType?: KeyType;
}

/** Self-signed v3 CA certificate plus its PKCS#8 private key. */
export async function generateCa(opts: GenerateCaOptions): Promise<{ certPem: string; keyPem: string; notAfter: Date }> {
  const scheme = SCHEMES[opts.keyType ?? 'ecdsa-p256'];
  const { notBefore, notAfter } = validity(opts.now ?? new Date(), opts.validForSeconds);
  const keys = await subtle().generateKey(scheme.keyGen, true, ['sign', 'verify']);
  const spki = new Uint8Array(await subtle().exportKey('spki', keys.publicKey));
  const name = der.sequence(
    der.set(der.sequence(der.oid(OID.organizationName), der.utf8String(ORGANIZATION))),
    der.set(der.sequence(der.oid(OID.commonName), der.utf8String(opts.commonName))),
  );
  const extensions = [
    extension(OID.basicConstraints, true, der.sequence(der.boolean(true))),
    extension(OID.keyUsage, true, der.namedBitString([KU.digitalSignature, KU.keyCertSign, KU.cRLSign])),
    extension(OID.subjectKeyIdentifier, false, der.octetString(await keyIdentifier(spki))),
  ];
  if (opts.spiffeTrustDomain !== undefined) {
    if (!/^[a-z0-9._-]+$/.test(opts.spiffeTrustDomain)) {
      throw new Error(`x509: invalid SPIFFE trust domain ${JSON.stringify(opts.spiffeTrustDomain)}`);
    }
    extensions.push(extension(OID.subjectAltName, false, generalNames([`spiffe://${opts.spiffeTrustDomain}`], [])));
  }
  const certDer = await signCertificate(scheme, keys.privateKey, name, name, notBefore, notAfter, spki, extensions);
  return {
    certPem: der.pemEncode('CERTIFICATE', certDer),
    keyPem: der.pemEncode('PRIVATE KEY', new Uint8Array(await subtle().exportKey('pkcs8', keys.privateKey))),
    notAfter,
  };
}

export interface IssueLeafOptions {
  caCertPem: string;
  /** PKCS#8 ("PRIVATE KEY"); PKCS#1 ("RSA PRIVATE KEY") and SEC1 P-256 ("EC PRIVATE KEY") are also accepted. */
  caKeyPem: string;
  /** Public key of the workload; when absent a new keypair (`keyType`) is generated and returned as keyPem. */
  publicKey?: CryptoKey;
  keyType?: KeyType;
  /** e.g. spiffe://default/backend */
  uris: string[];
  dnsNames?: string[];
  /** IPv4 or IPv6 literals (iPAddress SANs), e.g. for a TLS server reached by address. */
  ipAddresses?: string[];
  validForSeconds: number;
  now?: Date;
}

/** End-entity certificate for a workload, signed by the mesh CA. notAfter is capped at the CA's notAfter. */
export async function issueLeaf(opts: IssueLeafOptions): Promise<{ certPem: string; keyPem?: string; notAfter: Date }> {
  const dnsNames = opts.dnsNames ?? [];
  const ips = opts.ipAddresses ?? [];
  if (opts.uris.length + dnsNames.length + ips.length === 0) throw new Error('x509: a leaf needs at least one URI, DNS or IP SAN');
  const ca = parseCertificate(opts.caCertPem);
  const { key: caKey, scheme } = await importCaKey(opts.caKeyPem, ca.spkiDer);
  const now = opts.now ?? new Date();
  if (now.getTime() >= ca.notAfter.getTime()) throw new Error('x509: CA certificate has expired');
  const v = validity(now, opts.validForSeconds);
  const notAfter = v.notAfter.getTime() > ca.notAfter.getTime() ? ca.notAfter : v.notAfter;

  let publicKey = opts.publicKey;
  let keyPem: string | undefined;
  if (!publicKey) {
    const keys = await subtle().generateKey(SCHEMES[opts.keyType ?? 'ecdsa-p256'].keyGen, true, ['sign', 'verify']);
    publicKey = keys.publicKey;
    keyPem = der.pemEncode('PRIVATE KEY', new Uint8Array(await subtle().exportKey('pkcs8', keys.privateKey)));
  }
  const spki = new Uint8Array(await subtle().exportKey('spki', publicKey)); // public keys are always exportable

  const extensions = [
    extension(OID.basicConstraints, true, der.sequence()), // CA:FALSE (DER omits the default)
    extension(OID.keyUsage, true, der.namedBitString([KU.digitalSignature, KU.keyEncipherment])),
    extension(OID.extKeyUsage, false, der.sequence(der.oid(OID.serverAuth), der.oid(OID.clientAuth))),
    // Subject is empty (identity lives in the SAN, as in Kuma/SPIFFE), so RFC 5280 4.2.1.6 requires SAN critical.
    extension(OID.subjectAltName, true, generalNames(opts.uris, dnsNames, ips)),
    extension(
      OID.authorityKeyIdentifier,
      false,
      der.sequence(der.implicit(0, ca.subjectKeyIdentifier ?? (await keyIdentifier(ca.spkiDer)))),
    ),
    extension(OID.subjectKeyIdentifier, false, der.octetString(await keyIdentifier(spki))),
  ];
  // The issuer is the CA's subject copied byte-for-byte rather than re-encoded: chain building matches
  // issuer to subject by DER bytes in many verifiers (Go, BoringSSL fast paths), and a re-encoding could
  // differ (PrintableString vs UTF8String, attribute order) for CAs we did not create ourselves.
  const certDer = await signCertificate(scheme, caKey, ca.subjectDer, der.sequence(), v.notBefore, notAfter, spki, extensions);
  return { certPem: der.pemEncode('CERTIFICATE', certDer), keyPem, notAfter };
}

// ---------------------------------------------------------------------------------------------

function validity(now: Date, validForSeconds: number): { notBefore: Date; notAfter: Date } {
  if (!(validForSeconds > 0)) throw new Error('x509: validForSeconds must be positive');
  // Whole seconds: that is all X.509 times can carry, and the returned notAfter must match the cert.
  const sec = Math.floor(now.getTime() / 1000) * 1000;
  return { notBefore: new Date(sec - CLOCK_SKEW_MS), notAfter: new Date(sec + Math.floor(validForSeconds) * 1000) };
}

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  // DER omits `critical` when it has its DEFAULT value FALSE.
  return der.sequence(der.oid(id), ...(critical ? [der.boolean(true)] : []), der.octetString(value));
}

/** GeneralNames with uniformResourceIdentifier [6], dNSName [2] (both IMPLICIT IA5String) and iPAddress [7] (OCTET STRING). */
function generalNames(uris: string[], dnsNames: string[], ips: string[] = []): Uint8Array {
  const ia5 = (s: string): Uint8Array => der.parse(der.ia5String(s)).content;
  return der.sequence(...uris.map((u) => der.implicit(6, ia5(u))), ...dnsNames.map((d) => der.implicit(2, ia5(d))), ...ips.map((ip) => der.implicit(7, ipBytes(ip))));
}

/** The 4 or 16 bytes of an IP literal. */
function ipBytes(ip: string): Uint8Array {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (v4) return Uint8Array.from(v4.slice(1).map(Number));
  if (!/^[0-9a-fA-F:]+$/.test(ip) || ip.split('::').length > 2) throw new Error(`x509: not an IP address: ${JSON.stringify(ip)}`);
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const groups = (s: string | undefined) => (s ? s.split(':') : []);
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (all.length !== 8 || all.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) throw new Error(`x509: not an IP address: ${JSON.stringify(ip)}`);
  return Uint8Array.from(all.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]));
}

/** RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING value (minus the unused-bits octet). */
async function keyIdentifier(spkiDer: Uint8Array): Promise<Uint8Array> {
  const bits = der.children(der.parse(spkiDer))[1];
  if (bits?.tag !== der.TAG.BIT_STRING) throw new Error('x509: bad SubjectPublicKeyInfo');
  return new Uint8Array(await subtle().digest('SHA-1', bits.content.subarray(1)));
}

async function signCertificate(
  scheme: Scheme,
  key: CryptoKey,
  issuer: Uint8Array,
  subject: Uint8Array,
  notBefore: Date,
  notAfter: Date,
  spki: Uint8Array,
  extensions: Uint8Array[],
): Promise<Uint8Array> {
  const serial = globalThis.crypto.getRandomValues(new Uint8Array(16));
  serial[0] = (serial[0]! & 0x7f) | 0x40; // positive, and exactly 16 octets after DER minimisation
  const tbs = der.sequence(
    der.explicit(0, der.integerFromNumber(2)), // v3
    der.integer(serial),
    scheme.sigAlgId,
    issuer,
    der.sequence(der.time(notBefore), der.time(notAfter)),
    subject,
    spki,
    der.explicit(3, der.sequence(...extensions)),
  );
  let sig: Uint8Array = new Uint8Array(await subtle().sign(scheme.sign, key, tbs));
  if (scheme.sign.name === 'ECDSA') sig = ecdsaRawToDer(sig);
  return der.sequence(tbs, scheme.sigAlgId, der.bitString(sig));
}

/**
 * WebCrypto returns ECDSA signatures as raw r||s (IEEE P1363, fixed width), but X.509 (RFC 3279 / 5480)
 * carries Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }; der.integer() strips leading zeros and
 * adds a 0x00 pad where the high bit is set, which is what verifiers expect.
 */
function ecdsaRawToDer(raw: Uint8Array): Uint8Array {
  const half = raw.length / 2;
  return der.sequence(der.integer(raw.subarray(0, half)), der.integer(raw.subarray(half)));
}

/** Imports the CA private key and checks that it belongs to the CA certificate's public key. */
async function importCaKey(pem: string, caSpki: Uint8Array): Promise<{ key: CryptoKey; scheme: Scheme }> {
  const block = ['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY']
    .map((label) => { try { return der.pemDecode(pem, label); } catch { return undefined; } })
    .find((b) => b !== undefined);
  if (!block) throw new Error('x509: no supported private key PEM block');
  // Wrap legacy PKCS#1 / SEC1 keys into PKCS#8, the only private-key format WebCrypto imports.
  const wrap = (algId: Uint8Array): Uint8Array => der.sequence(der.integerFromNumber(0), algId, der.octetString(block.der));
  const pkcs8 =
    block.label === 'RSA PRIVATE KEY' ? wrap(der.sequence(der.oid(OID.rsaEncryption), der.nullValue()))
    : block.label === 'EC PRIVATE KEY' ? wrap(der.sequence(der.oid(OID.ecPublicKey), der.oid(OID.prime256v1)))
    : block.der;

  const [algOid, param] = der.children(der.children(der.parse(pkcs8))[1]!);
  const alg = der.decodeOid(algOid!.content);
  let scheme: Scheme;
  if (alg === OID.rsaEncryption) scheme = SCHEMES['rsa-2048']; // any modulus size signs fine
  else if (alg === OID.ecPublicKey && param?.tag === der.TAG.OID && der.decodeOid(param.content) === OID.prime256v1) {
    scheme = SCHEMES['ecdsa-p256'];
  } else throw new Error('x509: CA key must be RSA or ECDSA P-256');

  const key = await subtle().importKey('pkcs8', pkcs8, scheme.importAlg, true, ['sign']);
  const pub = await subtle().importKey('spki', caSpki, scheme.importAlg, true, ['verify']);
  const [a, b] = await Promise.all([subtle().exportKey('jwk', key), subtle().exportKey('jwk', pub)]);
  const same = scheme.sign.name === 'ECDSA' ? a.x === b.x && a.y === b.y : a.n === b.n && a.e === b.e;
  if (!same) throw new Error('x509: CA private key does not match the CA certificate');
  return { key, scheme };
}
