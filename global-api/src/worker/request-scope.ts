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
import type { Stores } from '../http/env.js';
import type { Waker } from '../kds/waker.js';

export interface RequestScope {
  /** The request's stores, opened on first use (one client per request). */
  stores(): Stores;
  /** Timers started for this request; cleared when it ends. */
  readonly timers: Set<ReturnType<typeof setInterval>>;
}

export const requestScopes = new AsyncLocalStorage<RequestScope>();

export function newRequestScope(open: () => Stores): RequestScope {
  let stores: Stores | undefined;
  return { stores: () => (stores ??= open()), timers: new Set() };
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
 * The first read is made at once and is the baseline: a change committed between the session's feed read
 * and that baseline is only seen at the session's next heartbeat (as with `pollingWaker` in kds/waker.ts).
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
      let seen: number | undefined;
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
