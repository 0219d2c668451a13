/**
 * The global plane's app: the shared API app (`@ursa/core`) with what only the global serves plugged in, the
 * KDS server (zones authenticate with zone tokens, so it sits before API-token authentication) and the
 * zone-token routes. Like `createApp`, it touches no Node-only module: the Node entry and the Worker use it.
 */
import { createApp, type AppDeps } from '@ursa/core';
import { mountKdsRoutes, type KdsOptions } from './kds/routes.js';
import { mountZoneTokenRoutes } from './kds/token-routes.js';

export interface GlobalAppDeps extends Omit<AppDeps, 'plane' | 'publicRoutes' | 'planeRoutes'> {
  /** KDS (zone sync); without it the app serves the HTTP API only. */
  readonly kds?: KdsOptions;
}

export function createGlobalApp(deps: GlobalAppDeps) {
  const { kds, ...rest } = deps;
  return createApp({
    ...rest,
    plane: { kind: 'global' },
    publicRoutes: kds ? (app) => mountKdsRoutes(app, deps.instanceId, kds) : undefined,
    planeRoutes: mountZoneTokenRoutes,
  });
}
