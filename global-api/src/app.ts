/**
 * The global plane's app: the shared API app (`@ursa/core`) with what only the global serves plugged in, the
 * KDS server (zones authenticate with zone tokens, so it sits before API-token authentication) and the
 * zone-token routes. Like `createApp`, it touches no Node-only module: the Node entry and the Worker use it.
 */
import { createApp, type AppDeps } from '@ursa/core';
import { mountKdsRoutes, type KdsOptions } from './kds/routes.js';
import { mountZoneTokenRoutes } from './kds/token-routes.js';
import { type ForwardDeps, mountForwardRoutes, zoneAsker } from './kds/forward.js';

export interface GlobalAppDeps extends Omit<AppDeps, 'plane' | 'publicRoutes' | 'planeRoutes'> {
  /** KDS (zone sync); without it the app serves the HTTP API only. */
  readonly kds?: KdsOptions;
  /** Forwarding of a proxy's `xds`/`stats`/`clusters` to its zone; without it those routes answer Kuma's error. */
  readonly forward?: ForwardDeps;
}

export function createGlobalApp(deps: GlobalAppDeps) {
  const { kds, forward, ...rest } = deps;
  const asker = forward ? zoneAsker(forward) : undefined;
  return createApp({
    ...rest,
    plane: { kind: 'global' },
    publicRoutes: kds ? (app) => mountKdsRoutes(app, deps.instanceId, kds) : undefined,
    planeRoutes: (app) => {
      mountZoneTokenRoutes(app);
      mountForwardRoutes(app, asker);
    },
  });
}
