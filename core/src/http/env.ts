/** Per-request values every route can read (`c.var.*`). */
import type { ZoneTokens } from '../tokens/zone-tokens.js';
import type { Logger } from '../log.js';
import type { Db } from '../store/db.js';
import type { KdsStore } from '../store/kds-store.js';
import type { ResourceStore } from '../store/resource-store.js';
import type { Principal, TokenStore } from '../store/token-store.js';

export interface Stores {
  /** The database handle, for read-only aggregate queries (insights). */
  readonly db: Db;
  readonly resources: ResourceStore;
  readonly tokens: TokenStore;
  readonly kds: KdsStore;
  readonly zoneTokens: ZoneTokens;
}

export type AppEnv = {
  Variables: {
    tenant: string;
    principal: Principal;
    /** Opens this request's stores on first use (Workers open a client per request). */
    stores: () => Stores;
    /** The API's logger. */
    log: Logger;
    /** This request's trace id (`ursa:trace:<32 hex>`): its log line's `traceId`, the `instance` of its error body. */
    traceId: string;
    /** Kuma's error title for the operation in progress. */
    errorTitle: string;
  };
};
