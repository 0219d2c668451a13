/**
 * The VIP allocator: one virtual IPv4 address per (mesh, service), from a CIDR (default 240.0.0.0/4), kept in
 * the `dns_vips` table so that a service keeps its address across restarts (Kuma: `pkg/dns/vips_allocator.go`).
 *
 * Each `sync` compares the wanted services with the table, in one transaction:
 * - a wanted service with a row keeps its address (a quarantined row is reclaimed by its own service);
 * - a row whose service is no longer wanted is freed: `freed_at` is set and the address stays reserved for
 *   the quarantine period, then the row is deleted and the address may go to another service;
 * - a new service gets the lowest free address of the range (network and broadcast skipped), so allocation
 *   is deterministic; a row outside a changed CIDR is moved to a new address;
 * - when the range is exhausted the service gets no VIP (and no DNS record): logged, never fatal.
 *
 * VIPs are per mesh (two meshes may use the same address), as in Kuma.
 */
import { and, eq, sql } from 'drizzle-orm';
import { type Db, type Logger, tenants } from '@ursa/core';
import { dnsVips, type DnsVipRow } from '../store/schema.js';

/**
 * Why an hour, when answers carry a 30 s TTL: the TTL only bounds well-behaved caches. Applications resolve
 * once at start-up and keep the address (JVMs without a TTL setting, connection pools keyed by IP), long-lived
 * connections stay on the old address, and a sidecar's outbound listeners follow the VIP table only after a
 * config push. Handing a just-freed address to another service would silently send that traffic to the
 * wrong service; keeping it out of use for far longer than any of these makes that practically impossible,
 * and a service that disappears briefly (a redeploy) gets its own address back meanwhile.
 */
export const DEFAULT_QUARANTINE_MS = 60 * 60 * 1000;

export interface Ipv4Range {
  /** First and last assignable address, as unsigned 32-bit numbers. */
  readonly first: number;
  readonly last: number;
  readonly cidr: string;
}

export function parseIpv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const o = m.slice(1, 5).map(Number);
  if (o.some((x) => x > 255)) return undefined;
  return ((o[0]! << 24) | (o[1]! << 16) | (o[2]! << 8) | o[3]!) >>> 0;
}

export function formatIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** The assignable addresses of an IPv4 CIDR: without network and broadcast, except for /31 and /32. */
export function parseCidr(cidr: string): Ipv4Range {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(cidr);
  const base = m ? parseIpv4(m[1]!) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (base === undefined || !(prefix >= 0 && prefix <= 32)) throw new Error(`not an IPv4 CIDR: ${JSON.stringify(cidr)}`);
  const size = 2 ** (32 - prefix);
  const network = prefix === 0 ? 0 : (base & (~0 << (32 - prefix))) >>> 0;
  const broadcast = network + size - 1;
  return prefix >= 31 ? { first: network, last: broadcast, cidr } : { first: network + 1, last: broadcast - 1, cidr };
}

/** Wanted services per mesh. */
export type WantedServices = ReadonlyMap<string, ReadonlySet<string>>;
/** mesh -> service -> VIP. */
export type VipMap = Map<string, Map<string, string>>;

export interface SyncResult {
  readonly vips: VipMap;
  /** Services left without a VIP because their mesh's range is full. */
  readonly exhausted: readonly { mesh: string; services: string[] }[];
  /** Rows written (inserted, updated or deleted); 0 when nothing changed. */
  readonly writes: number;
}

export interface VipAllocatorOptions {
  readonly db: Db;
  readonly tenant: string;
  readonly cidr: string;
  readonly quarantineMs?: number;
  readonly log?: Logger;
  /** Clock, for tests. */
  readonly now?: () => Date;
}

export class VipAllocator {
  readonly range: Ipv4Range;
  readonly quarantineMs: number;
  #lastExhausted = '';

  constructor(private readonly opts: VipAllocatorOptions) {
    this.range = parseCidr(opts.cidr);
    this.quarantineMs = opts.quarantineMs ?? DEFAULT_QUARANTINE_MS;
  }

