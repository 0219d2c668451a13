/**
 * The `.mesh` DNS resolver component (UDP and TCP on `--dns-host:--dns-port`; port 0 turns it off).
 *
 * The record table lives in memory. It is built from the zone's persisted store before the sockets open (so
 * a restarted agent answers at once, whether or not the global is reachable), and rebuilt when the local
 * store rings the doorbell for Dataplane, ZoneIngress or Mesh changes (`../rebuild-loop.ts`: coalesced,
 * one rebuild at a time, periodic safety net). Each rebuild reads the services, lets the allocator persist their VIPs (`vips.ts`) and swaps the table.
 */
import type { ComponentDeps, Stop } from '../component.js';
import { LOCAL } from '../kds/state.js';
import { startRebuildLoop } from '../rebuild-loop.js';
import { StoreView } from '../store-view.js';
import { createForwarder } from './forward.js';
import { RecordTable, wantedServices } from './records.js';
import { resolveUpstream } from './resolv.js';
import { startDnsServer } from './server.js';
import { DEFAULT_QUARANTINE_MS, VipAllocator } from './vips.js';

const KINDS = ['Mesh', 'Dataplane', 'ZoneIngress'] as const;
/** A VIP sync with unchanged services is skipped unless the last one is older than this (just under the 30 s periodic pass, which so still releases quarantined VIPs, while change-driven passes skip it). */
const RESYNC_VIPS_MS = 25_000;

export interface DnsOptions {
  /** How long a freed VIP stays reserved (default 1 h, see `vips.ts`). */
  readonly vipQuarantineMs?: number;
  /** Upstream timeout (default 2 s). */
  readonly upstreamTimeoutMs?: number;
}

export async function startDns(deps: ComponentDeps, opts: DnsOptions = {}): Promise<Stop> {
  const { config, store } = deps;
  const log = deps.log.child('dns');
  if (config.dnsPort === 0) {
    log.info('resolver off (--dns-port 0)');
    return async () => {};
  }
  if (!deps.db) throw new Error('dns: the resolver needs the database (ComponentDeps.db) to keep VIPs');
  const allocator = new VipAllocator({ db: deps.db, tenant: LOCAL, cidr: config.vipCidr, quarantineMs: opts.vipQuarantineMs ?? DEFAULT_QUARANTINE_MS, log });
  let table = RecordTable.empty();

  // Follows the change feed: a pass after one change reads that change, not every Dataplane of the zone,
  // so an endpoint change does not cost the resolver (and the xDS push running beside it) a full read.
  const view = new StoreView(store, KINDS);
  /** The services the last VIP sync was for, and when: most changes (addresses, health) leave them alone. */
  let synced: { key: string; at: number } | undefined;
  const rebuild = async () => {
    const all = await view.read();
    const wanted = wantedServices({ meshes: all.get('Mesh')!, dataplanes: all.get('Dataplane')!, zoneIngresses: all.get('ZoneIngress')! }, config.zone);
    const key = JSON.stringify([...wanted].map(([mesh, services]) => [mesh, [...services].sort()]));
    // The same services as the last sync, recently: the table stands. (The periodic pass still syncs, which
    // is what releases quarantined VIPs.)
    if (synced && synced.key === key && Date.now() - synced.at < RESYNC_VIPS_MS) return;
    const { vips } = await allocator.sync(wanted);
    synced = { key, at: Date.now() };
    const next = RecordTable.build(vips);
    if (next.size !== table.size) log.info(`${next.size} name(s) in ${vips.size} mesh(es)`);
    table = next;
  };

  // Subscribe first (the loop does on start), so a change during the initial build is not missed.
  const loop = startRebuildLoop({ name: 'dns', pass: rebuild, waker: deps.waker, kinds: new Set(KINDS), log });

  try {
    const upstream = await resolveUpstream(config.dnsUpstream);
    if (upstream.port === config.dnsPort && (upstream.host === config.dnsHost || config.dnsHost === '0.0.0.0' || config.dnsHost === '::')) {
      log.warn(`the upstream ${upstream.host}:${upstream.port} is this resolver itself: forwarded names will time out (set --dns-upstream)`);
    }
    await loop.runNow();
    const server = await startDnsServer({
      host: config.dnsHost,
      port: config.dnsPort,
      lookup: (name) => table.lookup(name)?.ip,
      forwarder: createForwarder(upstream, { timeoutMs: opts.upstreamTimeoutMs }),
      log,
    });
    log.info(`resolver on ${config.dnsHost}:${server.port} (udp and tcp), VIPs from ${config.vipCidr}, other names forwarded to ${upstream.host}:${upstream.port}`);
    return async () => {
      await loop.stop();
      await server.close();
    };
  } catch (err) {
    await loop.stop();
    throw err;
  }
}
