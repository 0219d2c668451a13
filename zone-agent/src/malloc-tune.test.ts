/**
 * The mmap threshold is set through the addon `build.ts` compiled (as `npm test` does before vitest), and a
 * threshold of 0 leaves glibc alone, saying so.
 */
import { describe, expect, it } from 'vitest';
import { parseZoneConfig, type ZoneConfig } from './config.js';
import { tuneMalloc } from './malloc-tune.js';

describe('malloc tuning', () => {
  it('sets the threshold on Linux with the addon built; 0 keeps glibc\'s own', () => {
    const set = tuneMalloc(131072);
    set.stop();
    expect(set).toMatchObject({ applied: true, note: 'mmap threshold 131072 bytes; free heap memory over 64 MiB freed returned within 2 s' });
    expect(tuneMalloc(0)).toMatchObject({ applied: false, note: "mmap threshold not set: --malloc-mmap-threshold 0 keeps glibc's dynamic one" });
  });

  const parse = (argv: string[]): ZoneConfig => {
    const parsed = parseZoneConfig(argv, {});
    if (!('config' in parsed)) throw new Error('asked for help');
    return parsed.config;
  };

  it('defaults to 128 KiB; the flag takes bytes and refuses what is not a whole number in range, naming it', () => {
    expect(parse(['--zone', 'z']).mallocMmapThreshold).toBe(131072);
    expect(parse(['--zone', 'z', '--malloc-mmap-threshold', '0']).mallocMmapThreshold).toBe(0);
    expect(() => parse(['--zone', 'z', '--malloc-mmap-threshold', '-1'])).toThrow(/--malloc-mmap-threshold/);
    expect(() => parse(['--zone', 'z', '--malloc-mmap-threshold', 'lots'])).toThrow(/--malloc-mmap-threshold/);
  });
});
