/**
 * The resource store: CRUD with optimistic concurrency plus a gap-free change feed, over either backend.
 *
 * Every write runs in one transaction that first bumps the tenant's revision counter (an upsert on the
 * tenant row, which takes its row lock). The lock is held until commit, so the next writer of the same
 * tenant gets its number only after this one has committed or rolled back: revisions of a tenant commit in
 * increasing order. A reader that has seen revision R can therefore never later find a change numbered
 * below R; plain sequences cannot promise that because they hand numbers out at insert time.
 * The price is that writes of one tenant are serialised; tenants never wait for each other.
 */
import { and, asc, count, eq, gt, inArray, lt, sql, type SQL } from 'drizzle-orm';
import { descriptorFor } from '../../../proto/src/resources.js';
import { validateResource, type ResourceInput } from '../../../proto/src/validate.js';
import type { Db } from './db.js';
import { AlreadyExistsError, ConflictError, NotFoundError, ValidationError, type ResourceKey } from './errors.js';
import { resources, tenants, type ResourceRow } from './schema.js';

export interface Resource extends ResourceKey {
  readonly labels: Record<string, string>;
  readonly spec: Record<string, unknown>;
  /** Optimistic-concurrency version: 1 on create, +1 on every write of this key. */
  readonly version: number;
  /** The tenant revision of the last write of this key. */
  readonly revision: number;
  readonly creationTime: Date;
  readonly modificationTime: Date;
}

/** What callers hand in; validated against the descriptor table before anything touches the database. */
export interface ResourceDraft {
  kind: string;
  mesh?: string;
  name: string;
  labels?: Record<string, string>;
  spec: unknown;
}

export type Change =
  | { readonly op: 'upsert'; readonly revision: number; readonly resource: Resource }
  | { readonly op: 'delete'; readonly revision: number; readonly key: ResourceKey };

export interface ChangesPage {
  readonly changes: Change[];
  /** Where to resume: the last revision in this page, or the tenant's current revision when caught up. */
  readonly revision: number;
  /** More changes follow `revision`; ask again at once. */
  readonly more: boolean;
  /**
   * The reader's revision cannot be served incrementally: it is older than the oldest compacted tombstone,
   * or newer than anything the database holds (a restored backup). Load a full snapshot instead.
   */
  readonly resyncRequired: boolean;
}

export interface ListOptions {
  mesh?: string;
  /** Substring of the name. */
  nameContains?: string;
  /** Every label here must match exactly. */
  labels?: Record<string, string>;
  limit?: number;
  offset?: number;
}

export type WriteOp =
  | { op: 'create'; resource: ResourceDraft }
  | { op: 'update'; resource: ResourceDraft; expectedVersion?: number }
  | { op: 'upsert'; resource: ResourceDraft; expectedVersion?: number }
  | { op: 'delete'; key: { kind: string; mesh?: string; name: string }; expectedVersion?: number };

export type WriteResult =
  | { op: 'create' | 'update'; resource: Resource; created: boolean }
  | { op: 'delete'; key: ResourceKey; revision: number };

const DEFAULT_PAGE = 100;
const DEFAULT_FEED_PAGE = 1000;

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

export interface StoreHooks {
  /**
   * Runs inside every write transaction after its rows are written and before it commits. Tests use it to
   * hold a transaction open (a slow writer) and show that the feed still has no gaps.
   */
  beforeCommit?: (tenant: string, revisions: readonly number[]) => Promise<void>;
}

export class ResourceStore {
  constructor(
    private readonly db: Db,
    private readonly hooks: StoreHooks = {},
  ) {}

  async get(tenant: string, key: { kind: string; mesh?: string; name: string }): Promise<Resource | undefined> {
    const k = checkKey(key);
    const rows = await this.db
      .select()
      .from(resources)
      .where(and(keyWhere(tenant, k), eq(resources.deleted, false)))
      .limit(1);
    return rows[0] ? toResource(rows[0]) : undefined;
  }

