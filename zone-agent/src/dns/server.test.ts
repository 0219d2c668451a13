import { createSocket, type Socket } from 'node:dgram';
import * as dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@ursa/test-support/process.js';
import { createForwarder } from './forward.js';
import { RecordTable } from './records.js';
import { createHandler, startDnsServer, type DnsServer, type DnsStats } from './server.js';
import { connect, type Socket as TcpSocket } from 'node:net';
import { frame, fuzzDnsServer, query, startFakeUpstream, startTestResolver, startTricklers, tcpExchange, udpExchange, type FakeUpstream } from './testing.js';

const table = RecordTable.build(new Map([['default', new Map([['backend_kuma-demo_svc_8080', '240.0.0.1'], ['web', '240.0.0.2']])]]));
const lookup = (n: string) => table.lookup(n)?.ip;
/** The decoded answer; `rcode` is there at run time, the type just lacks it. */
const decode = (b: Buffer | undefined) => dnsPacket.decode(b!) as dnsPacket.DecodedPacket & { rcode: string };
const rcodeOf = (b: Buffer) => b.readUInt16BE(2) & 0xf;

describe('DNS server (real sockets)', () => {
  let upstream: FakeUpstream;
  let server: DnsServer;
  let port: number;

  beforeAll(async () => {
    upstream = await startFakeUpstream({ 'example.test': '192.0.2.7' });
    server = await startDnsServer({
      host: '127.0.0.1',
      port: 0,
      lookup,
      forwarder: createForwarder({ host: '127.0.0.1', port: upstream.port, family: 4 }, { timeoutMs: 500 }),
    });
    port = server.port;
  });
  afterAll(async () => {
    await server?.close();
    await upstream?.close();
  });

  it('answers A for a known name: authoritative, TTL 30, the question as asked', async () => {
    for (const name of ['web.mesh', 'WeB.MeSh', 'backend_kuma-demo_svc_8080.mesh', 'backend.kuma-demo.svc.8080.mesh']) {
      const r = decode(await udpExchange(port, query(name, 'A', { id: 4242 })));
      expect(r.id).toBe(4242);
      expect(r.rcode).toBe('NOERROR');
      expect(r.flag_aa).toBe(true);
      expect(r.flag_qr).toBe(true);
      expect(r.questions).toEqual([{ name, type: 'A', class: 'IN' }]);
      expect(r.answers).toEqual([{ name, type: 'A', class: 'IN', ttl: 30, flush: false, data: name.toLowerCase() === 'web.mesh' ? '240.0.0.2' : '240.0.0.1' }]);
    }
  });

  it('answers AAAA with the IPv4-mapped address, and echoes EDNS', async () => {
    const r = decode(await udpExchange(port, query('web.mesh', 'AAAA', { edns: true })));
    expect(r.rcode).toBe('NOERROR');
    expect(r.answers).toMatchObject([{ type: 'AAAA', ttl: 30, data: '::ffff:f000:2' }]);
    expect(r.additionals).toMatchObject([{ type: 'OPT', udpPayloadSize: 1232 }]);
  });

  it('serves TCP, several queries on one connection', async () => {
    const answers = await tcpExchange(port, [query('web.mesh', 'A', { id: 1 }), query('backend.kuma-demo.svc.8080.mesh', 'A', { id: 2 }), query('example.test', 'A', { id: 3 })]);
    const byId = new Map(answers.map((a) => [decode(a).id, decode(a)]));
    expect(byId.get(1)!.answers![0]).toMatchObject({ data: '240.0.0.2' });
    expect(byId.get(2)!.answers![0]).toMatchObject({ data: '240.0.0.1' });
    expect(byId.get(3)!.answers![0]).toMatchObject({ data: '192.0.2.7' });
  });

  it('forwards other names and types to the upstream, keeping the client id', async () => {
    let r = decode(await udpExchange(port, query('example.test', 'A', { id: 777 })));
    expect(r).toMatchObject({ id: 777, rcode: 'NOERROR', flag_aa: false });
    expect(r.answers![0]).toMatchObject({ data: '192.0.2.7', ttl: 300 });
    r = decode(await udpExchange(port, query('unknown.mesh')));
    expect(r.rcode).toBe('NXDOMAIN');
    r = decode(await udpExchange(port, query('web.mesh', 'MX')));
    expect(r.rcode).toBe('NXDOMAIN');
    expect(upstream.seen).toEqual(expect.arrayContaining(['example.test', 'unknown.mesh', 'web.mesh']));
  });

  it('retries a truncated upstream answer over TCP', async () => {
    // Fits a 4096-byte EDNS client: the full answer comes back over UDP.
    let r = decode(await udpExchange(port, query('big.test', 'TXT', { edns: true })));
    expect(r.answers).toHaveLength(40);
    // A plain 512-byte client gets the truncated answer and must use TCP itself.
    r = decode(await udpExchange(port, query('big.test', 'TXT')));
    expect(r.flag_tc).toBe(true);
    const [viaTcp] = await tcpExchange(port, [query('big.test', 'TXT')]);
    expect(decode(viaTcp).answers).toHaveLength(40);
  });

  it('drops short packets and answers, FORMERR for an undecodable query or none, NOTIMP for other opcodes', async () => {
    expect(await udpExchange(port, Buffer.from([1, 2, 3]), 300)).toBeUndefined();
    const answer = Buffer.from(query('web.mesh'));
    answer[2]! |= 0x80;
    expect(await udpExchange(port, answer, 300)).toBeUndefined();
    const noQuestion = Buffer.alloc(12);
    noQuestion.writeUInt16BE(99, 0);
    const fe = (await udpExchange(port, noQuestion))!;
    expect(fe.readUInt16BE(0)).toBe(99);
    expect(rcodeOf(fe)).toBe(1);
    const cut = query('web.mesh').subarray(0, 20);
    expect(rcodeOf((await udpExchange(port, cut))!)).toBe(1);
    const notify = Buffer.from(query('web.mesh'));
    notify[2] = (notify[2]! & 0x87) | (4 << 3);
    expect(rcodeOf((await udpExchange(port, notify))!)).toBe(4);
    // Over TCP too, and the connection keeps working after garbage.
    const out = await tcpExchange(port, [Buffer.from([0, 3, 1, 2, 3]), Buffer.from([0, 0])], { raw: true, expect: 1, timeoutMs: 300 });
    expect(out).toEqual([]);
    const [ok] = await tcpExchange(port, [noQuestion, query('web.mesh', 'A', { id: 5 })], { expect: 2 }).then((a) => a.filter((b) => decode(b).id === 5));
    expect(decode(ok).answers![0]).toMatchObject({ data: '240.0.0.2' });
    expect(server.stats.errors).toBe(0);
  });
});

