import { describe, expect, it } from 'vitest';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, CLUSTER_TYPE_URL, LISTENER_TYPE_URL, ROUTE_CONFIGURATION_TYPE_URL } from '@ursa/proto/xds';
import { deltaAnswer, namesKey, SnapshotCache, sotwAnswer, type DeltaWatchResponse, type SotwWatchResponse } from './cache.js';
import { meshEndpoints } from './generate/endpoints.js';
import { proxylessResources } from './generate/proxyless.js';
import { KnownVersions } from './known.js';
import { Snapshot } from './snapshot.js';

const CDS = CLUSTER_TYPE_URL;
const EDS = CLUSTER_LOAD_ASSIGNMENT_TYPE_URL;
const LDS = LISTENER_TYPE_URL;
const RDS = ROUTE_CONFIGURATION_TYPE_URL;

/** A snapshot of fake resources: `{type: {name: content}}`. */
const snap = (spec: Record<string, Record<string, string>>) =>
  Snapshot.fromEncoded(Object.fromEntries(Object.entries(spec).map(([t, m]) => [t, Object.entries(m).map(([name, v]) => ({ name, value: Buffer.from(v) }))])));

describe('Snapshot', () => {
  it('versions each resource by content: equal content, equal versions', () => {
    const a = snap({ [CDS]: { x: '1', y: '2' } });
    const b = snap({ [CDS]: { y: '2', x: '1' } });
    expect(a.sameAs(b)).toBe(true);
    expect(a.get(CDS).version).toBe(b.get(CDS).version);
    expect(a.get(CDS).items.get('x')!.version).toBe(b.get(CDS).items.get('x')!.version);
    expect(a.sameAs(snap({ [CDS]: { x: '1', y: '3' } }))).toBe(false);
    expect(Object.isFrozen(a)).toBe(true);
  });

  it('refuses two resources of one type with the same name', () => {
    expect(() => Snapshot.fromEncoded({ [CDS]: [{ name: 'x', value: Buffer.from('1') }, { name: 'x', value: Buffer.from('2') }] })).toThrow(/two CDS resources named "x"/);
  });

  it('checks that clusters and listeners refer to endpoints and routes it holds', () => {
    const services = meshEndpoints({
      mesh: 'default',
      zone: 'z1',
      dataplanes: [{ mesh: 'default', name: 'd', labels: {}, spec: { networking: { address: '10.0.0.1', inbound: [{ port: 80, tags: { 'kuma.io/service': 'web' } }] } } }],
      zoneIngresses: [],
    });
    const full = proxylessResources(services);
    expect(Snapshot.build(full).problems()).toEqual([]);
    expect(Snapshot.build({ ...full, endpoints: [], routes: [] }).problems()).toEqual(['cluster web: no ClusterLoadAssignment web', 'listener: no RouteConfiguration web']);
    // Rebuilding the same input gives the same versions.
    expect(Snapshot.build(proxylessResources(services)).sameAs(Snapshot.build(full))).toBe(true);
  });
});

describe('sotwAnswer', () => {
  const s = snap({ [CDS]: { a: '1', b: '2' }, [EDS]: { a: 'e1' } });

  it('answers a wildcard with everything and a named request with what exists', () => {
    const all = sotwAnswer(s, { typeUrl: CDS, names: '*', version: '' })!;
    expect(all.resources.map((r) => r.name)).toEqual(['a', 'b']);
    const named = sotwAnswer(s, { typeUrl: EDS, names: new Set(['a', 'missing']), version: '' })!;
    expect(named.resources.map((r) => r.name)).toEqual(['a']);
  });

  it('answers nothing to a client that has the version, something when the names change', () => {
    const first = sotwAnswer(s, { typeUrl: EDS, names: new Set(['a']), version: '' })!;
    expect(sotwAnswer(s, { typeUrl: EDS, names: new Set(['a']), version: first.version })).toBeUndefined();
    // Another resource of the type changing does not concern this client.
    const s2 = snap({ [CDS]: { a: '1', b: '2' }, [EDS]: { a: 'e1', c: 'e3' } });
    expect(sotwAnswer(s2, { typeUrl: EDS, names: new Set(['a']), version: first.version })).toBeUndefined();
    // Asking for one more name (even a missing one) is answered.
    expect(sotwAnswer(s2, { typeUrl: EDS, names: new Set(['a', 'c']), version: first.version })!.resources.map((r) => r.name)).toEqual(['a', 'c']);
    expect(sotwAnswer(s2, { typeUrl: EDS, names: new Set(['a', 'zz']), version: first.version })).toBeDefined();
  });
});

