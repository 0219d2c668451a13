/**
 * DNS wire format for the resolver's hot path: reading a query's first question and EDNS record without
 * decoding the whole message, and writing answers straight into one buffer. A query that does not have
 * the plain shape (one question, no answer or authority records, at most an OPT record) is left to the
 * full decoder (`dns-packet`) by the caller; this file only has to be right about the plain shape.
 */

export const QR = 0x8000;
export const AA = 0x0400;
const RD = 0x0100;
const RA = 0x0080;
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NOTIMP: 4 } as const;
export const TYPE_A = 1;
export const TYPE_AAAA = 28;
const TYPE_OPT = 41;
export const CLASS_IN = 1;
/** The EDNS payload size we announce (the DNS flag day 2020 value). */
const EDNS_UDP_SIZE = 1232;
const OPT_RECORD = Buffer.from([0, 0, TYPE_OPT, EDNS_UDP_SIZE >> 8, EDNS_UDP_SIZE & 0xff, 0, 0, 0, 0, 0, 0]);

/** Where the first question ends, and its name when it is a plain ASCII name we could own. */
export interface FirstQuestion {
  readonly end: number;
  readonly name: string | undefined;
  readonly qtype: number;
  readonly qclass: number;
}

/**
 * Walks the first question without decoding anything else. A compression pointer in it is malformed (there
 * is nothing before it to point to). Labels with a dot, or bytes outside printable ASCII, make the name
 * one we do not own (it is forwarded as it is).
 */
export function firstQuestion(msg: Buffer): FirstQuestion | undefined {
  let o = 12;
  let name = '';
  let plain = true;
  for (;;) {
    if (o >= msg.length) return undefined;
    const len = msg[o]!;
    if (len === 0) {
      o++;
      break;
    }
    if (len > 63) return undefined;
    if (o + 1 + len > msg.length) return undefined;
    for (let i = o + 1; i <= o + len; i++) {
      const c = msg[i]!;
      if (c <= 0x20 || c >= 0x7f || c === 0x2e) plain = false;
    }
    if (plain) name += (name === '' ? '' : '.') + msg.toString('latin1', o + 1, o + 1 + len);
    o += 1 + len;
    if (o - 12 > 255) return undefined;
  }
  if (o + 4 > msg.length) return undefined;
  return { end: o + 4, name: plain ? name.toLowerCase() : undefined, qtype: msg.readUInt16BE(o), qclass: msg.readUInt16BE(o + 2) };
}

/** A plain query, read without the full decoder. */
export interface PlainQuery {
  readonly q: FirstQuestion;
  /** The OPT record's UDP payload size, or undefined without EDNS. */
  readonly ednsUdpSize: number | undefined;
}

/** The byte after the first question's name (its root label), or -1 when it is malformed: the checks of `firstQuestion`. */
function nameEnd(msg: Buffer): number {
  let o = 12;
  for (;;) {
    if (o >= msg.length) return -1;
    const len = msg[o]!;
    if (len === 0) return o + 1;
    if (len > 63 || o + 1 + len > msg.length) return -1;
    o += 1 + len;
    if (o - 12 > 255) return -1;
  }
}

/** A plain query's shape: where its question ends and its EDNS payload size, read without building its name. */
export interface PlainShape {
  readonly end: number;
  /** The OPT record's UDP payload size, or undefined without EDNS. */
  readonly ednsUdpSize: number | undefined;
}

/**
 * The plain shape, or undefined for anything else (the caller then decodes in full): exactly one question,
 * no answer or authority records, and either nothing after the question or one well-formed OPT record
 * (root name, options that fit its RDATA exactly) ending the message.
 */
export function plainShape(msg: Buffer): PlainShape | undefined {
  if (msg.length < 17 || msg.readUInt16BE(4) !== 1 || msg.readUInt16BE(6) !== 0 || msg.readUInt16BE(8) !== 0) return undefined;
  const ar = msg.readUInt16BE(10);
  if (ar > 1) return undefined;
  const ne = nameEnd(msg);
  if (ne < 0 || ne + 4 > msg.length) return undefined;
  const end = ne + 4;
  if (ar === 0) return end === msg.length ? { end, ednsUdpSize: undefined } : undefined;
  let o = end;
  if (o + 11 > msg.length || msg[o] !== 0 || msg.readUInt16BE(o + 1) !== TYPE_OPT) return undefined;
  const udpSize = msg.readUInt16BE(o + 3);
  const rdlen = msg.readUInt16BE(o + 9);
  o += 11;
  if (o + rdlen !== msg.length) return undefined;
  // Options: code, length, data; they must tile the RDATA exactly.
  while (o < msg.length) {
    if (o + 4 > msg.length) return undefined;
    o += 4 + msg.readUInt16BE(o + 2);
  }
  return o === msg.length ? { end, ednsUdpSize: udpSize } : undefined;
}

