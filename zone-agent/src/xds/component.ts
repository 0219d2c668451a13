/**
 * The zone agent's xDS control plane: the ADS gRPC server (`grpc.ts`) on `--xds-host`/127.0.0.1 and
 * `--xds-port` (0 turns it off), fed by a reconciler that turns the zone's store into per-node snapshots.
 *
 * Node identity (`admission.ts`): a stream's first request must carry `node.id = <mesh>.<dataplane-name>`
 * of a Dataplane registered in this zone and, unless `--dataplane-auth false`, a dataplane token bound to it
 * (`tokens.ts`); otherwise the stream ends with INVALID_ARGUMENT, UNAUTHENTICATED, PERMISSION_DENIED or
 * NOT_FOUND and a message saying what to fix. Each admitted stream is a subscription in the Dataplane's
 * DataplaneInsight (`insight.ts`).
 *
 * Reconciling: the local store's doorbell for Dataplane, ZoneIngress, ZoneEgress, MeshExternalService, Mesh,
 * Secret and policy kinds marks
 * the state dirty; at once when the loop was quiet, else at most `REBUILD_DELAY_MS` later, one rebuild (one at a
 * time, rings meanwhile coalesce into one more) reads the store and the VIP table and runs the generator (`generate/index.ts`) for the connected
 * nodes: sidecars, proxyless gRPC clients and zone ingresses each get their kind's resources, built from
 * shared, memoised parts, and only nodes whose snapshot changed get `setSnapshot` (versions are content
 * hashes, so a rebuild that changes nothing sends nothing). A rebuild also runs when a workload certificate
 * is due for renewal (`certs.ts`), and shortly after one that found services without a VIP yet. A slow
 * periodic rebuild covers a missed doorbell.
 */
import { POLICY_KINDS } from '@ursa/proto';
import type { Node } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import type { ComponentDeps, Stop } from '../component.js';
import { LOCAL } from '../kds/state.js';
import { startRebuildLoop } from '../rebuild-loop.js';
import { SnapshotCache } from './cache.js';
import { and, eq, isNull } from 'drizzle-orm';
import { dnsVips } from '../store/schema.js';
import type { Db } from '@ursa/core';
import { WorkloadCertificates, type CertificateOptions, type WorkloadCertificate } from './certs.js';
import { XdsGenerator, type ConnectedNode } from './generate/index.js';
import { StoreView } from '../store-view.js';
import { startAdsServer, type AdsServer } from './grpc.js';
import { ObservedSnapshotCache, startXdsChildren, type XdsChildren } from './procs/children.js';
import { createAdmission, type ProxyId } from './admission.js';
import type { ProxyKind } from './generate/node-kind.js';
import { InsightRecorder } from './insight.js';
import type { StreamContext, Variant, XdsCallbacks } from './stream.js';
import type { DataplaneTokens } from './tokens.js';
import { SelfRegistration } from './self-registration.js';
import { loadDpServerTls } from '../dp-server/tls-material.js';
import { startDpListener, type DpListener } from '../dp-server/listener.js';
import { bootstrapHttpHandler } from '../dp-server/bootstrap-handler.js';

export { parseProxyId, type ProxyId } from './admission.js';

/** Kinds generation reads; a change to any of them triggers a rebuild. */
const READ_KINDS: readonly string[] = ['Mesh', 'Dataplane', 'ZoneIngress', 'ZoneEgress', 'MeshExternalService', 'Secret', ...POLICY_KINDS];
const DIRTY_KINDS: ReadonlySet<string> = new Set(READ_KINDS);
/** Short: one endpoint change should reach every proxy well within 200 ms; rings still coalesce (a lone one runs at once: `leading`). */
const REBUILD_DELAY_MS = 20;
/** Retry delay when services still lack a VIP (the DNS component allocates them on its own loop). */
const VIP_RETRY_MS = 300;

/** What the xDS server counts, for `/metrics` (`metrics.ts`: Kuma's `xds_*` families). */
export interface XdsMetrics {
  response(typeUrl: string): void;
  request(confirmation: 'ACK' | 'NACK', typeUrl: string): void;
  /** One generation pass over the connected proxies; `ok` false when it threw. */
  generation(ms: number, ok: boolean): void;
}

