/**
 * The `.mesh` resolver's sockets: UDP (node:dgram) and TCP (node:net, 2-byte length framing, several queries
 * per connection) on one host and port. Behaviour follows Kuma's embedded DNS proxy (`kuma-multizone.md` §5.3):
 * - only the first question is used;
 * - `A` for a known name: authoritative NOERROR with the VIP, TTL 30 s;
 * - `AAAA` for a known name: authoritative NOERROR with the IPv4-mapped address `::ffff:a.b.c.d`. Kuma adds
 *   that address only when the sidecar's transparent proxy has IPv6 on, and otherwise answers AAAA with an
 *   empty NOERROR (NODATA). The zone resolver serves every client alike and cannot know, so it always gives
 *   the mapped address: a v6-only or dual-stack client then reaches the VIP through the v4-mapped form, and
 *   a client that never asks AAAA is unaffected;
 * - any other name, type or class is forwarded to the upstream resolver; SERVFAIL when that fails;
 * - malformed input never crashes anything: shorter than a header or an answer (QR set): dropped; an
 *   undecodable message or one without a question: FORMERR; an opcode other than QUERY: NOTIMP.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIP, type Server, type Socket } from 'node:net';
import * as dnsPacket from 'dns-packet';
import { DNS_TTL } from './ttl.js';
import type { Forwarder } from './forward.js';
import { type Logger, silentLogger } from '@ursa/core/base';

export interface DnsServerOptions {
  readonly host: string;
  /** 0 picks a free port (tests); TCP then listens on the port UDP got. */
  readonly port: number;
  /** The VIP (dotted IPv4) of a lower-case name without the trailing dot, or undefined. */
  readonly lookup: (name: string) => string | undefined;
  readonly forwarder: Forwarder;
  readonly log?: Logger;
  readonly ttl?: number;
  readonly maxTcpConnections?: number;
  /** A TCP connection idle this long is closed. */
  readonly tcpIdleMs?: number;
}

export interface DnsStats {
  queries: number;
  local: number;
  forwarded: number;
  servfail: number;
  formerr: number;
  notimp: number;
  dropped: number;
  errors: number;
}

export interface DnsServer {
  readonly port: number;
  readonly stats: Readonly<DnsStats>;
  close(): Promise<void>;
}

const QR = 0x8000;
const AA = 0x0400;
const RD = 0x0100;
const RA = 0x0080;
const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NOTIMP: 4 } as const;
const TYPE_A = 1;
const TYPE_AAAA = 28;
const TYPE_OPT = 41;
const CLASS_IN = 1;
/** The EDNS payload size we announce (the DNS flag day 2020 value). */
const EDNS_UDP_SIZE = 1232;
const TCP_PIPELINE = 64;

/** Where the first question ends, and its name when it is a plain ASCII name we could own. */
interface FirstQuestion {
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
  const labels: string[] = [];
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
    if (plain) labels.push(msg.toString('latin1', o + 1, o + 1 + len));
    o += 1 + len;
    if (o - 12 > 255) return undefined;
  }
  if (o + 4 > msg.length) return undefined;
  return { end: o + 4, name: plain ? labels.join('.').toLowerCase() : undefined, qtype: msg.readUInt16BE(o), qclass: msg.readUInt16BE(o + 2) };
}

function header(query: Buffer, flags: number, qd: number, an: number, ar: number): Buffer {
  const h = Buffer.alloc(12);
  query.copy(h, 0, 0, 2);
  h.writeUInt16BE(flags, 2);
  h.writeUInt16BE(qd, 4);
  h.writeUInt16BE(an, 6);
  h.writeUInt16BE(0, 8);
  h.writeUInt16BE(ar, 10);
  return h;
}

function optRecord(): Buffer {
  const b = Buffer.alloc(11);
  b[0] = 0; // root name
  b.writeUInt16BE(TYPE_OPT, 1);
  b.writeUInt16BE(EDNS_UDP_SIZE, 3);
  b.writeUInt32BE(0, 5); // extended rcode, version 0, no flags
  b.writeUInt16BE(0, 9);
  return b;
}

/** The flags of a response: QR, the query's opcode and RD, RA (we recurse, through the upstream), `extra`. */
function responseFlags(query: Buffer, extra: number): number {
  const qf = query.readUInt16BE(2);
  return QR | (qf & 0x7800) | (qf & RD) | RA | extra;
}

function ipv4Bytes(ip: string): Buffer {
  return Buffer.from(ip.split('.').map(Number));
}

/** An authoritative answer for a name we own: one A (or AAAA, IPv4-mapped) record, TTL `ttl`. */
export function localAnswer(query: Buffer, q: FirstQuestion, ip: string, ttl: number, edns: boolean): Buffer {
  const v4 = ipv4Bytes(ip);
  const rdata = q.qtype === TYPE_A ? v4 : Buffer.concat([Buffer.alloc(10), Buffer.from([0xff, 0xff]), v4]);
  const rr = Buffer.alloc(12);
  rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
  rr.writeUInt16BE(q.qtype, 2);
  rr.writeUInt16BE(CLASS_IN, 4);
  rr.writeUInt32BE(ttl, 6);
  rr.writeUInt16BE(rdata.length, 10);
  const parts = [header(query, responseFlags(query, AA | RCODE.NOERROR), 1, 1, edns ? 1 : 0), query.subarray(12, q.end), rr, rdata];
  if (edns) parts.push(optRecord());
  return Buffer.concat(parts);
}

/** An error response: the question when we found it, the OPT record when the query had one. */
export function errorAnswer(query: Buffer, rcode: number, q: FirstQuestion | undefined, edns: boolean): Buffer {
  const parts = [header(query, responseFlags(query, rcode), q ? 1 : 0, 0, edns ? 1 : 0)];
  if (q) parts.push(query.subarray(12, q.end));
  if (edns) parts.push(optRecord());
  return Buffer.concat(parts);
}

