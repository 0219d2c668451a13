/**
 * Batched UDP answering (Linux): the native addon (`zone-agent/native/udp-batch.c`, compiled by `build.ts`)
 * reads up to 64 queries with one `recvmmsg`, this answers them in one JS call, and the addon sends the answers
 * with one `sendmmsg`. dgram makes a system call and a callback per datagram each way, and its send path was
 * ~85 % of the resolver's busy time under dnsperf (README, Performance, DNS).
 *
 * The socket stays dgram's: bound by it, handed to the extra answering processes by it, closed by it. The addon
 * reads a duplicate of its descriptor once dgram's own reading is stopped; answers that come later (forwarded
 * names) go out through dgram's `send`. When the addon is missing (not built, not Linux) or turned off
 * (`--dns-udp-batch off`), `serveUdp` keeps dgram's 'message' path, unchanged.
 */
import type { Socket as UdpSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Answer } from './server.js';

interface Native {
  open(fd: number, onBatch: (n: number) => void): { memory: ArrayBuffer; close(): void };
  readonly LAYOUT: number;
  readonly BATCH: number;
  readonly SLOT: number;
  readonly ADDR: number;
}

/**
 * Where the compiled addon is, seen from this module: the source (`src/dns/`) and the bundle's chunks
 * (`dist/chunks/`) are two levels below `zone-agent/`, the bundle's entries (`dist/*.mjs`) one.
 */
const CANDIDATES = ['../../native/build/udp-batch.node', '../native/build/udp-batch.node'];
/** The shared memory's layout this module reads (`LAYOUT` in udp-batch.c): a stale build is not used. */
const LAYOUT = 1;

let loaded: { native?: Native; why?: string } | undefined;

/** The addon, or why it is not there. Loaded once per thread. */
export function loadUdpBatch(): { native?: Native; why?: string } {
  if (loaded) return loaded;
  if (process.platform !== 'linux') return (loaded = { why: `recvmmsg/sendmmsg are Linux's (this is ${process.platform})` });
  const file = CANDIDATES.map((c) => fileURLToPath(new URL(c, import.meta.url))).find((f) => existsSync(f));
  if (!file) return (loaded = { why: 'zone-agent/native/build/udp-batch.node is not built (zone-agent/build.ts compiles it; it needs cc and Node headers)' });
  try {
    const native = createRequire(import.meta.url)(file) as Native;
    if (native.LAYOUT !== LAYOUT) return (loaded = { why: `${file} is a stale build (layout ${native.LAYOUT}, not ${LAYOUT}): run npx tsx zone-agent/build.ts` });
    return (loaded = { native });
  } catch (err) {
    return (loaded = { why: `${file} does not load: ${(err as Error).message}` });
  }
}

/** dgram's native handle (UDPWrap): Node keeps it on the socket's internal state. */
function udpHandle(sock: UdpSocket): { fd?: number; recvStop?: () => number } | undefined {
  const key = Object.getOwnPropertySymbols(sock).find((s) => s.description === 'state symbol');
  return key && (sock as unknown as Record<symbol, { handle?: { fd?: number; recvStop?: () => number } }>)[key]?.handle;
}

/** The sender in a `sockaddr_storage` (Linux layout: family in host order, port in network order). */
function sender(addrs: Buffer, off: number): { address: string; port: number } {
  const family = addrs.readUInt16LE(off);
  const port = addrs.readUInt16BE(off + 2);
  if (family === 2) return { address: `${addrs[off + 4]}.${addrs[off + 5]}.${addrs[off + 6]}.${addrs[off + 7]}`, port };
  const groups: string[] = [];
  for (let g = 0; g < 8; g++) groups.push(addrs.readUInt16BE(off + 8 + 2 * g).toString(16));
  return { address: groups.join(':'), port };
}

