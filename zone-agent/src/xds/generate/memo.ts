/**
 * Encoded resources, built once and shared (the scale design of the generator):
 * - memoised by input key: a resource whose inputs did not change since the last generation is not
 *   re-built or re-encoded (an endpoint change re-encodes one ClusterLoadAssignment, not 1,000);
 * - interned by content: identical bytes under one name are one `VersionedResource` object, however many
 *   proxies, groups or meshes produce them, so memory grows with distinct configuration, not with proxies.
 * `sweep()` after each generation drops what that generation did not use.
 */
import type { Codec } from '../hash.js';
import { encodeCanonical, versionOf } from '../hash.js';
import type { VersionedResource } from '../snapshot.js';

interface Entry {
  readonly res: VersionedResource;
  used: number;
}

export class ResourceMemo {
  /** Input key -> entry; several keys may share one entry (same bytes). */
  private readonly byKey = new Map<string, Entry>();
  private readonly byContent = new Map<string, Entry>();
  private readonly entryOf = new WeakMap<VersionedResource, Entry>();
  private generation = 0;
  /** Resources encoded since start (a memo miss each). */
  encoded = 0;

  /** Starts a generation: entries not used from now until `sweep()` are dropped then. */
  begin(): void {
    this.generation++;
  }

  /** The resource for `key`, building it with `build` only when the key is new. */
  get<T>(typeUrl: string, key: string, codec: Codec<T>, name: string, build: () => T): VersionedResource {
    const full = `${typeUrl}\u0000${key}`;
    const hit = this.byKey.get(full);
    if (hit) {
      hit.used = this.generation;
      return hit.res;
    }
    const res = this.intern(typeUrl, name, encodeCanonical(codec, build()));
    this.byKey.set(full, this.entryOf.get(res)!);
    return res;
  }

  /** Marks a resource obtained earlier as used by this generation (no key to rebuild). */
  keep(res: VersionedResource): void {
    const e = this.entryOf.get(res);
    if (e) e.used = this.generation;
  }

  /** The shared object for these bytes (new when no identical resource exists). */
  intern(typeUrl: string, name: string, bytes: Buffer): VersionedResource {
    const version = versionOf(bytes);
    const ck = `${typeUrl}\u0000${name}\u0000${version}`;
    const seen = this.byContent.get(ck);
    if (seen) {
      seen.used = this.generation;
      return seen.res;
    }
    this.encoded++;
    const res: VersionedResource = Object.freeze({ name, version, body: Object.freeze({ typeUrl, value: bytes }) });
    const entry: Entry = { res, used: this.generation };
    this.byContent.set(ck, entry);
    this.entryOf.set(res, entry);
    return res;
  }

  sweep(): void {
    for (const [k, e] of this.byKey) if (e.used !== this.generation) this.byKey.delete(k);
    for (const [k, e] of this.byContent) if (e.used !== this.generation) this.byContent.delete(k);
  }

  get size(): number {
    return this.byContent.size;
  }
}
