import { describe, expect, it } from 'vitest';
import { Cluster } from '@ursa/proto/gen/envoy/config/cluster/v3/cluster.js';
import { canonical, encodeCanonical, versionOf, versionOfSet } from './hash.js';

const withMetadata = (order: 'ab' | 'ba') => {
  const filterMetadata: Record<string, Record<string, unknown>> = {};
  const keys = order === 'ab' ? ['a.filter', 'b.filter'] : ['b.filter', 'a.filter'];
  for (const k of keys) filterMetadata[k] = order === 'ab' ? { x: 1, y: { p: 'q', r: [1, 2] } } : { y: { r: [1, 2], p: 'q' }, x: 1 };
  return Cluster.fromPartial({ name: 'c', metadata: { filterMetadata } });
};

describe('canonical encoding', () => {
  it('does not depend on the key order of maps and structs', () => {
    const a = withMetadata('ab');
    const b = withMetadata('ba');
    // ts-proto alone writes map entries in insertion order: the plain encodings differ.
    expect(Buffer.from(Cluster.encode(a).finish()).equals(Buffer.from(Cluster.encode(b).finish()))).toBe(false);
    expect(encodeCanonical(Cluster, a).equals(encodeCanonical(Cluster, b))).toBe(true);
    expect(versionOf(encodeCanonical(Cluster, a))).toBe(versionOf(encodeCanonical(Cluster, b)));
  });

  it('keeps array order, bytes and non-plain objects', () => {
    const bytes = Buffer.from([3, 1, 2]);
    const date = new Date(0);
    const out = canonical({ z: [3, 1, 2], a: bytes, d: date });
    expect(Object.keys(out)).toEqual(['a', 'd', 'z']);
    expect(out.z).toEqual([3, 1, 2]);
    expect(out.a).toBe(bytes);
    expect(out.d).toBe(date);
  });

  it('gives different content a different version', () => {
    const v1 = versionOf(encodeCanonical(Cluster, Cluster.fromPartial({ name: 'a' })));
    const v2 = versionOf(encodeCanonical(Cluster, Cluster.fromPartial({ name: 'b' })));
    expect(v1).not.toBe(v2);
    expect(v1).toMatch(/^[0-9a-f]{16}$/);
  });

  it('versions sets independently of order, and tells a missing name from a present one', () => {
    expect(versionOfSet([['a', '1'], ['b', '2']])).toBe(versionOfSet([['b', '2'], ['a', '1']]));
    expect(versionOfSet([['a', '1']])).not.toBe(versionOfSet([['a', '1'], ['b', undefined]]));
    expect(versionOfSet([])).not.toBe('');
  });
});
