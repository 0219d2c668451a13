/** @ursa/core's Node-only parts: embedded PGlite, the migrator (it reads migration files), PostgreSQL's sockets. */
export * from './store/migrate.js';
export * from './store/pglite.js';
export * from './store/startup-socket.js';