export interface XdsOptions {
  /** Coalescing delay after a doorbell (default 20 ms). */
  readonly rebuildDelayMs?: number;
  /** Workload certificate lifetime and renewal point (default 24 h, renewed at 2/3). */
  readonly certificates?: CertificateOptions;
  /** Verifies dataplane tokens; required unless `config.dataplaneAuth` is false. */
  readonly tokens?: DataplaneTokens;
  /** `controlPlaneInstanceId` in DataplaneInsight subscriptions. */
  readonly instanceId?: string;
  /** Insight write batching (`insight.ts`): counters every `insightFlushMs` (default `--xds-status-flush-ms`). */
  readonly insightFlushMs?: number;
  /** Receives what the inspect endpoints read, once the server is up. */
  readonly onReady?: (handle: XdsHandle) => void;
  /** Counts responses, ACKs/NACKs and generations (`/metrics`); nothing by default. */
  readonly metrics?: XdsMetrics;
}

/** What the zone API's inspect endpoints read (`inspect.ts`). */
export interface XdsHandle {
  readonly cache: SnapshotCache;
  readonly insights: InsightRecorder;
  /** Node ids with an open stream. */
  readonly connected: () => string[];
  /** Open ADS streams (a node may hold more than one). */
  readonly streams: () => number;
  /** The kind of a connected node (`generate/node-kind.ts`). */
  readonly kindOf: (nodeId: string) => ProxyKind | undefined;
  /** Per mesh, the expiry of its first-expiring workload certificate held by this agent. */
  readonly certExpiry: () => Map<string, Date>;
}

interface Connected extends ProxyId {
  /** From `generate/node-kind.ts` (absent = proxyless). */
  readonly kind?: ProxyKind;
  /** kuma-dp's work dir (node metadata `workdir`). */
  readonly workDir?: string;
  streams: number;
}