  /** A page of live resources of one kind, ordered by (mesh, name), and the total that match. */
  async list(tenant: string, kind: string, opts: ListOptions = {}): Promise<{ items: Resource[]; total: number }> {
    checkKind(kind);
    const conds: (SQL | undefined)[] = [eq(resources.tenantId, tenant), eq(resources.kind, kind), eq(resources.deleted, false)];
    if (opts.mesh !== undefined) conds.push(eq(resources.mesh, opts.mesh));
    if (opts.nameContains) conds.push(sql`${resources.name} like ${`%${escapeLike(opts.nameContains)}%`}`);
    if (opts.labels && Object.keys(opts.labels).length > 0) {
      conds.push(sql`${resources.labels} @> ${JSON.stringify(opts.labels)}::jsonb`);
    }
    const where = and(...conds);
    return this.db.transaction(
      async (tx) => {
        const rows = await tx
          .select()
          .from(resources)
          .where(where)
          .orderBy(asc(resources.mesh), asc(resources.name))
          .limit(opts.limit ?? DEFAULT_PAGE)
          .offset(opts.offset ?? 0);
        const [totalRow] = await tx.select({ n: count() }).from(resources).where(where);
        return { items: rows.map(toResource), total: Number(totalRow?.n ?? 0) };
      },
      { isolationLevel: 'repeatable read', accessMode: 'read only' },
    );
  }

  async create(tenant: string, draft: ResourceDraft): Promise<Resource> {
    const [r] = await this.apply(tenant, [{ op: 'create', resource: draft }]);
    return (r as Extract<WriteResult, { resource: Resource }>).resource;
  }

  /** Updates an existing resource; with `expectedVersion`, a stale version is a ConflictError. */
  async update(tenant: string, draft: ResourceDraft, opts: { expectedVersion?: number } = {}): Promise<Resource> {
    const [r] = await this.apply(tenant, [{ op: 'update', resource: draft, ...opts }]);
    return (r as Extract<WriteResult, { resource: Resource }>).resource;
  }

  /** Creates or updates (REST PUT semantics). */
  async upsert(
    tenant: string,
    draft: ResourceDraft,
    opts: { expectedVersion?: number } = {},
  ): Promise<{ resource: Resource; created: boolean }> {
    const [r] = await this.apply(tenant, [{ op: 'upsert', resource: draft, ...opts }]);
    return r as Extract<WriteResult, { resource: Resource }>;
  }

  async delete(tenant: string, key: { kind: string; mesh?: string; name: string }, opts: { expectedVersion?: number } = {}): Promise<number> {
    const [r] = await this.apply(tenant, [{ op: 'delete', key, ...opts }]);
    return (r as Extract<WriteResult, { op: 'delete' }>).revision;
  }

  /**
   * Applies several writes atomically: all of them or none. Every input is validated first, and all
   * violations of all ops are reported together (field paths prefixed with `[i].` when there are several).
   */
  async apply(tenant: string, ops: readonly WriteOp[]): Promise<WriteResult[]> {
    if (ops.length === 0) return [];
    const prepared = prepareOps(ops);
    return this.db.transaction(async (tx) => {
      const first = await reserveRevisions(tx, tenant, prepared.length);
      const results = await writeBatch(tx, tenant, prepared, first, new Date());
      await this.hooks.beforeCommit?.(tenant, prepared.map((_, i) => first + i));
      return results;
    });
  }

  /** The tenant's current revision (0 for a tenant that never wrote). */
  async currentRevision(tenant: string): Promise<number> {
    const rows = await this.db.select({ revision: tenants.revision }).from(tenants).where(eq(tenants.id, tenant));
    return rows[0]?.revision ?? 0;
  }

  /**
   * Changes after `revision`, in revision order: for every key written since, its latest state (an upsert)
   * or a tombstone (a delete). Intermediate states of a key written twice since `revision` are collapsed
   * into its latest one, as a watch after compaction does; the feed never skips a key.
   */
  async changesSince(tenant: string, revision: number, opts: { limit?: number; kinds?: readonly string[] } = {}): Promise<ChangesPage> {
    const limit = opts.limit ?? DEFAULT_FEED_PAGE;
    return this.db.transaction(
      async (tx) => {
        // One snapshot for the tenant row and the changes: every revision up to `t.revision` is visible in it.
        const [t] = await tx.select().from(tenants).where(eq(tenants.id, tenant));
        const current = t?.revision ?? 0;
        if (revision > current || (t !== undefined && revision < t.compactedRevision)) {
          return { changes: [], revision: current, more: false, resyncRequired: true };
        }
        const conds: (SQL | undefined)[] = [eq(resources.tenantId, tenant), gt(resources.revision, revision)];
        if (opts.kinds) conds.push(inArray(resources.kind, [...opts.kinds]));
        const rows = await tx
          .select()
          .from(resources)
          .where(and(...conds))
          .orderBy(asc(resources.revision))
          .limit(limit + 1);
        const more = rows.length > limit;
        const page = more ? rows.slice(0, limit) : rows;
        return {
          changes: page.map(toChange),
          revision: more ? page[page.length - 1]!.revision : current,
          more,
          resyncRequired: false,
        };
      },
      { isolationLevel: 'repeatable read', accessMode: 'read only' },
    );
  }

