/**
 * Canonical protobuf encoding and content versions for xDS resources.
 *
 * ts-proto writes message fields in field-number order, but a map field (`Metadata.filter_metadata`, a
 * `Struct`) is written in the key order of the JavaScript object, so two equal configs built in a different
 * order would encode differently. `canonical` rebuilds every plain object with its keys sorted, which fixes
 * the order of map entries and changes nothing else (message fields are not written by key order). Repeated
 * fields keep their order: it is meaningful (routes, filters); generators sort the ones whose order is not.
 *
 * A resource's version is a hash of that encoding (go-control-plane `ConstructVersionMap` with
 * `Deterministic: true`; Kuma uses SHA-256 too), so an identical config never bumps a version and never
 * wakes a proxy, across rebuilds, agent restarts and agent replicas alike.
 */
import { createHash } from 'node:crypto';
import type { BinaryWriter } from '@bufbuild/protobuf/wire';
import type { Any } from '@ursa/proto/xds';

/** The part of a ts-proto `MessageFns<T>` this module needs. */
export interface Codec<T> {
  encode(message: T, writer?: BinaryWriter): BinaryWriter;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || ArrayBuffer.isView(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

/** A deep copy of `value` in which every plain object has its keys in sorted order. */
export function canonical<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => canonical(v)) as T;
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value).sort()) out[k] = canonical(value[k]);
  return out as T;
}

/** The canonical wire form of a message. */
export function encodeCanonical<T>(codec: Codec<T>, message: T): Buffer {
  const bytes = codec.encode(canonical(message)).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Packs a message into an `Any`, canonically encoded (nested `Any`s must be built this way too). */
export function packAny<T>(typeUrl: string, codec: Codec<T>, message: T): Any {
  return { typeUrl, value: encodeCanonical(codec, message) };
}

/** Hex prefix of a SHA-256: 64 bits, plenty to tell versions of one resource apart. */
const VERSION_HEX = 16;

/** The content version of encoded bytes. */
export function versionOf(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, VERSION_HEX);
}

/**
 * The version of a set of `(name, version)` pairs, independent of their order. `undefined` versions stand
 * for names asked for but absent, so asking for a new missing name also changes the version.
 */
export function versionOfSet(entries: Iterable<readonly [string, string | undefined]>): string {
  const lines = [...entries].map(([name, version]) => `${name}\u0000${version ?? '-'}`).sort();
  return createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, VERSION_HEX);
}
