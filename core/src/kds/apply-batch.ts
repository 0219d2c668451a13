/**
 * The one rule for a batch that came from the other plane, on both sides (zone: the global's resources;
 * global: a zone's inventory). Each resource is decoded and validated on its own against the same
 * descriptor schemas as the REST API: a bad one is rejected with its reason and the rest still applies.
 * Accepted resources are mapped to how this side stores them, and removals only ever touch what the other
 * plane owns here (`ownedBy` labels), so a zone's own resources are never removed by the global, nor one
 * zone's inventory by another zone. A snapshot is staged by the caller (in memory on a zone, in the database
 * on the global) until its `complete` frame; `replaceOwnedOps` then replaces exactly what the other plane
 * owns here. Pure functions: callers read and write their store.
 */
import type { Rejection, Resource as WireFrameResource, ResourceKey } from '@ursa/proto/gen/kds.js';
import { descriptorFor, type ResourceDescriptor, type ResourceInput, type Result, sentToGlobal, sentToZones, validateResource } from '@ursa/proto';
import type { WriteOp } from '../store/resource-store.js';
import { fromWire, KdsError } from './frames.js';
import { fromZone, globalName, ORIGIN_LABEL, type WireResource, ZONE_LABEL } from './mappers.js';

/** What one side takes from the other plane, and how it keeps it. */
export interface OwnershipRule {
  /** Kinds this side takes from the other plane. */
  readonly kinds: readonly string[];
  /** Labels that mark, on this side, what the other plane owns: the only resources its batches remove or replace. */
  readonly ownedBy: Readonly<Record<string, string>>;
  /**
   * A resource of a kind this side does not take. `reject`: that resource is refused, the rest applies
   * (a removal of such a kind is ignored: nothing of it was ever taken). `fail`: the sender broke the
   * protocol, and the batch fails with KdsError `unknown-type` (which ends the session).
   */
  readonly foreignKinds: 'reject' | 'fail';
  /** Why a kind is refused; `known` is false when no descriptor has it. */
  foreignReason(kind: string, known: boolean, op: 'upsert' | 'removal'): string;
  /** An accepted resource as this side stores it (`valid` is the validator's normalised form). */
  adopt(desc: ResourceDescriptor, sent: WireResource, valid: ResourceInput): WireResource;
  /** The name this side stores the resource the other plane calls `name` under. */
  storedName(mesh: string, name: string): string;
}

/** Validates a resource as the REST API does (the default); tests may pass another. */
export type Validator = (input: { kind: string; mesh?: string; name: string; labels: Record<string, string>; spec: unknown }) => Result<ResourceInput>;

export interface IncomingBatch {
  readonly upserts: readonly WireFrameResource[];
  readonly removals: readonly ResourceKey[];
  /** Part of a full snapshot: the caller stages `accepted` until the `complete` frame. */
  readonly snapshot: boolean;
}

export interface BatchPlan {
  /** Accepted resources, as this side stores them (in the batch's order). */
  readonly accepted: WireResource[];
  /** One per refused resource; everything else in the batch still applies. */
  readonly rejections: Rejection[];
  /** Incremental batch: the upserts, then the removals of what the other plane owns here, for one `apply`. Empty for a snapshot frame. */
  readonly ops: WriteOp[];
}

const keyOf = (k: ResourceKey | undefined): ResourceKey => k ?? { kind: '', mesh: '', name: '' };
const reasonOf = (r: Extract<Result<unknown>, { ok: false }>) => r.violations.map((v) => `${v.field}: ${v.message}`).join('; ');

