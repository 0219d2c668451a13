import { describe, expect, it } from 'vitest';
import { jsonByteLength } from './size.js';

const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v) ?? 'null', 'utf8');

/** A small seeded PRNG (mulberry32): the same values on every run. */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const UNITS = ['a', 'Z', ' ', '"', '\\', '\n', '\t', '\u0000', '\u001f', '\u007f', 'é', '€', '😀', '\ud800', '\udc00', '\u2028', '/'];

function randomValue(rand: () => number, depth: number): unknown {
  const pick = rand();
  if (depth <= 0 || pick < 0.4) {
    const s = rand();
    if (s < 0.5) return Array.from({ length: Math.floor(rand() * 8) }, () => UNITS[Math.floor(rand() * UNITS.length)]).join('');
    if (s < 0.7) return [0, -1, 1.5, 1e21, -1e-7, 5e-324, 2 ** 53 + 2, 123456789.123, NaN, Infinity][Math.floor(rand() * 10)];
    if (s < 0.85) return rand() < 0.5;
    return null;
  }
  if (pick < 0.7) return Array.from({ length: Math.floor(rand() * 5) }, () => randomValue(rand, depth - 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(rand() * 5); i > 0; i--) o[randomValue(rand, 0) as string] = rand() < 0.1 ? undefined : randomValue(rand, depth - 1);
  return o;
}

describe('jsonByteLength', () => {
  it('is the UTF-8 length of JSON.stringify for any JSON-like value (2,000 seeded values)', () => {
    const rand = prng(20251121);
    for (let i = 0; i < 2000; i++) {
      const v = randomValue(rand, 5);
      expect(jsonByteLength(v), JSON.stringify(v)).toBe(bytes(v));
    }
    for (const v of [new Date(0), { d: new Date(0) }, [undefined, () => 1], { a: undefined, b: 1 }, { __proto__: null, x: 1 }, JSON.parse('{"__proto__":1}')]) {
      expect(jsonByteLength(v), JSON.stringify(v)).toBe(bytes(v));
    }
  });

  it('counts bytes, not characters', () => {
    expect(jsonByteLength('€'.repeat(1000))).toBe(3002);
    expect(jsonByteLength('😀')).toBe(6);
  });

  it('stops early on values made of shared references, and on cycles', () => {
    const big = 'x'.repeat(1_000_000);
    const shared = Array.from({ length: 10_000 }, () => big); // 10 GB as JSON, 80 kB in memory
    const started = performance.now();
    expect(jsonByteLength(shared, 4_000_000)).toBeGreaterThan(4_000_000);
    const cycle: unknown[] = [];
    cycle.push(cycle, cycle);
    expect(jsonByteLength(cycle, 1_000_000)).toBeGreaterThan(1_000_000);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('measures deep nesting without overflowing the stack', () => {
    const deep = JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)) as unknown;
    expect(jsonByteLength(deep)).toBe(200_000);
  });

  it('counts what is nested deeper than maxDepth as empty (a cycle stays small)', () => {
    expect(jsonByteLength([[[['abc']]]], Infinity, 2)).toBe('[[[]]]'.length);
    expect(jsonByteLength({ a: { b: { c: 1 } } }, Infinity, 1)).toBe('{"a":{}}'.length);
    const cycle: unknown[] = [];
    cycle.push(cycle);
    expect(jsonByteLength(cycle, 1_000_000, 66)).toBe(67 * 2);
  });
});
