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
 *   undecodable message or one without a question: FORMERR; an opcode other than QUERY: NOTIMP;
 * - slow TCP clients cannot hold the TCP slots: whole-message, idle and write deadlines, and a newcomer
 *   evicts the slowest connection when all slots are taken (`tcp.ts`);
 * - throughput: the usual query (one question, at most an OPT record) is read in place; a repeated local
 *   question is answered from its cached encoded response (`answer-cache.ts`), a new one written into one
 *   buffer from a per-VIP cached record (`wire.ts`), synchronously, with no promise per packet; a packet whose section counts cannot fit its length is FORMERR without the full decoder. A
 *   1 MiB UDP receive buffer absorbs bursts (Linux's default, ~200 KiB, overflows in milliseconds at these
 *   rates) while keeping what waits in it to roughly a tenth of a second of work: beyond what one core answers, the
 *   kernel drops the excess datagrams (clients retry), and the agent keeps answering at its full rate.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { isIP } from 'node:net';
import * as dnsPacket from 'dns-packet';
import { DNS_TTL } from './ttl.js';
import type { Forwarder } from './forward.js';
import { createTcpDnsServer } from './tcp.js';
import { AnswerCache } from './answer-cache.js';
import { serveUdp, type UdpServing } from './udp-batch.js';
import { CLASS_IN, countsFit, errorAnswer, firstQuestion, localAnswer, plainShape, QR, RCODE, TYPE_A, TYPE_AAAA } from './wire.js';
import { type Logger, silentLogger } from '@ursa/core/base';

export { errorAnswer, firstQuestion, localAnswer } from './wire.js';

export interface DnsServerOptions {
  readonly host: string;
  /** 0 picks a free port (tests); TCP then listens on the port UDP got. */
  readonly port: number;
  /** The VIP (dotted IPv4) of a lower-case name without the trailing dot, or undefined. */
  readonly lookup: (name: string) => string | undefined;
  readonly forwarder: Forwarder;
  readonly log?: Logger;
  readonly ttl?: number;
  /** TCP connections at once (default 512); when full, a newcomer evicts the slowest (`tcp.ts`). */
  readonly maxTcpConnections?: number;
  /** A TCP connection with nothing in progress is closed after this (default 10 s). */
  readonly tcpIdleMs?: number;
  /** A TCP message must arrive whole within this of its first byte (default 3 s). */
  readonly tcpMessageMs?: number;
  /** The UDP socket's kernel receive buffer (default 1 MiB, capped by net.core.rmem_max): absorbs bursts. */
  readonly udpReceiveBufferBytes?: number;
  /** Batched UDP I/O through the native addon when it is built (default true; `udp-batch.ts`). */
  readonly udpBatch?: boolean;
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
  /** Open TCP connections. */
  tcpConnections(): number;
  /** What `lookup` returns has changed: drops the encoded answers (call it in the same turn as the change). */
  answersChanged(): void;
  /** The bound UDP socket: the resolver's thread hands it to its extra answering processes (`udp-child.ts`). */
  readonly udpSocket: UdpSocket;
  /** How UDP is read and answered: batched (the native addon) or dgram, and why not batched. */
  readonly udpMode: Pick<UdpServing, 'mode' | 'why'>;
  close(): Promise<void>;
}

/** A handler's answer: the response, none (drop), or a response to come (forwarded). */
export type Answer = Buffer | undefined | Promise<Buffer | undefined>;

/**
 * Builds the handler shared by UDP and TCP: a query in, a response (or nothing: drop) out. Never throws.
 * Local names and errors are answered synchronously (no promise per packet); only forwarding is async.
 */
