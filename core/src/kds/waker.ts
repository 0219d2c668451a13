/**
 * Wake-ups for KDS sessions: "tenant T has changes of kind K". Only a doorbell: sessions read the changes
 * from the feed themselves. Three ways to ring it, one interface:
 * - NOTIFY (`migrations/0003_change_doorbell.sql`): on PostgreSQL every replica LISTENs, so a write through
 *   replica B wakes sessions on replica A; on PGlite the same trigger notifies inside the process.
 * - polling the tenant's revision, where the database cannot notify (Workers through Hyperdrive).
 */
import type { Database } from '../store/db.js';
import type { ResourceStore } from '../store/resource-store.js';

export type WakeListener = (kind: string) => void;

export interface Waker {
  /** Calls `listener` when the tenant may have new changes; kind `*` means "something, look". */
  subscribe(tenant: string, listener: WakeListener): () => void;
  close(): Promise<void>;
}

class Listeners {
  #byTenant = new Map<string, Set<WakeListener>>();
  add(tenant: string, l: WakeListener): () => void {
    let set = this.#byTenant.get(tenant);
    if (!set) this.#byTenant.set(tenant, (set = new Set()));
    set.add(l);
    return () => {
      set!.delete(l);
      if (set!.size === 0) this.#byTenant.delete(tenant);
    };
  }
  ring(tenant: string, kind: string) {
    for (const l of this.#byTenant.get(tenant) ?? []) l(kind);
  }
  tenants(): string[] {
    return [...this.#byTenant.keys()];
  }
}

export const CHANGE_CHANNEL = 'ursa_changes';

/** NOTIFY-based waker; payloads are "<tenant> <kind>". */
export async function notifyWaker(database: Database): Promise<Waker> {
  if (!database.listen) throw new Error(`the ${database.backend} database cannot LISTEN`);
  const listeners = new Listeners();
  const unlisten = await database.listen(
    CHANGE_CHANNEL,
    (payload) => {
      const i = payload.indexOf(' ');
      if (i > 0) listeners.ring(payload.slice(0, i), payload.slice(i + 1));
    },
    // Back after the LISTEN connection was lost: whatever was notified meanwhile was missed, so everyone looks.
    () => {
      for (const tenant of listeners.tenants()) listeners.ring(tenant, '*');
    },
  );
  return { subscribe: (t, l) => listeners.add(t, l), close: unlisten };
}

/** Polls each subscribed tenant's revision every `intervalMs`; rings `*` when it moved. */
export function pollingWaker(store: ResourceStore, intervalMs: number): Waker {
  const listeners = new Listeners();
  const seen = new Map<string, number>();
  let busy = false;
  const timer = setInterval(async () => {
    if (busy) return;
    busy = true;
    try {
      for (const tenant of listeners.tenants()) {
        const rev = await store.currentRevision(tenant);
        if (seen.has(tenant) && seen.get(tenant) !== rev) listeners.ring(tenant, '*');
        seen.set(tenant, rev);
      }
    } catch {
      // The next tick tries again; sessions also re-read on their heartbeat.
    } finally {
      busy = false;
    }
  }, intervalMs);
  return {
    subscribe: (t, l) => listeners.add(t, l),
    close: async () => clearInterval(timer),
  };
}