describe('sotwAnswer with a canonical name list (the version hashed once per set and names)', () => {
  it('gives the same answers as without it, for the same and for different name lists', () => {
    const s = snap({ [EDS]: { a: '1', b: '2', c: '3' } });
    for (const names of [new Set(['a', 'b']), new Set(['b', 'a']), new Set(['c', 'missing']), new Set(['a', 'b', 'c'])]) {
      const plain = sotwAnswer(s, { typeUrl: EDS, names, version: '' })!;
      const keyed = sotwAnswer(s, { typeUrl: EDS, names, version: '', namesKey: namesKey(names) })!;
      expect(keyed.version).toBe(plain.version);
      expect(keyed.resources.map((r) => r.name)).toEqual(plain.resources.map((r) => r.name));
    }
    expect(namesKey(new Set(['b', 'a']))).toBe(namesKey(new Set(['a', 'b'])));
  });
});

describe('deltaAnswer', () => {
  const s = snap({ [CDS]: { a: '1', b: '2', c: '3' } });
  const v = (name: string) => s.get(CDS).items.get(name)!.version;

  it('sends what the client lacks, and removes what it has that is gone', () => {
    const res = deltaAnswer(s, { typeUrl: CDS, wildcard: false, subscribed: new Set(['a', 'b', 'x']), known: new Map([['a', v('a')], ['b', 'old'], ['x', 'was-here']]) })!;
    expect(res.resources.map((r) => r.name)).toEqual(['b']);
    expect(res.removed).toEqual(['x']);
  });

  it('says a subscribed name does not exist once, and a wildcard covers everything', () => {
    expect(deltaAnswer(s, { typeUrl: CDS, wildcard: false, subscribed: new Set(['nope']), known: new Map() })!.removed).toEqual(['nope']);
    expect(deltaAnswer(s, { typeUrl: CDS, wildcard: false, subscribed: new Set(['nope']), known: new Map([['nope', '']]) })).toBeUndefined();
    const all = deltaAnswer(s, { typeUrl: CDS, wildcard: true, subscribed: new Set(), known: new Map([['a', v('a')]]) })!;
    expect(all.resources.map((r) => r.name)).toEqual(['b', 'c']);
    expect(all.systemVersion).toBe(s.get(CDS).version);
  });
});

describe('deltaAnswer from a base set (only what changed is looked at)', () => {
  /** Tiny deterministic PRNG, so a failure reproduces. */
  const rng = (seed: number) => () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);

  it('answers exactly as the full comparison does, over random changes, removals and subscriptions', () => {
    const rand = rng(7);
    const names = Array.from({ length: 40 }, (_, i) => `r${String(i).padStart(2, '0')}`);
    const randomSet = () => Object.fromEntries(names.filter(() => rand() < 0.7).map((n) => [n, rand() < 0.8 ? 'same' : `v${Math.floor(rand() * 3)}`]));
    for (let round = 0; round < 200; round++) {
      const wildcard = rand() < 0.5;
      const subscribed = new Set(names.filter(() => rand() < 0.3));
      const before = snap({ [EDS]: randomSet() });
      // The client is in sync with `before`: what the full comparison gives it from nothing.
      const first = deltaAnswer(before, { typeUrl: EDS, wildcard, subscribed, known: new Map() });
      const known = new Map<string, string>();
      for (const r of first?.resources ?? []) known.set(r.name, r.version);
      for (const n of first?.removed ?? []) known.set(n, '');
      const after = snap({ [EDS]: randomSet() });
      const full = deltaAnswer(after, { typeUrl: EDS, wildcard, subscribed, known });
      const fast = deltaAnswer(after, { typeUrl: EDS, wildcard, subscribed, known, base: first ? first.set : before.get(EDS) });
      const view = (a: DeltaWatchResponse | undefined) => a && { resources: a.resources.map((r) => r.name), removed: a.removed };
      expect(view(fast), `round ${round}`).toEqual(view(full));
    }
  });
});

