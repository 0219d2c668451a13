/**
 * The resolver's front: the sockets (`server.ts`) and the upstream forwarder, on a thread of their own
 * (`resolver-worker.ts`), answering from the table the main thread sends. `main.ts` opens it before the
 * database, with the persisted answers (`answers-file.ts`); the DNS component (`component.ts`) sends the
 * live table once its first rebuild ran, and again whenever it changes. On its own thread DNS keeps
 * answering while the main thread is busy: PGlite's start-up alone holds it for over a second on a small
 * host. Nothing here reads the store: this runs before the database opens, so its imports stay small
 * (`zone-agent/build.ts` checks that the start-up path loads no third-party module but `dns-packet`).
 */
import { Worker } from 'node:worker_threads';
import type { Logger, LogFields } from '@ursa/core/base';
import type { ZoneConfig } from '../config.js';
import type { PersistedRecord } from './answers-file.js';
import { resolveUpstream, type Upstream } from './resolv.js';
import type { DnsStats } from './server.js';

/** Where the answers come from: the file of the last run, or the table built from the database. */
export type AnswerSource = 'persisted' | 'live';
/** What the resolver answers: a name (lower-case, no trailing dot) and its address. */
export type Answer = Pick<PersistedRecord, 'name' | 'ip'>;

export interface Resolver {
  /** Undefined until the sockets are open. */
  readonly source: AnswerSource | undefined;
  /** The UDP and TCP port once open. */
  readonly port: number | undefined;
  /** The extra UDP answering processes' ids as of the last `serve` (`udp-children.ts`). */
  readonly udpProcessIds: readonly number[];
  /** Answers from `answers` from now on; opens the sockets on the first call (and fails if they cannot). */
  serve(answers: readonly Answer[], source: AnswerSource): Promise<void>;
  /** The resolver thread's counters since it started (`/metrics`); undefined before the sockets open or after. */
  stats(): Promise<DnsStats | undefined>;
  close(): Promise<void>;
}

export interface ResolverOptions {
  /** Upstream timeout (default 2 s). */
  readonly upstreamTimeoutMs?: number;
  /**
   * The worker's entry: `main.ts` passes the bundle's (`dist/dns-worker.mjs`); by default this module's
   * sibling source, run through tsx (tests, the unbundled agent). The extra UDP processes' entry is its
   * sibling: `dns-udp-child.mjs` beside the bundle's, `udp-child.ts` beside the source.
   */
  readonly workerUrl?: URL;
}

/** What the worker gets at start. */
export interface ResolverWorkerData {
  readonly host: string;
  readonly port: number;
  readonly upstream: Upstream;
  readonly upstreamTimeoutMs?: number;
  /** Extra processes answering UDP on the same socket, started with the first live table (`udp-children.ts`). */
  readonly udpProcesses: number;
  /** Batched UDP I/O in the thread and the extra processes (`udp-batch.ts`). */
  readonly udpBatch: boolean;
  /** Their entry (a file URL) and node's options for it (tsx's loader when it is TypeScript). */
  readonly childEntry: string;
  readonly childExecArgv: readonly string[];
}
export type ToWorker = { type: 'serve'; records: readonly Answer[]; source: AnswerSource } | { type: 'stats' } | { type: 'close' };
export type FromWorker =
  /** A `serve` is in effect in every answering process (acknowledged in order); the sockets are open on `port`. */
  | { type: 'served'; port: number; pids: readonly number[] }
  | { type: 'error'; message: string }
  | { type: 'closed' }
  /** The server's counters (answers a `stats`; absent before the sockets open). */
  | { type: 'stats'; stats?: DnsStats }
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; message: string; fields?: LogFields };

const SOURCE_WORKER = new URL('./resolver-worker.ts', import.meta.url);

function spawn(entry: URL, workerData: ResolverWorkerData): Worker {
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, { workerData });
  // TypeScript source: a worker thread gets no loader of its own (neither tsx's nor a test runner's), so it
  // registers tsx first.
  const tsx = import.meta.resolve('tsx/esm/api');
  return new Worker(`import(${JSON.stringify(tsx)}).then((m) => m.register()).then(() => import(${JSON.stringify(entry.href)}))`, { eval: true, workerData });
}

