/**
 * The mmap threshold is set through the addon `build.ts` compiled (as `npm test` does before vitest), and a
 * threshold of 0 leaves glibc alone, saying so.
 */
import { describe, expect, it } from 'vitest';
import { parseZoneConfig } from './config.js';
import { tuneMalloc } from './malloc-tune.js';

describe('malloc tuning', () => {
  it('sets the threshold on Linux with the addon built; 0 keeps glibc\'s own', () => {
    const set = tuneMalloc(131072);
    expect(set).toEqual({ applied: true, note: 'mmap threshold 131072 bytes' });
    expect(tuneMalloc(0)).toEqual({ applied: false, note: "mmap threshold not set: --malloc-mmap-threshold 0 keeps glibc's dynamic one" });
  });

  it('defaults to 128 KiB; the flag takes bytes and refuses what is not a whole number in range, naming it', () => {
    expect(parseZoneConfig(['--zone', 'z'], {}).config.mallocMmapThreshold).toBe(131072);
    expect(parseZoneConfig(['--zone', 'z', '--malloc-mmap-threshold', '0'], {}).config.mallocMmapThreshold).toBe(0);
    expect(() => parseZoneConfig(['--zone', 'z', '--malloc-mmap-threshold', '-1'], {})).toThrow(/--malloc-mmap-threshold/);
    expect(() => parseZoneConfig(['--zone', 'z', '--malloc-mmap-threshold', 'lots'], {})).toThrow(/--malloc-mmap-threshold/);
  });
});
