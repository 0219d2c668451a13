/**
 * The resolver's own thread (`resolver.ts` starts it): the sockets, the upstream forwarder and the answer
 * table live here, so DNS answers in milliseconds while the agent's main thread is busy for a second or
 * more at a time: PGlite runs the whole database start-up, and later every query, on the main thread, and
 * loading the API's and xDS's modules takes as long. The main thread sends the table (whole, as it
 * changes: a few hundred bytes per service) and gets log lines back. Built as `dist/dns-worker.mjs`.
 *
 * Once the live table arrives, this thread also starts the extra UDP answering processes (`udp-children.ts`),
 * and forwards every later table to them before acknowledging it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Logger, LogFields } from '@ursa/core/base';
import { createForwarder } from './forward.js';
import { startDnsServer, type DnsServer, type DnsStats } from './server.js';
import type { FromWorker, ResolverWorkerData, ToWorker } from './resolver.js';
import { startUdpChildren, type UdpChildren } from './udp-children.js';

const port = parentPort!;
const data = workerData as ResolverWorkerData;
const post = (m: FromWorker) => port.postMessage(m);

/** Log lines go to the main thread's logger (so they carry its name and level, and tests can read them). */
const emit = (level: 'debug' | 'info' | 'warn' | 'error') => (message: string, fields?: LogFields) => post({ type: 'log', level, message, fields });
const log: Logger = { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error'), child: () => log, enabled: () => true };

let byName = new Map<string, string>();
let server: DnsServer | undefined;
let opening: Promise<void> | undefined;
let children: UdpChildren | undefined;

/** Opens the sockets once; rejects (for every caller) when they cannot be opened. */
const open = () =>
  (opening ??= startDnsServer({
    host: data.host,
    port: data.port,
    lookup: (name) => byName.get(name),
    forwarder: createForwarder(data.upstream, { timeoutMs: data.upstreamTimeoutMs }),
    log,
    udpBatch: data.udpBatch,
  }).then((s) => {
    server = s;
  }));

/**
 * Starts the extra processes on the first live table, not before: a restarted agent answers from its
 * persisted answers while the database opens, and processes starting then would take CPU from that start.
 */
const startChildren = async (records: ToWorker & { type: 'serve' }) => {
  if (children || data.udpProcesses <= 0 || !server || records.source !== 'live') return;
  try {
    children = await startUdpChildren({
      count: data.udpProcesses,
      entry: new URL(data.childEntry),
      execArgv: data.childExecArgv,
      socket: server.udpSocket,
      records: [...byName].map(([name, ip]) => ({ name, ip })),
      upstream: data.upstream,
      upstreamTimeoutMs: data.upstreamTimeoutMs,
      udpBatch: data.udpBatch,
      log,
    });
    log.info(`UDP answered by ${children.pids().length + 1} processes (this one and ${children.pids().join(', ') || 'none'})`);
  } catch (err) {
    log.warn(`extra UDP answering processes not started: ${(err as Error).message}`);
  }
};

const sum = (all: DnsStats[]): DnsStats => {
  const out = { ...all[0]! };
  for (const s of all.slice(1)) for (const k of Object.keys(out) as (keyof DnsStats)[]) out[k] += s[k];
  return out;
};

const handle = async (m: ToWorker): Promise<void> => {
  if (m.type === 'serve') {
    // Names are lower-case without the trailing dot (the record table's keys), as the server asks for them.
    byName = new Map(m.records.map((r) => [r.name, r.ip]));
    // In the same turn as the swap: no query is answered from the old table's encoded answers after it.
    server?.answersChanged();
    try {
      await open();
    } catch (err) {
      post({ type: 'error', message: (err as Error).message });
      return;
    }
    // Acknowledged once in effect in every process, so the main thread knows from when on the new table answers.
    await children?.serve(m.records);
    post({ type: 'served', port: server!.port, pids: children?.pids() ?? [] });
    // After the acknowledgement: the first answer never waits for these processes to start.
    await startChildren(m);
  } else if (m.type === 'stats') {
    post({ type: 'stats', stats: server ? sum([server.stats, ...((await children?.stats()) ?? [])]) : undefined });
  } else if (m.type === 'close') {
    await opening?.catch(() => {});
    await children?.close();
    await server?.close();
    post({ type: 'closed' });
    port.close();
  }
};

// One message at a time, in order: the main thread matches the answers to its questions by their order.
let queue = Promise.resolve();
port.on('message', (m: ToWorker) => {
  queue = queue.then(() => handle(m)).catch((err: Error) => log.error(`resolver thread: ${err.message}`));
});
