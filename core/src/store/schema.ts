/**
 * The database schema as code. `npm run db:generate` (drizzle-kit) turns changes here into SQL migrations
 * under `migrations/`; the migrator applies them at start-up. Every row carries a tenant id: the hosted
 * global plane serves many tenants from one database.
 */
import { sql } from 'drizzle-orm';
import { bigint, boolean, foreignKey, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

/**
 * One row per tenant. `revision` is the tenant's change counter: every write locks this row, takes
 * `revision + 1` and commits before the next writer of the tenant can take a number, so revisions commit
 * in order and the change feed has no gaps (see docs/architecture.md, "Change feed").
 * `compacted_revision` is the newest tombstone already pruned: a reader behind it must resync from a snapshot.
 */
export const tenants = pgTable('tenants', {
  id: text('id').primaryKey(),
  revision: bigint('revision', { mode: 'number' }).notNull().default(0),
  compactedRevision: bigint('compacted_revision', { mode: 'number' }).notNull().default(0),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});

/** The columns of a stored resource, shared by `resources` and `status_resources` (one code path reads both). */
const resourceColumns = () => ({
  tenantId: text('tenant_id').notNull(),
  kind: text('kind').notNull(),
  mesh: text('mesh').notNull().default(''),
  name: text('name').notNull(),
  spec: jsonb('spec').$type<Record<string, unknown>>().notNull(),
  labels: jsonb('labels').$type<Record<string, string>>().notNull().default(sql`'{}'::jsonb`),
  version: integer('version').notNull(),
  revision: bigint('revision', { mode: 'number' }).notNull(),
  deleted: boolean('deleted').notNull().default(false),
  creationTime: timestamp('creation_time', { withTimezone: true, mode: 'date' }).notNull(),
  modificationTime: timestamp('modification_time', { withTimezone: true, mode: 'date' }).notNull(),
});

/**
 * Every resource of every kind, one table (as Kuma does), keyed by (tenant, kind, mesh, name); `mesh` is ''
 * for global-scoped kinds. A deleted resource stays as a tombstone (`deleted = true`, empty spec) until it
 * is compacted, so readers of the change feed learn about deletions.
 * `version` is the optimistic-concurrency counter of the key; `revision` is the tenant revision of its last write.
 */
export const resources = pgTable('resources', resourceColumns(), (t) => [
  primaryKey({ name: 'resources_pk', columns: [t.tenantId, t.kind, t.mesh, t.name] }),
  foreignKey({ name: 'resources_tenant_fk', columns: [t.tenantId], foreignColumns: [tenants.id] }).onDelete('cascade'),
  // The change feed reads `WHERE tenant_id = ? AND revision > ? ORDER BY revision`; unique proves no two
  // writes ever share a revision.
  uniqueIndex('resources_feed_idx').on(t.tenantId, t.revision),
  index('resources_labels_idx').using('gin', t.labels),
]);

/**
 * Resources of the kinds whose descriptor says `storage: 'status'` (ZoneInsight): status the global writes
 * about its own zone sessions, each session every few seconds. Kept out of `resources` so those writes take
 * no tenant revision, hence not the tenant's lock, and ring no change doorbell: at 7,000 zones the insight
 * writes of the sessions held that lock so long that hellos timed out behind them (README, "Many zones on one
 * global process"). Same columns as `resources` so the store reads both alike, but `revision` is always 0
 * (nothing here is in the change feed) and a deleted row is removed outright (no tombstone: no feed reader
 * needs to learn of it). Optimistic concurrency (`version`) holds by row locks instead of the tenant lock.
 */
export const statusResources = pgTable('status_resources', resourceColumns(), (t) => [
  primaryKey({ name: 'status_resources_pk', columns: [t.tenantId, t.kind, t.mesh, t.name] }),
  foreignKey({ name: 'status_resources_tenant_fk', columns: [t.tenantId], foreignColumns: [tenants.id] }).onDelete('cascade'),
]);

export type ResourceRow = typeof resources.$inferSelect;

/**
 * API tokens. A token is `ursa_<id>_<secret>`; only a SHA-256 of the secret is stored, so a database
 * leak does not leak usable tokens. The id is globally unique, which lets a request find its tenant
 * from the token alone. Revoked tokens stay for audit.
 */
export const apiTokens = pgTable(
  'api_tokens',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    name: text('name').notNull(),
    role: text('role').$type<'admin' | 'read-only'>().notNull(),
    secretHash: text('secret_hash').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }),
    revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [
    foreignKey({ name: 'api_tokens_tenant_fk', columns: [t.tenantId], foreignColumns: [tenants.id] }).onDelete('cascade'),
    index('api_tokens_tenant_idx').on(t.tenantId),
  ],
);


