/**
 * @ursa/core's public surface: what both planes run. Runs on Node and in workerd (no Node-only module here:
 * PGlite and the migrator are `@ursa/core/node`).
 */
export * from './app.js';
export * from './coalescer.js';
export * from './domain/mesh-ca.js';
export * from './domain/zone-liveness.js';
export * from './http/auth.js';
export * from './http/body.js';
export * from './http/env.js';
export * from './http/errors.js';
export * from './http/token-cache.js';
export * from './http/token-format.js';
export * from './kds/apply-batch.js';
export * from './kds/frames.js';
export * from './kds/mappers.js';
export { fnv1a64 } from './kds/names.js';
export * from './kds/packer.js';
export * from './kds/waker.js';
export * from './limits.js';
export * from './options.js';
export * from './policy/select.js';
export * from './store/db.js';
export * from './store/errors.js';
export { rowsOf } from './store/insight-queries.js';
export * from './store/kds-store.js';
export * from './store/postgres.js';
export * from './store/resource-store.js';
export * from './store/schema.js';
export * from './store/token-store.js';
export * from './store/typed.js';
export * from './store/unavailable.js';
export * from './stores.js';
export * from './text.js';
export * from './tokens/zone-tokens.js';
export * from './tokens/es256.js';
export * from './tokens/zone-token-secrets.js';
export * from './version.js';
export * from './log.js';
export * from './metrics.js';
export * from './policy/json.js';
export * from './policy/kuma-conf.js';
export * from './policy/inspect.js';
