/**
 * The `.mesh` DNS resolver component (UDP and TCP on `--dns-host:--dns-port`; port 0 turns it off).
 *
 * The record table lives in memory. It is built from the zone's persisted store, and rebuilt when the local
 * store rings the doorbell for Dataplane, ZoneIngress, MeshExternalService or Mesh changes (`../rebuild-loop.ts`: coalesced,
 * one rebuild at a time, periodic safety net). Each rebuild reads the services, lets the allocator persist
 * their VIPs (`vips.ts`) and sends a changed table to the resolver's thread (`resolver.ts`), which answers
 * from it, and to the answers file (`answers-file.ts`). A restarted agent answers from that file before its
 * database opens (`main.ts` opens the `resolver` and passes it here); the first rebuild replaces those
 * answers with the live table. Without persisted answers (a first start, tests) the sockets open once the
 * first rebuild ran.
 */
import type { ComponentDeps, Stop } from '../component.js';
import { LOCAL } from '../kds/state.js';
import { startRebuildLoop } from '../rebuild-loop.js';
import { StoreView } from '../store-view.js';
import { AnswersWriter } from './answers-file.js';
import { addExternalServices } from './external-services.js';
import { RecordTable, wantedServices } from './records.js';
import { createResolver, type Resolver } from './resolver.js';
import { DEFAULT_QUARANTINE_MS, VipAllocator } from './vips.js';

const KINDS = ['Mesh', 'Dataplane', 'ZoneIngress', 'MeshExternalService'] as const;
/** A VIP sync with unchanged services is skipped unless the last one is older than this (just under the 30 s periodic pass, which so still releases quarantined VIPs, while change-driven passes skip it). */
const RESYNC_VIPS_MS = 25_000;

export interface DnsOptions {
  /** How long a freed VIP stays reserved (default 1 h, see `vips.ts`). */
  readonly vipQuarantineMs?: number;
  /** Upstream timeout (default 2 s; only when the resolver is created here). */
  readonly upstreamTimeoutMs?: number;
  /** The resolver thread's entry, when the resolver is created here (see `ResolverOptions.workerUrl`). */
  readonly workerUrl?: URL;
  /** The resolver `main.ts` opened before the database (answering from the persisted answers); created here otherwise. */
  readonly resolver?: Resolver;
  /** The answers file's text as read at start (an unchanged table is then not written again). */
  readonly persistedText?: string;
}

export async function startDns(deps: ComponentDeps, opts: DnsOptions = {}): Promise<Stop> {
  const { config, store } = deps;
  const log = deps.log.child('dns');
  if (config.dnsPort === 0) {
    log.info('resolver off (--dns-port 0)');
    await opts.resolver?.close();
    return async () => {};
  }
  if (!deps.db) throw new Error('dns: the resolver needs the database (ComponentDeps.db) to keep VIPs');
  const allocator = new VipAllocator({ db: deps.db, tenant: LOCAL, cidr: config.vipCidr, quarantineMs: opts.vipQuarantineMs ?? DEFAULT_QUARANTINE_MS, log });
  const resolver = opts.resolver ?? (await createResolver(config, log, { upstreamTimeoutMs: opts.upstreamTimeoutMs, workerUrl: opts.workerUrl }));
  let table = RecordTable.empty();
  const answers = new AnswersWriter(config.dataDir, log, opts.persistedText);

  // Follows the change feed: a pass after one change reads that change, not every Dataplane of the zone,
  // so an endpoint change does not cost the resolver (and the xDS push running beside it) a full read.
  const view = new StoreView(store, KINDS);
  /** The services the last VIP sync was for, and when: most changes (addresses, health) leave them alone. */
  let synced: { key: string; at: number } | undefined;
  const rebuild = async () => {
    const all = await view.read();
    const wanted = wantedServices({ meshes: all.get('Mesh')!, dataplanes: all.get('Dataplane')!, zoneIngresses: all.get('ZoneIngress')! }, config.zone);
    addExternalServices(wanted, all.get('MeshExternalService')!);
    const key = JSON.stringify([...wanted].map(([mesh, services]) => [mesh, [...services].sort()]));
    // The same services as the last sync, recently: the table stands. (The periodic pass still syncs, which
    // is what releases quarantined VIPs.)
    if (synced && synced.key === key && Date.now() - synced.at < RESYNC_VIPS_MS) return;
    const { vips } = await allocator.sync(wanted);
    synced = { key, at: Date.now() };
    deps.vips?.publish(vips);
    const next = RecordTable.build(vips);
    if (next.size !== table.size) log.info(`${next.size} name(s) in ${vips.size} mesh(es)`);
    table = next;
    // To the resolver's thread once the sockets are open (opened with the persisted answers, or after the
    // first pass below): a failed pass keeps what it answers, and retries.
    if (resolver.source !== undefined) await resolver.serve(next.records(), 'live');
    await answers.write(next.records());
  };

  // Subscribe first (the loop does on start), so a change during the initial build is not missed.
  const loop = startRebuildLoop({ name: 'dns', pass: rebuild, waker: deps.waker, kinds: new Set(KINDS), log });

  try {
    await loop.runNow();
    // Without persisted answers the sockets open now, even if that first pass failed: forwarding works,
    // and local names follow with the retry.
    if (resolver.source === undefined) await resolver.serve(table.records(), 'live');
    return async () => {
      await loop.stop();
      await resolver.close();
    };
  } catch (err) {
    await loop.stop();
    await resolver.close();
    throw err;
  }
}