  /** Every live resource (optionally of some kinds) and the revision they are consistent with. */
  async snapshot(tenant: string, opts: { kinds?: readonly string[] } = {}): Promise<{ resources: Resource[]; revision: number }> {
    return this.db.transaction(
      async (tx) => {
        const [t] = await tx.select({ revision: tenants.revision }).from(tenants).where(eq(tenants.id, tenant));
        const conds: (SQL | undefined)[] = [eq(resources.tenantId, tenant), eq(resources.deleted, false)];
        if (opts.kinds) conds.push(inArray(resources.kind, [...opts.kinds]));
        const rows = await tx
          .select()
          .from(resources)
          .where(and(...conds))
          .orderBy(asc(resources.revision));
        return { resources: rows.map(toResource), revision: t?.revision ?? 0 };
      },
      { isolationLevel: 'repeatable read', accessMode: 'read only' },
    );
  }

  /**
   * Prunes tombstones older than `before` and records the newest pruned revision: readers behind it get
   * `resyncRequired` instead of silently missing those deletions. Returns the number pruned.
   */
  async compact(tenant: string, before: Date): Promise<number> {
    return this.db.transaction(async (tx) => {
      // Lock the tenant row so compaction and writers of this tenant take turns.
      const locked = await tx.select().from(tenants).where(eq(tenants.id, tenant)).for('update');
      if (locked.length === 0) return 0;
      const pruned = await tx
        .delete(resources)
        .where(and(eq(resources.tenantId, tenant), eq(resources.deleted, true), lt(resources.modificationTime, before)))
        .returning({ revision: resources.revision });
      if (pruned.length === 0) return 0;
      const newest = Math.max(...pruned.map((p) => p.revision));
      await tx
        .update(tenants)
        .set({ compactedRevision: sql`greatest(${tenants.compactedRevision}, ${newest})` })
        .where(eq(tenants.id, tenant));
      return pruned.length;
    });
  }
}

type PreparedOp =
  | { op: 'create' | 'update' | 'upsert'; input: ResourceInput; expectedVersion?: number }
  | { op: 'delete'; key: ResourceKey; expectedVersion?: number };

/** Validates every op before the transaction starts, so bad input never reaches the database. */
function prepareOps(ops: readonly WriteOp[]): PreparedOp[] {
  const prepared: PreparedOp[] = [];
  const violations: { field: string; message: string }[] = [];
  const prefix = (i: number, field: string) => (ops.length > 1 ? `[${i}].${field}` : field);
  for (const [i, op] of ops.entries()) {
    if (op.op === 'delete') {
      const desc = descriptorFor(op.key.kind);
      if (!desc) {
        violations.push({ field: prefix(i, 'type'), message: `unknown resource type ${JSON.stringify(op.key.kind)}` });
        continue;
      }
      prepared.push({ op: 'delete', key: { kind: desc.kind, mesh: desc.scope === 'mesh' ? (op.key.mesh ?? '') : '', name: op.key.name }, expectedVersion: op.expectedVersion });
      continue;
    }
    const r = validateResource(op.resource);
    if (!r.ok) {
      violations.push(...r.violations.map((v) => ({ field: prefix(i, v.field), message: v.message })));
      continue;
    }
    prepared.push({ op: op.op, input: r.value, expectedVersion: 'expectedVersion' in op ? op.expectedVersion : undefined });
  }
  if (violations.length > 0) throw new ValidationError(violations);
  return prepared;
}

/**
 * Takes `n` consecutive revisions for the tenant and returns the first. The upsert locks the tenant row
 * until this transaction ends; that lock is what makes the change feed gap-free.
 */
async function reserveRevisions(tx: Tx, tenant: string, n: number): Promise<number> {
  const [row] = await tx
    .insert(tenants)
    .values({ id: tenant, revision: n })
    .onConflictDoUpdate({ target: tenants.id, set: { revision: sql`${tenants.revision} + ${n}` } })
    .returning({ revision: tenants.revision });
  return row!.revision - n + 1;
}

/** Rows per statement: 11 parameters a row stays far below PostgreSQL's 65535-parameter limit. */
const CHUNK = 1000;

/**
 * Applies prepared ops in memory against the current rows of their keys, then writes the final state of
 * every touched key with one multi-row upsert: a batch costs the same few round trips whatever its size.
 * Op `i` gets revision `first + i`; a key written twice in one batch keeps its last revision.
 */
