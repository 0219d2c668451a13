/**
 * The resolver's own thread (`resolver.ts` starts it): the sockets, the upstream forwarder and the answer
 * table live here, so DNS answers in milliseconds while the agent's main thread is busy for a second or
 * more at a time: PGlite runs the whole database start-up, and later every query, on the main thread, and
 * loading the API's and xDS's modules takes as long. The main thread sends the table (whole, as it
 * changes: a few hundred bytes per service) and gets log lines back. Built as `dist/dns-worker.mjs`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Logger, LogFields } from '@ursa/core/base';
import { createForwarder } from './forward.js';
import { startDnsServer, type DnsServer } from './server.js';
import type { FromWorker, ResolverWorkerData, ToWorker } from './resolver.js';

const port = parentPort!;
const data = workerData as ResolverWorkerData;
const post = (m: FromWorker) => port.postMessage(m);

/** Log lines go to the main thread's logger (so they carry its name and level, and tests can read them). */
const emit = (level: 'debug' | 'info' | 'warn' | 'error') => (message: string, fields?: LogFields) => post({ type: 'log', level, message, fields });
const log: Logger = { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error'), child: () => log, enabled: () => true };

let byName = new Map<string, string>();
let server: DnsServer | undefined;
let opening: Promise<void> | undefined;

/** Opens the sockets once; rejects (for every caller) when they cannot be opened. */
const open = () =>
  (opening ??= startDnsServer({
    host: data.host,
    port: data.port,
    lookup: (name) => byName.get(name),
    forwarder: createForwarder(data.upstream, { timeoutMs: data.upstreamTimeoutMs }),
    log,
  }).then((s) => {
    server = s;
  }));

port.on('message', (m: ToWorker) => {
  if (m.type === 'serve') {
    // Names are lower-case without the trailing dot (the record table's keys), as the server asks for them.
    byName = new Map(m.records.map((r) => [r.name, r.ip]));
    // In the same turn as the swap: no query is answered from the old table's encoded answers after it.
    server?.answersChanged();
    // Acknowledged once in effect, so the main thread knows from when on the new table answers.
    open().then(
      () => post({ type: 'served', port: server!.port }),
      (err: Error) => post({ type: 'error', message: err.message }),
    );
  } else if (m.type === 'stats') {
    post({ type: 'stats', stats: server ? { ...server.stats } : undefined });
  } else if (m.type === 'close') {
    void (async () => {
      await opening?.catch(() => {});
      await server?.close();
      post({ type: 'closed' });
      port.close();
    })();
  }
});
