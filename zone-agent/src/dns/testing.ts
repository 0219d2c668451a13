/**
 * Test helpers for the resolver (used by its unit tests and `test/zone-dns.test.ts`; nothing in the agent
 * imports this): a tiny upstream DNS server, and one-shot UDP and TCP clients.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, type Server, type Socket } from 'node:net';
import * as dnsPacket from 'dns-packet';
import { createForwarder } from './forward.js';
import { RecordTable } from './records.js';
import { startDnsServer, type DnsServer, type DnsServerOptions } from './server.js';

export interface FakeUpstream {
  readonly port: number;
  /** Queries it received (names), in order. */
  readonly seen: string[];
  close(): Promise<void>;
}

/**
 * Answers `A` for the names in `records`; `big.test` with many TXT records (truncated over UDP, in full over
 * TCP); anything else NXDOMAIN. UDP and TCP on the same port of 127.0.0.1.
 */
export async function startFakeUpstream(records: Record<string, string> = {}): Promise<FakeUpstream> {
  const seen: string[] = [];
  const answer = (msg: Buffer, tcp: boolean): Buffer | undefined => {
    let q: dnsPacket.DecodedPacket;
    try {
      q = dnsPacket.decode(msg);
    } catch {
      return undefined;
    }
    const question = q.questions?.[0];
    if (!question) return undefined;
    seen.push(question.name);
    const base = { type: 'response' as const, id: q.id, questions: [question] };
    const name = question.name.toLowerCase();
    if (name === 'big.test') {
      if (!tcp) return dnsPacket.encode({ ...base, flags: dnsPacket.RECURSION_AVAILABLE | dnsPacket.TRUNCATED_RESPONSE, answers: [] });
      const answers = Array.from({ length: 40 }, (_, i) => ({ type: 'TXT' as const, name: question.name, ttl: 60, data: `record ${i} ${'x'.repeat(40)}` }));
      return dnsPacket.encode({ ...base, flags: dnsPacket.RECURSION_AVAILABLE, answers });
    }
    const ip = records[name];
    if (ip && question.type === 'A') return dnsPacket.encode({ ...base, flags: dnsPacket.RECURSION_AVAILABLE, answers: [{ type: 'A', name: question.name, ttl: 300, data: ip }] });
    return dnsPacket.encode({ ...base, flags: dnsPacket.RECURSION_AVAILABLE | 3 /* NXDOMAIN */, answers: [] });
  };
  const sockets = new Set<Socket>();
  const tcp = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    let buf: Buffer = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        const r = answer(Buffer.from(msg), true);
        if (r) sock.write(frame(r));
      }
    });
  });
  const udp = await bindPair(tcp);
  udp.on('message', (msg, rinfo) => {
    const r = answer(msg, false);
    if (r) udp.send(r, rinfo.port, rinfo.address);
  });
  const port = udp.address().port;
  return {
    port,
    seen,
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all([new Promise<void>((r) => udp.close(() => r())), new Promise<void>((r) => tcp.close(() => r()))]);
    },
  };
}

/** A UDP socket on a free port of 127.0.0.1 and `tcp` listening on the same port number (retried on a clash). */
async function bindPair(tcp: Server): Promise<UdpSocket> {
  for (let attempt = 0; ; attempt++) {
    // 4 MiB (Linux's default ~200 KiB holds ~270 queries): tests forward hundreds at once, which must not be lost here.
    const udp = createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', () => resolve()));
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(udp.address().port, '127.0.0.1', () => {
          tcp.off('error', reject);
          resolve();
        });
      });
      return udp;
    } catch (err) {
      udp.close();
      if (attempt >= 20) throw err;
    }
  }
}

export function frame(msg: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(msg.length);
  return Buffer.concat([len, msg]);
}

