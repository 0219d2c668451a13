/**
 * The resource store: CRUD with optimistic concurrency plus a gap-free change feed, over either backend.
 *
 * Every write runs in one transaction that first bumps the tenant's revision counter (an upsert on the
 * tenant row, which takes its row lock). The lock is held until commit, so the next writer of the same
 * tenant gets its number only after this one has committed or rolled back: revisions of a tenant commit in
 * increasing order. A reader that has seen revision R can therefore never later find a change numbered
 * below R; plain sequences cannot promise that because they hand numbers out at insert time.
 * The price is that writes of one tenant are serialised; tenants never wait for each other.
 *
 * Kinds whose descriptor says `storage: 'status'` (ZoneInsight) live in `status_resources` instead: their
 * writes take no revision and no tenant lock (row locks keep their versions honest), they are not in the
 * change feed, snapshots or the doorbell, and a deletion removes the row. Reads of a kind go to its table.
 */
import { and, asc, count, eq, gt, inArray, lt, sql, type SQL } from 'drizzle-orm';
import { descriptorFor, type ResourceInput, validateResource, type Violation } from '@ursa/proto';
import type { Db } from './db.js';
import { Coalescer } from '../coalescer.js';
import { AlreadyExistsError, ConflictError, NotFoundError, PreconditionError, ValidationError, type ResourceKey } from './errors.js';
import { resources, statusResources, syncCursors, tenants, type ResourceRow } from './schema.js';

/** `status_resources` typed as `resources`: the two have the same columns (schema.ts), so each read is written once. */
const STATUS = statusResources as unknown as typeof resources;
/** The kind is kept apart from the change feed (descriptor `storage: 'status'`). */
const isStatus = (kind: string) => descriptorFor(kind)?.storage === 'status';
/** The table a kind is stored in. */
const tableOf = (kind: string) => (isStatus(kind) ? STATUS : resources);
/** `kinds` grouped by the table they are stored in (groups with no kind left out). */
function byTable(kinds: readonly string[]): [typeof resources, string[]][] {
  const feed = kinds.filter((k) => !isStatus(k));
  const status = kinds.filter(isStatus);
  return ([[resources, feed], [STATUS, status]] as [typeof resources, string[]][]).filter(([, ks]) => ks.length > 0);
}

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
  /** Kuma's `tag=key:value`: some tag map of the type (descriptor `tagPaths`) has `key` with a value containing `value`. */
  tags?: readonly { key: string; value: string }[];
  limit?: number;
  offset?: number;
}

/**
 * Rules about other resources, checked inside the write transaction after the tenant lock is taken, so no
 * concurrent writer of the tenant can invalidate them before commit.
 */
export interface Preconditions {
  /** Each key must exist (live). */
  exists?: readonly { key: ResourceKey; detail: string; violation: Violation }[];
  /** No live resource of `kind` may exist in `mesh`. */
  noneOf?: readonly { kind: string; mesh: string; detail: string; violation: Violation }[];
  /** Any other rule, run in the transaction after the ones above; throw a PreconditionError to refuse. */
  check?: (tx: Tx) => Promise<void>;
}

export type WriteOp =
  /** With `ifAbsent`, an existing resource is left as it is and returned instead of failing. */
  | { op: 'create'; resource: ResourceDraft; ifAbsent?: boolean }
  | { op: 'update'; resource: ResourceDraft; expectedVersion?: number }
  | { op: 'upsert'; resource: ResourceDraft; expectedVersion?: number }
  /**
   * With `ifExists`, a missing resource is not an error. With `ownedBy`, only a resource whose labels
   * include these is deleted (a zone can remove only what it synced).
   */
  | { op: 'delete'; key: { kind: string; mesh?: string; name: string }; expectedVersion?: number; ifExists?: boolean; ownedBy?: Record<string, string> }
  /**
   * Deletes every live mesh-scoped resource in `mesh` (any kind). The set is read inside the transaction,
   * under the tenant lock, so nothing created concurrently is left behind. Expands to one delete result per
   * resource.
   */
  | { op: 'cascade-mesh'; mesh: string }
  /** Deletes every live resource of `kinds` whose labels include `labels` (a deleted zone's inventory). */
  | { op: 'cascade-labels'; labels: Record<string, string>; kinds: readonly string[] }
  /**
   * Rewrites every live resource of `kinds` whose labels include `labels`, unchanged, at a new revision, so
   * feed readers look at them again (a zone was disabled or enabled: other zones must drop or regain its
   * ingresses).
   */
  | { op: 'touch-labels'; labels: Record<string, string>; kinds: readonly string[] };

