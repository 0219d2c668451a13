/**
 * Forwarding of names the resolver does not own to the upstream resolver, as Kuma's DNS proxy does: UDP with
 * a timeout (each query on its own connected socket, so a random source port and a fresh random id guard
 * against spoofed answers, and an ICMP "port unreachable" fails it at once); over TCP when the client asked
 * over TCP, or when the UDP answer came back truncated. The caller turns a failure into SERVFAIL.
 */
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import type { Upstream } from './resolv.js';

export interface ForwardOptions {
  /** The client asked over TCP (answers of any size), else UDP (answers up to `maxUdpSize`). */
  readonly tcp: boolean;
  readonly maxUdpSize: number;
}

export interface Forwarder {
  readonly upstream: Upstream;
  /** The upstream's answer to `query`, with the client's id; rejects on timeout, error or overload. */
  forward(query: Buffer, opts: ForwardOptions): Promise<Buffer>;
  /** Queries waiting for the upstream now. */
  readonly inFlight: number;
}

export interface ForwarderOptions {
  readonly timeoutMs?: number;
  /** More queries waiting at once fail immediately (SERVFAIL) instead of piling up sockets. */
  readonly maxInFlight?: number;
}

const TC = 1 << 9;
const QR = 1 << 15;

export function createForwarder(upstream: Upstream, opts: ForwarderOptions = {}): Forwarder {
  const timeoutMs = opts.timeoutMs ?? 2000;
  const maxInFlight = opts.maxInFlight ?? 1024;
  let inFlight = 0;

  const withNewId = (query: Buffer): { q: Buffer; id: number } => {
    const q = Buffer.from(query);
    const id = randomInt(0x10000);
    q.writeUInt16BE(id, 0);
    return { q, id };
  };
  const isAnswerTo = (msg: Buffer, id: number) => msg.length >= 12 && msg.readUInt16BE(0) === id && (msg.readUInt16BE(2) & QR) !== 0;
  const restoreId = (msg: Buffer, query: Buffer) => {
    query.copy(msg, 0, 0, 2);
    return msg;
  };

  const viaUdp = (query: Buffer): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const { q, id } = withNewId(query);
      const sock = createSocket(upstream.family === 6 ? 'udp6' : 'udp4');
      let done = false;
      const finish = (err: Error | undefined, msg?: Buffer) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        sock.removeAllListeners('message');
        sock.on('error', () => {});
        try {
          sock.close();
        } catch {
          /* already closed */
        }
        if (err) reject(err);
        else resolve(msg!);
      };
      const timer = setTimeout(() => finish(new Error('upstream timeout (udp)')), timeoutMs);
      sock.on('error', (err) => finish(err));
      // Connected: only datagrams from the upstream's address and port are delivered.
      sock.on('message', (msg) => {
        if (isAnswerTo(msg, id)) finish(undefined, msg);
      });
      sock.connect(upstream.port, upstream.host, () => {
        sock.send(q, (err) => err && finish(err));
      });
    });

  const viaTcp = (query: Buffer): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const { q, id } = withNewId(query);
      const sock = connect({ host: upstream.host, port: upstream.port });
      let done = false;
      let buf: Buffer = Buffer.alloc(0);
      const finish = (err: Error | undefined, msg?: Buffer) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        sock.destroy();
        if (err) reject(err);
        else resolve(msg!);
      };
      const timer = setTimeout(() => finish(new Error('upstream timeout (tcp)')), timeoutMs);
      sock.on('error', (err) => finish(err));
      sock.on('close', () => finish(new Error('upstream closed the connection')));
      sock.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(q.length);
        sock.write(Buffer.concat([len, q]));
      });
      sock.on('data', (chunk) => {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 2) {
          const n = buf.readUInt16BE(0);
          if (buf.length < 2 + n) break;
          const msg = buf.subarray(2, 2 + n);
          buf = buf.subarray(2 + n);
          if (isAnswerTo(msg, id)) return finish(undefined, Buffer.from(msg));
        }
      });
    });

  return {
    upstream,
    get inFlight() {
      return inFlight;
    },
    async forward(query, fo) {
      if (inFlight >= maxInFlight) throw new Error('too many queries waiting for the upstream');
      inFlight++;
      try {
        if (fo.tcp) return restoreId(await viaTcp(query), query);
        const answer = await viaUdp(query);
        if ((answer.readUInt16BE(2) & TC) === 0) return restoreId(answer, query);
        // Truncated: ask again over TCP; the full answer goes back if it fits the client's UDP size,
        // else the truncated one does, and the client retries over TCP itself.
        const full = await viaTcp(query).catch(() => undefined);
        return restoreId(full && full.length <= fo.maxUdpSize ? full : answer, query);
      } finally {
        inFlight--;
      }
    },
  };
}