async function writeBatch(tx: Tx, tenant: string, ops: readonly PreparedOp[], first: number, now: Date): Promise<WriteResult[]> {
  const keyOfOp = (op: PreparedOp): ResourceKey => (op.op === 'delete' ? op.key : { kind: op.input.kind, mesh: op.input.mesh, name: op.input.name });
  const id = (k: ResourceKey) => `${k.kind}\u0000${k.mesh}\u0000${k.name}`;
  const keys = [...new Map(ops.map((op) => [id(keyOfOp(op)), keyOfOp(op)])).values()];

  const state = new Map<string, ResourceRow>();
  for (let i = 0; i < keys.length; i += CHUNK) {
    const chunk = keys.slice(i, i + CHUNK);
    const tuples = sql.join(chunk.map((k) => sql`(${k.kind}, ${k.mesh}, ${k.name})`), sql`, `);
    const rows = await tx
      .select()
      .from(resources)
      .where(and(eq(resources.tenantId, tenant), sql`(${resources.kind}, ${resources.mesh}, ${resources.name}) in (${tuples})`));
    for (const row of rows) state.set(id(row), row);
  }

  const dirty = new Map<string, ResourceRow>();
  const results: WriteResult[] = [];
  for (const [i, op] of ops.entries()) {
    const revision = first + i;
    const key = keyOfOp(op);
    const existing = state.get(id(key));
    const live = existing && !existing.deleted ? existing : undefined;
    if (op.expectedVersion !== undefined && live && live.version !== op.expectedVersion) {
      throw new ConflictError(key, op.expectedVersion, live.version);
    }
    let next: ResourceRow;
    if (op.op === 'delete') {
      if (!live) throw new NotFoundError(key);
      next = { ...live, spec: {}, deleted: true, version: live.version + 1, revision, modificationTime: now };
      results.push({ op: 'delete', key, revision });
    } else {
      if (op.op === 'create' && live) throw new AlreadyExistsError(key);
      if ((op.op === 'update' || op.expectedVersion !== undefined) && !live) throw new NotFoundError(key);
      const { labels, spec } = op.input;
      next = live
        ? { ...live, labels, spec, version: live.version + 1, revision, modificationTime: now }
        : {
            tenantId: tenant,
            ...key,
            labels,
            spec,
            deleted: false,
            // Re-creating over a tombstone keeps counting versions up, so a client holding a version from
            // before the deletion cannot overwrite the new resource by accident.
            version: existing ? existing.version + 1 : 1,
            revision,
            creationTime: now,
            modificationTime: now,
          };
      results.push({ op: live ? 'update' : 'create', resource: toResource(next), created: !live });
    }
    state.set(id(key), next);
    dirty.set(id(key), next);
  }

  const rows = [...dirty.values()];
  for (let i = 0; i < rows.length; i += CHUNK) {
    await tx
      .insert(resources)
      .values(rows.slice(i, i + CHUNK))
      .onConflictDoUpdate({
        target: [resources.tenantId, resources.kind, resources.mesh, resources.name],
        set: {
          spec: sql`excluded.spec`,
          labels: sql`excluded.labels`,
          version: sql`excluded.version`,
          revision: sql`excluded.revision`,
          deleted: sql`excluded.deleted`,
          creationTime: sql`excluded.creation_time`,
          modificationTime: sql`excluded.modification_time`,
        },
      });
  }
  return results;
}

function checkKind(kind: string) {
  if (!descriptorFor(kind)) throw new ValidationError([{ field: 'type', message: `unknown resource type ${JSON.stringify(kind)}` }]);
}

function checkKey(key: { kind: string; mesh?: string; name: string }): ResourceKey {
  const desc = descriptorFor(key.kind);
  if (!desc) throw new ValidationError([{ field: 'type', message: `unknown resource type ${JSON.stringify(key.kind)}` }]);
  return { kind: desc.kind, mesh: desc.scope === 'mesh' ? (key.mesh ?? '') : '', name: key.name };
}

function keyWhere(tenant: string, key: ResourceKey) {
  return and(eq(resources.tenantId, tenant), eq(resources.kind, key.kind), eq(resources.mesh, key.mesh), eq(resources.name, key.name));
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function toResource(row: ResourceRow): Resource {
  return {
    kind: row.kind,
    mesh: row.mesh,
    name: row.name,
    labels: row.labels,
    spec: row.spec,
    version: row.version,
    revision: row.revision,
    creationTime: row.creationTime,
    modificationTime: row.modificationTime,
  };
}

function toChange(row: ResourceRow): Change {
  return row.deleted
    ? { op: 'delete', revision: row.revision, key: { kind: row.kind, mesh: row.mesh, name: row.name } }
    : { op: 'upsert', revision: row.revision, resource: toResource(row) };
}