export type WriteResult =
  | { op: 'create' | 'update'; resource: Resource; created: boolean }
  | { op: 'unchanged'; resource: Resource; created: false }
  | { op: 'delete'; key: ResourceKey; revision: number };

const DEFAULT_PAGE = 100;
const DEFAULT_FEED_PAGE = 1000;

/** The resource type a write is about, for `store{resource_type}` (cascades: `Mesh` / the first kind). */
function opKind(op: WriteOp): string {
  switch (op.op) {
    case 'create':
    case 'update':
    case 'upsert':
      return op.resource.kind;
    case 'delete':
      return op.key.kind;
    case 'cascade-mesh':
      return 'Mesh';
    default:
      return op.kinds[0] ?? 'none';
  }
}

export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

export interface StoreHooks {
  /**
   * Runs inside every write transaction after its rows are written and before it commits. Tests use it to
   * hold a transaction open (a slow writer) and show that the feed still has no gaps.
   */
  beforeCommit?: (tenant: string, revisions: readonly number[]) => Promise<void>;
  /**
   * Every read and write call, timed (Kuma's `store{operation,resource_type}`): `operation` is get, list,
   * create, update, delete or, for a batch of several writes, apply; `resourceType` the kind (for a batch, each
   * kind in it).
   */
  observe?: (operation: string, resourceType: string, seconds: number) => void;
}

export class ResourceStore {
  /**
   * `currentRevision` calls arriving while one read runs share the next read (one `IN (...)` for all their
   * tenants): every hello of a wave asks. A shared read starts after each of its callers asked, so none gets
   * a revision older than at its call. (TypeScript-private, not `#`: the store is wrapped in a `Proxy` to
   * count or meter calls, and a `#` member read through a proxy throws.)
   */
  private readonly revisionWaves = new Coalescer((ids: string[]) => this.currentRevisionsNow(ids), 500);

  constructor(
    private readonly db: Db,
    private readonly hooks: StoreHooks = {},
  ) {}

  /** Runs `fn`, reporting its duration to `hooks.observe` (whether it succeeded or threw). */
  private async timed<T>(operation: string, kinds: readonly string[], fn: () => Promise<T>): Promise<T> {
    const observe = this.hooks.observe;
    if (!observe) return fn();
    const start = performance.now();
    try {
      return await fn();
    } finally {
      const seconds = (performance.now() - start) / 1000;
      for (const kind of new Set(kinds)) observe(operation, kind, seconds);
    }
  }

  async get(tenant: string, key: { kind: string; mesh?: string; name: string }): Promise<Resource | undefined> {
    return this.timed('get', [key.kind], () => this.getUntimed(tenant, key));
  }

  private async getUntimed(tenant: string, key: { kind: string; mesh?: string; name: string }): Promise<Resource | undefined> {
    const k = checkKey(key);
    if (unstorable(k.mesh, k.name)) return undefined;
    const t = tableOf(k.kind);
    const rows = await this.db
      .select()
      .from(t)
      .where(and(keyWhere(tenant, k, t), eq(t.deleted, false)))
      .limit(1);
    return rows[0] ? toResource(rows[0]) : undefined;
  }

  /** A page of live resources of one kind, ordered by (mesh, name), and the total that match. */
  async list(tenant: string, kind: string, opts: ListOptions = {}): Promise<{ items: Resource[]; total: number }> {
    return this.timed('list', [kind], () => this.listUntimed(tenant, kind, opts));
  }

