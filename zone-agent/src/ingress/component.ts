/**
 * Ingress bookkeeping: keeps every local ZoneIngress's `availableServices` up to date (`kuma-multizone.md`
 * §4.1). Kuma ticks every second; here the local store's doorbell drives it: a write of a Dataplane,
 * ZoneIngress or Mesh schedules a recompute after a short debounce, so a change is reflected well within
 * a second. A pass reads one consistent snapshot, computes the list and writes it into every local ingress
 * whose list differs, offline ones included, with optimistic concurrency (a concurrent writer makes it
 * re-read and retry). That write is an ordinary local change, which the KDS client sends to the global,
 * and the global on to every other zone.
 *
 * Ingresses received from the global (origin `global`: other zones' ingresses, kept for cross-zone routing)
 * are never touched. Failures are logged and retried later; they never stop the agent.
 */
import { ConflictError, getTyped, NotFoundError, type TypedResource } from '@ursa/core';
import type { ComponentDeps, Stop } from '../component.js';
import { LOCAL } from '../kds/state.js';
import { startRebuildLoop } from '../rebuild-loop.js';
import { isLocal } from '../model/dataplane.js';
import type { ZoneIngressResource } from '../model/resources.js';
import { StoreView } from '../store-view.js';
import { computeAvailableServices, exclusiveMeshes, sameAvailableServices, type AvailableService } from './available.js';

/** Kinds whose writes can change the result (`*`: the doorbell does not know, look anyway). */
const WATCHED = new Set(['Dataplane', 'ZoneIngress', 'Mesh', '*']);

export interface IngressBookkeepingOptions {
  /** Quiet time after a ring before recomputing (coalesces bursts). */
  readonly debounceMs?: number;
  /** Delay before another pass after a failed one. */
  readonly retryMs?: number;
  /** Full recompute this often even without rings (a safety net, like Kuma's ticker); 0 turns it off. */
  readonly resyncMs?: number;
  /** Attempts per ingress when its version keeps moving under us. */
  readonly maxConflicts?: number;
}

/** Whether this zone owns the ingress: not a copy from the global, and not pinned to another zone. */
function ownIngress(r: ZoneIngressResource, zone: string): boolean {
  const specZone = r.spec.zone ?? '';
  return isLocal(r) && (specZone === '' || specZone === zone);
}

export async function startIngressBookkeeping(deps: ComponentDeps, opts: IngressBookkeepingOptions = {}): Promise<Stop> {
  const debounceMs = opts.debounceMs ?? 100;
  const retryMs = opts.retryMs ?? 1000;
  const resyncMs = opts.resyncMs ?? 30_000;
  const maxConflicts = opts.maxConflicts ?? 5;
  const { store, config } = deps;
  const log = deps.log.child('ingress');

  let stopped = false;

  /** Writes `services` into one ingress, re-reading it on a version conflict. */
  async function writeIngress(ingress: TypedResource<'ZoneIngress'>, services: AvailableService[]): Promise<void> {
    let current: TypedResource<'ZoneIngress'> | undefined = ingress;
    for (let attempt = 1; current; attempt++) {
      if (!ownIngress(current, config.zone) || sameAvailableServices(current.spec.availableServices, services)) return;
      try {
        await store.update(
          LOCAL,
          { kind: 'ZoneIngress', name: current.name, labels: current.labels, spec: { ...current.spec, availableServices: services } },
          { expectedVersion: current.version },
        );
        return;
      } catch (err) {
        if (err instanceof NotFoundError) return; // deleted meanwhile: nothing to keep up to date
        if (!(err instanceof ConflictError) || attempt >= maxConflicts) throw err;
      }
      current = await getTyped(store, LOCAL, 'ZoneIngress', { name: ingress.name });
    }
  }

  // Follows the change feed (one change read per pass, not the whole zone), like the resolver and xDS.
  const view = new StoreView(store, ['Dataplane', 'ZoneIngress', 'Mesh']);

  async function pass(): Promise<void> {
    const all = await view.read();
    const dataplanes = all.get('Dataplane')!;
    const meshes = all.get('Mesh')!;
    const ingresses = all.get('ZoneIngress')!.filter((r) => ownIngress(r, config.zone));
    // No ingress of ours, nothing to write: skip the walk over every Dataplane (10% of the agent's CPU while
    // 10,000 Dataplanes registered in `bench/xds.ts`, growing with their number). A new ingress rings the doorbell.
    if (ingresses.length === 0) return;
    const services = computeAvailableServices(dataplanes, { skipMeshes: exclusiveMeshes(meshes) });
    const failures: string[] = [];
    for (const ingress of ingresses) {
      if (stopped) return;
      if (sameAvailableServices(ingress.spec.availableServices, services)) continue;
      try {
        await writeIngress(ingress, services);
        const total = services.reduce((n, s) => n + s.instances, 0);
        log.info(`ingress ${ingress.name}: ${services.length} available service tag set(s), ${total} instance(s)`);
      } catch (err) {
        failures.push(`${ingress.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (failures.length > 0) throw new Error(failures.join('; '));
  }

  const loop = startRebuildLoop({ name: 'ingress bookkeeping', pass, waker: deps.waker, kinds: WATCHED, log, delayMs: debounceMs, retryMs, periodicMs: resyncMs });
  void loop.runNow();

  return async () => {
    stopped = true;
    await loop.stop();
  };
}
