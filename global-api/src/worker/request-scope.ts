/**
 * Per-request state of the Worker, and the KDS waker built on it.
 *
 * A Worker may not share a socket between requests, nor do I/O for one request from another request's timer,
 * and Hyperdrive cannot LISTEN. So each waiting long-poll watches its tenant itself, over its own request's
 * PostgreSQL client: the session and its waker share that one connection (a Worker invocation gets at most 6
 * simultaneous outgoing connections, and postgres.js with `max: 1` runs their queries one after another).
 * The app is built once per isolate, so the waker finds the request it serves through AsyncLocalStorage
 * (`nodejs_compat`), and every timer it starts is registered on the request, which clears any left over
 * once the response is ready.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Stores, Waker } from '@ursa/core';

export interface RequestScope {
  /** The request's stores, opened on first use (one client per request). */
  stores(): Stores;
  /** Per tenant, the revision the request's last feed read (`changesSince`) was complete up to. */
  readonly feedRead: Map<string, number>;
  /** Timers started for this request; cleared when it ends. */
  readonly timers: Set<ReturnType<typeof setInterval>>;
}

export const requestScopes = new AsyncLocalStorage<RequestScope>();

export function newRequestScope(open: () => Stores): RequestScope {
  let stores: Stores | undefined;
  const scope: RequestScope = { stores: () => (stores ??= recordFeedReads(open(), scope.feedRead)), feedRead: new Map(), timers: new Set() };
  return scope;
}

/**
 * Notes how far each feed read of the request went, so a waker subscribed after it starts watching from
 * there: a change committed between the session's read and the waker's first look is then not missed.
 */
function recordFeedReads(stores: Stores, feedRead: Map<string, number>): Stores {
  const { resources } = stores;
  const changesSince = resources.changesSince.bind(resources);
  resources.changesSince = async (tenant, ...rest) => {
    const page = await changesSince(tenant, ...rest);
    if (!page.resyncRequired) feedRead.set(tenant, page.revision);
    return page;
  };
  return stores;
}

/** Runs `handle` as the request of `scope`; clears the timers it left behind, whatever happens. */
export async function withRequestScope<T>(scope: RequestScope, handle: () => T | Promise<T>): Promise<T> {
  try {
    return await requestScopes.run(scope, handle);
  } finally {
    for (const t of scope.timers) clearInterval(t);
    scope.timers.clear();
  }
}

/**
 * A waker for long-polls in a Worker: while a poll waits, reads its tenant's revision every `intervalMs`
 * over the request's client (one indexed primary-key read). When the revision moved, one more read tells
 * whether any change since is of a kind the sessions send (`kinds`); a zone's own inventory pushes, which
 * also move the revision, do not wake polls. Rings `*`.
 *
 * The baseline is the revision the request's last feed read went up to (the session's own read, just before
 * it waited), so a change committed between that read and the first look rings at once; without one, the
 * first look is the baseline (such a change is then seen at the session's next heartbeat, as with
 * `pollingWaker` in kds/waker.ts).
 *
 * Not `pollingWaker` itself: it runs one interval for the whole process, which in a Worker would do I/O
 * outside any request (refused by the runtime) and outlive the responses.
 */
export function requestWaker(opts: { intervalMs: number; kinds: ReadonlySet<string> }): Waker {
  const kinds = [...opts.kinds];
  return {
    subscribe(tenant, listener) {
      const scope = requestScopes.getStore();
      if (!scope) throw new Error('requestWaker: subscribe() outside a request (no request scope)');
      let seen: number | undefined = scope.feedRead.get(tenant);
      let busy = false;
      let stopped = false;
      const check = async () => {
        if (busy || stopped) return;
        busy = true;
        try {
          const { resources } = scope.stores();
          const revision = await resources.currentRevision(tenant);
          if (seen !== undefined && revision !== seen && !stopped) {
            const page = await resources.changesSince(tenant, seen, { limit: 1, kinds });
            if (page.resyncRequired || page.changes.length > 0) {
              stop();
              listener('*');
              return;
            }
          }
          seen = revision;
        } catch {
          // The next tick tries again; the session also re-reads the feed on its heartbeat.
        } finally {
          busy = false;
        }
      };
      const timer = setInterval(() => void check(), opts.intervalMs);
      scope.timers.add(timer);
      const stop = () => {
        stopped = true;
        clearInterval(timer);
        scope.timers.delete(timer);
      };
      void check();
      return stop;
    },
    close: async () => {},
  };
}