  private async listUntimed(tenant: string, kind: string, opts: ListOptions): Promise<{ items: Resource[]; total: number }> {
    checkKind(kind);
    const filterTexts = [opts.mesh, opts.nameContains, ...Object.entries(opts.labels ?? {}).flat(), ...(opts.tags ?? []).flatMap((t) => [t.key, t.value])];
    if (unstorable(...filterTexts)) return { items: [], total: 0 };
    const resources = tableOf(kind);
    const conds: (SQL | undefined)[] = [eq(resources.tenantId, tenant), eq(resources.kind, kind), eq(resources.deleted, false)];
    if (opts.mesh !== undefined) conds.push(eq(resources.mesh, opts.mesh));
    if (opts.nameContains) conds.push(sql`${resources.name} like ${`%${escapeLike(opts.nameContains)}%`}`);
    if (opts.labels && Object.keys(opts.labels).length > 0) {
      conds.push(sql`${resources.labels} @> ${JSON.stringify(opts.labels)}::jsonb`);
    }
    const tagPaths = descriptorFor(kind)!.tagPaths;
    for (const { key, value } of opts.tags ?? []) {
      // The paths come from the descriptor table, never from the request; key and value are parameters.
      const anyPath = sql.join(
        tagPaths.map((p) => sql`exists (select 1 from jsonb_path_query(${resources.spec}, ${p}::jsonpath) t where t ->> ${key} like ${`%${escapeLike(value)}%`})`),
        sql` or `,
      );
      conds.push(tagPaths.length > 0 ? sql`(${anyPath})` : sql`false`);
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
  async apply(tenant: string, ops: readonly WriteOp[], preconditions: Preconditions = {}, opts: { cursor?: { name: string; value: number } } = {}): Promise<WriteResult[]> {
    if (ops.length === 0 && !opts.cursor) return [];
    const observe = this.hooks.observe;
    if (!observe || ops.length === 0) return this.applyUntimed(tenant, ops, preconditions, opts);
    const start = performance.now();
    let results: WriteResult[] | undefined;
    try {
      return (results = await this.applyUntimed(tenant, ops, preconditions, opts));
    } finally {
      // Kuma's operation names: an upsert is the create or update it turned out to be.
      const first = ops[0]!;
      const operation = ops.length > 1 ? 'apply' : first.op !== 'upsert' ? first.op : results?.[0] && 'created' in results[0] && results[0].created ? 'create' : 'update';
      const seconds = (performance.now() - start) / 1000;
      for (const kind of new Set(ops.map(opKind))) observe(operation, kind, seconds);
    }
  }

  private async applyUntimed(tenant: string, ops: readonly WriteOp[], preconditions: Preconditions, opts: { cursor?: { name: string; value: number } }): Promise<WriteResult[]> {
    const prepared = prepareOps(ops);
    return this.db.transaction(async (tx) => {
      let expanded: PreparedOp[];
      if (prepared.some((op) => EXPANDING.has(op.op))) {
        // Take the tenant lock first (reserving nothing), then read what the cascade covers.
        await reserveRevisions(tx, tenant, 0);
        expanded = await expandCascades(tx, tenant, prepared);
      } else {
        expanded = prepared as PreparedOp[];
      }
      if (opts.cursor) await setCursor(tx, tenant, opts.cursor.name, opts.cursor.value);
      if (expanded.length === 0) return [];
      // Feed writes take consecutive revisions (and the tenant's lock); status writes take neither, so a batch of
      // insights alone never waits on, or holds up, the tenant's other writers.
      const feed = expanded.filter((op) => !isStatus(keyOfOp(op).kind)).length;
      const pre = (preconditions.exists?.length ?? 0) + (preconditions.noneOf?.length ?? 0) > 0 || preconditions.check !== undefined;
      let first = 0;
      if (feed > 0 || pre) first = await reserveRevisions(tx, tenant, feed);
      else await tx.insert(tenants).values({ id: tenant }).onConflictDoNothing(); // the tenant row status rows refer to; no lock when it exists
      await checkPreconditions(tx, tenant, preconditions);
      let next = first;
      const revisions = expanded.map((op) => (isStatus(keyOfOp(op).kind) ? 0 : next++));
      const results = await writeBatch(tx, tenant, expanded, revisions, new Date());
      await this.hooks.beforeCommit?.(tenant, revisions.filter((_, i) => !isStatus(keyOfOp(expanded[i]!).kind)));
      return results;
    });
  }

  /** Live resources of one kind by name, for the given (mesh, name) keys; used to join objects with insights. */
  async getMany(tenant: string, kind: string, keys: readonly { mesh: string; name: string }[]): Promise<Map<string, Resource>> {
    checkKind(kind);
    const resources = tableOf(kind);
    const out = new Map<string, Resource>();
    keys = keys.filter((k) => !unstorable(k.mesh, k.name));
    for (let i = 0; i < keys.length; i += KEY_CHUNK) {
      const tuples = sql.join(keys.slice(i, i + KEY_CHUNK).map((k) => sql`(${k.mesh}, ${k.name})`), sql`, `);
      const rows = await this.db
        .select()
        .from(resources)
        .where(and(eq(resources.tenantId, tenant), eq(resources.kind, kind), eq(resources.deleted, false), sql`(${resources.mesh}, ${resources.name}) in (${tuples})`));
      for (const row of rows) out.set(`${row.mesh}/${row.name}`, toResource(row));
    }
    return out;
  }

  /** Number of live resources per kind. */
  async countByKind(tenant: string): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const t of [resources, STATUS]) {
      const rows = await this.db
        .select({ kind: t.kind, n: count() })
        .from(t)
        .where(and(eq(t.tenantId, tenant), eq(t.deleted, false)))
        .groupBy(t.kind);
      for (const r of rows) out.set(r.kind, Number(r.n));
    }
    return out;
  }