/** The plain shape with its first question read (see `plainShape`). */
export function plainQuery(msg: Buffer): PlainQuery | undefined {
  const shape = plainShape(msg);
  const q = shape && firstQuestion(msg);
  return q ? { q, ednsUdpSize: shape!.ednsUdpSize } : undefined;
}

/**
 * Whether the header's section counts could fit the message at all (a question takes at least 5 bytes, a
 * record 11). The full decoder allocates an array per section sized by these counts before reading
 * anything, so a 12-byte packet claiming 65,535 of each would cost it megabytes: such a packet is malformed
 * on its face and never reaches it.
 */
export function countsFit(msg: Buffer): boolean {
  if (msg.length < 12) return false;
  const records = msg.readUInt16BE(6) + msg.readUInt16BE(8) + msg.readUInt16BE(10);
  return msg.readUInt16BE(4) * 5 + records * 11 <= msg.length - 12;
}

/** The flags of a response: QR, the query's opcode and RD, RA (we recurse, through the upstream), `extra`. */
function responseFlags(query: Buffer, extra: number): number {
  const qf = query.readUInt16BE(2);
  return QR | (qf & 0x7800) | (qf & RD) | RA | extra;
}

function writeHeader(out: Buffer, query: Buffer, flags: number, qd: number, an: number, ar: number): void {
  out[0] = query[0]!;
  out[1] = query[1]!;
  out.writeUInt16BE(flags, 2);
  out.writeUInt16BE(qd, 4);
  out.writeUInt16BE(an, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(ar, 10);
}

/**
 * The answer record of a local name (the name a pointer to the question's, TTL, RDATA), per type, VIP and
 * TTL: the same few bytes for every query of a name, built once.
 */
const answerRecords = new Map<string, Buffer>();
const MAX_CACHED_RECORDS = 100_000;

function answerRecord(qtype: number, ip: string, ttl: number): Buffer {
  const key = `${qtype}/${ip}/${ttl}`;
  let rr = answerRecords.get(key);
  if (rr) return rr;
  const v4 = ip.split('.').map(Number);
  const rdata = qtype === TYPE_A ? v4 : [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4];
  rr = Buffer.alloc(12 + rdata.length);
  rr.writeUInt16BE(0xc00c, 0);
  rr.writeUInt16BE(qtype, 2);
  rr.writeUInt16BE(CLASS_IN, 4);
  rr.writeUInt32BE(ttl, 6);
  rr.writeUInt16BE(rdata.length, 10);
  Buffer.from(rdata).copy(rr, 12);
  // VIPs are few (one per service); the bound only guards against a table that keeps changing.
  if (answerRecords.size >= MAX_CACHED_RECORDS) answerRecords.clear();
  answerRecords.set(key, rr);
  return rr;
}

/** An authoritative answer for a name we own: one A (or AAAA, IPv4-mapped) record, TTL `ttl`. */
export function localAnswer(query: Buffer, q: FirstQuestion, ip: string, ttl: number, edns: boolean): Buffer {
  const rr = answerRecord(q.qtype, ip, ttl);
  const out = Buffer.allocUnsafe(q.end + rr.length + (edns ? OPT_RECORD.length : 0));
  writeHeader(out, query, responseFlags(query, AA | RCODE.NOERROR), 1, 1, edns ? 1 : 0);
  query.copy(out, 12, 12, q.end);
  rr.copy(out, q.end);
  if (edns) OPT_RECORD.copy(out, q.end + rr.length);
  return out;
}

/** An error response: the question when we found it, the OPT record when the query had one. */
export function errorAnswer(query: Buffer, rcode: number, q: FirstQuestion | undefined, edns: boolean): Buffer {
  const qEnd = q ? q.end : 12;
  const out = Buffer.allocUnsafe(qEnd + (edns ? OPT_RECORD.length : 0));
  writeHeader(out, query, responseFlags(query, rcode), q ? 1 : 0, 0, edns ? 1 : 0);
  if (q) query.copy(out, 12, 12, q.end);
  if (edns) OPT_RECORD.copy(out, qEnd);
  return out;
}
