/**
 * The encoded-answer cache (`answer-cache.ts`) over real sockets: a cached answer is each query's own (ID,
 * RD, the question's letter case), and a changed table is answered at once, by the server and through the
 * resolver's thread.
 */
import * as dnsPacket from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '@ursa/core/base';
import { createForwarder } from './forward.js';
import { createResolver } from './resolver.js';
import { startDnsServer, type DnsServer } from './server.js';
import { query, startFakeUpstream, udpExchange, type FakeUpstream } from './testing.js';

const decode = (b: Buffer | undefined) => dnsPacket.decode(b!) as dnsPacket.DecodedPacket & { rcode: string };
const ipOf = (b: Buffer | undefined) => (decode(b).answers?.[0] as { data?: string } | undefined)?.data;

describe('encoded answers (real sockets)', () => {
  let upstream: FakeUpstream;
  let server: DnsServer;
  const vips = new Map([['web.mesh', '240.0.0.2']]);

  beforeAll(async () => {
    upstream = await startFakeUpstream({ 'example.test': '192.0.2.7' });
    server = await startDnsServer({ host: '127.0.0.1', port: 0, lookup: (n) => vips.get(n), forwarder: createForwarder({ host: '127.0.0.1', port: upstream.port, family: 4 }, { timeoutMs: 500 }) });
  });
  afterAll(async () => {
    await server?.close();
    await upstream?.close();
  });

  it("answers a repeated question with each query's own ID, RD flag and letter case", async () => {
    for (let i = 0; i < 3; i++) {
      for (const name of ['web.mesh', 'WEB.mesh', 'wEb.MeSh']) {
        for (const edns of [false, true]) {
          const q = query(name, 'A', { id: 1000 + i, edns });
          if (i === 2) q[2]! &= 0xfe; // RD off
          const r = decode(await udpExchange(server.port, q));
          expect(r.id).toBe(1000 + i);
          expect(r.flag_rd).toBe(i !== 2);
          expect(r.flag_aa).toBe(true);
          expect(r.questions).toEqual([{ name, type: 'A', class: 'IN' }]);
          expect(r.answers).toEqual([{ name, type: 'A', class: 'IN', ttl: 30, flush: false, data: '240.0.0.2' }]);
          expect(r.additionals?.length ?? 0).toBe(edns ? 1 : 0);
        }
      }
    }
  });

  it('answers a changed VIP at once, and forwards a removed name', async () => {
    expect(ipOf(await udpExchange(server.port, query('web.mesh', 'A', { id: 7 })))).toBe('240.0.0.2');
    vips.set('web.mesh', '240.0.0.9');
    server.answersChanged();
    expect(ipOf(await udpExchange(server.port, query('web.mesh', 'A', { id: 8 })))).toBe('240.0.0.9');
    const aaaa = decode(await udpExchange(server.port, query('web.mesh', 'AAAA', { id: 9 })));
    expect(aaaa.answers).toMatchObject([{ type: 'AAAA', data: '::ffff:f000:9' }]);
    vips.delete('web.mesh');
    server.answersChanged();
    const gone = decode(await udpExchange(server.port, query('web.mesh', 'A', { id: 10 })));
    expect(gone.answers ?? []).toEqual([]);
    expect(gone.flag_aa).toBe(false);
  });
});

describe('the resolver thread', () => {
  it('answers a new table from the moment serve() resolves', async () => {
    const upstream = await startFakeUpstream({});
    const resolver = await createResolver({ dnsHost: '127.0.0.1', dnsPort: 0, dnsUpstream: `127.0.0.1:${upstream.port}`, vipCidr: '240.0.0.0/4' }, silentLogger);
    try {
      await resolver.serve([{ name: 'web.mesh', ip: '240.0.0.2' }], 'live');
      const port = resolver.port!;
      for (let i = 0; i < 3; i++) expect(ipOf(await udpExchange(port, query('web.mesh')))).toBe('240.0.0.2');
      for (const ip of ['240.0.0.3', '240.0.0.4', '240.0.0.2']) {
        await resolver.serve([{ name: 'web.mesh', ip }], 'live');
        expect(ipOf(await udpExchange(port, query('web.mesh')))).toBe(ip);
        expect(ipOf(await udpExchange(port, query('web.mesh')))).toBe(ip);
      }
    } finally {
      await resolver.close();
      await upstream.close();
    }
  }, 30_000);
});