  /** Brings the table in line with `wanted` and returns every wanted service's VIP. */
  async sync(wanted: WantedServices): Promise<SyncResult> {
    const { db, tenant } = this.opts;
    const now = (this.opts.now ?? (() => new Date()))();
    const result = await db.transaction(async (tx) => {
      const rows = await tx.select().from(dnsVips).where(eq(dnsVips.tenantId, tenant));
      const plan = planSync(rows, wanted, this.range, now, this.quarantineMs);
      const where = (r: DnsVipRow) => and(eq(dnsVips.tenantId, tenant), eq(dnsVips.mesh, r.mesh), eq(dnsVips.ip, r.ip));
      // Deletions first: an expired row's address may be handed out again in the same transaction.
      for (const r of plan.deletes) await tx.delete(dnsVips).where(where(r));
      for (const { row, set } of plan.updates) await tx.update(dnsVips).set(set).where(where(row));
      if (plan.inserts.length > 0) {
        // The table references the tenant; the zone's tenant row exists once it has resources, but make sure.
        await tx.insert(tenants).values({ id: tenant }).onConflictDoNothing();
        for (let i = 0; i < plan.inserts.length; i += 500) {
          await tx.insert(dnsVips).values(plan.inserts.slice(i, i + 500).map((v) => ({ tenantId: tenant, ...v, allocatedAt: now })));
        }
      }
      return { vips: plan.vips, exhausted: plan.exhausted, writes: plan.deletes.length + plan.updates.length + plan.inserts.length };
    });
    const key = JSON.stringify(result.exhausted);
    if (key !== this.#lastExhausted) {
      this.#lastExhausted = key;
      for (const e of result.exhausted) {
        this.opts.log?.warn(`VIP range ${this.range.cidr} of mesh ${e.mesh} is exhausted; ${e.services.length} service(s) without a VIP: ${e.services.slice(0, 10).join(', ')}${e.services.length > 10 ? ', ...' : ''}`);
      }
    }
    return result;
  }
}

interface Plan {
  deletes: DnsVipRow[];
  updates: { row: DnsVipRow; set: Partial<Pick<DnsVipRow, 'ip' | 'freedAt' | 'allocatedAt'>> }[];
  inserts: { mesh: string; service: string; ip: string }[];
  vips: VipMap;
  exhausted: { mesh: string; services: string[] }[];
}

/** The pure part of `sync`: what to write, given the current rows. */
export function planSync(rows: readonly DnsVipRow[], wanted: WantedServices, range: Ipv4Range, now: Date, quarantineMs: number): Plan {
  const plan: Plan = { deletes: [], updates: [], inserts: [], vips: new Map(), exhausted: [] };
  const byMesh = new Map<string, DnsVipRow[]>();
  for (const r of rows) {
    let list = byMesh.get(r.mesh);
    if (!list) byMesh.set(r.mesh, (list = []));
    list.push(r);
  }
  const expiredAt = now.getTime() - quarantineMs;
  const meshes = [...new Set([...wanted.keys(), ...byMesh.keys()])].sort();
  for (const mesh of meshes) {
    const want = wanted.get(mesh) ?? new Set<string>();
    const assigned = new Map<string, string>();
    /** Addresses of the range held by a kept row (live or quarantined). */
    const used = new Set<number>();
    /** Wanted services whose row lies outside the (changed) range: moved to a new address below. */
    const toMove = new Map<string, DnsVipRow>();
    for (const r of byMesh.get(mesh) ?? []) {
      const n = parseIpv4(r.ip);
      const inRange = n !== undefined && n >= range.first && n <= range.last;
      if (want.has(r.service)) {
        if (!inRange) {
          toMove.set(r.service, r);
          continue;
        }
        if (r.freedAt) plan.updates.push({ row: r, set: { freedAt: null } });
        assigned.set(r.service, r.ip);
        used.add(n);
      } else if (r.freedAt && r.freedAt.getTime() <= expiredAt) {
        plan.deletes.push(r);
      } else {
        if (!r.freedAt) plan.updates.push({ row: r, set: { freedAt: now } });
        if (inRange) used.add(n);
      }
    }
    let cursor = range.first;
    const starved: string[] = [];
    for (const service of [...want].sort()) {
      if (assigned.has(service)) continue;
      while (cursor <= range.last && used.has(cursor)) cursor++;
      if (cursor > range.last) {
        starved.push(service);
        continue;
      }
      const ip = formatIpv4(cursor);
      used.add(cursor);
      assigned.set(service, ip);
      const old = toMove.get(service);
      if (old) plan.updates.push({ row: old, set: { ip, freedAt: null, allocatedAt: now } });
      else plan.inserts.push({ mesh, service, ip });
    }
    // A wanted service that could not be moved into the new range keeps no address; its old row goes.
    for (const service of starved) {
      const old = toMove.get(service);
      if (old) plan.deletes.push(old);
    }
    if (starved.length > 0) plan.exhausted.push({ mesh, services: starved });
    if (assigned.size > 0) plan.vips.set(mesh, assigned);
  }
  return plan;
}
