/**
 * What an incremental (delta) client holds of one type: name -> version (`''`: it was told the name does not
 * exist). For a pure wildcard subscription (every resource of the type, no explicit names), after each
 * response the client holds exactly the set that response was computed from; so it is kept as that set
 * (`rebase`), shared with every other stream holding it, plus the exceptions, instead of one name -> version
 * map per stream: 2,000 sidecars x 3,000 resources was 6 million map entries, most of the agent's memory
 * per delta proxy. Anything else (explicit names, `initial_resource_versions`) is a plain map.
 */
import type { TypeSet } from './snapshot.js';

export class KnownVersions implements ReadonlyMap<string, string> {
  /** The set the client holds (pure wildcard only); `extra` then holds what differs from it. */
  private base: TypeSet | undefined;
  /** Names whose version differs from `base` (or every name, without a base); `undefined` = not held. */
  private readonly extra = new Map<string, string | undefined>();

  /** The client now holds exactly `set` (and nothing else). */
  rebase(set: TypeSet): void {
    this.base = set;
    this.extra.clear();
  }

  /** Back to a plain map (the subscription is changing: the "exactly `base`" rule no longer holds). */
  materialize(): void {
    const base = this.base;
    if (!base) return;
    this.base = undefined;
    const extra = new Map(this.extra);
    this.extra.clear();
    for (const [name, r] of base.items) if (!extra.has(name)) this.extra.set(name, r.version);
    for (const [name, v] of extra) if (v !== undefined) this.extra.set(name, v);
  }

  get(name: string): string | undefined {
    if (this.extra.has(name)) return this.extra.get(name);
    return this.base?.items.get(name)?.version;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  set(name: string, version: string): this {
    this.extra.set(name, version);
    return this;
  }

  delete(name: string): boolean {
    const had = this.has(name);
    if (this.base) this.extra.set(name, undefined);
    else this.extra.delete(name);
    return had;
  }

  get size(): number {
    let n = 0;
    for (const _ of this.keys()) n++;
    return n;
  }

  *entries(): MapIterator<[string, string]> {
    if (this.base) {
      for (const [name, r] of this.base.items) {
        const v = this.extra.has(name) ? this.extra.get(name) : r.version;
        if (v !== undefined) yield [name, v];
      }
      for (const [name, v] of this.extra) if (v !== undefined && !this.base.items.has(name)) yield [name, v];
    } else {
      for (const [name, v] of this.extra) if (v !== undefined) yield [name, v];
    }
  }

  *keys(): MapIterator<string> {
    for (const [k] of this.entries()) yield k;
  }

  *values(): MapIterator<string> {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator](): MapIterator<[string, string]> {
    return this.entries();
  }

  forEach(fn: (value: string, key: string, map: ReadonlyMap<string, string>) => void): void {
    for (const [k, v] of this.entries()) fn(v, k, this);
  }
}
