/**
 * The extra UDP answering processes (real child processes on a real socket): each answers right from the
 * table it was sent, a swap is in effect in all of them once `serve` resolves, and they stop with `close`.
 */
import { createSocket, type Socket } from 'node:dgram';
import * as dnsPacket from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '@ursa/core/base';
import { query, startFakeUpstream, type FakeUpstream } from './testing.js';
import { startUdpChildren, type UdpChildren } from './udp-children.js';

const ENTRY = new URL('./udp-child.ts', import.meta.url);
const EXEC_ARGV = ['--import', import.meta.resolve('tsx')];
const table = (names: number, octet: number) => Array.from({ length: names }, (_, i) => ({ name: `svc-${i}.mesh`, ip: `240.0.${octet}.${i}` }));

/**
 * Asks every name from `clients` sockets at once, in windows of 50 outstanding queries per socket; returns the
 * A record each query got (a query left unanswered for 2 s is asked again, as a stub resolver would).
 */
async function askAll(port: number, names: readonly string[], clients = 4): Promise<[name: string, ip: string][]> {
  const got: [string, string][] = [];
  const share = (c: number) => names.filter((_, i) => i % clients === c);
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const sock: Socket = createSocket('udp4');
      const waiting = new Map<number, { name: string; done: () => void }>();
      sock.on('message', (msg) => {
        const p = dnsPacket.decode(msg);
        const w = waiting.get(p.id!);
        const a = p.answers?.find((x) => x.type === 'A');
        if (w && a && p.questions?.[0]?.name === w.name) {
          got.push([w.name, (a as { data: string }).data]);
          waiting.delete(p.id!);
          w.done();
        }
      });
      await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
      const mine = share(c);
      for (let i = 0; i < mine.length; i += 50) {
        await Promise.all(
          mine.slice(i, i + 50).map(
            (name, j) =>
              new Promise<void>((done) => {
                const id = (i + j) & 0xffff;
                const send = () => sock.send(query(name, 'A', { id }), port, '127.0.0.1');
                const retry = setInterval(send, 2000);
                waiting.set(id, { name, done: () => (clearInterval(retry), done()) });
                send();
              }),
          ),
        );
      }
      sock.close();
    }),
  );
  return got;
}

describe('extra UDP answering processes', () => {
  let upstream: FakeUpstream | undefined;
  let children: UdpChildren | undefined;
  afterEach(async () => {
    await children?.close();
    await upstream?.close();
  });

  it('each answers every name right from its table, a swap is in every process when serve resolves, close ends them', async () => {
    upstream = await startFakeUpstream({});
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const port = sock.address().port;
    children = await startUdpChildren({ count: 2, entry: ENTRY, execArgv: EXEC_ARGV, socket: sock, records: table(200, 1), upstream: { host: '127.0.0.1', port: upstream.port, family: 4 }, log: silentLogger });
    expect(children.pids()).toHaveLength(2);
    // This process's copy of the socket closes: the processes hold their own, so every answer below is theirs.
    await new Promise<void>((r) => sock.close(r));

    const names = Array.from({ length: 10 }, () => table(200, 1).map((r) => r.name)).flat();
    const first = await askAll(port, names);
    expect(first).toHaveLength(names.length);
    expect(first.filter(([name, ip]) => ip !== `240.0.1.${name.slice(4, -5)}`)).toEqual([]);
    const stats = await children.stats();
    expect(stats).toHaveLength(2);
    // Both processes answered (the kernel hands datagrams to whichever reads), and together all of them.
    for (const s of stats) expect(s.local).toBeGreaterThan(0);
    expect(stats.reduce((n, s) => n + s.local, 0)).toBeGreaterThanOrEqual(names.length);

    // The swap: new addresses for every name; once serve resolves, no process answers an old one.
    const started = Date.now();
    await children.serve(table(200, 2));
    expect(Date.now() - started).toBeLessThan(2000);
    const after = await askAll(port, names);
    expect(after).toHaveLength(names.length);
    expect(after.filter(([name, ip]) => ip !== `240.0.2.${name.slice(4, -5)}`)).toEqual([]);

    const pids = children.pids();
    await children.close();
    children = undefined;
    const alive = pids.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    expect(alive).toEqual([]);
  });
});