describe('SnapshotCache', () => {
  it('answers a watch at once when the snapshot differs, else on the next setSnapshot that changes it', () => {
    const cache = new SnapshotCache();
    const got: SotwWatchResponse[] = [];
    // No snapshot yet: the watch waits.
    cache.createWatch({ nodeId: 'n', typeUrl: CDS, names: '*', version: '' }, (r) => got.push(r));
    expect(got).toHaveLength(0);
    expect(cache.watchCount('n')).toBe(1);
    cache.setSnapshot('n', snap({ [CDS]: { a: '1' } }));
    expect(got).toHaveLength(1);
    expect(cache.watchCount('n')).toBe(0);

    // Same content again: the new watch stays open.
    cache.createWatch({ nodeId: 'n', typeUrl: CDS, names: '*', version: got[0]!.version }, (r) => got.push(r));
    cache.setSnapshot('n', snap({ [CDS]: { a: '1' } }));
    expect(got).toHaveLength(1);
    // Other nodes are not concerned.
    cache.setSnapshot('other', snap({ [CDS]: { a: '2' } }));
    expect(got).toHaveLength(1);
    cache.setSnapshot('n', snap({ [CDS]: { a: '2' } }));
    expect(got).toHaveLength(2);
    expect(got[1]!.version).not.toBe(got[0]!.version);
  });

  it('answers synchronously when the snapshot already differs, and cancelled watches stay silent', () => {
    const cache = new SnapshotCache();
    cache.setSnapshot('n', snap({ [CDS]: { a: '1' } }));
    const got: SotwWatchResponse[] = [];
    cache.createWatch({ nodeId: 'n', typeUrl: CDS, names: '*', version: '' }, (r) => got.push(r));
    expect(got).toHaveLength(1);
    const cancel = cache.createWatch({ nodeId: 'n', typeUrl: CDS, names: '*', version: got[0]!.version }, (r) => got.push(r));
    cancel();
    cache.setSnapshot('n', snap({ [CDS]: { a: '2' } }));
    expect(got).toHaveLength(1);
  });

  it('pushes clusters, then endpoints, then listeners, then routes', () => {
    const cache = new SnapshotCache();
    const before = snap({ [CDS]: { s: '1' }, [EDS]: { s: '1' }, [LDS]: { s: '1' }, [RDS]: { s: '1' } });
    cache.setSnapshot('n', before);
    const order: string[] = [];
    for (const t of [RDS, LDS, EDS, CDS]) {
      const version = sotwAnswer(before, { typeUrl: t, names: '*', version: '' })!.version;
      cache.createWatch({ nodeId: 'n', typeUrl: t, names: '*', version }, (r) => order.push(r.typeUrl));
    }
    cache.setSnapshot('n', snap({ [CDS]: { s: '2' }, [EDS]: { s: '2' }, [LDS]: { s: '2' }, [RDS]: { s: '2' } }));
    expect(order).toEqual([CDS, EDS, LDS, RDS]);
  });

  it('answers delta watches with the difference', () => {
    const cache = new SnapshotCache();
    const got: DeltaWatchResponse[] = [];
    cache.createDeltaWatch({ nodeId: 'n', typeUrl: EDS, wildcard: false, subscribed: new Set(['a']), known: new Map() }, (r) => got.push(r));
    cache.setSnapshot('n', snap({ [EDS]: { a: '1', b: '1' } }));
    expect(got.map((r) => r.resources.map((x) => x.name))).toEqual([['a']]);
    const va = got[0]!.resources[0]!.version;
    cache.createDeltaWatch({ nodeId: 'n', typeUrl: EDS, wildcard: false, subscribed: new Set(['a']), known: new Map([['a', va]]) }, (r) => got.push(r));
    cache.setSnapshot('n', snap({ [EDS]: { a: '1', b: '2' } }));
    expect(got).toHaveLength(1);
    cache.setSnapshot('n', snap({ [EDS]: { b: '2' } }));
    expect(got[1]!.removed).toEqual(['a']);
  });

  it('clearSnapshot forgets a node', () => {
    const cache = new SnapshotCache();
    cache.setSnapshot('n', snap({}));
    expect(cache.nodeIds()).toEqual(['n']);
    cache.clearSnapshot('n');
    expect(cache.getSnapshot('n')).toBeUndefined();
  });
});

describe('KnownVersions (what a delta client holds, kept as a shared set plus exceptions)', () => {
  it('reads through to the set it was rebased on, with overrides and deletions, and materializes into the same map', () => {
    const set = snap({ [EDS]: { a: '1', b: '2', c: '3' } }).get(EDS);
    const v = (n: string) => set.items.get(n)!.version;
    const known = new KnownVersions();
    known.set('old', 'x');
    known.rebase(set, { wildcard: true, subscribed: new Set() });
    expect([...known]).toEqual([['a', v('a')], ['b', v('b')], ['c', v('c')]]);
    known.set('b', 'changed');
    known.set('z', '');
    expect(known.delete('c')).toBe(true);
    expect(known.delete('never')).toBe(false);
    const expected = [['a', v('a')], ['b', 'changed'], ['z', '']];
    expect([...known]).toEqual(expected);
    expect([known.get('c'), known.has('a'), known.size]).toEqual([undefined, true, 3]);
    known.materialize();
    expect(new Map(known)).toEqual(new Map(expected as [string, string][]));
    // After materializing, the set no longer shows through.
    known.delete('a');
    expect(known.get('a')).toBeUndefined();
  });

  it('for explicit names: the set\'s version of each subscribed name, and "" for one the set lacks', () => {
    const set = snap({ [EDS]: { a: '1', b: '2', c: '3' } }).get(EDS);
    const known = new KnownVersions();
    const subscribed = new Set(['a', 'missing']);
    known.rebase(set, { wildcard: false, subscribed });
    expect(new Map(known)).toEqual(new Map([['a', set.items.get('a')!.version], ['missing', '']]));
    expect([known.get('b'), known.get('missing')]).toEqual([undefined, '']);
    // Wildcard plus an explicit name the set lacks.
    known.rebase(set, { wildcard: true, subscribed });
    expect([...known.keys()]).toEqual(['a', 'b', 'c', 'missing']);
  });
});
