/**
 * Responses encoded once for every stream that receives the same content (issue 15, item 1).
 *
 * One endpoint change wakes every proxy that holds the service; each of them gets the same resources, so
 * encoding the (Delta)DiscoveryResponse per stream made the push cost follow the number of proxies, not
 * the number of distinct responses. Protobuf lets a message be the concatenation of its fields in any
 * order, and a repeated field the concatenation of its entries, so a response is assembled from bytes:
 *
 *   [header: version, type URL, removed names, control plane] [one chunk per resource] [nonce]
 *
 * - each resource's chunk (its `resources` entry: an `Any` for SotW, a `Resource` for delta) is encoded
 *   once per resource object and kept with it (`WeakMap`: it goes when no snapshot holds the resource);
 * - the body (header and chunks, without the nonce) is memoised per answer: keyed by the set the answer came
 *   from and compared by the identity of its resources, so thousands of streams answered from one shared
 *   set with the same resources in one fan-out share one body. The memo lasts until the event loop turns
 *   (a fan-out answers its watches synchronously, batch by batch): a body kept with its set would hold
 *   every proxy's full CDS and LDS answer for as long as the proxy holds the set (300 KB each with 1,000
 *   services), while rebuilding one from cached chunks is a memory copy;
 * - the nonce, unique per stream and response, is the only per-stream part: its field is appended.
 *
 * A stream's response is built in its gRPC frame (`withNonce`), which the gRPC layer (`grpc.ts`) writes as it
 * is, so the per-stream cost is that one copy.
 */
import { DeltaDiscoveryResponse, DiscoveryResponse } from '@ursa/proto/xds';
import type { TypeSet, VersionedResource } from './snapshot.js';

/**
 * A response already on the wire format, built in its gRPC frame: `framed` is the 5-byte gRPC message prefix
 * (not compressed, length) and the message, `bytes` the message alone (a view into it). The ADS server hands
 * `framed` to the HTTP/2 stream as it is (`grpc.ts`), so a response costs one copy per stream, not two (a
 * cold start's 2,000 × 1.3 MB responses were copied once into the message and again by grpc-js into its
 * frame: 5.2 GB of buffers, and the garbage collections their external memory set off).
 */
export class EncodedResponse {
  readonly bytes: Buffer;
  constructor(readonly framed: Buffer) {
    this.bytes = framed.subarray(5);
  }
}

/** The per-stream-independent parts of a response. */
export interface ResponseBody {
  readonly variant: 'sotw' | 'delta';
  readonly typeUrl: string;
  /** SotW `version_info`, delta `system_version_info`. */
  readonly version: string;
  readonly resources: readonly VersionedResource[];
  /** Delta only. */
  readonly removed?: readonly string[];
  readonly controlPlane?: string;
}

const sotwChunks = new WeakMap<VersionedResource, Buffer>();
const deltaChunks = new WeakMap<VersionedResource, Buffer>();

const bytesOf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/** The `resources` entry of one resource (field 2 with its length), encoded once per resource object. */
function chunk(variant: 'sotw' | 'delta', r: VersionedResource): Buffer {
  const memo = variant === 'sotw' ? sotwChunks : deltaChunks;
  let b = memo.get(r);
  if (!b) {
    // A response holding only this resource is exactly the resource's field entry (defaults are not written).
    b =
      variant === 'sotw'
        ? bytesOf(DiscoveryResponse.encode(DiscoveryResponse.fromPartial({ resources: [r.body] })).finish())
        : bytesOf(DeltaDiscoveryResponse.encode(DeltaDiscoveryResponse.fromPartial({ resources: [{ name: r.name, version: r.version, resource: r.body }] })).finish());
    memo.set(r, b);
  }
  return b;
}

function header(body: ResponseBody): Buffer {
  const controlPlane = body.controlPlane ? { identifier: body.controlPlane } : undefined;
  const msg =
    body.variant === 'sotw'
      ? DiscoveryResponse.encode(DiscoveryResponse.fromPartial({ versionInfo: body.version, typeUrl: body.typeUrl, controlPlane }))
      : DeltaDiscoveryResponse.encode(DeltaDiscoveryResponse.fromPartial({ systemVersionInfo: body.version, typeUrl: body.typeUrl, removedResources: [...(body.removed ?? [])], controlPlane }));
  return bytesOf(msg.finish());
}

