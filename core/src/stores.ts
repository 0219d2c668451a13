/** Builds every store over one database handle; the entries (Node, Worker, tests) all use this. */
import type { Stores } from './http/env.js';
import { ZoneTokens } from './tokens/zone-tokens.js';
import type { Db } from './store/db.js';
import { KdsStore } from './store/kds-store.js';
import { ResourceStore } from './store/resource-store.js';
import { TokenStore } from './store/token-store.js';

export function createStores(db: Db): Stores {
  const kds = new KdsStore(db);
  return { db, resources: new ResourceStore(db), tokens: new TokenStore(db), kds, zoneTokens: new ZoneTokens(kds) };
}
