/** @ursa/global-api's surface for its own tests and the cross-cutting suites: the KDS server side and the Worker's parts. */
export * from './kds/feed-cache.js';
export * from './kds/keeper.js';
export * from './kds/routes.js';
export * from './kds/session.js';
export * from './kds/token-routes.js';
export * from './kds/ws.js';
export * from './worker/check-bundle.js';
export * from './worker/hub-shards.js';
export * from './worker/kds-relay.js';
export * from './worker/request-scope.js';
export * from './worker/runtime.js';
export * from './worker/settings.js';
export * from './app.js';
