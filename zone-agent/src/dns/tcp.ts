/**
 * DNS over TCP (RFC 7766: 2-byte length framing, several queries per connection, answers in any order) with
 * bounded slots that slow clients cannot hold:
 * - **message deadline**: a message must arrive whole within `messageMs` of its first byte. Bytes that
 *   trickle in do not extend it (an idle timer reset by each byte would let one byte every few seconds
 *   hold a slot forever);
 * - **idle deadline**: a connection with no message in progress and no query in flight is closed
 *   `idleMs` after it last made progress (connected, received a whole query, or was answered);
 * - **write deadline**: a client that does not read its answers (our writes back up) is closed after
 *   `messageMs`; reading stops meanwhile, so what we buffer for it stays small;
 * - **fair eviction**: when all `maxConnections` slots are taken, a newcomer is not refused: a slow
 *   client is closed to make room (one mid-message, or not reading its answers; the one stuck longest),
 *   else the connection idle longest, else (every one has a query in flight) the one waiting longest.
 */
import { createServer, type Server, type Socket } from 'node:net';

export interface TcpLimits {
  /** Connections at once (default 512). */
  readonly maxConnections?: number;
  /** A message must arrive whole within this of its first byte (default 3 s). */
  readonly messageMs?: number;
  /** A connection with nothing in progress is closed after this (default 10 s). */
  readonly idleMs?: number;
}

/** Queries handled at once per connection; reading pauses beyond it. */
const PIPELINE = 64;
/** Answers buffered for a client that does not read, before reading from it pauses. */
const MAX_WRITE_BUFFER = 256 * 1024;

interface Conn {
  readonly sock: Socket;
  /** When it last made progress (see top); eviction picks the smallest. */
  progressAt: number;
  /** When the message being received started (its first byte), if one is. */
  messageSince: number | undefined;
  /** When our writes backed up (the client does not read), if they do. */
  stalledSince: number | undefined;
  /** Queries being answered. */
  pending: number;
}

export interface TcpDnsServer {
  readonly server: Server;
  /** Open connections. */
  connections(): number;
  /** Connections closed by a deadline or by eviction. */
  readonly closed: { message: number; idle: number; write: number; evicted: number };
  close(): void;
}

/** `handle` answers one query (undefined: no answer); it never throws. */
export function createTcpDnsServer(handle: (msg: Buffer) => Buffer | undefined | Promise<Buffer | undefined>, limits: TcpLimits = {}): TcpDnsServer {
  const maxConnections = limits.maxConnections ?? 512;
  const messageMs = limits.messageMs ?? 3000;
  const idleMs = limits.idleMs ?? 10_000;
  const conns = new Set<Conn>();
  const closed = { message: 0, idle: 0, write: 0, evicted: 0 };

  /**
   * Who makes room: a slow client first (a message in progress, or answers it does not read), the one
   * stuck longest; else an idle connection, idle longest; else the connection waiting longest.
   */
  const evictOne = () => {
    let victim: Conn | undefined;
    let victimRank: [number, number] = [Infinity, Infinity];
    for (const c of conns) {
      const slowSince = c.messageSince ?? c.stalledSince;
      const rank: [number, number] = slowSince !== undefined ? [0, slowSince] : c.pending === 0 ? [1, c.progressAt] : [2, c.progressAt];
      if (rank[0] < victimRank[0] || (rank[0] === victimRank[0] && rank[1] < victimRank[1])) {
        victim = c;
        victimRank = rank;
      }
    }
    if (victim) {
      closed.evicted++;
      conns.delete(victim);
      victim.sock.destroy();
    }
  };

  // One sweep for all deadlines, rather than a timer per connection re-armed on every byte.
  const sweepEvery = Math.max(20, Math.min(250, Math.floor(Math.min(messageMs, idleMs) / 4)));
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const c of conns) {
      if (c.messageSince !== undefined && now - c.messageSince > messageMs) {
        closed.message++;
      } else if (c.stalledSince !== undefined && now - c.stalledSince > messageMs) {
        closed.write++;
      } else if (c.messageSince === undefined && c.pending === 0 && c.stalledSince === undefined && now - c.progressAt > idleMs) {
        closed.idle++;
      } else continue;
      conns.delete(c);
      c.sock.destroy();
    }
  }, sweepEvery);
  sweep.unref();

  const server = createServer({ allowHalfOpen: true }, (sock) => {
    if (conns.size >= maxConnections) evictOne();
    const c: Conn = { sock, progressAt: Date.now(), messageSince: undefined, stalledSince: undefined, pending: 0 };
    conns.add(c);
    sock.on('close', () => conns.delete(c));
    sock.on('error', () => sock.destroy());
    sock.setNoDelay(true);
    let buf: Buffer = Buffer.alloc(0);
    let ended = false;
    const maybeEnd = () => {
      if (ended && c.pending === 0 && !sock.destroyed) sock.end();
    };
    const canRead = () => c.pending < PIPELINE && c.stalledSince === undefined;
    sock.on('end', () => {
      ended = true;
      maybeEnd();
    });
    sock.on('drain', () => {
      c.stalledSince = undefined;
      c.progressAt = Date.now();
      if (canRead() && sock.isPaused()) sock.resume();
    });
    const reply = (resp: Buffer | undefined) => {
      c.pending--;
      if (resp && !sock.destroyed && sock.writable) {
        const len = Buffer.allocUnsafe(2);
        len.writeUInt16BE(resp.length);
        sock.cork();
        sock.write(len);
        const flushed = sock.write(resp);
        sock.uncork();
        c.progressAt = Date.now();
        if (!flushed && sock.writableLength > MAX_WRITE_BUFFER && c.stalledSince === undefined) {
          c.stalledSince = Date.now();
          sock.pause();
        }
      }
      if (canRead() && sock.isPaused() && !sock.destroyed) sock.resume();
      maybeEnd();
    };
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      let completed = false;
      while (buf.length >= 2) {
        const n = buf.readUInt16BE(0);
        if (buf.length < 2 + n) break;
        const msg = Buffer.from(buf.subarray(2, 2 + n));
        buf = buf.subarray(2 + n);
        completed = true;
        c.progressAt = Date.now();
        c.pending++;
        const resp = handle(msg);
        if (resp instanceof Promise) void resp.then(reply, () => reply(undefined));
        else reply(resp);
      }
      // What is left is (the start of) the next message: its deadline runs from its first byte.
      if (buf.length === 0) c.messageSince = undefined;
      else if (completed || c.messageSince === undefined) c.messageSince = Date.now();
      if (!canRead()) sock.pause();
    });
  });

  return {
    server,
    connections: () => conns.size,
    closed,
    close() {
      clearInterval(sweep);
      for (const c of conns) c.sock.destroy();
      conns.clear();
    },
  };
}
