/**
 * What an incremental (delta) client holds of one type: name -> version (`''`: it was told the name does not
 * exist). After each response the client holds exactly what the response's set says for the names it wants
 * (every resource for a wildcard, plus `''` for each subscribed name the set lacks). So that is what is kept
 * (`rebase`: the set, shared with every other stream holding it, and the live subscription), plus the
 * exceptions, instead of one name -> version map per stream: 2,000 sidecars x 3,000 resources was 6 million
 * map entries, most of the agent's memory per delta proxy. A subscription change turns it back into a plain
 * map first (`materialize`), since the rule only holds for the subscription the response answered.
 */
import type { TypeSet } from './snapshot.js';

/** The subscription of one type on a stream (read live: `materialize` before changing it). */
export interface Wanted {
  readonly wildcard: boolean;
  readonly subscribed: ReadonlySet<string>;
}

export class KnownVersions implements ReadonlyMap<string, string> {
  /** The set of the last response and the subscription it answered; `extra` then holds what differs. */
  private base: { readonly set: TypeSet; readonly wanted: Wanted } | undefined;
  /** Names whose version differs from what `base` implies (or every name, without a base); `undefined` = not held. */
  private readonly extra = new Map<string, string | undefined>();

  /** The client now holds exactly what `set` implies for the subscription `wanted`. */
  rebase(set: TypeSet, wanted: Wanted): void {
    this.base = { set, wanted };
    this.extra.clear();
  }

  /** Back to a plain map: call before the subscription changes. */
  materialize(): void {
    if (!this.base) return;
    const entries = [...this.entries()];
    this.base = undefined;
    this.extra.clear();
    for (const [name, v] of entries) this.extra.set(name, v);
  }

  get(name: string): string | undefined {
    if (this.extra.has(name)) return this.extra.get(name);
    return this.fromBase(name);
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
    const seen = new Set<string>();
    if (this.base) {
      const { set, wanted } = this.base;
      const names = wanted.wildcard ? [...set.items.keys(), ...wanted.subscribed] : wanted.subscribed;
      for (const name of names) {
        if (seen.has(name)) continue;
        seen.add(name);
        const v = this.get(name);
        if (v !== undefined) yield [name, v];
      }
    }
    for (const [name, v] of this.extra) if (v !== undefined && !seen.has(name)) yield [name, v];
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

  private fromBase(name: string): string | undefined {
    if (!this.base) return undefined;
    const { set, wanted } = this.base;
    const subscribed = wanted.subscribed.has(name);
    const r = set.items.get(name);
    if (r && (wanted.wildcard || subscribed)) return r.version;
    return subscribed ? '' : undefined;
  }
}
