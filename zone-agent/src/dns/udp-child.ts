/**
 * An extra answering process of the resolver (`udp-children.ts` starts it from the resolver's thread): it
 * reads the resolver's own UDP socket, handed over IPC, and answers from the record table the thread sends.
 * The kernel gives each datagram to whichever process reads first, so N processes share the load of the
 * `sendmsg` calls that bound one Node thread (README, Performance, DNS). Built as `dist/dns-udp-child.mjs`.
 *
 * It holds no state of its own: the table comes with every change, and the process exits as soon as its
 * IPC channel closes (the agent exited, even by SIGKILL), so it never outlives the agent or keeps the port.
 */
import type { Socket as UdpSocket } from 'node:dgram';
import type { Logger, LogFields } from '@ursa/core/base';
import { AnswerCache } from './answer-cache.js';
import { createForwarder } from './forward.js';
import { createHandler, literalLookup, type DnsStats } from './server.js';
import { serveUdp } from './udp-batch.js';
import type { ChildMessage, ToChild } from './udp-children.js';

const post = (m: ChildMessage) => process.send?.(m);
const emit = (level: 'debug' | 'info' | 'warn' | 'error') => (message: string, fields?: LogFields) => post({ type: 'log', level, message, fields });
const log: Logger = { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error'), child: () => log, enabled: () => true };

const stats: DnsStats = { queries: 0, local: 0, forwarded: 0, servfail: 0, formerr: 0, notimp: 0, dropped: 0, errors: 0 };
const cache = new AnswerCache();
let byName = new Map<string, string>();

/**
 * A socket received over IPC is wrapped by Node with dgram's default lookup, which sends every answer through
 * `dns.lookup` (a deferred callback per packet). The resolver's own socket uses `literalLookup`; the handle's
 * lookup is swapped for the same here. Node keeps it on the socket's internal state: when that is not where
 * this Node keeps it, the default stays (correct, only slower).
 */
function useLiteralLookup(sock: UdpSocket): void {
  const key = Object.getOwnPropertySymbols(sock).find((s) => s.description === 'state symbol');
  const handle = key && (sock as unknown as Record<symbol, { handle?: { lookup?: unknown } }>)[key]?.handle;
  if (handle && typeof handle.lookup === 'function') handle.lookup = (address: string, callback: (err: Error | null, address: string, family: number) => void) => literalLookup(address || '127.0.0.1', 0, callback);
}

process.on('message', (m: ToChild, sock?: UdpSocket) => {
  if (m.type === 'start') {
    byName = new Map(m.records.map((r) => [r.name, r.ip]));
    const handle = createHandler({ lookup: (name) => byName.get(name), forwarder: createForwarder(m.upstream, { timeoutMs: m.upstreamTimeoutMs }) }, stats, cache);
    useLiteralLookup(sock!);
    sock!.on('error', (err) => log.warn(`udp socket error (answering process ${process.pid}): ${err.message}`));
    const serving = serveUdp(sock!, handle, () => false, m.udpBatch, (n) => (stats.errors += n));
    if (serving.mode !== 'batched' && m.udpBatch) log.debug(`answering process ${process.pid}: UDP through dgram, batched I/O ${serving.why}`);
    post({ type: 'served', gen: m.gen });
  } else if (m.type === 'serve') {
    byName = new Map(m.records.map((r) => [r.name, r.ip]));
    // In the same turn as the swap, as on the resolver's thread.
    cache.clear();
    post({ type: 'served', gen: m.gen });
  } else if (m.type === 'stats') {
    post({ type: 'stats', gen: m.gen, stats });
  }
});
// The agent is gone (or closed the resolver): nothing may keep answering, or keep its port bound.
process.on('disconnect', () => process.exit(0));
