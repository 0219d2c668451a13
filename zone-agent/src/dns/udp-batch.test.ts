/**
 * The batched UDP path (`udp-batch.ts`, the native addon): real UDP clients on 127.0.0.1 with many queries in
 * flight, answers matched by ID; malformed datagrams inside a batch; forwarded answers (sent later, through
 * dgram) to IPv4 and IPv6 senders; the port freed on close, or when its thread is terminated; and the dgram
 * path when batching is off.
 */
import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import * as dnsPacket from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createForwarder } from './forward.js';
import { RecordTable } from './records.js';
import { startDnsServer, type DnsServer } from './server.js';
import { query, startFakeUpstream, udpExchange, type FakeUpstream } from './testing.js';
import { loadUdpBatch } from './udp-batch.js';

const table = RecordTable.build(new Map([['default', new Map([['backend_kuma-demo_svc_8080', '240.0.0.1'], ['web', '240.0.0.2']])]]));
const lookup = (n: string) => table.lookup(n)?.ip;
const decode = (b: Buffer) => dnsPacket.decode(b) as dnsPacket.DecodedPacket & { rcode: string };

/** What each question must be answered with. */
const CASES: { name: string; type: 'A' | 'AAAA'; edns?: boolean; rcode: string; data?: string }[] = [
  { name: 'web.mesh', type: 'A', rcode: 'NOERROR', data: '240.0.0.2' },
  { name: 'WeB.MeSh', type: 'A', rcode: 'NOERROR', data: '240.0.0.2' },
  { name: 'backend.kuma-demo.svc.8080.mesh', type: 'A', rcode: 'NOERROR', data: '240.0.0.1' },
  { name: 'web.mesh', type: 'AAAA', edns: true, rcode: 'NOERROR', data: '::ffff:f000:2' },
  // Forwarded: answered later, through dgram, from a copy of the query (its slot is reused by the next batch).
  { name: 'example.test', type: 'A', rcode: 'NOERROR', data: '192.0.2.7' },
  { name: 'nothing.test', type: 'A', rcode: 'NXDOMAIN' },
];

/** Sends `total` queries from one socket with at most `window` unanswered; resolves with every answer by ID. */
function client(port: number, total: number, window: number, deadlineMs: number): Promise<{ answers: Map<number, Buffer>; asked: Map<number, number> }> {
  return new Promise((resolve, reject) => {
    const sock: Socket = createSocket('udp4');
    const answers = new Map<number, Buffer>();
    const asked = new Map<number, number>();
    let next = 0;
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error(`${answers.size} of ${total} answers within ${deadlineMs} ms`));
    }, deadlineMs);
    const send = () => {
      while (next < total && next - answers.size < window) {
        const id = next + 1;
        const c = next % CASES.length;
        asked.set(id, c);
        sock.send(query(CASES[c]!.name, CASES[c]!.type, { id, edns: CASES[c]!.edns }), port, '127.0.0.1');
        next++;
      }
    };
    sock.on('message', (msg) => {
      answers.set(msg.readUInt16BE(0), msg);
      if (answers.size === total) {
        clearTimeout(timer);
        sock.close();
        resolve({ answers, asked });
      } else send();
    });
    sock.bind(0, '127.0.0.1', send);
  });
}

