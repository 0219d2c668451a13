/** @ursa/core's Node-only parts: embedded PGlite and the migrator (it reads migration files). */
export * from './store/migrate.js';
export * from './store/pglite.js';