/**
 * The chunks of every resource of a set, in order: a layered set (a proxy's own resources over its group's
 * shared ones) layer by layer. Nothing is concatenated here: a body that a single stream gets is copied once,
 * into that stream's frame (`withNonce`); one that more streams get is flattened on its second use
 * (`sharedBody`). Concatenating every set up front cost 8 s of a 68 s cold start at 10,000 proxies reaching 20
 * services each (profile, `bench/xds.ts --profile-cold`), where most bodies go to one proxy.
 */
function setParts(variant: 'sotw' | 'delta', set: TypeSet, out: Buffer[]): void {
  if (set.layers) {
    for (const layer of set.layers) setParts(variant, layer, out);
    return;
  }
  for (const r of set.items.values()) out.push(chunk(variant, r));
}

/**
 * Header and resource chunks, as buffers to concatenate (only the final message is copied together: a
 * proxy's first LDS answer is megabytes with 1,000 services). `whole`: the response carries every resource
 * of that set (a first response, a full LDS/CDS one), which are then taken set by set (`setParts`); the
 * order of a repeated field's entries carries no meaning in xDS responses.
 */
export function encodeBody(body: ResponseBody, whole?: TypeSet): readonly Buffer[] {
  const parts = [header(body)];
  if (whole) setParts(body.variant, whole, parts);
  else for (const r of body.resources) parts.push(chunk(body.variant, r));
  return parts;
}

interface Memoised {
  readonly body: ResponseBody;
  /** The parts as encoded; one flat buffer from the body's second use on. */
  bytes: readonly Buffer[];
  flat: boolean;
}

/** This turn's bodies per set: a set is answered with a few distinct bodies at most (full, changed-only, ...). */
const bodies = new Map<TypeSet, Memoised[]>();
const PER_SET = 4;
let clearing = false;

/** The per-turn memo of bodies is cleared once the event loop turns. */
function clearAfterThisTurn(): void {
  if (clearing) return;
  clearing = true;
  setImmediate(() => {
    bodies.clear();
    clearing = false;
  });
}

const sameStrings = (a: readonly string[] | undefined, b: readonly string[] | undefined): boolean => {
  const x = a ?? [];
  const y = b ?? [];
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
};

function sameBody(a: ResponseBody, b: ResponseBody): boolean {
  if (a.variant !== b.variant || a.typeUrl !== b.typeUrl || a.version !== b.version || a.controlPlane !== b.controlPlane) return false;
  if (a.resources.length !== b.resources.length || !sameStrings(a.removed, b.removed)) return false;
  for (let i = 0; i < a.resources.length; i++) if (a.resources[i] !== b.resources[i]) return false;
  return true;
}

/**
 * The body's bytes, shared by every answer from `set` with the same content: encoded by the first stream
 * that sends it, copied from memory by the others.
 */
export function sharedBody(set: TypeSet, body: ResponseBody): readonly Buffer[] {
  let list = bodies.get(set);
  if (!list) {
    bodies.set(set, (list = []));
    clearAfterThisTurn();
  }
  for (const m of list) {
    if (!sameBody(m.body, body)) continue;
    // Used again: from now on every stream copies one buffer instead of thousands of small ones.
    if (!m.flat) {
      m.bytes = [Buffer.concat(m.bytes)];
      m.flat = true;
    }
    return m.bytes;
  }
  const whole = body.resources.length === set.items.size && body.resources.length > 8 ? set : undefined;
  const bytes = encodeBody(body, whole);
  list.unshift({ body, bytes, flat: false });
  if (list.length > PER_SET) list.pop();
  return bytes;
}

/**
 * A full response: the shared body and this stream's nonce (field 5 in both response messages), in one
 * gRPC-framed buffer (the only per-stream copy).
 */
export function withNonce(body: readonly Buffer[], nonce: string): EncodedResponse {
  const n = Buffer.from(nonce, 'utf8');
  // Tag 5, wire type 2; nonces are short (a counter), so the length fits one varint byte.
  if (n.length > 127) throw new Error('xds: nonce too long');
  let length = 2 + n.length;
  for (const b of body) length += b.length;
  const framed = Buffer.allocUnsafe(5 + length);
  framed[0] = 0;
  framed.writeUInt32BE(length, 1);
  let at = 5;
  for (const b of body) at += b.copy(framed, at);
  framed[at++] = 0x2a;
  framed[at++] = n.length;
  n.copy(framed, at);
  return new EncodedResponse(framed);
}
