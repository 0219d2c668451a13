/**
 * The packing rule both directions follow: whatever the resources (each at most MAX_RESOURCE_BYTES), every
 * frame, and every batch sent as one long-poll answer, stays under MAX_FRAME_BYTES; small resources still
 * pack hundreds to a frame.
 */
import { describe, expect, it } from 'vitest';
import { Delta, Frames, Resource } from '@ursa/proto/gen/kds.js';
import { CHUNK_BYTES, encodeFrame, MAX_FRAME_BYTES, toWire } from './frames.js';
import { BATCH_BYTES, DeltaPacker, packFrames, resourceBytes } from './packer.js';
import { MAX_RESOURCE_BYTES } from '../limits.js';

const policy = (name: string, bytes: number, labels: Record<string, string> = {}) =>
  toWire({ kind: 'MeshTimeout', mesh: 'default', name, labels, spec: { targetRef: { kind: 'Mesh' }, padding: 'x'.repeat(bytes) } });

const deltaOf = (upserts: Resource[]): Delta => ({ seq: 1, upserts, removals: [], revision: 1, baseRevision: 0, snapshot: false, complete: true });
const frameBytes = (upserts: Resource[]) => encodeFrame({ body: { $case: 'delta', value: deltaOf(upserts) } }).byteLength;

describe('DeltaPacker and packFrames', () => {
  it('bounds every encoded size from above, multibyte names and labels included', () => {
    for (const r of [policy('a', 10), policy('é€😀'.repeat(50), 1000, { 'kuma.io/display-name': '€'.repeat(60), x: '' }), policy('big', 900_000)]) {
      const exact = Resource.encode(r).finish().byteLength;
      expect(resourceBytes(r)).toBeGreaterThanOrEqual(exact);
      expect(resourceBytes(r)).toBeLessThan(exact + 200);
    }
  });

  it('40 policies of ~900 KB (36 MB) become frames of at most one chunk plus one resource', () => {
    const big = Array.from({ length: 40 }, (_, i) => policy(`big-${i}`, 900_000));
    const frames = packFrames(big, []);
    expect(frames.flatMap((f) => f.upserts.map((r) => r.key!.name))).toEqual(big.map((r) => r.key!.name));
    for (const f of frames) {
      const bytes = frameBytes(f.upserts);
      expect(bytes).toBeLessThanOrEqual(CHUNK_BYTES + MAX_RESOURCE_BYTES + 1024);
      expect(bytes).toBeLessThan(MAX_FRAME_BYTES);
    }
    // One resource this large fills a frame on its own.
    expect(frames).toHaveLength(40);
  });

  it('packs small resources hundreds to a frame, near the chunk target', () => {
    const small = Array.from({ length: 10_000 }, (_, i) => policy(`p-${i}`, 200));
    const removals = Array.from({ length: 1000 }, (_, i) => ({ kind: 'MeshTimeout', mesh: 'default', name: `gone-${i}` }));
    const frames = packFrames(small, removals);
    const total = frameBytes(small);
    expect(frames.length).toBeLessThanOrEqual(Math.ceil(total / CHUNK_BYTES) + 1);
    expect(frames.reduce((n, f) => n + f.upserts.length, 0)).toBe(10_000);
    expect(frames.reduce((n, f) => n + f.removals.length, 0)).toBe(1000);
    for (const f of frames.slice(0, -1)) expect(frameBytes(f.upserts) + f.removals.length * 64).toBeGreaterThan(CHUNK_BYTES * 0.9);
  });

  it('a batch stops at its budget, so a long-poll answer of all its frames fits in one frame limit', () => {
    // Resources at the limit, the worst case for the overshoot.
    const packer = new DeltaPacker<number>();
    let taken = 0;
    for (let i = 0; i < 100; i++) {
      packer.upsert(policy(`max-${i}`, MAX_RESOURCE_BYTES - 200));
      taken += 1;
      if (packer.frameFull || packer.batchFull) {
        packer.close(i);
        if (packer.batchFull) break;
      }
    }
    packer.close(taken);
    expect(taken).toBeLessThan(100);
    expect(taken).toBeGreaterThanOrEqual(Math.floor(BATCH_BYTES / MAX_RESOURCE_BYTES));
    const answer = Frames.encode({ frames: packer.frames.map((f) => ({ body: { $case: 'delta', value: deltaOf(f.upserts) } })) }).finish();
    expect(answer.byteLength).toBeLessThan(MAX_FRAME_BYTES);
    // Frame metadata is what the caller attached: where each frame ends.
    expect(packer.frames.map((f) => f.meta)).toEqual(packer.frames.map((_, i) => i));
  });
});
