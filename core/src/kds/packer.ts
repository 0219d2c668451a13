/**
 * Packs resources into KDS Delta frames by encoded bytes, the one rule both directions follow (the global's
 * downstream deltas, the zone's inventory upload):
 * - a frame is closed once its content reaches `frameBytes` (CHUNK_BYTES), so a frame holds at most
 *   CHUNK_BYTES plus one resource: with every accepted resource at most MAX_RESOURCE_BYTES, no frame comes
 *   near MAX_FRAME_BYTES, whatever the resources;
 * - a batch (what one side sends before it waits for the Ack, or one long-poll answer) stops taking
 *   resources once its frames reach `batchBytes` (BATCH_BYTES), so a long-poll answer of several frames also
 *   stays under MAX_FRAME_BYTES, and a sender never builds more than that per zone in memory.
 * Small resources pack many to a frame, as before (the target is the same 512 KiB).
 * Sizes are upper bounds of the protobuf encoding computed from the fields, not a second encoding.
 */
import type { Resource, ResourceKey } from '@ursa/proto/gen/kds.js';
import { CHUNK_BYTES, MAX_FRAME_BYTES } from './frames.js';
import { MAX_RESOURCE_BYTES } from '../limits.js';

/**
 * What one batch carries at most before the sender waits for the Ack (or a long-poll answer ends): four
 * frames. Far under the frame limit, overshoot included (the last frame's CHUNK_BYTES plus one resource),
 * and small enough that a zone applies a batch within a heartbeat or two, so the Acks keep coming. Ordinary
 * resources never reach it: a feed page (1,000 changes) or a snapshot page (500 resources) of them is
 * smaller.
 */
export const BATCH_BYTES = 4 * CHUNK_BYTES;

// The bound above holds by construction; keep it checked where the numbers are chosen.
if (BATCH_BYTES + CHUNK_BYTES + 2 * MAX_RESOURCE_BYTES > MAX_FRAME_BYTES) throw new Error('KDS batch bound does not fit in a frame');

const utf8 = new TextEncoder();
/** Bytes of a length-delimited field: tag (1-2 bytes) + length varint (up to 5) + content. */
const field = (contentBytes: number) => contentBytes + 7;
const strBytes = (s: string) => (s.length === 0 ? 0 : field(/^[\x00-\x7f]*$/.test(s) ? s.length : utf8.encode(s).byteLength));

export function keyBytes(k: ResourceKey | undefined): number {
  return k ? field(strBytes(k.kind) + strBytes(k.mesh) + strBytes(k.name)) : 0;
}

/** An upper bound of `r`'s encoded size as an element of a Delta's `upserts`. */
export function resourceBytes(r: Resource): number {
  let n = keyBytes(r.key) + field(r.specJson.byteLength);
  for (const [k, v] of Object.entries(r.labels)) n += field(strBytes(k) + strBytes(v));
  return field(n);
}

/** The content of one frame: resources and removals, in the order given. */
export interface PackedFrame<M> {
  upserts: Resource[];
  removals: ResourceKey[];
  bytes: number;
  /** What the caller attached when it closed the frame (its revision, the snapshot position). */
  meta: M;
}

export interface PackerLimits {
  readonly frameBytes?: number;
  readonly batchBytes?: number;
}

export class DeltaPacker<M> {
  readonly #frameBytes: number;
  readonly #batchBytes: number;
  readonly #frames: PackedFrame<M>[] = [];
  #upserts: Resource[] = [];
  #removals: ResourceKey[] = [];
  #bytes = 0;
  #closedBytes = 0;

  constructor(limits: PackerLimits = {}) {
    this.#frameBytes = limits.frameBytes ?? CHUNK_BYTES;
    this.#batchBytes = limits.batchBytes ?? BATCH_BYTES;
  }

  upsert(r: Resource): void {
    this.#upserts.push(r);
    this.#bytes += resourceBytes(r);
  }

  remove(k: ResourceKey): void {
    this.#removals.push(k);
    this.#bytes += keyBytes(k);
  }

  /** The open frame holds nothing. */
  get empty(): boolean {
    return this.#upserts.length === 0 && this.#removals.length === 0;
  }

  /** The open frame reached its target: close it (at a point where the caller can say where it ends). */
  get frameFull(): boolean {
    return this.#bytes >= this.#frameBytes;
  }

  /** The batch reached its budget: close the open frame and send what there is. */
  get batchFull(): boolean {
    return this.#closedBytes + this.#bytes >= this.#batchBytes;
  }

  /** Closes the open frame (if it holds anything) with `meta`. */
  close(meta: M): void {
    if (this.empty) return;
    this.#frames.push({ upserts: this.#upserts, removals: this.#removals, bytes: this.#bytes, meta });
    this.#closedBytes += this.#bytes;
    this.#upserts = [];
    this.#removals = [];
    this.#bytes = 0;
  }

  /** The closed frames, in order (an open frame is not included: close it first). */
  get frames(): readonly PackedFrame<M>[] {
    return this.#frames;
  }
}

/**
 * Splits a list of upserts and removals into frames of at most ~`frameBytes` each (every frame holds at
 * least one item; removals after the upserts). For senders that send one frame per Ack anyway (the zone).
 */
export function packFrames(upserts: readonly Resource[], removals: readonly ResourceKey[], frameBytes = CHUNK_BYTES): { upserts: Resource[]; removals: ResourceKey[] }[] {
  const packer = new DeltaPacker<undefined>({ frameBytes, batchBytes: Number.POSITIVE_INFINITY });
  for (const r of upserts) {
    packer.upsert(r);
    if (packer.frameFull) packer.close(undefined);
  }
  for (const k of removals) {
    packer.remove(k);
    if (packer.frameFull) packer.close(undefined);
  }
  packer.close(undefined);
  return packer.frames.map((f) => ({ upserts: f.upserts, removals: f.removals }));
}
