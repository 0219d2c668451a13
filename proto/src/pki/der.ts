// Minimal DER (ITU-T X.690) encoder/reader plus PEM and base64 helpers, enough for X.509.
// Plain JS only (no Buffer, no node: imports) so it runs unchanged in Node and Cloudflare workerd.
// Only low tag numbers (< 31) and definite lengths are supported, which is all DER needs here.

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function encodeLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** One tag-length-value element; `content` parts are concatenated. */
export function tlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = concat(...content);
  return concat(Uint8Array.of(tag), encodeLength(body.length), body);
}

export const sequence = (...items: Uint8Array[]): Uint8Array => tlv(TAG.SEQUENCE, ...items);

/** DER orders SET / SET OF members by their encodings (X.690 11.6: shorter one padded with zeros). */
export function set(...items: Uint8Array[]): Uint8Array {
  const cmp = (a: Uint8Array, b: Uint8Array): number => {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const d = (a[i] ?? 0) - (b[i] ?? 0);
      if (d !== 0) return d;
    }
    return 0;
  };
  return tlv(TAG.SET, ...[...items].sort(cmp));
}

/** INTEGER from an unsigned big-endian magnitude: minimal length, 0x00 prefix if the high bit is set. */
export function integer(unsigned: Uint8Array): Uint8Array {
  let i = 0;
  while (i < unsigned.length - 1 && unsigned[i] === 0) i++;
  const mag = unsigned.length === 0 ? Uint8Array.of(0) : unsigned.subarray(i);
  return tlv(TAG.INTEGER, (mag[0]! & 0x80) !== 0 ? concat(Uint8Array.of(0), mag) : mag);
}

/** INTEGER from a non-negative safe integer. */
export function integerFromNumber(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`der: unsupported integer ${n}`);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return integer(Uint8Array.from(bytes));
}

/** Base-128 arcs; the first two arcs are combined as 40*a + b. */
export function oid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map((s) => {
    if (!/^\d+$/.test(s)) throw new Error(`der: bad OID ${dotted}`);
    return Number(s);
  });
  if (arcs.length < 2 || arcs[0]! > 2) throw new Error(`der: bad OID ${dotted}`);
  const out: number[] = [];
  for (const arc of [arcs[0]! * 40 + arcs[1]!, ...arcs.slice(2)]) {
    const chunk = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(TAG.OID, Uint8Array.from(out));
}

export function decodeOid(content: Uint8Array): string {
  const arcs: number[] = [];
  let v = 0;
  for (const b of content) {
    v = v * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) arcs.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else arcs.push(v);
      v = 0;
    }
  }
  return arcs.join('.');
}

export const bitString = (bytes: Uint8Array, unusedBits = 0): Uint8Array =>
  tlv(TAG.BIT_STRING, Uint8Array.of(unusedBits), bytes);

/** Named-bit BIT STRING (e.g. KeyUsage): bit 0 is the MSB of byte 0; DER drops trailing zero bits. */
export function namedBitString(bits: number[]): Uint8Array {
  if (bits.length === 0) return bitString(new Uint8Array(0));
  const highest = Math.max(...bits);
  const bytes = new Uint8Array((highest >> 3) + 1);
  for (const b of bits) bytes[b >> 3]! |= 0x80 >> (b & 7);
  return bitString(bytes, 7 - (highest & 7));
}

export const octetString = (bytes: Uint8Array): Uint8Array => tlv(TAG.OCTET_STRING, bytes);
export const utf8String = (s: string): Uint8Array => tlv(TAG.UTF8_STRING, new TextEncoder().encode(s));

export function printableString(s: string): Uint8Array {
  if (!/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(s)) throw new Error(`der: not a PrintableString: ${s}`);
  return tlv(TAG.PRINTABLE_STRING, new TextEncoder().encode(s));
}

