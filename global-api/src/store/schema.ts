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

/**
 * Every resource of every kind, one table (as Kuma does), keyed by (tenant, kind, mesh, name); `mesh` is ''
 * for global-scoped kinds. A deleted resource stays as a tombstone (`deleted = true`, empty spec) until it
 * is compacted, so readers of the change feed learn about deletions.
 * `version` is the optimistic-concurrency counter of the key; `revision` is the tenant revision of its last write.
 */
export const resources = pgTable(
  'resources',
  {
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
  },
  (t) => [
    primaryKey({ name: 'resources_pk', columns: [t.tenantId, t.kind, t.mesh, t.name] }),
    foreignKey({ name: 'resources_tenant_fk', columns: [t.tenantId], foreignColumns: [tenants.id] }).onDelete('cascade'),
    // The change feed reads `WHERE tenant_id = ? AND revision > ? ORDER BY revision`; unique proves no two
    // writes ever share a revision.
    uniqueIndex('resources_feed_idx').on(t.tenantId, t.revision),
    index('resources_labels_idx').using('gin', t.labels),
  ],
);

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

export type ApiTokenRow = typeof apiTokens.$inferSelect;