  /** Keys of every live resource in a mesh, of any kind (for cascading a mesh deletion). */
  async keysInMesh(tenant: string, mesh: string): Promise<ResourceKey[]> {
    if (unstorable(mesh)) return [];
    const out: ResourceKey[] = [];
    for (const t of [resources, STATUS]) {
      out.push(...(await this.db.select({ kind: t.kind, mesh: t.mesh, name: t.name }).from(t).where(and(eq(t.tenantId, tenant), eq(t.mesh, mesh), eq(t.deleted, false)))));
    }
    return out;
  }

  /**
   * One page of live resources of `kinds` in key order (kind, mesh, name) after `after`: snapshots are read
   * page by page without holding anything open between pages. Feed kinds only (status kinds are never synced).
   */
  async snapshotPage(tenant: string, opts: { kinds: readonly string[]; after?: ResourceKey; limit: number }): Promise<{ resources: Resource[] }> {
    if (opts.kinds.length === 0) return { resources: [] };
    return this.snapshotPageWaves.run({ tenant, opts });
  }

  /**
   * Identical page requests arriving while a read runs share the next read: a wave of zones connecting all
   * start their snapshot at the same first page (profile of bench/kds-fanout.ts at 10,000 zones: the socket
   * writes of one query per hello were the global's largest cost after GC, README "Many zones on one global
   * process"). Sessions get the same array; none of them changes it.
   */
  private readonly snapshotPageWaves = new Coalescer(async (reqs: { tenant: string; opts: { kinds: readonly string[]; after?: ResourceKey; limit: number } }[]) => {
    const keyOf = (r: (typeof reqs)[number]) => JSON.stringify([r.tenant, r.opts.kinds, r.opts.after ?? null, r.opts.limit]);
    const pages = new Map<string, Promise<{ resources: Resource[] }>>();
    for (const r of reqs) if (!pages.has(keyOf(r))) pages.set(keyOf(r), this.snapshotPageNow(r.tenant, r.opts));
    return Promise.all(reqs.map((r) => pages.get(keyOf(r))!));
  }, 500);

  private async snapshotPageNow(tenant: string, opts: { kinds: readonly string[]; after?: ResourceKey; limit: number }): Promise<{ resources: Resource[] }> {
    const conds: (SQL | undefined)[] = [eq(resources.tenantId, tenant), eq(resources.deleted, false), inArray(resources.kind, [...opts.kinds])];
    if (opts.after) conds.push(sql`(${resources.kind}, ${resources.mesh}, ${resources.name}) > (${opts.after.kind}, ${opts.after.mesh}, ${opts.after.name})`);
    const rows = await this.db
      .select()
      .from(resources)
      .where(and(...conds))
      .orderBy(asc(resources.kind), asc(resources.mesh), asc(resources.name))
      .limit(opts.limit);
    return { resources: rows.map(toResource) };
  }