export async function startXds(deps: ComponentDeps, opts: XdsOptions = {}): Promise<Stop> {
  const { config, store } = deps;
  const log = deps.log.child('xds');
  if (config.xdsPort === 0) {
    log.info('server off (--xds-port 0)');
    return async () => {};
  }
  const host = config.xdsHost;
  if (config.dataplaneAuth && !opts.tokens) throw new Error('xds: dataplane auth is on but no token verifier was given');
  const selfRegistration = new SelfRegistration({ store, tenant: LOCAL, zone: config.zone, delayMs: config.dataplaneDeregistrationDelayMs, log });
  const admit = createAdmission({ store, tenant: LOCAL, zone: config.zone, tokens: config.dataplaneAuth ? opts.tokens : undefined, selfRegistration });
  // Insight writes yield to snapshot rebuilds (both use the agent's one thread and database): a push first.
  const rebuilds = { idle: async (): Promise<void> => {} };
  const certs = new WorkloadCertificates(opts.certificates);
  const insights = new InsightRecorder({
    store,
    tenant: LOCAL,
    zone: config.zone,
    instanceId: opts.instanceId ?? `zone-agent-${config.zone}`,
    log,
    flushMs: opts.insightFlushMs ?? config.xdsStatusFlushMs,
    yieldTo: () => rebuilds.idle(),
    mtlsOf: (mesh, name) => mtlsInsight(certs.peek(mesh, name)),
  });
  // Before serving: no subscription of a previous run can still be open.
  await insights.closeStale().catch((err: unknown) => log.warn(`could not mark stale dataplane insights offline: ${err instanceof Error ? err.message : err}`));
  if (!config.dataplaneAuth) log.warn('dataplane auth is OFF (--dataplane-auth false): any client may claim any Dataplane');
  // With serving processes (`--xds-processes`), they mirror the snapshots of their nodes (`procs/`).
  const processes = config.xdsProcesses ?? 0;
  const cache = processes > 0 ? new ObservedSnapshotCache() : new SnapshotCache();
  const nodes = new Map<string, Connected>();
  const generator = new XdsGenerator({ certs, log });
  const view = new StoreView(store, READ_KINDS);
  /** Why a node got no snapshot, so each reason is logged once. */
  const skipped = new Map<string, string>();
  let renewTimer: NodeJS.Timeout | undefined;
  let vipTimer: NodeJS.Timeout | undefined;
  let vipRetries = 0;

  const rebuild = async () => {
    if (nodes.size === 0) return;
    const started = performance.now();
    try {
      await generate();
      opts.metrics?.generation(performance.now() - started, true);
    } catch (err) {
      opts.metrics?.generation(performance.now() - started, false);
      throw err;
    }
  };
  const generate = async () => {
    const all = await view.read();
    const vips = deps.vips?.current ?? (deps.db ? await readVips(deps.db) : new Map<string, Map<string, string>>());
    const list: ConnectedNode[] = [...nodes].map(([id, n]) => ({ id, kind: n.kind ?? 'proxyless', mesh: n.mesh, name: n.name, workDir: n.workDir }));
    let pushed = 0;
    const stats = await generator.generate(
      {
        zone: config.zone,
        meshes: all.get('Mesh')!,
        dataplanes: all.get('Dataplane')!,
        zoneIngresses: all.get('ZoneIngress')!,
        zoneEgresses: all.get('ZoneEgress')!,
        externalServices: all.get('MeshExternalService')!,
        secrets: all.get('Secret')!,
        policies: all.policies(),
        vips,
      },
      list,
      {
        onSnapshot: (id, snap) => {
          skipped.delete(id);
          // The node may have gone while the generation ran; unchanged content is never re-set.
          if (!nodes.has(id) || snap.sameAs(cache.getSnapshot(id))) return;
          cache.setSnapshot(id, snap);
          pushed++;
        },
        onSkip: (id, reason) => {
          if (skipped.get(id) !== reason) log.info(`${id}: no new configuration: ${reason}`);
          skipped.set(id, reason);
        },
      },
    );
    for (const id of skipped.keys()) if (!nodes.has(id)) skipped.delete(id);
    if (pushed > 0) log.debug(`${pushed} of ${stats.nodes} proxies got new configuration (${stats.full ? 'all' : stats.visited} visited, ${stats.rebuilt} rebuilt, ${stats.encoded} resources encoded, ${Math.round(stats.ms)} ms)`);
    // Certificates are renewed by a rebuild at their renewal time.
    if (renewTimer) clearTimeout(renewTimer);
    const next = certs.nextRenewal();
    if (next) {
      renewTimer = setTimeout(() => loop.schedule(), Math.min(2 ** 31 - 1, Math.max(0, next.getTime() - Date.now())));
      renewTimer.unref();
    }
    // A new service's VIP is allocated by the DNS component's own loop, usually just after this one: with the
    // VIP board its publication schedules the next pass; without it (a component started alone), poll.
    if (stats.missingVips > 0 && config.dnsPort !== 0 && !deps.vips && vipRetries < 10) {
      vipRetries++;
      if (!vipTimer) {
        vipTimer = setTimeout(() => {
          vipTimer = undefined;
          loop.schedule();
        }, VIP_RETRY_MS);
        vipTimer.unref();
      }
    } else if (stats.missingVips === 0) vipRetries = 0;
  };

  // Rings are subscribed at once; passes only do work while proxies are connected.
  const loop = startRebuildLoop({ name: 'xds', pass: rebuild, waker: deps.waker, kinds: DIRTY_KINDS, log, delayMs: opts.rebuildDelayMs ?? REBUILD_DELAY_MS, leading: true });
  rebuilds.idle = () => loop.idle();
  const unsubscribeVips = deps.vips?.subscribe(() => loop.schedule());

  const callbacks: XdsCallbacks = {
    openStream: async (node: Node | undefined, variant: Variant, ctx: StreamContext) => {
      const { id, mesh, name, kind, resource } = await admit(node, ctx);
      const proxy: ProxyId = { mesh, name };
      insights.connected({ ...proxy, resourceKind: resource.kind as 'Dataplane' | 'ZoneIngress' | 'ZoneEgress' }, ctx.streamId, node, variant);
      selfRegistration.opened(id);
      const seen = nodes.get(id);
      if (seen) seen.streams++;
      else nodes.set(id, { ...proxy, kind, workDir: typeof node?.metadata?.workdir === 'string' ? node.metadata.workdir : undefined, streams: 1 });
      log.info(`${id} connected (${variant === 'sotw' ? 'state of the world' : 'incremental'}${node?.userAgentName ? `, ${node.userAgentName}` : ''})`);
      if (!cache.getSnapshot(id)) {
        // A proxy that reconnects before a pass saw it leave is still "visited" for the visit plan; its
        // snapshot was dropped on disconnect, so the next pass must build it again.
        generator.revisit(id);
        await loop.runNow();
      }
      return id;
    },
    closeStream: (id: string, ctx: StreamContext) => {
      insights.disconnected(ctx.streamId);
      selfRegistration.closed(id);
      const n = nodes.get(id);
      if (!n) return;
      if (--n.streams > 0) return;
      nodes.delete(id);
      cache.clearSnapshot(id);
      log.info(`${id} disconnected`);
    },
    onResponse: (e) => {
      insights.response(e.streamId, e.typeUrl);
      opts.metrics?.response(e.typeUrl);
    },
    onAck: (e) => {
      insights.ack(e.streamId, e.typeUrl);
      opts.metrics?.request('ACK', e.typeUrl);
    },
    onNack: (e) => {
      insights.nack(e.streamId, e.typeUrl);
      opts.metrics?.request('NACK', e.typeUrl);
    },
  };

  let server: AdsServer | undefined;
  let children: XdsChildren | undefined;
  let listener: DpListener;
  try {
    const identifier = `ursa-zone-agent/${config.zone}`;
    const tls = await loadDpServerTls({ dataDir: config.dataDir, xdsHost: host, certFile: config.xdsTlsCertFile, keyFile: config.xdsTlsKeyFile, hostnames: config.xdsTlsHostnames }, log);
    const bootstrap = bootstrapHttpHandler({ store, tenant: LOCAL, zone: config.zone, tokens: config.dataplaneAuth ? opts.tokens : undefined, tls, xdsPort: config.xdsPort }, log.child('bootstrap'));
    // The dp-server owns the port: TLS (bootstrap over HTTPS, ADS over TLS) and, unless turned off, plaintext
    // ADS; served here, or handed to the serving processes.
    if (processes > 0) {
      children = await startXdsChildren({ count: processes, cache: cache as ObservedSnapshotCache, callbacks, certPem: tls.certPem, keyPem: tls.keyPem, bootstrap, identifier, log, socketDir: config.dataDir });
    } else server = await startAdsServer({ host, port: 0, bind: false, cache, callbacks, identifier, log });
    const ads = server;
    const procs = children;
    listener = await startDpListener({ host, port: config.xdsPort, tls, plaintext: config.xdsPlaintext, grpc: (c) => ads?.inject(c), http: bootstrap, log, handoff: procs && ((s, peeked, kind) => procs.handoff(s, peeked, kind)) });
    log.info(`dp-server on ${host}:${listener.port}: kuma-dp bootstrap (HTTPS POST /bootstrap) and ADS over TLS${config.xdsPlaintext ? ' and plaintext' : ''}; kuma-dp --ca-cert-file=${tls.caFile}`);
  } catch (err) {
    // Do not take the whole agent down (DNS, API and KDS keep serving): say it loudly instead.
    log.warn(`cannot listen on ${host}:${config.xdsPort} (${err instanceof Error ? err.message : err}): the xDS server is OFF`);
    await server?.close();
    await children?.close();
    await loop.stop();
    return async () => {};
  }
  log.info(`ADS (state of the world and incremental) on ${host}:${listener.port}`);
  opts.onReady?.({ cache, insights, connected: () => [...nodes.keys()], streams: () => [...nodes.values()].reduce((n, c) => n + c.streams, 0), kindOf: (id) => (nodes.has(id) ? (nodes.get(id)!.kind ?? 'proxyless') : undefined), certExpiry: () => certs.earliestExpiryByMesh() });

  return async () => {
    if (renewTimer) clearTimeout(renewTimer);
    if (vipTimer) clearTimeout(vipTimer);
    unsubscribeVips?.();
    await loop.stop();
    // Registrations outlive this run: the proxies reconnect to the next one.
    selfRegistration.stop();
    // Ends every stream (each records its disconnect), then writes the insights offline.
    await server?.close();
    await children?.close();
    await listener.close();
    await insights.stop();
  };
}

/** Live VIPs per mesh and service (the DNS component's table; freed ones are not served). */
async function readVips(db: Db): Promise<Map<string, Map<string, string>>> {
  const rows = await db.select().from(dnsVips).where(and(eq(dnsVips.tenantId, LOCAL), isNull(dnsVips.freedAt)));
  const out = new Map<string, Map<string, string>>();
  for (const r of rows) {
    let m = out.get(r.mesh);
    if (!m) out.set(r.mesh, (m = new Map()));
    m.set(r.service, r.ip);
  }
  return out;
}

/** Kuma's DataplaneInsight `mTLS` block from the certificate this agent holds for a Dataplane. */
function mtlsInsight(cert: WorkloadCertificate | undefined): Record<string, unknown> | undefined {
  if (!cert) return undefined;
  return {
    certificateExpirationTime: cert.notAfter.toISOString(),
    lastCertificateRegeneration: cert.issuedAt.toISOString(),
    certificateRegenerations: cert.generation,
  };
}
