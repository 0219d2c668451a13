/**
 * The resolver's front: the sockets (`server.ts`) and the upstream forwarder, with the lookup behind them
 * swappable. `main.ts` opens it before the database, answering from the persisted answers
 * (`answers-file.ts`); the DNS component (`component.ts`) swaps in the live table once its first rebuild
 * ran. Nothing here reads the store: this runs before the database opens, so its imports stay small
 * (`zone-agent/build.ts` checks that the start-up path loads no third-party module but `dns-packet`).
 */
import type { Logger } from '@ursa/core/base';
import type { ZoneConfig } from '../config.js';
import { createForwarder } from './forward.js';
import { resolveUpstream } from './resolv.js';
import { startDnsServer, type DnsServer } from './server.js';

/** Where the answers come from: the file of the last run, or the table built from the database. */
export type AnswerSource = 'persisted' | 'live';
export type Lookup = (name: string) => string | undefined;

export interface Resolver {
  /** Undefined until the sockets are open. */
  readonly source: AnswerSource | undefined;
  /** The UDP and TCP port once open. */
  readonly port: number | undefined;
  /** Answers with `lookup` from now on; opens the sockets on the first call. */
  serve(lookup: Lookup, source: AnswerSource): Promise<void>;
  close(): Promise<void>;
}

export interface ResolverOptions {
  /** Upstream timeout (default 2 s). */
  readonly upstreamTimeoutMs?: number;
}

/** Resolves the upstream now (a bad `--dns-upstream` fails the start); the sockets open on `serve`. */
export async function createResolver(config: Pick<ZoneConfig, 'dnsHost' | 'dnsPort' | 'dnsUpstream' | 'vipCidr'>, log: Logger, opts: ResolverOptions = {}): Promise<Resolver> {
  const upstream = await resolveUpstream(config.dnsUpstream);
  if (upstream.port === config.dnsPort && (upstream.host === config.dnsHost || config.dnsHost === '0.0.0.0' || config.dnsHost === '::')) {
    log.warn(`the upstream ${upstream.host}:${upstream.port} is this resolver itself: forwarded names will time out (set --dns-upstream)`);
  }
  let lookup: Lookup = () => undefined;
  let source: AnswerSource | undefined;
  let server: DnsServer | undefined;
  let opening: Promise<DnsServer> | undefined;
  let closed = false;
  return {
    get source() {
      return source;
    },
    get port() {
      return server?.port;
    },
    async serve(next, from) {
      if (closed) return;
      lookup = next;
      if (!opening) {
        opening = startDnsServer({ host: config.dnsHost, port: config.dnsPort, lookup: (name) => lookup(name), forwarder: createForwarder(upstream, { timeoutMs: opts.upstreamTimeoutMs }), log });
        server = await opening;
        log.info(`resolver on ${config.dnsHost}:${server.port} (udp and tcp), ${from === 'persisted' ? 'answering from the last run\'s persisted answers until the database is open' : `VIPs from ${config.vipCidr}`}, other names forwarded to ${upstream.host}:${upstream.port}`);
      } else {
        await opening;
        if (source === 'persisted' && from === 'live') log.info('resolver answers from the database now');
      }
      source = from;
    },
    async close() {
      closed = true;
      const s = await opening?.catch(() => undefined);
      await s?.close();
    },
  };
}