describe('DNS server with a failing upstream', () => {
  let silent: Socket;
  beforeAll(async () => {
    silent = createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
  });
  afterAll(() => new Promise<void>((r) => silent.close(() => r())));

  it('SERVFAIL when the upstream is silent (after the timeout) or refuses (at once)', async () => {
    for (const [upstreamPort, maxMs] of [
      [silent.address().port, 1500],
      [await freePort(), 400],
    ] as const) {
      const server = await startDnsServer({ host: '127.0.0.1', port: 0, lookup, forwarder: createForwarder({ host: '127.0.0.1', port: upstreamPort, family: 4 }, { timeoutMs: 300 }) });
      try {
        const t0 = Date.now();
        const r = decode(await udpExchange(server.port, query('example.test', 'A', { id: 31, edns: true }), 2000));
        expect(Date.now() - t0).toBeLessThan(maxMs);
        expect(r).toMatchObject({ id: 31, rcode: 'SERVFAIL', questions: [{ name: 'example.test', type: 'A' }] });
        // Local names do not need the upstream.
        expect(decode(await udpExchange(server.port, query('web.mesh'))).answers![0]).toMatchObject({ data: '240.0.0.2' });
      } finally {
        await server.close();
      }
    }
  });
});

describe('DNS handler under random input', () => {
  it('never throws; answers are well-formed or nothing', async () => {
    const stats: DnsStats = { queries: 0, local: 0, forwarded: 0, servfail: 0, formerr: 0, notimp: 0, dropped: 0, errors: 0 };
    const handle = createHandler({ lookup, forwarder: { upstream: { host: '127.0.0.1', port: 1, family: 4 }, inFlight: 0, forward: async () => Promise.reject(new Error('offline')) } }, stats);
    const seeds = [query('web.mesh'), query('backend.kuma-demo.svc.8080.mesh', 'AAAA', { edns: true }), query('example.test', 'MX')];
    const mutated = fc.tuple(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat({ max: 80 })).map(([seed, edits, cut]) => {
      const b = Buffer.from(seed);
      for (const [i, v] of edits) b[i % b.length] = v;
      return cut > 60 ? b : b.subarray(0, Math.max(0, b.length - cut));
    });
    const random = fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a));
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutated, random), fc.boolean(), async (msg, tcp) => {
        const r = await handle(msg, tcp);
        if (r === undefined) return;
        expect(r.length).toBeGreaterThanOrEqual(12);
        expect(r.readUInt16BE(0)).toBe(msg.readUInt16BE(0));
        expect(() => dnsPacket.decode(r)).not.toThrow();
      }),
      { numRuns: 20_000 },
    );
    expect(stats.errors).toBe(0);
    expect(stats.local).toBeGreaterThan(0);
  });
});