  /** Keys of live resources of `kinds` whose labels include `labels`. */
  async keysWithLabels(tenant: string, labels: Record<string, string>, kinds: readonly string[]): Promise<ResourceKey[]> {
    const out: ResourceKey[] = [];
    for (const [t, ks] of byTable(kinds)) {
      out.push(
        ...(await this.db
          .select({ kind: t.kind, mesh: t.mesh, name: t.name })
          .from(t)
          .where(and(eq(t.tenantId, tenant), eq(t.deleted, false), inArray(t.kind, ks), sql`${t.labels} @> ${JSON.stringify(labels)}::jsonb`))),
      );
    }
    return out;
  }

  /** A named cursor (0 when never set); see `apply`'s `cursor` option. */
  async cursor(tenant: string, name: string): Promise<number> {
    const rows = await this.db.select({ value: syncCursors.value }).from(syncCursors).where(and(eq(syncCursors.tenantId, tenant), eq(syncCursors.name, name)));
    return rows[0]?.value ?? 0;
  }

  async setCursor(tenant: string, name: string, value: number): Promise<void> {
    await this.db.transaction((tx) => setCursor(tx, tenant, name, value));
  }

  /**
   * When the oldest change after `revision` that the feed still holds was written: how long a reader at
   * `revision` has been behind. A key written again since keeps only its latest time, so this can be younger
   * than the reader's true lag, never older. Undefined when nothing came after `revision`.
   */
  async firstChangeAfter(tenant: string, revision: number): Promise<Date | undefined> {
    const rows = await this.db
      .select({ at: resources.modificationTime })
      .from(resources)
      .where(and(eq(resources.tenantId, tenant), gt(resources.revision, revision)))
      .orderBy(asc(resources.revision))
      .limit(1);
    return rows[0]?.at;
  }

  /** The tenant's current revision (0 for a tenant that never wrote). */
  async currentRevision(tenant: string): Promise<number> {
    return this.revisionWaves.run(tenant);
  }

