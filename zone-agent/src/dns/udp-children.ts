/**
 * The resolver's extra answering processes (`udp-child.ts`), started by the resolver's thread: each gets the
 * bound UDP socket over IPC (child_process handle passing; Node 20's dgram has no reusePort) and the record
 * table, and the kernel spreads the datagrams over every process reading the socket. One Node thread spends
 * ~85% of its busy time in `sendmsg` (CPU profile under dnsperf, README), so more readers is what raises the
 * rate; TCP stays on the resolver's thread.
 *
 * The resolver's thread stays the source of truth and keeps answering itself. A table swap goes to every
 * process, and `serve` resolves once all have acknowledged it (or after `ACK_MS`, logged): from then on no
 * process answers from the old table.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { Socket as UdpSocket } from 'node:dgram';
import type { Logger, LogFields } from '@ursa/core/base';
import type { Answer } from './resolver.js';
import type { Upstream } from './resolv.js';
import type { DnsStats } from './server.js';

export type ToChild =
  | { type: 'start'; gen: number; records: readonly Answer[]; upstream: Upstream; upstreamTimeoutMs?: number; udpBatch: boolean }
  | { type: 'serve'; gen: number; records: readonly Answer[] }
  | { type: 'stats'; gen: number };
export type ChildMessage =
  | { type: 'served'; gen: number }
  | { type: 'stats'; gen: number; stats: DnsStats }
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; message: string; fields?: LogFields };

/** How long a swap waits for a process's acknowledgement; one that misses it is stopped (it could answer stale). */
const ACK_MS = 2000;
/** How long a stats read waits for a process (a scrape must not hang on one). */
const STATS_MS = 500;

export interface UdpChildrenOptions {
  readonly count: number;
  /** The child's entry: `dist/dns-udp-child.mjs`, or the TypeScript source run with `execArgv` (tsx). */
  readonly entry: URL;
  readonly execArgv: readonly string[];
  readonly socket: UdpSocket;
  readonly records: readonly Answer[];
  readonly upstream: Upstream;
  readonly upstreamTimeoutMs?: number;
  /** Batched UDP I/O in each process (`udp-batch.ts`); default on. */
  readonly udpBatch?: boolean;
  readonly log: Logger;
}

export interface UdpChildren {
  /** Process ids of the processes answering now. */
  pids(): number[];
  /** Sends a new table to every process; resolves once each answers from it (or was stopped). */
  serve(records: readonly Answer[]): Promise<void>;
  /** Each process's counters. */
  stats(): Promise<DnsStats[]>;
  close(): Promise<void>;
}

interface Child {
  readonly proc: ChildProcess;
  /** Waiting for an answer with this generation. */
  readonly waiting: Map<number, (m: ChildMessage | undefined) => void>;
}

/** Starts the processes; resolves once each answers from `records` (a process that fails to start is logged and left out). */
export async function startUdpChildren(opts: UdpChildrenOptions): Promise<UdpChildren> {
  const { log } = opts;
  let gen = 0;
  const children = new Set<Child>();

  const ask = (c: Child, m: ToChild, ms: number, handle?: UdpSocket) =>
    new Promise<ChildMessage | undefined>((done) => {
      const t = setTimeout(() => finish(undefined), ms);
      const finish = (r: ChildMessage | undefined) => {
        clearTimeout(t);
        c.waiting.delete(m.gen);
        done(r);
      };
      c.waiting.set(m.gen, finish);
      try {
        c.proc.send(m, handle as never, (err) => err && finish(undefined));
      } catch {
        finish(undefined);
      }
    });

  const stop = (c: Child, why: string) => {
    if (!children.delete(c)) return;
    log.warn(`dns answering process ${c.proc.pid} stopped: ${why}`);
    c.proc.kill('SIGKILL');
  };

  const spawnOne = async (records: readonly Answer[]) => {
    const proc = fork(opts.entry, [], { execArgv: [...opts.execArgv], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
    const c: Child = { proc, waiting: new Map() };
    proc.on('message', (m: ChildMessage) => {
      if (m.type === 'log') log[m.level](m.message, m.fields);
      else c.waiting.get(m.gen)?.(m);
    });
    proc.on('error', (err) => stop(c, err.message));
    proc.on('exit', (code, signal) => {
      if (children.has(c)) stop(c, `exited (${signal ?? code})`);
      for (const w of [...c.waiting.values()]) w(undefined);
    });
    children.add(c);
    const r = await ask(c, { type: 'start', gen: ++gen, records, upstream: opts.upstream, upstreamTimeoutMs: opts.upstreamTimeoutMs, udpBatch: opts.udpBatch ?? true }, 30_000, opts.socket);
    if (r?.type !== 'served') stop(c, 'did not start');
  };

  await Promise.all(Array.from({ length: opts.count }, () => spawnOne(opts.records)));

  return {
    pids: () => [...children].map((c) => c.proc.pid!),
    async serve(records) {
      const g = ++gen;
      await Promise.all(
        [...children].map(async (c) => {
          const r = await ask(c, { type: 'serve', gen: g, records }, ACK_MS);
          if (r?.type !== 'served') stop(c, `no acknowledgement of a table swap within ${ACK_MS} ms`);
        }),
      );
    },
    async stats() {
      const g = ++gen;
      const got = await Promise.all([...children].map((c) => ask(c, { type: 'stats', gen: g }, STATS_MS)));
      return got.flatMap((r) => (r?.type === 'stats' ? [r.stats] : []));
    },
    async close() {
      const all = [...children];
      children.clear();
      await Promise.all(
        all.map(
          (c) =>
            new Promise<void>((done) => {
              if (c.proc.exitCode !== null || c.proc.signalCode !== null) return done();
              c.proc.once('exit', () => done());
              // Closing the channel ends the process (`udp-child.ts`); a kill in case it does not.
              if (c.proc.connected) c.proc.disconnect();
              setTimeout(() => c.proc.kill('SIGKILL'), 1000).unref();
            }),
        ),
      );
    },
  };
}