export function ia5String(s: string): Uint8Array {
  if (!/^[\x00-\x7f]*$/.test(s)) throw new Error(`der: not an IA5String (ASCII): ${s}`);
  return tlv(TAG.IA5_STRING, new TextEncoder().encode(s));
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
const hms = (d: Date): string =>
  `${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`;

/** YYMMDDHHMMSSZ (milliseconds dropped). */
export const utcTime = (d: Date): Uint8Array =>
  tlv(TAG.UTC_TIME, new TextEncoder().encode(pad(d.getUTCFullYear() % 100) + hms(d)));
/** YYYYMMDDHHMMSSZ (milliseconds dropped; RFC 5280 forbids fractional seconds). */
export const generalizedTime = (d: Date): Uint8Array =>
  tlv(TAG.GENERALIZED_TIME, new TextEncoder().encode(pad(d.getUTCFullYear(), 4) + hms(d)));

/** RFC 5280 4.1.2.5: UTCTime for years 1950..2049, GeneralizedTime otherwise. */
export function time(d: Date): Uint8Array {
  const y = d.getUTCFullYear();
  return y >= 1950 && y <= 2049 ? utcTime(d) : generalizedTime(d);
}

export const boolean = (v: boolean): Uint8Array => tlv(TAG.BOOLEAN, Uint8Array.of(v ? 0xff : 0x00));
export const nullValue = (): Uint8Array => tlv(TAG.NULL);

/** [n] EXPLICIT: constructed context tag wrapping a complete inner element. */
export const explicit = (n: number, inner: Uint8Array): Uint8Array => tlv(0xa0 | n, inner);
/** [n] IMPLICIT: context tag replacing the inner element's tag; pass the inner *content* bytes. */
export const implicit = (n: number, content: Uint8Array, constructed = false): Uint8Array =>
  tlv((constructed ? 0xa0 : 0x80) | n, content);

// ---------------------------------------------------------------------------------------------
// Reader

export interface DerNode {
  tag: number;
  /** Value bytes (a view into the input). */
  content: Uint8Array;
  /** The whole element: tag + length + value (a view into the input). */
  raw: Uint8Array;
}

/** Reads one element starting at `offset`; returns it and the offset just past it. */
export function readElement(buf: Uint8Array, offset = 0): { node: DerNode; end: number } {
  const fail = (why: string): never => {
    throw new Error(`der: ${why} at offset ${offset}`);
  };
  if (offset + 2 > buf.length) fail('truncated header');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) fail('high tag numbers unsupported');
  let len = buf[offset + 1]!;
  let p = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) fail('indefinite or oversized length');
    if (p + n > buf.length) fail('truncated length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p++]!;
  }
  if (p + len > buf.length) fail('truncated value');
  return { node: { tag, content: buf.subarray(p, p + len), raw: buf.subarray(offset, p + len) }, end: p + len };
}

/** Parses a buffer that must hold exactly one element. */
export function parse(buf: Uint8Array): DerNode {
  const { node, end } = readElement(buf);
  if (end !== buf.length) throw new Error('der: trailing bytes');
  return node;
}

/** The elements inside a constructed node (SEQUENCE, SET, [n] EXPLICIT ...). */
export function children(node: DerNode): DerNode[] {
  if ((node.tag & 0x20) === 0) throw new Error(`der: tag 0x${node.tag.toString(16)} is not constructed`);
  const out: DerNode[] = [];
  for (let off = 0; off < node.content.length; ) {
    const { node: child, end } = readElement(node.content, off);
    out.push(child);
    off = end;
  }
  return out;
}

export function decodeTime(node: DerNode): Date {
  const s = new TextDecoder().decode(node.content);
  const m =
    node.tag === TAG.UTC_TIME
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
      : node.tag === TAG.GENERALIZED_TIME
        ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
        : null;
  if (!m) throw new Error(`der: unsupported time ${s}`);
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const year = node.tag === TAG.UTC_TIME ? (y < 50 ? 2000 + y : 1900 + y) : y;
  return new Date(Date.UTC(year, mo - 1, d, h, mi, se));
}

// ---------------------------------------------------------------------------------------------
// base64 / PEM (no Buffer, no atob/btoa dependency)

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

export function base64Encode(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const [a, b, c] = [bytes[i]!, bytes[i + 1], bytes[i + 2]];
    const n = (a << 16) | ((b ?? 0) << 8) | (c ?? 0);
    out += B64[n >> 18]! + B64[(n >> 12) & 63]!;
    out += b === undefined ? '=' : B64[(n >> 6) & 63]!;
    out += c === undefined ? '=' : B64[n & 63]!;
  }
  return out;
}

export function base64Decode(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, '').replace(/=+$/, '');
  if (!/^[A-Za-z0-9+/]*$/.test(clean) || clean.length % 4 === 1) throw new Error('base64: invalid input');
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (const ch of clean) {
    acc = ((acc << 6) | B64.indexOf(ch)) & 0xffff; // only the low bits+6 bits matter
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

export function pemEncode(label: string, der: Uint8Array): string {
  const lines = base64Encode(der).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Decodes the first PEM block (optionally the first one with `label`). */
export function pemDecode(pem: string, label?: string): { label: string; der: Uint8Array } {
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (let m = re.exec(pem); m; m = re.exec(pem)) {
    if (label === undefined || m[1] === label) return { label: m[1]!, der: base64Decode(m[2]!) };
  }
  throw new Error(`pem: no ${label ?? 'PEM'} block found`);
}