export function createHandler(opts: Pick<DnsServerOptions, 'lookup' | 'forwarder' | 'ttl'>, stats: DnsStats, cache?: AnswerCache): (msg: Buffer, tcp: boolean) => Answer {
  const ttl = opts.ttl ?? DNS_TTL;
  const forward = async (msg: Buffer, tcp: boolean, maxUdpSize: number, q: ReturnType<typeof firstQuestion>, edns: boolean): Promise<Buffer | undefined> => {
    try {
      const answer = await opts.forwarder.forward(msg, { tcp, maxUdpSize });
      stats.forwarded++;
      return answer;
    } catch {
      stats.servfail++;
      return errorAnswer(msg, RCODE.SERVFAIL, q, edns);
    }
  };
  return (msg, tcp) => {
    try {
      stats.queries++;
      if (msg.length < 12 || (msg.readUInt16BE(2) & QR) !== 0) {
        stats.dropped++;
        return undefined;
      }
      if (((msg.readUInt16BE(2) >> 11) & 0xf) !== 0) {
        stats.notimp++;
        return errorAnswer(msg, RCODE.NOTIMP, firstQuestion(msg), false);
      }
      // The usual query is read in place; anything else goes through the full decoder, as before.
      let q: ReturnType<typeof firstQuestion>;
      let ednsUdpSize: number | undefined;
      let key: string | undefined;
      const plain = plainShape(msg);
      if (plain) {
        ednsUdpSize = plain.ednsUdpSize;
        if (cache) {
          key = AnswerCache.key(msg, plain.end, ednsUdpSize !== undefined);
          const hit = cache.answer(key, msg);
          if (hit) {
            stats.local++;
            return hit;
          }
        }
        // The shape's checks are the walk's: the question is there.
        q = firstQuestion(msg)!;
      } else {
        let packet: dnsPacket.DecodedPacket;
        try {
          if (!countsFit(msg)) throw new Error('section counts exceed the message');
          packet = dnsPacket.decode(msg);
        } catch {
          stats.formerr++;
          return errorAnswer(msg, RCODE.FORMERR, undefined, false);
        }
        q = firstQuestion(msg);
        if (!q || (packet.questions?.length ?? 0) === 0) {
          stats.formerr++;
          return errorAnswer(msg, RCODE.FORMERR, undefined, false);
        }
        const opt = packet.additionals?.find((a) => a.type === 'OPT') as dnsPacket.OptAnswer | undefined;
        ednsUdpSize = opt ? (opt.udpPayloadSize ?? 512) : undefined;
      }
      const edns = ednsUdpSize !== undefined;
      if (q.name !== undefined && q.qclass === CLASS_IN && (q.qtype === TYPE_A || q.qtype === TYPE_AAAA)) {
        const ip = opts.lookup(q.name);
        if (ip !== undefined) {
          stats.local++;
          const answer = localAnswer(msg, q, ip, ttl, edns);
          if (key !== undefined) cache!.put(key, answer);
          return answer;
        }
      }
      // A copy: the caller may reuse the query's memory once this returns (the batched UDP path does).
      return forward(Buffer.from(msg), tcp, Math.max(512, Math.min(65535, ednsUdpSize ?? 512)), q, edns);
    } catch {
      // Anything unforeseen: no answer rather than a crash.
      stats.errors++;
      return undefined;
    }
  };
}

/**
 * The UDP socket's address lookup. Answers only ever go to the address a query came from, an IP literal;
 * dgram's default passes even those through `dns.lookup`, which calls back on the next tick: one more
 * callback per packet (a tenth of the JS time per packet in a CPU profile under dnsperf). This calls back
 * at once for a literal and defers to `dns.lookup` otherwise.
 */
export function literalLookup(address: string, family: unknown, callback: (err: Error | null, address: string, family: number) => void): void {
  const v = isIP(address);
  if (v !== 0) callback(null, address, v);
  // Never the case for an answer; loaded only then, to keep `node:dns` off the resolver's start-up path.
  else void import('node:dns').then((dns) => dns.lookup(address, family as number, callback as never));
}

export async function startDnsServer(opts: DnsServerOptions): Promise<DnsServer> {
  const stats: DnsStats = { queries: 0, local: 0, forwarded: 0, servfail: 0, formerr: 0, notimp: 0, dropped: 0, errors: 0 };
  const cache = new AnswerCache();
  const handle = createHandler(opts, stats, cache);
  const log = opts.log ?? silentLogger;
  let closed = false;

  const tcpDns = createTcpDnsServer((msg) => handle(msg, true), { maxConnections: opts.maxTcpConnections, idleMs: opts.tcpIdleMs, messageMs: opts.tcpMessageMs });
  const tcp = tcpDns.server;

  // UDP first, then TCP on the port UDP got; with port 0 (tests) a clash on the TCP side picks another.
  let udp: UdpSocket;
  for (let attempt = 0; ; attempt++) {
    udp = createSocket({ type: isIP(opts.host) === 6 ? 'udp6' : 'udp4', recvBufferSize: opts.udpReceiveBufferBytes ?? 1024 * 1024, lookup: literalLookup });
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
      if (opts.port !== 0 || attempt >= 20) {
        tcpDns.close();
        throw err;
      }
    }
  }
  udp.on('error', (err) => log.warn(`udp socket error: ${err.message}`));
  const serving = serveUdp(udp, handle, () => closed, opts.udpBatch ?? true, (n) => (stats.errors += n));
  log.info(`udp answered ${serving.mode === 'batched' ? 'in batches (recvmmsg/sendmmsg)' : `through dgram: batched I/O ${serving.why}`}`);
  tcp.on('error', (err) => log.warn(`tcp server error: ${err.message}`));
  const port = udp.address().port;
  const udpSocket = udp;

  return {
    port,
    stats,
    tcpConnections: () => tcpDns.connections(),
    answersChanged: () => cache.clear(),
    udpSocket,
    udpMode: { mode: serving.mode, why: serving.why },
    async close() {
      if (closed) return;
      closed = true;
      serving.stop();
      tcpDns.close();
      await Promise.all([new Promise<void>((r) => udpSocket.close(() => r())), new Promise<void>((r) => tcp.close(() => r()))]);
    },
  };
}
