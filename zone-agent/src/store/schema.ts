/**
 * The zone agent's own tables. They live in the one migration history under `migrations/` (drizzle-kit reads
 * this file beside `@ursa/core`'s schema, see drizzle.config.ts) so that every existing database upgrades in
 * one sequence; on a global database they stay empty.
 */
import { foreignKey, pgTable, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { tenants } from '@ursa/core/schema';

/**
 * Virtual IPs of the zone agent's `.mesh` resolver (`zone-agent/src/dns/vips.ts`), per (tenant, mesh): one row
 * per address in use or in quarantine. `freed_at` is set when the service disappears; the address then stays
 * reserved for that service for the quarantine period (clients may still hold it in their DNS caches), and
 * the service gets the same address back if it returns meanwhile. Expired rows are deleted.
 */
export const dnsVips = pgTable(
  'dns_vips',
  {
    tenantId: text('tenant_id').notNull(),
    mesh: text('mesh').notNull(),
    service: text('service').notNull(),
    /** Dotted IPv4. */
    ip: text('ip').notNull(),
    allocatedAt: timestamp('allocated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    freedAt: timestamp('freed_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [
    primaryKey({ name: 'dns_vips_pk', columns: [t.tenantId, t.mesh, t.ip] }),
    uniqueIndex('dns_vips_service_idx').on(t.tenantId, t.mesh, t.service),
    foreignKey({ name: 'dns_vips_tenant_fk', columns: [t.tenantId], foreignColumns: [tenants.id] }).onDelete('cascade'),
  ],
);

export type DnsVipRow = typeof dnsVips.$inferSelect;
