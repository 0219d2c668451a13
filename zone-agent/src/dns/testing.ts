/**
 * Test helpers for the resolver (used by its unit tests and `test/zone-dns.test.ts`; nothing in the agent
 * imports this): a tiny upstream DNS server, and one-shot UDP and TCP clients.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, createServer, type Server, type Socket } from 'node:net';
import * as dnsPacket from 'dns-packet';

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
    const udp = createSocket('udp4');
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
export function tcpExchange(port: number, msgs: Buffer[], opts: { expect?: number; timeoutMs?: number; raw?: boolean; host?: string } = {}): Promise<Buffer[]> {
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
      if (out.length >= expect) done();
    });
  });
}