export function query(name: string, type: dnsPacket.RecordType = 'A', opts: { id?: number; edns?: boolean } = {}): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id: opts.id ?? Math.floor(Math.random() * 65536),
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
    additionals: opts.edns ? [{ type: 'OPT', name: '.', udpPayloadSize: 4096, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] : [],
  });
}

/** Sends one datagram; resolves with the raw answer, or undefined after `timeoutMs` without one. */
export function udpExchange(port: number, msg: Buffer, timeoutMs = 1000, host = '127.0.0.1'): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const sock = createSocket('udp4');
    const done = (v: Buffer | undefined) => {
      clearTimeout(timer);
      sock.removeAllListeners('message');
      try {
        sock.close();
      } catch {
        /* closed */
      }
      resolve(v);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    sock.on('error', () => done(undefined));
    sock.on('message', (m) => done(m));
    sock.send(msg, port, host);
  });
}

/** Sends messages over one TCP connection; resolves with the answers received before `timeoutMs` or close. */
export function tcpExchange(port: number, msgs: Buffer[], opts: { expect?: number; timeoutMs?: number; raw?: boolean; host?: string; until?: (answer: Buffer) => boolean } = {}): Promise<Buffer[]> {
  return new Promise((resolve) => {
    const expect = opts.expect ?? msgs.length;
    const out: Buffer[] = [];
    let buf: Buffer = Buffer.alloc(0);
    const sock = connect({ host: opts.host ?? '127.0.0.1', port });
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve(out);
    };
    const timer = setTimeout(done, opts.timeoutMs ?? 2000);
    sock.on('error', done);
    sock.on('close', done);
    sock.on('connect', () => sock.write(Buffer.concat(opts.raw ? msgs : msgs.map(frame))));
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        out.push(Buffer.from(buf.subarray(2, 2 + buf.readUInt16BE(0))));
        buf = buf.subarray(2 + out[out.length - 1]!.length);
      }
      if (out.length >= expect || (opts.until && out.some(opts.until))) done();
    });
  });
}

export interface Tricklers {
  /** Connections open now. */
  open(): number;
  /** Connections the server closed (and were opened again). */
  readonly closedByServer: number;
  stop(): void;
}

/**
 * `count` slow clients (slowloris): each connects and writes a valid framed query one byte every `everyMs`,
 * and connects again whenever the server closes it, keeping the pressure on until `stop`.
 */
export function startTricklers(port: number, count: number, opts: { everyMs: number; host?: string }): Tricklers {
  const msg = frame(query('web.mesh'));
  const live = new Set<Socket>();
  let stopped = false;
  let closedByServer = 0;
  const one = () => {
    if (stopped) return;
    const sock = connect({ host: opts.host ?? '127.0.0.1', port });
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    const drip = () => {
      if (sock.destroyed || sent >= msg.length) return;
      sock.write(msg.subarray(sent, sent + 1));
      sent++;
      timer = setTimeout(drip, opts.everyMs);
    };
    sock.on('connect', () => {
      live.add(sock);
      drip();
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(timer);
      live.delete(sock);
      if (stopped) return;
      closedByServer++;
      setTimeout(one, 10);
    });
  };
  for (let i = 0; i < count; i++) one();
  return {
    open: () => live.size,
    get closedByServer() {
      return closedByServer;
    },
    stop() {
      stopped = true;
      for (const s of live) s.destroy();
    },
  };
}

