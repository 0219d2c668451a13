/**
 * The `.mesh` DNS resolver component (UDP and TCP on `--dns-host:--dns-port`; port 0 turns it off).
 *
 * The record table lives in memory. It is built from the zone's persisted store before the sockets open (so
 * a restarted agent answers at once, whether or not the global is reachable), and rebuilt when the local
 * store rings the doorbell for Dataplane, ZoneIngress or Mesh changes: coalesced, at most `REBUILD_DELAY_MS`
 * after the first ring, one rebuild at a time. A slow periodic rebuild covers a missed doorbell. Each
 * rebuild reads the services, lets the allocator persist their VIPs (`vips.ts`) and swaps the table.
 */
import type { Resource } from '../../../global-api/src/store/resource-store.js';
import type { ComponentDeps, Stop } from '../component.js';
import { LOCAL } from '../kds/state.js';
import { createForwarder } from './forward.js';
import { RecordTable, wantedServices } from './records.js';
import { resolveUpstream } from './resolv.js';
import { startDnsServer } from './server.js';
import { DEFAULT_QUARANTINE_MS, VipAllocator } from './vips.js';

const KINDS = ['Mesh', 'Dataplane', 'ZoneIngress'] as const;
const REBUILD_DELAY_MS = 100;
const PERIODIC_REBUILD_MS = 30_000;
const PAGE = 1000;

export interface DnsOptions {
  /** How long a freed VIP stays reserved (default 1 h, see `vips.ts`). */
  readonly vipQuarantineMs?: number;
  /** Upstream timeout (default 2 s). */
  readonly upstreamTimeoutMs?: number;
}

export async function startDns(deps: ComponentDeps, opts: DnsOptions = {}): Promise<Stop> {
  const { config, store, log } = deps;
  if (config.dnsPort === 0) {
    log('dns: resolver off (--dns-port 0)');
    return async () => {};
  }
  if (!deps.db) throw new Error('dns: the resolver needs the database (ComponentDeps.db) to keep VIPs');
  const allocator = new VipAllocator({ db: deps.db, tenant: LOCAL, cidr: config.vipCidr, quarantineMs: opts.vipQuarantineMs ?? DEFAULT_QUARANTINE_MS, log });
  let table = RecordTable.empty();

  const readAll = async (): Promise<Map<string, Resource[]>> => {
    const out = new Map<string, Resource[]>(KINDS.map((k) => [k, []]));
    let after: { kind: string; mesh: string; name: string } | undefined;
    for (;;) {
      const { resources } = await store.snapshotPage(LOCAL, { kinds: KINDS, after, limit: PAGE });
      for (const r of resources) out.get(r.kind)?.push(r);
      if (resources.length < PAGE) return out;
      const last = resources[resources.length - 1]!;
      after = { kind: last.kind, mesh: last.mesh, name: last.name };
    }
  };

  const rebuild = async () => {
    const all = await readAll();
    const wanted = wantedServices({ meshes: all.get('Mesh')!, dataplanes: all.get('Dataplane')!, zoneIngresses: all.get('ZoneIngress')! }, config.zone);
    const { vips } = await allocator.sync(wanted);
    const next = RecordTable.build(vips);
    if (next.size !== table.size) log(`dns: ${next.size} name(s) in ${vips.size} mesh(es)`);
    table = next;
  };

  // One rebuild at a time; rings meanwhile coalesce into one more.
  let running: Promise<void> | undefined;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const run = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        try {
          await rebuild();
        } catch (err) {
          if (!stopped) log(`dns: rebuilding the record table failed (kept the previous one): ${err instanceof Error ? err.message : err}`);
        }
      } while (again && !stopped);
      running = undefined;
    })();
    return running;
  };
  const schedule = () => {
    if (timer || stopped) return;
    timer = setTimeout(() => {
      timer = undefined;
      void run();
    }, REBUILD_DELAY_MS);
  };

  // Subscribe first, so a change during the initial build is not missed.
  const unsubscribe = deps.waker.subscribe(LOCAL, (kind) => {
    if (kind === '*' || (KINDS as readonly string[]).includes(kind)) schedule();
  });
  const periodic = setInterval(schedule, PERIODIC_REBUILD_MS);
  periodic.unref();

  try {
    const upstream = await resolveUpstream(config.dnsUpstream);
    if (upstream.port === config.dnsPort && (upstream.host === config.dnsHost || config.dnsHost === '0.0.0.0' || config.dnsHost === '::')) {
      log(`dns: the upstream ${upstream.host}:${upstream.port} is this resolver itself: forwarded names will time out (set --dns-upstream)`);
    }
    await run();
    const server = await startDnsServer({
      host: config.dnsHost,
      port: config.dnsPort,
      lookup: (name) => table.lookup(name)?.ip,
      forwarder: createForwarder(upstream, { timeoutMs: opts.upstreamTimeoutMs }),
      log,
    });
    log(`dns: resolver on ${config.dnsHost}:${server.port} (udp and tcp), VIPs from ${config.vipCidr}, other names forwarded to ${upstream.host}:${upstream.port}`);
    return async () => {
      stopped = true;
      unsubscribe();
      clearInterval(periodic);
      if (timer) clearTimeout(timer);
      await server.close();
      await running;
    };
  } catch (err) {
    stopped = true;
    unsubscribe();
    clearInterval(periodic);
    if (timer) clearTimeout(timer);
    await running;
    throw err;
  }
}