describe.runIf(process.platform === 'linux')('batched UDP (recvmmsg/sendmmsg)', () => {
  let upstream: FakeUpstream;
  let server: DnsServer;

  beforeAll(async () => {
    upstream = await startFakeUpstream({ 'example.test': '192.0.2.7' });
    server = await startDnsServer({ host: '127.0.0.1', port: 0, lookup, forwarder: createForwarder({ host: '127.0.0.1', port: upstream.port, family: 4 }, { timeoutMs: 2000 }) });
  });
  afterAll(async () => {
    await server?.close();
    await upstream?.close();
  });

  it('is what answers, the addon being built (npm ci, zone-agent/build.ts)', () => {
    expect(loadUdpBatch().why).toBeUndefined();
    expect(server.udpMode).toEqual({ mode: 'batched', why: undefined });
  });

  it('answers 8 clients with 32 queries each in flight, every answer right for its ID', async () => {
    const runs = await Promise.all(Array.from({ length: 8 }, () => client(server.port, 1200, 32, 60_000)));
    for (const { answers, asked } of runs) {
      expect(answers.size).toBe(1200);
      for (const [id, msg] of answers) {
        const c = CASES[asked.get(id)!]!;
        const r = decode(msg);
        expect(r.id).toBe(id);
        expect(r.rcode).toBe(c.rcode);
        expect(r.questions).toEqual([{ name: c.name, type: c.type, class: 'IN' }]);
        if (c.data) expect(r.answers?.[0]).toMatchObject({ type: c.type, data: c.data });
        expect(r.additionals?.some((a) => a.type === 'OPT') ?? false).toBe(c.edns === true);
      }
    }
  }, 90_000);

  it('malformed datagrams in the same batch as good ones: dropped or answered as before, the rest answered', async () => {
    const before = { ...server.stats };
    const sock = createSocket('udp4');
    const got = new Map<number, Buffer>();
    sock.on('message', (msg) => got.set(msg.readUInt16BE(0), msg));
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const response = query('web.mesh', 'A', { id: 11 });
    response[2]! |= 0x80; // QR: an answer, not a query
    const notimp = query('web.mesh', 'A', { id: 12 });
    notimp[2]! |= 2 << 3; // opcode 2 (STATUS)
    const garbage = Buffer.from([0, 13, 1, 0, 0, 200, 0, 0, 0, 0, 0, 0, 1, 2, 3]); // 200 questions in 3 bytes
    const burst = [query('web.mesh', 'A', { id: 10 }), Buffer.from([1, 2, 3, 4, 5]), response, notimp, garbage, Buffer.alloc(0), query('backend_kuma-demo_svc_8080.mesh', 'A', { id: 14 })];
    try {
      // Sent back to back, so the resolver reads them together.
      for (const b of burst) sock.send(b, server.port, '127.0.0.1');
      const deadline = Date.now() + 10_000;
      while (got.size < 4 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
      expect([...got.keys()].sort((a, b) => a - b)).toEqual([10, 12, 13, 14]);
      expect(decode(got.get(10)!).answers?.[0]).toMatchObject({ data: '240.0.0.2' });
      expect(got.get(12)!.readUInt16BE(2) & 0xf).toBe(4); // NOTIMP
      expect(got.get(13)!.readUInt16BE(2) & 0xf).toBe(1); // FORMERR
      expect(decode(got.get(14)!).answers?.[0]).toMatchObject({ data: '240.0.0.1' });
      // The three without an answer (too short, a response, empty) were counted as dropped; still answering after.
      expect(server.stats.dropped - before.dropped).toBe(3);
      expect(decode((await udpExchange(server.port, query('web.mesh', 'A', { id: 15 }), 5000))!).id).toBe(15);
      expect(got.has(11)).toBe(false);
    } finally {
      sock.close();
    }
  });

  it('an IPv6 resolver sends forwarded answers back to the IPv6 sender', async () => {
    const v6 = await startDnsServer({ host: '::1', port: 0, lookup, forwarder: createForwarder({ host: '127.0.0.1', port: upstream.port, family: 4 }, { timeoutMs: 2000 }) });
    try {
      expect(v6.udpMode.mode).toBe('batched');
      const sock = createSocket('udp6');
      const got = new Map<number, Buffer>();
      sock.on('message', (msg) => got.set(msg.readUInt16BE(0), msg));
      try {
        sock.send(query('web.mesh', 'A', { id: 21 }), v6.port, '::1');
        sock.send(query('example.test', 'A', { id: 22 }), v6.port, '::1');
        const deadline = Date.now() + 10_000;
        while (got.size < 2 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
        expect(decode(got.get(21)!).answers?.[0]).toMatchObject({ data: '240.0.0.2' });
        expect(decode(got.get(22)!).answers?.[0]).toMatchObject({ data: '192.0.2.7' });
      } finally {
        sock.close();
      }
    } finally {
      await v6.close();
    }
  });

  it('close frees the port: a new resolver binds it and answers', async () => {
    const first = await startDnsServer({ host: '127.0.0.1', port: 0, lookup, forwarder: createForwarder({ host: '127.0.0.1', port: upstream.port, family: 4 }) });
    const port = first.port;
    await first.close();
    const second = await startDnsServer({ host: '127.0.0.1', port, lookup, forwarder: createForwarder({ host: '127.0.0.1', port: upstream.port, family: 4 }) });
    try {
      expect(decode((await udpExchange(port, query('web.mesh', 'A', { id: 31 }), 5000))!).id).toBe(31);
    } finally {
      await second.close();
    }
  });

  it('closed from inside a batch (while answering it): no crash, no answer after, the port binds again', async () => {
    let closing: Promise<void> | undefined;
    let server: DnsServer | undefined;
    // The forwarder is called while the batch is answered, in the addon's call into JS.
    const forwarder = { upstream: { host: '127.0.0.1', port: 9, family: 4 as const }, inFlight: 0, forward: () => ((closing ??= server!.close()), Promise.reject(new Error('closing'))) };
    server = await startDnsServer({ host: '127.0.0.1', port: 0, lookup, forwarder });
    const port = server.port;
    const sock = createSocket('udp4');
    const got: number[] = [];
    sock.on('message', (msg) => got.push(msg.readUInt16BE(0)));
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    try {
      sock.send(query('web.mesh', 'A', { id: 61 }), port, '127.0.0.1');
      sock.send(query('example.test', 'A', { id: 62 }), port, '127.0.0.1');
      sock.send(query('web.mesh', 'A', { id: 63 }), port, '127.0.0.1');
      const deadline = Date.now() + 10_000;
      while (!closing && Date.now() < deadline) await new Promise((r) => setImmediate(r));
      await closing;
      const again = createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        again.once('error', reject);
        again.bind(port, '127.0.0.1', () => resolve());
      });
      again.close();
      expect(got).not.toContain(63);
    } finally {
      sock.close();
    }
  });

  it('a resolver thread terminated without close: its process lives on and the port binds again', async () => {
    // In a process of its own: here the addon is loaded by this thread too, which keeps it from being unloaded
    // with the terminated thread (what crashed a close callback before the fix).
    const server = JSON.stringify(new URL('./server.ts', import.meta.url).href);
    const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
    const thread = `const { parentPort } = await import('node:worker_threads');
      await (await import(${tsx})).register();
      const { startDnsServer } = await import(${server});
      const s = await startDnsServer({ host: '127.0.0.1', port: 0, lookup: () => '240.0.0.9', forwarder: { forward: async () => { throw new Error('none'); } } });
      parentPort.postMessage({ port: s.port, mode: s.udpMode.mode });`;
    const main = `import { Worker } from 'node:worker_threads';
      import { createSocket } from 'node:dgram';
      const worker = new Worker(${JSON.stringify(thread)}, { eval: true });
      const started = await new Promise((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject); });
      await worker.terminate();
      const sock = createSocket('udp4');
      await new Promise((resolve, reject) => { sock.once('error', reject); sock.bind(started.port, '127.0.0.1', resolve); });
      sock.close();
      console.log(JSON.stringify(started));`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', main], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])));
    expect({ code, signal, out: out.trim() }).toMatchObject({ code: 0, signal: null, out: expect.stringContaining('"mode":"batched"') });
  });

  it('udpBatch false (--dns-udp-batch false): node:dgram answers, as before', async () => {
    const plain = await startDnsServer({ host: '127.0.0.1', port: 0, lookup, forwarder: createForwarder({ host: '127.0.0.1', port: upstream.port, family: 4 }), udpBatch: false });
    try {
      expect(plain.udpMode).toEqual({ mode: 'dgram', why: 'turned off (--dns-udp-batch false)' });
      expect(decode((await udpExchange(plain.port, query('web.mesh', 'A', { id: 41 }), 5000))!).answers?.[0]).toMatchObject({ data: '240.0.0.2' });
    } finally {
      await plain.close();
    }
  });
});