/** A seeded PRNG (mulberry32): the same seed gives the same packets. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random DNS packets: valid queries with a few bytes changed or cut short, or random bytes. */
export function fuzzPackets(seed: number, count: number, names: readonly string[] = ['web.mesh', 'backend.kuma-demo.svc.8080.mesh', 'example.test', 'nothing.mesh']): Buffer[] {
  const rand = prng(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const types: dnsPacket.RecordType[] = ['A', 'AAAA', 'MX', 'TXT', 'SRV', 'PTR'];
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    if (rand() < 0.2) {
      out.push(Buffer.from(Array.from({ length: int(600) }, () => int(256))));
      continue;
    }
    const b = Buffer.from(query(names[int(names.length)]!, types[int(types.length)], { id: int(65536), edns: rand() < 0.5 }));
    const edits = int(6);
    for (let e = 0; e < edits; e++) b[int(b.length)] = int(256);
    // Header counts are where parsers trip: set one to something else now and then.
    if (rand() < 0.2) b.writeUInt16BE(int(4), 4 + 2 * int(4));
    const cut = rand() < 0.3 ? int(b.length) : b.length;
    out.push(rand() < 0.1 ? Buffer.concat([b, Buffer.from([int(256), int(256)])]) : b.subarray(0, cut));
  }
  return out;
}

/** What is wrong with an answer the server sent, if anything: it must decode and be a response. */
function malformed(answer: Buffer): string | undefined {
  if (answer.length < 12) return `an answer of ${answer.length} bytes`;
  if ((answer.readUInt16BE(2) & 0x8000) === 0) return 'an answer without QR';
  try {
    dnsPacket.decode(answer);
    return undefined;
  } catch (err) {
    return `an undecodable answer (${err instanceof Error ? err.message : err}): ${answer.toString('hex').slice(0, 120)}`;
  }
}

/**
 * Sends `runs` seeded fuzz packets to a resolver on 127.0.0.1:`port`, over UDP (one datagram each, then a
 * known-good query as a sentinel) and over TCP (well-framed, several per connection, then a sentinel; and
 * raw unframed bytes). Returns what went wrong (empty: nothing): an answer that does not decode, a sentinel
 * left unanswered (the server stopped serving), a connection held open by an unfinished frame for longer
 * than the server's message deadline (`tcpMessageMs`, when given) plus a second.
 */
