import { describe, expect, it } from 'vitest';
import { parseGoDuration, validForProblem } from './token-format.js';

describe('validFor as Kuma takes it', () => {
  it('parses Go durations (what kumactl sends) and whole seconds', () => {
    expect(['24h', '30m', '1h30m', '720h', '90s', '24h0m0s', '1500ms', '1.5h', '0', 3600].map(parseGoDuration)).toEqual([86400, 1800, 5400, 2592000, 90, 86400, 1, 5400, 0, 3600]);
  });
  it('refuses what Go refuses, and fractions of seconds given as numbers', () => {
    expect(['forever', '', '1d', '24', 'h', '1h 30m', 1.5, null, true].map(parseGoDuration)).toEqual(Array(9).fill(undefined));
  });
  it('explains a bad value like Kuma, and the allowed range', () => {
    expect(validForProblem('forever', undefined, 3600)).toMatch(/^is invalid: time: invalid duration "forever"/);
    expect(validForProblem('-5s', -5, 3600)).toBe('must be between 1s and 1h');
    expect(validForProblem('2h', 7200, 3600)).toBe('must be between 1s and 1h');
    expect(validForProblem('30m', 1800, 3600)).toBeUndefined();
  });
});
