/**
 * The zone agent's xDS control plane: the ADS gRPC server (`grpc.ts`) on `--xds-host`/127.0.0.1 and
 * `--xds-port` (0 turns it off), fed by a reconciler that turns the zone's store into per-node snapshots.
 *
 * Node identity: a stream's first request must carry `node.id = <mesh>.<dataplane-name>` of a Dataplane
 * registered in this zone (Kuma's proxy id; the mesh is what precedes the first dot); otherwise the stream
 * ends with NOT_FOUND or INVALID_ARGUMENT and a message saying what to fix. Dataplane tokens (proving that
 * the caller IS that Dataplane) are not checked yet.
 *
 * Reconciling: the local store's doorbell for Dataplane, ZoneIngress, Mesh and policy kinds marks the
 * state dirty; at most `REBUILD_DELAY_MS` later one rebuild (one at a time, rings meanwhile coalesce into one
 * more) reads the store, generates a snapshot per mesh that has connected nodes and sets it for each of
 * them. Versions are content hashes, so a rebuild that changes nothing sends nothing. A slow periodic
 * rebuild covers a missed doorbell.
 *
 * Generation today: every node gets the proxyless gRPC resources of its mesh (`generate/proxyless.ts`).
 * Envoy sidecars (inbound/outbound listeners, mTLS over SDS, policies) come later.
 */
import { status } from '@grpc/grpc-js';
import { kindsWhere } from '../../../proto/src/resources.js';
import type { Node } from '../../../proto/gen/envoy/config/core/v3/base.js';
import type { ComponentDeps, Stop } from '../component.js';
import { LOCAL } from '../kds/state.js';
import { readLocalKinds, startRebuildLoop } from '../rebuild-loop.js';
import { SnapshotCache } from './cache.js';
import { meshEndpoints } from './generate/endpoints.js';
import { proxylessResources } from './generate/proxyless.js';
import { startAdsServer } from './grpc.js';
import { Snapshot } from './snapshot.js';
import { XdsStreamError, type Variant, type XdsCallbacks } from './stream.js';

/** Kinds generation reads. */
const READ_KINDS = ['Mesh', 'Dataplane', 'ZoneIngress'] as const;
/** Kinds whose changes trigger a rebuild: what generation reads, and policies (applied later). */
const DIRTY_KINDS: ReadonlySet<string> = new Set([...READ_KINDS, ...kindsWhere((d) => d.isPolicy).map((d) => d.kind)]);
const REBUILD_DELAY_MS = 100;

export interface XdsOptions {
  /** Coalescing delay after a doorbell (default 100 ms). */
  readonly rebuildDelayMs?: number;
}

export interface ProxyId {
  readonly mesh: string;
  readonly name: string;
}

/** Kuma's proxy id: `<mesh>.<name>`, split at the first dot (Dataplane names may hold dots, meshes not). */
export function parseProxyId(id: string): ProxyId | undefined {
  const i = id.indexOf('.');
  if (i <= 0 || i === id.length - 1) return undefined;
  return { mesh: id.slice(0, i), name: id.slice(i + 1) };
}

interface Connected extends ProxyId {
  streams: number;
}

export async function startXds(deps: ComponentDeps, opts: XdsOptions = {}): Promise<Stop> {
  const { config, store, log } = deps;
  if (config.xdsPort === 0) {
    log('xds: server off (--xds-port 0)');
    return async () => {};
  }
  const host = (config as { readonly xdsHost?: string }).xdsHost ?? '127.0.0.1';
  const cache = new SnapshotCache();
  const nodes = new Map<string, Connected>();
  /** The last snapshot generated per mesh (for logging changes only). */
  const lastByMesh = new Map<string, Snapshot>();

  const rebuild = async () => {
    const meshes = new Set([...nodes.values()].map((n) => n.mesh));
    if (meshes.size === 0) return;
    const all = await readLocalKinds(store, READ_KINDS);
    const existing = new Set(all.get('Mesh')!.map((m) => m.name));
    for (const mesh of meshes) {
      const services = existing.has(mesh)
        ? meshEndpoints({ mesh, zone: config.zone, dataplanes: all.get('Dataplane')!, zoneIngresses: all.get('ZoneIngress')! })
        : new Map();
      const snap = Snapshot.build(proxylessResources(services));
      const problems = snap.problems();
      if (problems.length > 0) log(`xds: mesh ${mesh}: inconsistent snapshot (${problems.join('; ')})`);
      if (!snap.sameAs(lastByMesh.get(mesh))) {
        lastByMesh.set(mesh, snap);
        log(`xds: mesh ${mesh}: new snapshot (${snap.summary()})`);
      }
      for (const [id, n] of nodes) {
        if (n.mesh !== mesh || snap.sameAs(cache.getSnapshot(id))) continue;
        cache.setSnapshot(id, snap);
      }
    }
    for (const mesh of lastByMesh.keys()) if (!meshes.has(mesh)) lastByMesh.delete(mesh);
  };

  // Rings are subscribed at once; passes only do work while proxies are connected.
  const loop = startRebuildLoop({ name: 'xds', pass: rebuild, waker: deps.waker, kinds: DIRTY_KINDS, log, delayMs: opts.rebuildDelayMs ?? REBUILD_DELAY_MS });

  const callbacks: XdsCallbacks = {
    openStream: async (node: Node | undefined, variant: Variant) => {
      const id = node?.id ?? '';
      if (id === '') throw new XdsStreamError(status.INVALID_ARGUMENT, 'xds: the first request must carry node.id = "<mesh>.<dataplane-name>" of a Dataplane registered in this zone');
      const proxy = parseProxyId(id);
      if (!proxy) throw new XdsStreamError(status.INVALID_ARGUMENT, `xds: node.id ${JSON.stringify(id)} is not "<mesh>.<dataplane-name>"`);
      const dp = await store.get(LOCAL, { kind: 'Dataplane', mesh: proxy.mesh, name: proxy.name });
      if (!dp) {
        throw new XdsStreamError(
          status.NOT_FOUND,
          `xds: node.id ${JSON.stringify(id)}: no Dataplane ${JSON.stringify(proxy.name)} in mesh ${JSON.stringify(proxy.mesh)} in zone ${config.zone}; register the Dataplane first (node.id is "<mesh>.<dataplane-name>")`,
        );
      }
      const seen = nodes.get(id);
      if (seen) seen.streams++;
      else nodes.set(id, { ...proxy, streams: 1 });
      log(`xds: ${id} connected (${variant === 'sotw' ? 'state of the world' : 'incremental'}${node?.userAgentName ? `, ${node.userAgentName}` : ''})`);
      if (!cache.getSnapshot(id)) await loop.runNow();
      return id;
    },
    closeStream: (id: string) => {
      const n = nodes.get(id);
      if (!n) return;
      if (--n.streams > 0) return;
      nodes.delete(id);
      cache.clearSnapshot(id);
      log(`xds: ${id} disconnected`);
    },
  };

  let server;
  try {
    server = await startAdsServer({ host, port: config.xdsPort, cache, callbacks, identifier: `ursa-zone-agent/${config.zone}`, log });
  } catch (err) {
    // Do not take the whole agent down (DNS, API and KDS keep serving): say it loudly instead.
    log(`xds: cannot listen on ${host}:${config.xdsPort} (${err instanceof Error ? err.message : err}): the xDS server is OFF`);
    await loop.stop();
    return async () => {};
  }
  log(`xds: ADS (state of the world and incremental) on ${host}:${server.port}`);

  return async () => {
    await loop.stop();
    await server.close();
  };
}