/** Builds the handler shared by UDP and TCP: a query in, a response (or nothing: drop) out. Never throws. */
export function createHandler(opts: Pick<DnsServerOptions, 'lookup' | 'forwarder' | 'ttl'>, stats: DnsStats): (msg: Buffer, tcp: boolean) => Promise<Buffer | undefined> {
  const ttl = opts.ttl ?? DNS_TTL;
  return async (msg, tcp) => {
    try {
      stats.queries++;
      if (msg.length < 12 || (msg.readUInt16BE(2) & QR) !== 0) {
        stats.dropped++;
        return undefined;
      }
      const q = firstQuestion(msg);
      if (((msg.readUInt16BE(2) >> 11) & 0xf) !== 0) {
        stats.notimp++;
        return errorAnswer(msg, RCODE.NOTIMP, q, false);
      }
      let packet: dnsPacket.DecodedPacket;
      try {
        packet = dnsPacket.decode(msg);
      } catch {
        stats.formerr++;
        return errorAnswer(msg, RCODE.FORMERR, undefined, false);
      }
      if (!q || (packet.questions?.length ?? 0) === 0) {
        stats.formerr++;
        return errorAnswer(msg, RCODE.FORMERR, undefined, false);
      }
      const opt = packet.additionals?.find((a) => a.type === 'OPT') as dnsPacket.OptAnswer | undefined;
      const edns = opt !== undefined;
      if (q.name !== undefined && q.qclass === CLASS_IN && (q.qtype === TYPE_A || q.qtype === TYPE_AAAA)) {
        const ip = opts.lookup(q.name);
        if (ip !== undefined) {
          stats.local++;
          return localAnswer(msg, q, ip, ttl, edns);
        }
      }
      const maxUdpSize = Math.max(512, Math.min(65535, opt?.udpPayloadSize ?? 512));
      try {
        const answer = await opts.forwarder.forward(msg, { tcp, maxUdpSize });
        stats.forwarded++;
        return answer;
      } catch {
        stats.servfail++;
        return errorAnswer(msg, RCODE.SERVFAIL, q, edns);
      }
    } catch {
      // Anything unforeseen: no answer rather than a crash.
      stats.errors++;
      return undefined;
    }
  };
}

function frame(msg: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(msg.length);
  return Buffer.concat([len, msg]);
}

export async function startDnsServer(opts: DnsServerOptions): Promise<DnsServer> {
  const stats: DnsStats = { queries: 0, local: 0, forwarded: 0, servfail: 0, formerr: 0, notimp: 0, dropped: 0, errors: 0 };
  const handle = createHandler(opts, stats);
  const log = opts.log ?? silentLogger;
  const idleMs = opts.tcpIdleMs ?? 10_000;
  let closed = false;

  const onMessage = (udp: UdpSocket) => (msg: Buffer, rinfo: { port: number; address: string }) => {
    void handle(msg, false).then((resp) => {
      if (!resp || closed) return;
      try {
        udp.send(resp, rinfo.port, rinfo.address, () => {});
      } catch {
        /* socket closed meanwhile */
      }
    });
  };

  const sockets = new Set<Socket>();
  const tcp: Server = createServer({ allowHalfOpen: true }, (sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    sock.setNoDelay(true);
    sock.setTimeout(idleMs, () => sock.destroy());
    let buf: Buffer = Buffer.alloc(0);
    let pending = 0;
    let ended = false;
    const maybeEnd = () => {
      if (ended && pending === 0 && !sock.destroyed) sock.end();
    };
    sock.on('end', () => {
      ended = true;
      maybeEnd();
    });
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      while (buf.length >= 2) {
        const n = buf.readUInt16BE(0);
        if (buf.length < 2 + n) break;
        const msg = Buffer.from(buf.subarray(2, 2 + n));
        buf = buf.subarray(2 + n);
        pending++;
        if (pending >= TCP_PIPELINE) sock.pause();
        void handle(msg, true).then((resp) => {
          pending--;
          if (resp && !sock.destroyed && sock.writable) sock.write(frame(resp));
          if (pending < TCP_PIPELINE && sock.isPaused() && !sock.destroyed) sock.resume();
          maybeEnd();
        });
      }
    });
  });
  tcp.maxConnections = opts.maxTcpConnections ?? 512;

  // UDP first, then TCP on the port UDP got; with port 0 (tests) a clash on the TCP side picks another.
  let udp: UdpSocket;
  for (let attempt = 0; ; attempt++) {
    udp = createSocket({ type: isIP(opts.host) === 6 ? 'udp6' : 'udp4' });
    const u = udp;
    try {
      await new Promise<void>((resolve, reject) => {
        u.once('error', reject);
        u.bind(opts.port, opts.host, () => {
          u.off('error', reject);
          resolve();
        });
      });
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(u.address().port, opts.host, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
      break;
    } catch (err) {
      try {
        u.close();
      } catch {
        /* not bound */
      }
      if (opts.port !== 0 || attempt >= 20) throw err;
    }
  }
  udp.on('error', (err) => log.warn(`udp socket error: ${err.message}`));
  udp.on('message', onMessage(udp));
  tcp.on('error', (err) => log.warn(`tcp server error: ${err.message}`));
  const port = udp.address().port;
  const udpSocket = udp;

  return {
    port,
    stats,
    async close() {
      if (closed) return;
      closed = true;
      for (const s of sockets) s.destroy();
      await Promise.all([new Promise<void>((r) => udpSocket.close(() => r())), new Promise<void>((r) => tcp.close(() => r()))]);
    },
  };
}
