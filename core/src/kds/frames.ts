/**
 * KDS frames on the wire: protobuf `Frame` (proto/kds.proto) as binary WebSocket messages or HTTP bodies.
 * Decoding never throws past this file: a bad frame becomes a `KdsError` naming what was wrong.
 */
import { Frame, Frames, PollRequest, PushRequest, type Resource, type ResourceKey } from '@ursa/proto/gen/kds.js';
import type { WireResource } from './mappers.js';
import { asUnavailable } from '../store/unavailable.js';

/** Frames larger than this are refused, whatever the transport (chunking keeps ours far below). */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** Target size of one Delta frame: frames close once they reach it (`DeltaPacker`, packer.ts). */
export const CHUNK_BYTES = 512 * 1024;

export type KdsErrorCode = 'unauthenticated' | 'forbidden' | 'zone-disabled' | 'zone-deleted' | 'bad-frame' | 'out-of-order' | 'too-large' | 'limit-exceeded' | 'unknown-type' | 'superseded' | 'unavailable' | 'internal';

/** Ends a session; `code` and `message` go to the peer in an `Error` frame. */
export class KdsError extends Error {
  constructor(
    readonly code: KdsErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'KdsError';
  }
}

/**
 * The KDS error for a lost or unreachable database, or undefined for any other error. Zones end the session
 * and reconnect with backoff, as after a dropped connection; nothing of the driver's error is sent.
 */
export function unavailableKdsError(err: unknown): KdsError | undefined {
  return asUnavailable(err) ? new KdsError('unavailable', 'the global cannot reach its database; retry') : undefined;
}

function checkSize(bytes: Uint8Array) {
  if (bytes.byteLength > MAX_FRAME_BYTES) throw new KdsError('too-large', `frame of ${bytes.byteLength} bytes exceeds the ${MAX_FRAME_BYTES}-byte limit`);
}

export function decodeFrame(bytes: Uint8Array): Frame {
  checkSize(bytes);
  let frame: Frame;
  try {
    frame = Frame.decode(bytes);
  } catch (err) {
    throw new KdsError('bad-frame', `malformed frame: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!frame.body) throw new KdsError('bad-frame', 'frame has no body (hello, delta, ack, heartbeat or error expected)');
  return frame;
}

export function decodeAs<T>(codec: { decode(b: Uint8Array): T }, bytes: Uint8Array, what: string): T {
  checkSize(bytes);
  try {
    return codec.decode(bytes);
  } catch (err) {
    throw new KdsError('bad-frame', `malformed ${what}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export const decodePoll = (b: Uint8Array) => decodeAs(PollRequest, b, 'poll request');
export const decodePush = (b: Uint8Array) => decodeAs(PushRequest, b, 'push request');
export const encodeFrame = (f: Frame): Uint8Array => Frame.encode(f).finish();
export const encodeFrames = (frames: Frame[]): Uint8Array => Frames.encode({ frames }).finish();
export const decodeFrames = (b: Uint8Array) => decodeAs(Frames, b, 'frames');

const dec = new TextDecoder('utf-8', { fatal: true });

export function toWire(r: WireResource): Resource {
  return { key: { kind: r.kind, mesh: r.mesh, name: r.name }, labels: r.labels, specJson: Buffer.from(JSON.stringify(r.spec), 'utf8') };
}

/** A wire resource back to JSON; a spec that is not a JSON object is a per-resource rejection, not fatal. */
export function fromWire(r: Resource): { ok: true; value: WireResource } | { ok: false; key: ResourceKey; reason: string } {
  const key = r.key ?? { kind: '', mesh: '', name: '' };
  let spec: unknown;
  try {
    spec = JSON.parse(dec.decode(r.specJson));
  } catch {
    return { ok: false, key, reason: 'spec_json is not valid UTF-8 JSON' };
  }
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) return { ok: false, key, reason: 'spec_json must be a JSON object' };
  return { ok: true, value: { kind: key.kind, mesh: key.mesh, name: key.name, labels: { ...r.labels }, spec: spec as Record<string, unknown> } };
}