/**
 * One row per zone that ever connected: its sync cursors and its liveness lease. A zone is Online while
 * `lease_expires_at` is in the future; the session renews it on every heartbeat, so a zone whose agent,
 * network or global replica died turns Offline when the lease runs out, with nobody having to notice.
 */
export const zoneSessions = pgTable(
  'zone_sessions',
  {
    tenantId: text('tenant_id').notNull(),
    zone: text('zone').notNull(),
    /** Zone-local revision of the zone's inventory the global has applied (upward resume point). */
    inventoryRevision: bigint('inventory_revision', { mode: 'number' }).notNull().default(0),
    /** Global revision the zone last acknowledged (downward, for observability). */
    ackedRevision: bigint('acked_revision', { mode: 'number' }).notNull().default(0),
    sessionId: text('session_id'),
    globalInstanceId: text('global_instance_id'),
    leaseExpiresAt: timestamp('lease_expires_at', { withTimezone: true, mode: 'date' }),
    connectedAt: timestamp('connected_at', { withTimezone: true, mode: 'date' }),
    lastSeenAt: timestamp('last_seen_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [
    primaryKey({ name: 'zone_sessions_pk', columns: [t.tenantId, t.zone] }),
    foreignKey({ name: 'zone_sessions_tenant_fk', columns: [t.tenantId], foreignColumns: [tenants.id] }).onDelete('cascade'),
  ],
);

/**
 * A zone's full inventory snapshot in transit (zone -> global). Chunks may arrive over several requests
 * and replicas (long-poll), so they wait here until the `complete` frame, which applies them in one
 * transaction and deletes what the zone no longer has. Bounded per zone (STAGING_LIMITS); a newer snapshot
 * of the zone replaces an older one, and one that received nothing for STAGING_TTL_MS is swept away.
 */
export const kdsStaging = pgTable(
  'kds_staging',
  {
    tenantId: text('tenant_id').notNull(),
    zone: text('zone').notNull(),
    snapshotId: text('snapshot_id').notNull(),
    kind: text('kind').notNull(),
    mesh: text('mesh').notNull(),
    name: text('name').notNull(),
    labels: jsonb('labels').$type<Record<string, string>>().notNull(),
    spec: jsonb('spec').$type<Record<string, unknown>>().notNull(),
    /** The resource's JSON size, summed to bound what one zone may stage (MAX_STAGED_BYTES). */
    bytes: integer('bytes').notNull().default(0),
    stagedAt: timestamp('staged_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: 'kds_staging_pk', columns: [t.tenantId, t.zone, t.snapshotId, t.kind, t.mesh, t.name] })],
);

/**
 * Answers relayed between global replicas: a proxy's `xds` asked on one replica of a zone whose KDS session
 * another replica holds (`global-api/src/kds/relay.ts`). The question travels in a NOTIFY; the answer (up to
 * the 8 MiB a zone sends) is written here by the holding replica and read and deleted by the asking one;
 * answers nobody collected (the asker gave up) are deleted after a minute.
 */
export const kdsRelayAnswers = pgTable('kds_relay_answers', {
  id: text('id').primaryKey(),
  tenantId: text('tenant_id').notNull(),
  status: integer('status').notNull(),
  contentType: text('content_type').notNull(),
  body: text('body').notNull(),
  answeredAt: timestamp('answered_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});

/** HMAC keys that sign zone tokens. Several may be active: rotation adds one, retiring stops verification. */
export const signingKeys = pgTable(
  'signing_keys',
  {
    tenantId: text('tenant_id').notNull(),
    kid: text('kid').notNull(),
    /** base64url of 32 random bytes. */
    secret: text('secret').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    retiredAt: timestamp('retired_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [
    primaryKey({ name: 'signing_keys_pk', columns: [t.tenantId, t.kid] }),
    foreignKey({ name: 'signing_keys_tenant_fk', columns: [t.tenantId], foreignColumns: [tenants.id] }).onDelete('cascade'),
  ],
);

/** Issued zone tokens (the token itself is signed; this row is for listing and revocation). */
export const zoneTokens = pgTable(
  'zone_tokens',
  {
    jti: text('jti').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    zone: text('zone').notNull(),
    kid: text('kid').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [
    foreignKey({ name: 'zone_tokens_tenant_fk', columns: [t.tenantId], foreignColumns: [tenants.id] }).onDelete('cascade'),
    index('zone_tokens_tenant_zone_idx').on(t.tenantId, t.zone),
  ],
);

/**
 * Named cursors written atomically with resource batches: the zone agent keeps "last global revision
 * applied" here, so a crash can never leave the cursor ahead of (or behind) the data it describes.
 */
export const syncCursors = pgTable(
  'sync_cursors',
  {
    tenantId: text('tenant_id').notNull(),
    name: text('name').notNull(),
    value: bigint('value', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ name: 'sync_cursors_pk', columns: [t.tenantId, t.name] })],
);
