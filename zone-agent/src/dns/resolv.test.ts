import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { firstNameserver, resolveUpstream, splitHostPort } from './resolv.js';

describe('upstream resolver', () => {
  it('reads the first usable nameserver of resolv.conf', () => {
    expect(firstNameserver('# comment\nsearch svc.cluster.local\nnameserver 10.96.0.10\nnameserver 8.8.8.8\n')).toBe('10.96.0.10');
    expect(firstNameserver('nameserver fe80::1%eth0 ; scoped\n')).toBe('fe80::1');
    expect(firstNameserver('nameserver not-an-ip\noptions ndots:5\n')).toBeUndefined();
  });

  it('splits host and port', () => {
    expect(splitHostPort('127.0.0.1:5300')).toEqual({ host: '127.0.0.1', port: 5300 });
    expect(splitHostPort('10.0.0.2')).toEqual({ host: '10.0.0.2', port: 53 });
    expect(splitHostPort('[::1]:5300')).toEqual({ host: '::1', port: 5300 });
    expect(splitHostPort('::1')).toEqual({ host: '::1', port: 53 });
  });

  it('prefers --dns-upstream, else resolv.conf, else 127.0.0.1:53', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ursa-resolv-'));
    try {
      await writeFile(join(dir, 'resolv.conf'), 'nameserver 192.0.2.53\n');
      expect(await resolveUpstream('localhost:5300', join(dir, 'resolv.conf'))).toMatchObject({ port: 5300 });
      expect(await resolveUpstream(undefined, join(dir, 'resolv.conf'))).toEqual({ host: '192.0.2.53', port: 53, family: 4 });
      expect(await resolveUpstream(undefined, join(dir, 'missing'))).toEqual({ host: '127.0.0.1', port: 53, family: 4 });
      await expect(resolveUpstream('127.0.0.1:0')).rejects.toThrow(/bad port/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
