/** Builds every store over one database handle; the entries (Node, Worker, tests) all use this. */
import type { Stores } from './http/env.js';
import { ZoneTokens } from './tokens/zone-tokens.js';
import type { Db } from './store/db.js';
import { KdsStore } from './store/kds-store.js';
import { ResourceStore, type StoreHooks } from './store/resource-store.js';
import { TokenStore } from './store/token-store.js';

/** `hooks.observe` times every resource-store call (the entries feed it to `store{operation,resource_type}`). */
export function createStores(db: Db, hooks: StoreHooks = {}): Stores {
  const kds = new KdsStore(db);
  const resources = new ResourceStore(db, hooks);
  return { db, resources, tokens: new TokenStore(db), kds, zoneTokens: new ZoneTokens(kds, resources) };
}