describe('DNS over TCP with slow clients (real sockets)', () => {
  let upstream: FakeUpstream;
  beforeAll(async () => {
    upstream = await startFakeUpstream({ 'example.test': '192.0.2.7' });
  });
  afterAll(async () => upstream?.close());
  const forwarder = () => createForwarder({ host: '127.0.0.1', port: upstream.port, family: 4 }, { timeoutMs: 500 });

  /** Resolves when the server closes `sock` (with the time it took), or undefined after `ms`. */
  const closedWithin = (sock: TcpSocket, ms: number) =>
    new Promise<number | undefined>((resolve) => {
      const t0 = Date.now();
      const timer = setTimeout(() => resolve(undefined), ms);
      sock.on('close', () => {
        clearTimeout(timer);
        resolve(Date.now() - t0);
      });
    });
  const open = (port: number) =>
    new Promise<TcpSocket>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => resolve(s));
      s.on('error', reject);
    });

  it('600 connections trickling a byte every 5 s (and reconnecting) do not keep a new TCP query from an answer within 1 s', async () => {
    // Default limits: 512 TCP connections.
    const server = await startDnsServer({ host: '127.0.0.1', port: 0, lookup, forwarder: forwarder() });
    const tricklers = startTricklers(server.port, 600, { everyMs: 5000 });
    try {
      const deadline = Date.now() + 10_000;
      while (tricklers.open() + tricklers.closedByServer < 600 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(tricklers.open()).toBeGreaterThanOrEqual(500);
      for (let i = 0; i < 5; i++) {
        const t0 = Date.now();
        const [answer] = await tcpExchange(server.port, [query('web.mesh', 'A', { id: 100 + i })], { timeoutMs: 1000 });
        expect(answer, `TCP query ${i} got no answer within 1 s`).toBeDefined();
        expect(decode(answer).answers![0]).toMatchObject({ data: '240.0.0.2' });
        expect(Date.now() - t0).toBeLessThan(1000);
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(decode(await udpExchange(server.port, query('web.mesh'))).answers![0]).toMatchObject({ data: '240.0.0.2' });
    } finally {
      tricklers.stop();
      await server.close();
    }
  });

  it('a message must arrive whole within the message deadline: trickling does not extend it; idle connections close; busy ones stay', async () => {
    const server = await startDnsServer({ host: '127.0.0.1', port: 0, lookup, forwarder: forwarder(), tcpMessageMs: 600, tcpIdleMs: 1000 });
    try {
      // A trickler: one byte every 200 ms, each byte well within any idle timer, the message never done in time.
      const slow = await open(server.port);
      const bytes = frame(query('web.mesh'));
      let sent = 0;
      const drip = setInterval(() => sent < bytes.length && !slow.destroyed && slow.write(bytes.subarray(sent, ++sent)), 200);
      // One that says nothing at all, and one that asks a whole query every 300 ms.
      const silent = await open(server.port);
      const busy = await open(server.port);
      let busyAnswers = 0;
      busy.on('data', () => busyAnswers++);
      const ask = setInterval(() => busy.write(frame(query('web.mesh'))), 300);
      try {
        const [slowClosed, silentClosed, busyClosed] = await Promise.all([closedWithin(slow, 3000), closedWithin(silent, 3000), closedWithin(busy, 2500)]);
        expect(sent).toBeLessThan(bytes.length);
        expect(slowClosed, 'the trickler was not closed').toBeDefined();
        expect(slowClosed!).toBeLessThan(600 + 500);
        expect(silentClosed, 'the silent connection was not closed').toBeDefined();
        expect(silentClosed!).toBeGreaterThanOrEqual(900);
        expect(silentClosed!).toBeLessThan(1000 + 500);
        expect(busyClosed).toBeUndefined();
        expect(busyAnswers).toBeGreaterThanOrEqual(6);
      } finally {
        clearInterval(drip);
        clearInterval(ask);
        for (const s of [slow, silent, busy]) s.destroy();
      }
    } finally {
      await server.close();
    }
  });

  it('when every slot is taken, a newcomer evicts the oldest connection without a query in flight, instead of being refused', async () => {
    const server = await startDnsServer({ host: '127.0.0.1', port: 0, lookup, forwarder: forwarder(), maxTcpConnections: 4 });
    try {
      const held: TcpSocket[] = [];
      for (let i = 0; i < 4; i++) {
        held.push(await open(server.port));
        await new Promise((r) => setTimeout(r, 20));
      }
      // The oldest one is in the middle of a message (the slowest); it is the one to go.
      held[0]!.write(Buffer.from([0]));
      const firstClosed = closedWithin(held[0]!, 2000);
      const [answer] = await tcpExchange(server.port, [query('web.mesh', 'A', { id: 9 })], { timeoutMs: 1000 });
      expect(decode(answer).answers![0]).toMatchObject({ data: '240.0.0.2' });
      expect(await firstClosed).toBeDefined();
      for (const s of held.slice(1)) expect(s.destroyed).toBe(false);
      for (const s of held) s.destroy();
    } finally {
      await server.close();
    }
  });
});

describe('DNS server under random packets over real sockets', () => {
  it('never stops serving; every answer over UDP and TCP is well-formed; unfinished frames do not hold connections (seeded)', async () => {
    const limits = { tcpMessageMs: 300, tcpIdleMs: 5000 };
    const { server, close } = await startTestResolver(limits);
    try {
      const failures = await fuzzDnsServer(server.port, { runs: Number(process.env.URSA_FUZZ_RUNS ?? 800), seed: 0x5eed_0008, tcpMessageMs: limits.tcpMessageMs });
      expect(failures).toEqual([]);
      expect(server.stats.errors).toBe(0);
      expect(server.stats.local).toBeGreaterThan(800);
    } finally {
      await close();
    }
  });
});
