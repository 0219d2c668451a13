/**
 * Kuma's subset rules (v2.14 `pkg/plugins/policies/core/rules/rules.go` `BuildRules`, `subsetutils`; the
 * algorithm of its MADR 007): items aimed at tag subsets (`Mesh` = every client or destination, `MeshService`
 * = a `kuma.io/service`, `MeshSubset` / `MeshServiceSubset` add tags) become rules over disjoint subsets, each
 * with the merge of every item whose subset contains it. With negations (and whenever more than one tag key is
 * in play) the subsets are every combination of the tags of each group of overlapping items, negated or not;
 * rules are ordered most positive tags first, as Kuma's xDS generators read them.
 */
export interface Tag {
  readonly key: string;
  readonly value: string;
  readonly not: boolean;
}
export type Subset = readonly Tag[];

export interface SubsetItem<T> {
  readonly subset: Subset;
  readonly conf: unknown;
  readonly origin: T;
}

export interface SubsetRule<T> {
  readonly subset: Subset;
  readonly confs: readonly unknown[];
  readonly origins: readonly T[];
}

/** Kuma `isSubset(t1, t2)`: every point of t2 is in t1. */
function tagContains(t1: Tag, t2: Tag): boolean {
  if (t1.key !== t2.key) return false;
  if (t1.not === t2.not) return t1.value === t2.value;
  if (t1.not) return t1.value !== t2.value;
  return false;
}

/** Kuma `Subset.IsSubset`: `other` lies within `ss` (the empty subset holds everything). */
export function isSubset(ss: Subset, other: Subset): boolean {
  return ss.every((tag) => {
    const same = other.filter((t) => t.key === tag.key);
    return same.length > 0 && same.every((o) => tagContains(tag, o));
  });
}

/** Kuma `Subset.Intersect`: some point belongs to both. */
function intersect(a: Subset, b: Subset): boolean {
  if (a.length === 0 || b.length === 0) return true;
  return a.every((t) => t.not || b.every((o) => o.not || o.key !== t.key || (o.value === t.value && !o.not)));
}

const canonical = (s: Subset) =>
  [...s]
    .sort((a, b) => (a.key !== b.key ? (a.key < b.key ? -1 : 1) : a.value !== b.value ? (a.value < b.value ? -1 : 1) : a.not === b.not ? 0 : a.not ? 1 : -1))
    .map((t) => `${t.key}=${t.not ? '!' : ''}${t.value}`)
    .join('|');

const numPositive = (s: Subset) => s.filter((t) => !t.not).length;

/** Kuma `SubsetIter`: every combination, per key, of one positive value or all values negated. */
function* combinations(tags: readonly Tag[]): Generator<Subset> {
  const dims: { key: string; vals: string[] }[] = [];
  for (const t of tags) {
    let d = dims.find((x) => x.key === t.key);
    if (!d) dims.push((d = { key: t.key, vals: [] }));
    if (!d.vals.includes(t.value)) d.vals.push(t.value);
  }
  const idx = dims.map(() => 0);
  const current = (): Subset =>
    dims.flatMap((d, i): Tag[] => (idx[i] === d.vals.length ? d.vals.map((value) => ({ key: d.key, value, not: true })) : [{ key: d.key, value: d.vals[d.vals.length - idx[i]! - 1]!, not: false }]));
  for (;;) {
    let advanced = false;
    for (let i = 0; i < idx.length; i++) {
      idx[i]!++;
      if (idx[i]! < dims[i]!.vals.length + 1) {
        advanced = true;
        break;
      }
      idx[i] = 0;
    }
    yield current();
    if (!advanced) return;
  }
}

/** Maximal cliques (Bron–Kerbosch) of the overlap graph; Kuma orders them itself afterwards. */
function cliques(n: number, edge: (a: number, b: number) => boolean): number[][] {
  const out: number[][] = [];
  const walk = (r: number[], p: number[], x: number[]) => {
    if (p.length === 0 && x.length === 0) return void out.push(r);
    for (const v of [...p]) {
      walk([...r, v], p.filter((u) => u !== v && edge(u, v)), x.filter((u) => edge(u, v)));
      p = p.filter((u) => u !== v);
      x = [...x, v];
    }
  };
  walk([], [...Array(n).keys()], []);
  return out;
}

/** Kuma `BuildRules`. `merge` folds the confs of the items a subset falls in (lowest precedence first). */
export function buildSubsetRules<T>(items: readonly SubsetItem<T>[], withNegations: boolean): SubsetRule<T>[] {
  if (items.length === 0) return [];
  const create = (ss: Subset): SubsetRule<T>[] => {
    const relevant = items.filter((i) => isSubset(i.subset, ss));
    if (relevant.length === 0) return [];
    return [{ subset: ss, confs: relevant.map((i) => i.conf), origins: [...new Set(relevant.map((i) => i.origin))] }];
  };
  const keys = new Set(items.flatMap((i) => i.subset.map((t) => t.key)));
  if (!withNegations && keys.size <= 1) {
    const seen = new Set<string>();
    const unique = items.map((i) => i.subset).filter((s) => !seen.has(canonical(s)) && (seen.add(canonical(s)), true));
    return unique.flatMap(create).sort((a, b) => b.subset.length - a.subset.length);
  }
  const groups = cliques(items.length, (a, b) => intersect(items[a]!.subset, items[b]!.subset)).map((g) => [...g].sort((a, b) => a - b));
  groups.sort((a, b) => {
    const x = a.join(':');
    const y = b.join(':');
    return x > y ? -1 : x < y ? 1 : 0;
  });
  const rules: SubsetRule<T>[] = [];
  for (const group of groups) {
    const tags = new Map<string, Tag>();
    for (const n of group) for (const t of items[n]!.subset) tags.set(`${t.key}\u0000${t.value}\u0000${t.not}`, t);
    const sorted = [...tags.values()].sort((a, b) => (a.key !== b.key ? (a.key < b.key ? -1 : 1) : a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
    for (const ss of combinations(sorted)) rules.push(...create(ss));
  }
  return rules.sort((a, b) => numPositive(b.subset) - numPositive(a.subset));
}