/** The extra UDP processes' entry beside the worker's, and the loader it needs. */
function childEntry(worker: URL): { childEntry: string; childExecArgv: string[] } {
  if (!worker.pathname.endsWith('.ts')) return { childEntry: new URL('./dns-udp-child.mjs', worker).href, childExecArgv: [] };
  return { childEntry: new URL('./udp-child.ts', worker).href, childExecArgv: ['--import', import.meta.resolve('tsx')] };
}

/** Resolves the upstream now (a bad `--dns-upstream` fails the start) and starts the resolver's thread; the sockets open on `serve`. */
export async function createResolver(config: Pick<ZoneConfig, 'dnsHost' | 'dnsPort' | 'dnsUpstream' | 'vipCidr' | 'dnsUdpProcesses' | 'dnsUdpBatch'>, log: Logger, opts: ResolverOptions = {}): Promise<Resolver> {
  const upstream = await resolveUpstream(config.dnsUpstream);
  if (upstream.port === config.dnsPort && (upstream.host === config.dnsHost || config.dnsHost === '0.0.0.0' || config.dnsHost === '::')) {
    log.warn(`the upstream ${upstream.host}:${upstream.port} is this resolver itself: forwarded names will time out (set --dns-upstream)`);
  }
  const entry = opts.workerUrl ?? SOURCE_WORKER;
  const worker = spawn(entry, { host: config.dnsHost, port: config.dnsPort, upstream, upstreamTimeoutMs: opts.upstreamTimeoutMs, udpProcesses: config.dnsUdpProcesses ?? 0, udpBatch: config.dnsUdpBatch ?? true, ...childEntry(entry) });
  let source: AnswerSource | undefined;
  let port: number | undefined;
  let pids: readonly number[] = [];
  let failed: Error | undefined;
  /** Callers waiting for the worker's answers, in the order they asked (it answers in order). */
  const waiting: ((m: FromWorker) => void)[] = [];
  worker.on('message', (m: FromWorker) => {
    if (m.type === 'log') log[m.level](m.message, m.fields);
    else waiting.shift()?.(m);
  });
  worker.on('error', (err) => {
    failed = err;
    log.error(`resolver thread failed: ${err.message}`);
  });
  worker.on('exit', () => {
    failed ??= new Error('the resolver thread exited');
    for (const w of waiting.splice(0)) w({ type: 'error', message: failed.message });
  });
  const ask = (m: ToWorker) =>
    new Promise<FromWorker>((done) => {
      if (failed) return done({ type: 'error', message: failed.message });
      waiting.push(done);
      worker.postMessage(m);
    });
  let closed = false;

  return {
    get source() {
      return source;
    },
    get port() {
      return port;
    },
    get udpProcessIds() {
      return pids;
    },
    async serve(answers, from) {
      if (closed) return;
      const r = await ask({ type: 'serve', records: answers.map(({ name, ip }) => ({ name, ip })), source: from });
      if (r.type !== 'served') throw new Error(`dns: cannot listen on ${config.dnsHost}:${config.dnsPort}: ${r.type === 'error' ? r.message : r.type}`);
      if (port === undefined) {
        log.info(`resolver on ${config.dnsHost}:${r.port} (udp and tcp), ${from === 'persisted' ? "answering from the last run's persisted answers until the database is open" : `VIPs from ${config.vipCidr}`}, other names forwarded to ${upstream.host}:${upstream.port}`);
      } else if (source === 'persisted' && from === 'live') {
        log.info('resolver answers from the database now');
      }
      port = r.port;
      pids = r.pids;
      source = from;
    },
    async stats() {
      if (closed || failed) return undefined;
      const r = await ask({ type: 'stats' });
      return r.type === 'stats' ? r.stats : undefined;
    },
    async close() {
      if (closed) return;
      closed = true;
      if (!failed) await ask({ type: 'close' });
      await worker.terminate();
    },
  };
}