/** The 'message' listener of a UDP socket: each datagram answered by `handle`, the answer sent back to its sender. */
export function answerUdp(udp: UdpSocket, handle: (msg: Buffer, tcp: boolean) => Answer, closed: () => boolean): (msg: Buffer, rinfo: { port: number; address: string }) => void {
  const send = (resp: Buffer | undefined, rinfo: { port: number; address: string }) => {
    if (!resp || closed()) return;
    try {
      // No callback: a send error surfaces as the socket's 'error' event (logged), not per packet.
      udp.send(resp, rinfo.port, rinfo.address);
    } catch {
      /* socket closed meanwhile */
    }
  };
  return (msg, rinfo) => {
    const resp = handle(msg, false);
    if (resp instanceof Promise) void resp.then((r) => send(r, rinfo));
    else send(resp, rinfo);
  };
}

export interface UdpServing {
  /** 'batched' (recvmmsg/sendmmsg) or 'dgram', and why not batched. */
  readonly mode: 'batched' | 'dgram';
  readonly why?: string;
  /** Stops reading (before the socket itself is closed). */
  stop(): void;
}

/**
 * Answers every datagram on `udp` with `handle`: batched when the addon is there and `batch` is on, else through
 * dgram's 'message' event. Call once, after the socket is bound. `sendFailed` gets the answers the kernel
 * refused (a full send buffer: UDP drops them, as dgram's path would report them as socket errors), at the next batch.
 */
export function serveUdp(udp: UdpSocket, handle: (msg: Buffer, tcp: boolean) => Answer, closed: () => boolean, batch: boolean, sendFailed: (n: number) => void): UdpServing {
  const dgram = (why: string): UdpServing => {
    udp.on('message', answerUdp(udp, handle, closed));
    return { mode: 'dgram', why, stop: () => {} };
  };
  if (!batch) return dgram('turned off (--dns-udp-batch false)');
  const { native, why } = loadUdpBatch();
  if (!native) return dgram(why!);
  const h = udpHandle(udp);
  if (!h || typeof h.fd !== 'number' || h.fd < 0 || typeof h.recvStop !== 'function') return dgram("this Node's dgram socket exposes no descriptor");

  const { BATCH, SLOT, ADDR } = native;
  let queries: Buffer, answers: Buffer, addrs: Buffer, inLen: Int32Array, outLen: Int32Array, refused: Float64Array;
  let refusedSeen = 0;
  const later = (r: Promise<Buffer | undefined>, to: { address: string; port: number }) =>
    void r.then((resp) => {
      if (!resp || closed()) return;
      try {
        udp.send(resp, to.port, to.address);
      } catch {
        /* socket closed meanwhile */
      }
    });
  const onBatch = (n: number) => {
    if (refused[0] !== refusedSeen) {
      sendFailed(refused[0]! - refusedSeen);
      refusedSeen = refused[0]!;
    }
    for (let i = 0; i < n; i++) {
      try {
        const off = i * SLOT;
        const resp = handle(queries.subarray(off, off + inLen[i]!), false);
        if (resp === undefined) continue;
        // The query's slot is reused by the next batch: the handler copies a query it keeps (forwarding).
        if (resp instanceof Promise) later(resp, sender(addrs, i * ADDR));
        else if (resp.length <= SLOT) outLen[i] = resp.copy(answers, off);
      } catch {
        /* the handler never throws; a bug here drops one answer, never the batch */
      }
    }
  };
  let batcher: ReturnType<Native['open']>;
  try {
    batcher = native.open(h.fd, onBatch);
  } catch (err) {
    return dgram(`the addon could not open the socket: ${(err as Error).message}`);
  }
  const { memory } = batcher;
  queries = Buffer.from(memory, 0, BATCH * SLOT);
  answers = Buffer.from(memory, BATCH * SLOT, BATCH * SLOT);
  addrs = Buffer.from(memory, 2 * BATCH * SLOT, BATCH * ADDR);
  inLen = new Int32Array(memory, 2 * BATCH * SLOT + BATCH * ADDR, BATCH);
  outLen = new Int32Array(memory, 2 * BATCH * SLOT + BATCH * ADDR + 4 * BATCH, BATCH);
  refused = new Float64Array(memory, 2 * BATCH * SLOT + BATCH * ADDR + 8 * BATCH, 1);
  // From here on the addon reads; dgram must not race it for the datagrams.
  h.recvStop();
  let stopped = false;
  return {
    mode: 'batched',
    stop: () => {
      if (stopped) return;
      stopped = true;
      batcher.close();
    },
  };
}
