/**
 * The promise other parts of KDS rely on: any resource the store accepts fits in one KDS frame, with room
 * for several more. Resources at the limit, in the shapes that grow most on the wire (one big string,
 * escape-heavy text, thousands of labels), are validated as the store does, then encoded as a one-resource
 * Delta frame.
 */
import { describe, expect, it } from 'vitest';
import { jsonByteLength, validateResource } from '@ursa/proto';
import { encodeFrame, MAX_FRAME_BYTES, toWire } from './frames.js';
import { MAX_RESOURCE_BYTES } from '../limits.js';

const accessLog = (body: unknown, labels: Record<string, string> = {}) => ({
  kind: 'MeshAccessLog',
  mesh: 'default',
  name: 'a'.repeat(253),
  labels,
  spec: { targetRef: { kind: 'Mesh' }, from: [{ targetRef: { kind: 'Mesh' }, default: { backends: [{ type: 'OpenTelemetry', openTelemetry: { endpoint: 'otel:4317', body } }] } }] },
});

/** A Delta frame carrying `r` as the global sends it (with the origin label it adds). */
const oneResourceDelta = (r: { kind: string; mesh: string; name: string; labels: Record<string, string>; spec: Record<string, unknown> }) =>
  ({ body: { $case: 'delta' as const, value: { seq: 1, upserts: [toWire({ ...r, labels: { ...r.labels, 'kuma.io/origin': 'global' } })], removals: [], revision: 1, snapshot: false, complete: true, baseRevision: 0 } } });

/** The largest of `make(n)` within the limit (bisection on its measured size), checked to be accepted. */
function largestAccepted(make: (n: number) => ReturnType<typeof accessLog>): ReturnType<typeof accessLog> {
  const size = (n: number) => jsonByteLength(make(n));
  let lo = 1;
  let hi = MAX_RESOURCE_BYTES;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (size(mid) <= MAX_RESOURCE_BYTES) lo = mid;
    else hi = mid - 1;
  }
  const r = make(lo);
  expect(size(lo)).toBeGreaterThan(MAX_RESOURCE_BYTES - 64);
  expect(validateResource(make(MAX_RESOURCE_BYTES)).ok).toBe(false);
  return r;
}

describe('resource and frame limits', () => {
  const shapes: [string, (n: number) => ReturnType<typeof accessLog>][] = [
    ['one big string', (n) => accessLog('x'.repeat(n))],
    ['multibyte text', (n) => accessLog('😀€é'.repeat(Math.ceil(n / 9)))],
    ['escape-heavy text', (n) => accessLog('"\\\n\u0001'.repeat(Math.ceil(n / 12)))],
    ['many small values', (n) => accessLog(Array.from({ length: Math.ceil(n / 32) }, () => 'x'.repeat(30)))],
  ];
  it('a resource at MAX_RESOURCE_BYTES (thousands of labels) fits in one KDS frame eight times over', () => {
    // Labels added one by one while the resource stays within the limit (each adds `"k<i>":"vvvvvvvvvv",`).
    const labels: Record<string, string> = {};
    let size = jsonByteLength(accessLog('x', {}));
    for (let i = 0; ; i++) {
      const add = JSON.stringify(`k${i}`).length + 13 + (i > 0 ? 1 : 0);
      if (size + add > MAX_RESOURCE_BYTES) break;
      labels[`k${i}`] = 'v'.repeat(10);
      size += add;
    }
    expect(jsonByteLength(accessLog('x', labels))).toBe(size);
    const checked = validateResource(accessLog('x', labels));
    if (!checked.ok) throw new Error(`not accepted: ${JSON.stringify(checked.violations.slice(0, 2))}`);
    expect(validateResource(accessLog('x', { ...labels, extra: 'v'.repeat(40) })).ok).toBe(false);
    expect(encodeFrame(oneResourceDelta(checked.value)).byteLength * 8).toBeLessThanOrEqual(MAX_FRAME_BYTES);
  });

  for (const [what, make] of shapes) {
    it(`a resource at MAX_RESOURCE_BYTES (${what}) fits in one KDS frame eight times over`, () => {
      const checked = validateResource(largestAccepted(make));
      if (!checked.ok) throw new Error(`not accepted: ${JSON.stringify(checked.violations.slice(0, 2))}`);
      const r = checked.value;
      const frame = encodeFrame(oneResourceDelta(r));
      expect(frame.byteLength).toBeGreaterThan(MAX_RESOURCE_BYTES * 0.9);
      expect(frame.byteLength * 8).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    });
  }
});
