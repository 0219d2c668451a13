/** Per-request values every route can read (`c.var.*`). */
import type { ResourceStore } from '../store/resource-store.js';
import type { Principal, TokenStore } from '../store/token-store.js';

export interface Stores {
  readonly resources: ResourceStore;
  readonly tokens: TokenStore;
}

export type AppEnv = {
  Variables: {
    tenant: string;
    principal: Principal;
    /** Opens this request's stores on first use (Workers open a client per request). */
    stores: () => Stores;
    /** Kuma's error title for the operation in progress. */
    errorTitle: string;
  };
};