export async function fuzzDnsServer(port: number, opts: { runs: number; seed: number; host?: string; deadlineMs?: number; tcpMessageMs?: number }): Promise<string[]> {
  const host = opts.host ?? '127.0.0.1';
  const failures: string[] = [];
  const packets = fuzzPackets(opts.seed, opts.runs);
  const sentinel = (id: number) => query('web.mesh', 'A', { id });
  const isSentinelAnswer = (b: Buffer, id: number) => b.length >= 12 && b.readUInt16BE(0) === id && (b.readUInt16BE(2) & 0x8000) !== 0 && b.readUInt16BE(6) === 1;

  // UDP: one socket, every datagram it gets must be well-formed; sentinels are waited for in batches.
  const udp = createSocket('udp4');
  const got: Buffer[] = [];
  const answered = new Set<number>();
  udp.on('message', (m) => {
    got.push(m);
    if (m.length >= 12) answered.add(m.readUInt16BE(0));
  });
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
  const BATCH = 50;
  for (let i = 0; i < packets.length; i += BATCH) {
    const ids: number[] = [];
    for (let j = i; j < Math.min(packets.length, i + BATCH); j++) {
      udp.send(packets[j]!, port, host);
      // Sentinel ids above 60000 (fuzz ids may collide; that only makes a sentinel look answered early).
      const id = 60000 + (j % 5000);
      ids.push(id);
      answered.delete(id);
      udp.send(sentinel(id), port, host);
    }
    const deadline = Date.now() + (opts.deadlineMs ?? 2000);
    while (ids.some((id) => !answered.has(id)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const missing = ids.filter((id) => !answered.has(id));
    if (missing.length > 0) failures.push(`udp: ${missing.length} of ${ids.length} sentinel queries unanswered after packets ${i}..${i + BATCH - 1} (seed ${opts.seed})`);
  }
  await new Promise((r) => setTimeout(r, 200));
  udp.close();
  for (const m of got) {
    const p = malformed(m);
    if (p) failures.push(`udp: ${p}`);
  }

  // TCP: well-framed fuzz, 8 packets per connection, then a sentinel that must be answered.
  for (let i = 0; i < packets.length; i += 8) {
    const batch = packets.slice(i, i + 8).map((p) => p.subarray(0, 65535));
    const answers = await tcpExchange(port, [...batch, sentinel(65000)], { expect: batch.length + 1, timeoutMs: opts.deadlineMs ?? 2000, host, until: (a) => isSentinelAnswer(a, 65000) });
    for (const a of answers) {
      const p = malformed(a);
      if (p) failures.push(`tcp: ${p}`);
    }
    if (!answers.some((a) => isSentinelAnswer(a, 65000))) failures.push(`tcp: the sentinel after packets ${i}..${i + 7} was not answered (seed ${opts.seed})`);
  }
  // TCP, unframed: raw bytes read as frames. Whole frames are answered well-formed; a frame left unfinished
  // must not hold the connection: the server closes it within its message deadline (`tcpMessageMs`).
  const raw = packets.slice(0, 60);
  await Promise.all(
    raw.map(async (bytes, i) => {
      let o = 0;
      while (o + 2 <= bytes.length && o + 2 + bytes.readUInt16BE(o) <= bytes.length) o += 2 + bytes.readUInt16BE(o);
      const unfinished = o < bytes.length;
      const t0 = Date.now();
      const { answers, closedAfter } = await rawExchange(port, host, bytes, (opts.tcpMessageMs ?? 3000) + 1000);
      for (const a of answers) {
        const p = malformed(a);
        if (p) failures.push(`tcp raw: ${p}`);
      }
      if (unfinished && opts.tcpMessageMs !== undefined && closedAfter === undefined) {
        failures.push(`tcp raw ${i}: an unfinished frame held the connection open for ${Date.now() - t0} ms (message deadline ${opts.tcpMessageMs} ms)`);
      }
    }),
  );
  return failures;
}

/** Writes raw bytes on a fresh connection; the frames that come back, and when the server closed it (if within `ms`). */
function rawExchange(port: number, host: string, bytes: Buffer, ms: number): Promise<{ answers: Buffer[]; closedAfter: number | undefined }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const answers: Buffer[] = [];
    let buf: Buffer = Buffer.alloc(0);
    const sock = connect({ host, port });
    const done = (closedAfter: number | undefined) => {
      clearTimeout(timer);
      sock.removeAllListeners('close');
      sock.destroy();
      resolve({ answers, closedAfter });
    };
    const timer = setTimeout(() => done(undefined), ms);
    sock.on('error', () => {});
    sock.on('close', () => done(Date.now() - t0));
    sock.on('connect', () => sock.write(bytes));
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        answers.push(Buffer.from(buf.subarray(2, 2 + buf.readUInt16BE(0))));
        buf = buf.subarray(2 + answers[answers.length - 1]!.length);
      }
    });
  });
}

/**
 * A resolver on a free port of 127.0.0.1 with two `.mesh` names (`web.mesh` 240.0.0.2, and
 * `backend_kuma-demo_svc_8080.mesh` 240.0.0.1 with its dotted alias) and a fake upstream for the rest.
 */
export async function startTestResolver(opts: Partial<Pick<DnsServerOptions, 'maxTcpConnections' | 'tcpIdleMs' | 'tcpMessageMs'>> = {}): Promise<{ server: DnsServer; close(): Promise<void> }> {
  const upstream = await startFakeUpstream({ 'example.test': '192.0.2.7' });
  const table = RecordTable.build(new Map([['default', new Map([['backend_kuma-demo_svc_8080', '240.0.0.1'], ['web', '240.0.0.2']])]]));
  const server = await startDnsServer({ host: '127.0.0.1', port: 0, lookup: (n) => table.lookup(n)?.ip, forwarder: createForwarder({ host: '127.0.0.1', port: upstream.port, family: 4 }, { timeoutMs: 300 }), ...opts });
  return {
    server,
    async close() {
      await server.close();
      await upstream.close();
    },
  };
}