  private async currentRevisionsNow(ids: string[]): Promise<number[]> {
    const unique = [...new Set(ids)];
    const rows = await this.db
      .select({ id: tenants.id, revision: tenants.revision })
      .from(tenants)
      .where(unique.length === 1 ? eq(tenants.id, unique[0]!) : inArray(tenants.id, unique));
    const byId = new Map(rows.map((r) => [r.id, r.revision]));
    return ids.map((id) => byId.get(id) ?? 0);
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
  | { op: 'create' | 'update' | 'upsert'; input: ResourceInput; expectedVersion?: number; ifAbsent?: boolean; force?: boolean }
  | { op: 'delete'; key: ResourceKey; expectedVersion?: number; ifExists?: boolean; ownedBy?: Record<string, string> };
type Expanding = Extract<WriteOp, { op: 'cascade-mesh' | 'cascade-labels' | 'touch-labels' }>;
type PreparedInput = PreparedOp | Expanding;
const EXPANDING = new Set<string>(['cascade-mesh', 'cascade-labels', 'touch-labels']);

/** Validates every op before the transaction starts, so bad input never reaches the database. */
function prepareOps(ops: readonly WriteOp[]): PreparedInput[] {
  const prepared: PreparedInput[] = [];
  const violations: { field: string; message: string }[] = [];
  const prefix = (i: number, field: string) => (ops.length > 1 ? `[${i}].${field}` : field);
  for (const [i, op] of ops.entries()) {
    if (op.op === 'cascade-mesh' || op.op === 'cascade-labels' || op.op === 'touch-labels') {
      prepared.push(op);
      continue;
    }
    if (op.op === 'delete') {
      const desc = descriptorFor(op.key.kind);
      if (!desc) {
        violations.push({ field: prefix(i, 'type'), message: `unknown resource type ${JSON.stringify(op.key.kind)}` });
        continue;
      }
      const key = { kind: desc.kind, mesh: desc.scope === 'mesh' ? (op.key.mesh ?? '') : '', name: op.key.name };
      // No stored key holds U+0000, and PostgreSQL cannot take one as a parameter: not found (nothing to do
      // with `ifExists`), decided before the transaction.
      if (unstorable(key.mesh, key.name)) {
        if (op.ifExists) continue;
        throw new NotFoundError(key);
      }
      prepared.push({ op: 'delete', key, expectedVersion: op.expectedVersion, ifExists: op.ifExists, ownedBy: op.ownedBy });
      continue;
    }
    const r = validateResource(op.resource);
    if (!r.ok) {
      violations.push(...r.violations.map((v) => ({ field: prefix(i, v.field), message: v.message })));
      continue;
    }
    prepared.push({
      op: op.op,
      input: r.value,
      expectedVersion: 'expectedVersion' in op ? op.expectedVersion : undefined,
      ifAbsent: op.op === 'create' ? op.ifAbsent : undefined,
    });
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

async function setCursor(tx: Tx, tenant: string, name: string, value: number): Promise<void> {
  await tx
    .insert(syncCursors)
    .values({ tenantId: tenant, name, value })
    .onConflictDoUpdate({ target: [syncCursors.tenantId, syncCursors.name], set: { value } });
}

async function expandCascades(tx: Tx, tenant: string, ops: readonly PreparedInput[]): Promise<PreparedOp[]> {
  const out: PreparedOp[] = [];
  for (const op of ops) {
    if (op.op === 'cascade-labels' || op.op === 'touch-labels') {
      // Touching is for feed readers: status kinds are in no feed.
      const kinds = op.op === 'touch-labels' ? op.kinds.filter((k) => !isStatus(k)) : op.kinds;
      const rows: ResourceRow[] = [];
      for (const [t, ks] of byTable(kinds)) {
        rows.push(
          ...(await tx
            .select()
            .from(t)
            .where(and(eq(t.tenantId, tenant), inArray(t.kind, ks), eq(t.deleted, false), sql`${t.labels} @> ${JSON.stringify(op.labels)}::jsonb`))
            .orderBy(asc(t.kind), asc(t.mesh), asc(t.name))),
        );
      }
      for (const row of rows) {
        out.push(
          op.op === 'cascade-labels'
            ? { op: 'delete', key: { kind: row.kind, mesh: row.mesh, name: row.name } }
            : { op: 'upsert', force: true, input: { kind: row.kind, mesh: row.mesh, name: row.name, labels: row.labels, spec: row.spec } },
        );
      }
      continue;
    }
    if (op.op !== 'cascade-mesh') {
      out.push(op);
      continue;
    }
    if (unstorable(op.mesh)) continue; // no such mesh, nothing in it
    for (const t of [resources, STATUS]) {
      const keys = await tx
        .select({ kind: t.kind, mesh: t.mesh, name: t.name })
        .from(t)
        .where(and(eq(t.tenantId, tenant), eq(t.mesh, op.mesh), eq(t.deleted, false)))
        .orderBy(asc(t.kind), asc(t.name));
      for (const key of keys) out.push({ op: 'delete', key });
    }
  }
  return out;
}

async function checkPreconditions(tx: Tx, tenant: string, pre: Preconditions): Promise<void> {
  for (const req of pre.exists ?? []) {
    if (unstorable(req.key.mesh, req.key.name)) throw new PreconditionError(req.detail, [req.violation]);
    const t = tableOf(req.key.kind);
    const found = await tx
      .select({ name: t.name })
      .from(t)
      .where(and(keyWhere(tenant, req.key, t), eq(t.deleted, false)))
      .limit(1);
    if (found.length === 0) throw new PreconditionError(req.detail, [req.violation]);
  }
  for (const rule of pre.noneOf ?? []) {
    if (unstorable(rule.mesh)) continue;
    const t = tableOf(rule.kind);
    const found = await tx
      .select({ name: t.name })
      .from(t)
      .where(and(eq(t.tenantId, tenant), eq(t.kind, rule.kind), eq(t.mesh, rule.mesh), eq(t.deleted, false)))
      .limit(1);
    if (found.length > 0) throw new PreconditionError(rule.detail, [rule.violation]);
  }
  await pre.check?.(tx);
}

/**
 * Keys per `(kind, mesh, name) in (...)` lookup. PGlite 0.5.16 aborts (`bad buffer ID`) on such a list of
 * about 300 tuples inside a transaction; 100 stays well clear and costs a few more round trips per batch.
 */
const KEY_CHUNK = 100;

/** Rows per statement: 11 parameters a row stays far below PostgreSQL's 65535-parameter limit. */
const CHUNK = 1000;

/**
 * Applies prepared ops in memory against the current rows of their keys, then writes the final state of
 * every touched key with one multi-row upsert: a batch costs the same few round trips whatever its size.
 * Op `i` gets revision `revisions[i]` (0 for status kinds); a key written twice in one batch keeps its last.
 */
async function writeBatch(tx: Tx, tenant: string, ops: readonly PreparedOp[], revisions: readonly number[], now: Date): Promise<WriteResult[]> {
  const id = (k: ResourceKey) => `${k.kind}\u0000${k.mesh}\u0000${k.name}`;
  const keys = [...new Map(ops.map((op) => [id(keyOfOp(op)), keyOfOp(op)])).values()];

  const state = new Map<string, ResourceRow>();
  for (const [t, kinds] of byTable([...new Set(keys.map((k) => k.kind))])) {
    const own = keys.filter((k) => kinds.includes(k.kind));
    for (let i = 0; i < own.length; i += KEY_CHUNK) {
      const chunk = own.slice(i, i + KEY_CHUNK);
      const tuples = sql.join(chunk.map((k) => sql`(${k.kind}, ${k.mesh}, ${k.name})`), sql`, `);
      const where = and(eq(t.tenantId, tenant), sql`(${t.kind}, ${t.mesh}, ${t.name}) in (${tuples})`);
      // Status rows have no tenant lock: lock the rows read (in key order, so two batches cannot deadlock), so
      // an expected version still means what it says until commit.
      const rows = t === resources ? await tx.select().from(t).where(where) : await tx.select().from(t).where(where).orderBy(asc(t.kind), asc(t.mesh), asc(t.name)).for('update');
      for (const row of rows) state.set(id(row), row);
    }
  }
  const existedStatus = new Set([...state.values()].filter((r) => isStatus(r.kind)).map(id));

  const dirty = new Map<string, ResourceRow>();
  const results: WriteResult[] = [];
  for (const [i, op] of ops.entries()) {
    const revision = revisions[i]!;
    const key = keyOfOp(op);
    const existing = state.get(id(key));
    const live = existing && !existing.deleted ? existing : undefined;
    if (op.expectedVersion !== undefined && live && live.version !== op.expectedVersion) {
      throw new ConflictError(key, op.expectedVersion, live.version);
    }
    let next: ResourceRow;
    if (op.op === 'delete') {
      const owned = live && (!op.ownedBy || Object.entries(op.ownedBy).every(([k, v]) => live.labels[k] === v));
      if ((!live || !owned) && op.ifExists) continue;
      if (!live || !owned) throw new NotFoundError(key);
      next = { ...live, spec: {}, deleted: true, version: live.version + 1, revision, modificationTime: now };
      results.push({ op: 'delete', key, revision });
    } else {
      if (op.op === 'create' && live && op.ifAbsent) {
        results.push({ op: 'unchanged', resource: toResource(live), created: false });
        continue;
      }
      if (op.op === 'create' && live) throw new AlreadyExistsError(key);
      if ((op.op === 'update' || op.expectedVersion !== undefined) && !live) throw new NotFoundError(key);
      const { labels, spec } = op.input;
      // Writing what is already stored changes nothing: no new version or revision, nobody woken up.
      if (op.op === 'upsert' && live && !op.force && op.expectedVersion === undefined && sameContent(live, labels, spec)) {
        results.push({ op: 'unchanged', resource: toResource(live), created: false });
        continue;
      }
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

  const rows = [...dirty.values()].filter((r) => !isStatus(r.kind));
  await writeStatusRows(tx, tenant, [...dirty.values()].filter((r) => isStatus(r.kind)), (r) => existedStatus.has(id(r)));
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

function keyOfOp(op: PreparedOp): ResourceKey {
  return op.op === 'delete' ? op.key : { kind: op.input.kind, mesh: op.input.mesh, name: op.input.name };
}

/**
 * Writes the final state of status rows: deleted ones are removed (no tombstone), rows that existed (locked by
 * `writeBatch`) are overwritten, new ones inserted. A new row another writer inserted meanwhile (no lock
 * covers a row that does not exist yet) is an AlreadyExistsError, as a create racing a create is.
 */
async function writeStatusRows(tx: Tx, tenant: string, rows: readonly ResourceRow[], existed: (r: ResourceRow) => boolean): Promise<void> {
  const gone = rows.filter((r) => r.deleted && existed(r));
  for (let i = 0; i < gone.length; i += KEY_CHUNK) {
    const tuples = sql.join(gone.slice(i, i + KEY_CHUNK).map((k) => sql`(${k.kind}, ${k.mesh}, ${k.name})`), sql`, `);
    await tx.delete(STATUS).where(and(eq(STATUS.tenantId, tenant), sql`(${STATUS.kind}, ${STATUS.mesh}, ${STATUS.name}) in (${tuples})`));
  }
  const updated = rows.filter((r) => !r.deleted && existed(r));
  for (let i = 0; i < updated.length; i += CHUNK) {
    await tx
      .insert(STATUS)
      .values(updated.slice(i, i + CHUNK))
      .onConflictDoUpdate({
        target: [STATUS.tenantId, STATUS.kind, STATUS.mesh, STATUS.name],
        set: { spec: sql`excluded.spec`, labels: sql`excluded.labels`, version: sql`excluded.version`, creationTime: sql`excluded.creation_time`, modificationTime: sql`excluded.modification_time` },
      });
  }
  const created = rows.filter((r) => !r.deleted && !existed(r));
  for (let i = 0; i < created.length; i += CHUNK) {
    const chunk = created.slice(i, i + CHUNK);
    const inserted = await tx.insert(STATUS).values(chunk).onConflictDoNothing().returning({ kind: STATUS.kind, mesh: STATUS.mesh, name: STATUS.name });
    if (inserted.length < chunk.length) {
      const done = new Set(inserted.map((k) => `${k.kind}/${k.mesh}/${k.name}`));
      const lost = chunk.find((r) => !done.has(`${r.kind}/${r.mesh}/${r.name}`))!;
      throw new AlreadyExistsError({ kind: lost.kind, mesh: lost.mesh, name: lost.name });
    }
  }
}

function checkKind(kind: string) {
  if (!descriptorFor(kind)) throw new ValidationError([{ field: 'type', message: `unknown resource type ${JSON.stringify(kind)}` }]);
}

function checkKey(key: { kind: string; mesh?: string; name: string }): ResourceKey {
  const desc = descriptorFor(key.kind);
  if (!desc) throw new ValidationError([{ field: 'type', message: `unknown resource type ${JSON.stringify(key.kind)}` }]);
  return { kind: desc.kind, mesh: desc.scope === 'mesh' ? (key.mesh ?? '') : '', name: key.name };
}

function keyWhere(tenant: string, key: ResourceKey, t: typeof resources = resources) {
  return and(eq(t.tenantId, tenant), eq(t.kind, key.kind), eq(t.mesh, key.mesh), eq(t.name, key.name));
}

/**
 * True when some text contains U+0000. PostgreSQL text cannot hold it (the driver fails the whole query), and
 * every write is validated, so no stored name, mesh, label or tag contains one: a key or filter with it
 * matches nothing. Reads answer that without asking the database, so a client's `%00` is a 404 or an empty
 * list, never a 500.
 */
function unstorable(...texts: (string | undefined)[]): boolean {
  return texts.some((t) => t !== undefined && t.includes('\u0000'));
}

function sameContent(row: ResourceRow, labels: Record<string, string>, spec: Record<string, unknown>): boolean {
  return canonical(row.labels) === canonical(labels) && canonical(row.spec) === canonical(spec);
}

/** JSON with object keys sorted at every level (jsonb does not keep key order). */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
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
