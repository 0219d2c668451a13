/**
 * The loop every derived view in the zone agent runs on (DNS records, ingress bookkeeping, xDS snapshots):
 * the local store's doorbell rings for a watched kind, a pass runs at most `delayMs` later, one pass at a
 * time, and rings during a pass coalesce into exactly one more. A failed pass is logged and retried after
 * `retryMs`; a slow periodic pass covers a missed doorbell. Keeping this in one place means the three views
 * cannot drift apart in how they debounce, retry or stop.
 */
import type { Logger, Resource, ResourceStore, Waker } from '@ursa/core';
import { LOCAL } from './kds/state.js';

export interface RebuildLoopOptions {
  /** Names the loop in log lines (`dns`, `xds`, ...). */
  readonly name: string;
  /** What the loop keeps up to date; throwing keeps the previous result and schedules a retry. */
  readonly pass: () => Promise<void>;
  readonly waker: Waker;
  /** Kinds whose rings schedule a pass (`*`, the doorbell not knowing which kind, always does). */
  readonly kinds: ReadonlySet<string>;
  readonly log: Logger;
  /** Quiet time after the first ring before the pass (default 100 ms). */
  readonly delayMs?: number;
  /**
   * Run the pass on the first ring at once when the loop has been quiet for `delayMs` (no pass running or due,
   * none ended within it): a lone change then skips the delay, while rings arriving during or right after a
   * pass still coalesce into one more. For the xDS loop, whose delay is most of what a change waits for.
   */
  readonly leading?: boolean;
  /** Delay before another pass after a failed one (default 1 s). */
  readonly retryMs?: number;
  /** A pass this often even without rings (default 30 s; 0 turns it off). */
  readonly periodicMs?: number;
}

export interface RebuildLoop {
  /** Runs a pass now (or joins the one running, plus one more); resolves when done, never rejects. */
  readonly runNow: () => Promise<void>;
  /** Schedules a pass after `delayMs` unless one is already due. */
  readonly schedule: () => void;
  /** Stops scheduling and waits for the pass in progress. */
  readonly stop: () => Promise<void>;
  /**
   * Resolves once no pass is running or due, or after `maxWaitMs` at most: background work of lower priority
   * (insight writes on the same thread and database) waits for it, but is never starved by a stream of rings.
   */
  readonly idle: (maxWaitMs?: number) => Promise<void>;
}

export function startRebuildLoop(opts: RebuildLoopOptions): RebuildLoop {
  const delayMs = opts.delayMs ?? 100;
  const retryMs = opts.retryMs ?? 1000;
  const periodicMs = opts.periodicMs ?? 30_000;
  let running: Promise<void> | undefined;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  /** When the last pass ended (`leading`: a ring this soon after waits out the delay). */
  let lastEnded = -Infinity;

  const arm = (ms: number) => {
    if (timer || stopped) return;
    timer = setTimeout(() => {
      timer = undefined;
      void runNow();
    }, ms);
  };

  const runNow = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      let failed = false;
      do {
        again = false;
        failed = false;
        const began = performance.now();
        try {
          await opts.pass();
          if (opts.log.enabled('debug')) opts.log.debug(`${opts.name}: pass done in ${Math.round(performance.now() - began)} ms`);
        } catch (err) {
          failed = true;
          if (!stopped) opts.log.warn(`${opts.name}: pass failed (kept the previous result, retrying in ${retryMs} ms): ${err instanceof Error ? err.message : String(err)}`);
        }
      } while (again && !stopped);
      running = undefined;
      lastEnded = performance.now();
      if (failed) arm(retryMs);
    })();
    return running;
  };

  const unsubscribe = opts.waker.subscribe(LOCAL, (kind) => {
    if (kind !== '*' && !opts.kinds.has(kind)) return;
    // On the next turn, not inside the ring: the writer that rang finishes first (its answer, other rings).
    if (opts.leading && !running && !timer && performance.now() - lastEnded >= delayMs) arm(0);
    else arm(delayMs);
  });
  const periodic = periodicMs > 0 ? setInterval(() => arm(0), periodicMs) : undefined;
  periodic?.unref();

  const idle = async (maxWaitMs = 1000): Promise<void> => {
    const until = Date.now() + maxWaitMs;
    while (!stopped && (running || timer) && Date.now() < until) {
      if (running) await running;
      else await new Promise((r) => setTimeout(r, 5));
    }
  };

  return {
    runNow,
    idle,
    schedule: () => arm(delayMs),
    stop: async () => {
      stopped = true;
      unsubscribe();
      if (periodic) clearInterval(periodic);
      if (timer) clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}

/** Reads every local resource of `kinds`, page by page, grouped by kind (each list in key order). */
export async function readLocalKinds(store: ResourceStore, kinds: readonly string[], pageSize = 1000): Promise<Map<string, Resource[]>> {
  const out = new Map<string, Resource[]>(kinds.map((k) => [k, []]));
  let after: { kind: string; mesh: string; name: string } | undefined;
  for (;;) {
    const { resources } = await store.snapshotPage(LOCAL, { kinds, after, limit: pageSize });
    for (const r of resources) out.get(r.kind)?.push(r);
    if (resources.length < pageSize) return out;
    const last = resources[resources.length - 1]!;
    after = { kind: last.kind, mesh: last.mesh, name: last.name };
  }
}
