/** A session's frame built from a shared encoding is byte for byte what encoding the whole frame gives. */
import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame, toWire } from '@ursa/core';
import { deltaFrameBytes, encodeBody, sharedPage, type SharedFrame, withSeq } from './shared-frames.js';

const frame = (n: number): SharedFrame => {
  const delta = {
    upserts: Array.from({ length: n }, (_, i) => toWire({ kind: 'MeshTimeout', mesh: 'default', name: `t-${i}`, labels: { 'kuma.io/origin': 'global' }, spec: { i, text: 'é'.repeat(i * 40) } })),
    removals: [{ kind: 'MeshRetry', mesh: 'default', name: 'gone' }],
    revision: 2 ** 33 + n,
    baseRevision: 7,
    snapshot: false,
    complete: true,
  };
  return { delta, body: encodeBody(delta) };
};

describe('shared delta frames', () => {
  it('equal encodeFrame for any seq and content size', () => {
    for (const n of [0, 1, 3, 40]) {
      const f = frame(n);
      for (const seq of [1, 127, 128, 300, 16_384, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER]) {
        const d = withSeq(f, seq);
        const bytes = deltaFrameBytes(d);
        expect(Buffer.from(bytes).equals(Buffer.from(encodeFrame({ body: { $case: 'delta', value: d } })))).toBe(true);
        expect(decodeFrame(bytes).body).toEqual({ $case: 'delta', value: { seq, ...f.delta } });
      }
    }
  });

  it('a Delta not made from a shared frame is encoded whole', () => {
    const d = { seq: 4, ...frame(2).delta };
    expect(deltaFrameBytes(d)).toEqual(encodeFrame({ body: { $case: 'delta', value: d } }));
  });

  it('packs a page once per key, and again for another key', () => {
    const first = {};
    let packed = 0;
    const pack = () => {
      packed += 1;
      return { frames: [frame(1)], consumed: 1, cut: false, sentByKind: new Map() };
    };
    const a = sharedPage(first, '0,1u', pack);
    expect(sharedPage(first, '0,1u', pack)).toBe(a);
    expect(sharedPage(first, '0,1r', pack)).not.toBe(a);
    expect(sharedPage({}, '0,1u', pack)).not.toBe(a);
    expect(packed).toBe(3);
  });
});