/** Sorts a batch into accepted resources, per-resource rejections and (incremental) the write ops. */
export function planBatch(batch: IncomingBatch, rule: OwnershipRule, validate: Validator = validateResource): BatchPlan {
  const takes = new Set(rule.kinds);
  const accepted: WireResource[] = [];
  const rejections: Rejection[] = [];
  for (const [i, raw] of batch.upserts.entries()) {
    const key = keyOf(raw.key);
    const desc = descriptorFor(key.kind);
    if (!desc || !takes.has(key.kind)) {
      const reason = rule.foreignReason(key.kind, desc !== undefined, 'upsert');
      if (rule.foreignKinds === 'fail') throw new KdsError('unknown-type', `delta.upserts[${i}]: ${reason}`);
      rejections.push({ key, reason });
      continue;
    }
    const parsed = fromWire(raw);
    if (!parsed.ok) {
      rejections.push({ key: parsed.key, reason: parsed.reason });
      continue;
    }
    const sent = parsed.value;
    // Validate what the sender sent (its names), then map it to how this side keeps it.
    const check = validate({ kind: sent.kind, mesh: desc.scope === 'mesh' ? sent.mesh : undefined, name: sent.name, labels: sent.labels, spec: sent.spec });
    if (!check.ok) {
      rejections.push({ key, reason: reasonOf(check) });
      continue;
    }
    accepted.push(rule.adopt(desc, sent, check.value));
  }

  const removals: WriteOp[] = [];
  for (const [i, key] of batch.removals.entries()) {
    const desc = descriptorFor(key.kind);
    if (!desc || !takes.has(key.kind)) {
      if (rule.foreignKinds === 'fail') throw new KdsError('unknown-type', `delta.removals[${i}]: ${rule.foreignReason(key.kind, desc !== undefined, 'removal')}`);
      continue;
    }
    const mesh = desc.scope === 'mesh' ? key.mesh : '';
    removals.push({ op: 'delete', ifExists: true, ownedBy: { ...rule.ownedBy }, key: { kind: key.kind, mesh, name: rule.storedName(mesh, key.name) } });
  }

  if (batch.snapshot) return { accepted, rejections, ops: [] };
  return { accepted, rejections, ops: [...accepted.map((r): WriteOp => ({ op: 'upsert', resource: r })), ...removals] };
}

/**
 * A complete snapshot replaces what the other plane owns here: upsert everything it holds, delete what this
 * side `held` (keys labelled `ownedBy`) that the snapshot lacks. Only now, with the whole snapshot in, is
 * anything missing from it deleted.
 */
export function replaceOwnedOps(staged: readonly WireResource[], held: readonly ResourceKey[]): WriteOp[] {
  const id = (k: { kind: string; mesh: string; name: string }) => `${k.kind}/${k.mesh}/${k.name}`;
  const keep = new Set(staged.map(id));
  const ops: WriteOp[] = staged.map((r) => ({ op: 'upsert', resource: r }));
  for (const k of held) if (!keep.has(id(k))) ops.push({ op: 'delete', ifExists: true, key: k });
  return ops;
}

/** What a zone takes from the global: the kinds sent to zones, kept labelled `kuma.io/origin: global`, names unchanged. */
export function downwardRule(): OwnershipRule {
  return {
    kinds: sentToZones().map((d) => d.kind),
    ownedBy: { [ORIGIN_LABEL]: 'global' },
    foreignKinds: 'reject',
    foreignReason: (kind) => `type ${JSON.stringify(kind)} is not synced to zones`,
    // The spec as the global sent it (the global validated and stored it so); the mesh as its scope says.
    adopt: (_desc, sent, valid) => ({ ...sent, mesh: valid.mesh, labels: { ...sent.labels, [ORIGIN_LABEL]: 'global' } }),
    storedName: (_mesh, name) => name,
  };
}

/**
 * What the global takes from zone `zone`: its inventory kinds, mapped into the zone's slice (hashed name,
 * zone labels, zone fields pinned: `fromZone`). A zone sending another kind breaks the protocol.
 */
export function upwardRule(zone: string): OwnershipRule {
  return {
    kinds: sentToGlobal().map((d) => d.kind),
    ownedBy: { [ZONE_LABEL]: zone, [ORIGIN_LABEL]: 'zone' },
    foreignKinds: 'fail',
    foreignReason: (kind, known, op) => (known ? `zones may not ${op === 'upsert' ? 'send' : 'remove'} resources of type ${JSON.stringify(kind)}` : `unknown resource type ${JSON.stringify(kind)}`),
    adopt: (desc, sent, valid) => fromZone(desc, zone, { ...sent, mesh: valid.mesh, spec: valid.spec }),
    storedName: (mesh, name) => globalName(zone, mesh, name),
  };
}
