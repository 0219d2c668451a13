import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, openPglite } from '@ursa/core/node';
import { type Database, memoryLogger } from '@ursa/core';
import { dnsVips } from '../store/schema.js';
import { backends } from '@ursa/test-support/backends.js';
import { formatIpv4, parseCidr, parseIpv4, VipAllocator, type WantedServices } from './vips.js';

const wanted = (m: Record<string, string[]>): WantedServices => new Map(Object.entries(m).map(([k, v]) => [k, new Set(v)]));
const plain = (vips: Map<string, Map<string, string>>) => Object.fromEntries([...vips].map(([m, s]) => [m, Object.fromEntries(s)]));

describe('CIDR arithmetic', () => {
  it('skips network and broadcast', () => {
    expect(parseCidr('240.0.0.0/4')).toMatchObject({ first: parseIpv4('240.0.0.1'), last: parseIpv4('255.255.255.254') });
    expect(parseCidr('10.1.2.3/30')).toMatchObject({ first: parseIpv4('10.1.2.1'), last: parseIpv4('10.1.2.2') });
    expect(parseCidr('10.1.2.3/32')).toMatchObject({ first: parseIpv4('10.1.2.3'), last: parseIpv4('10.1.2.3') });
    expect(formatIpv4(parseIpv4('255.1.0.254')!)).toBe('255.1.0.254');
    expect(() => parseCidr('300.0.0.0/4')).toThrow();
  });
});

for (const backend of backends()) {
  describe(`VIP allocator (${backend.name})`, () => {
    let database: Database;
    let dispose: () => Promise<void>;
    let tenant = 0;
    beforeAll(async () => ({ database, dispose } = await backend.open()));
    afterAll(() => dispose?.());
    const fresh = (opts: { cidr?: string; quarantineMs?: number; clock?: { t: number }; lines?: string[] } = {}) =>
      new VipAllocator({ db: database.db, tenant: `t${++tenant}`, cidr: opts.cidr ?? '240.0.0.0/4', quarantineMs: opts.quarantineMs, log: opts.lines ? memoryLogger(opts.lines) : undefined, now: opts.clock ? () => new Date(opts.clock!.t) : undefined });

    it('hands out the lowest free address per mesh, skipping the network address, and keeps them', async () => {
      const a = fresh();
      const r = await a.sync(wanted({ default: ['web', 'backend'], other: ['web'] }));
      expect(plain(r.vips)).toEqual({ default: { backend: '240.0.0.1', web: '240.0.0.2' }, other: { web: '240.0.0.1' } });
      const again = await a.sync(wanted({ default: ['web', 'backend', 'aaa'], other: ['web'] }));
      expect(plain(again.vips)).toEqual({ default: { backend: '240.0.0.1', web: '240.0.0.2', aaa: '240.0.0.3' }, other: { web: '240.0.0.1' } });
      expect((await a.sync(wanted({ default: ['web', 'backend', 'aaa'], other: ['web'] }))).writes).toBe(0);
    });

    it('quarantines a freed address, gives it back to its own service, and reuses it only after the quarantine', async () => {
      const clock = { t: Date.parse('2030-01-01T00:00:00Z') };
      const a = fresh({ quarantineMs: 60_000, clock });
      await a.sync(wanted({ default: ['a', 'b'] }));
      // b disappears: its address stays reserved.
      clock.t += 1000;
      let r = await a.sync(wanted({ default: ['a'] }));
      expect(plain(r.vips)).toEqual({ default: { a: '240.0.0.1' } });
      r = await a.sync(wanted({ default: ['a', 'c'] }));
      expect(plain(r.vips)).toEqual({ default: { a: '240.0.0.1', c: '240.0.0.3' } });
      // b comes back within the quarantine: same address.
      clock.t += 30_000;
      r = await a.sync(wanted({ default: ['a', 'b', 'c'] }));
      expect(plain(r.vips).default).toEqual({ a: '240.0.0.1', b: '240.0.0.2', c: '240.0.0.3' });
      // b goes again; after the quarantine its address is free for someone else.
      await a.sync(wanted({ default: ['a', 'c'] }));
      clock.t += 59_000;
      expect(plain((await a.sync(wanted({ default: ['a', 'c', 'd'] }))).vips).default!.d).toBe('240.0.0.4');
      clock.t += 2_000;
      expect(plain((await a.sync(wanted({ default: ['a', 'c', 'd', 'e'] }))).vips).default!.e).toBe('240.0.0.2');
    });

    it('a deleted mesh frees its services into quarantine', async () => {
      const clock = { t: Date.parse('2030-01-01T00:00:00Z') };
      const a = fresh({ quarantineMs: 60_000, clock });
      await a.sync(wanted({ m1: ['x', 'y'] }));
      expect(plain((await a.sync(wanted({}))).vips)).toEqual({});
      expect(plain((await a.sync(wanted({ m1: ['z', 'y'] }))).vips)).toEqual({ m1: { y: '240.0.0.2', z: '240.0.0.3' } });
    });

    it('exhaustion leaves services without a VIP, is logged once, and is not fatal', async () => {
      const lines: string[] = [];
      const a = fresh({ cidr: '10.9.0.0/30', lines });
      const r = await a.sync(wanted({ default: ['a', 'b', 'c', 'd'] }));
      expect(plain(r.vips)).toEqual({ default: { a: '10.9.0.1', b: '10.9.0.2' } });
      expect(r.exhausted).toEqual([{ mesh: 'default', services: ['c', 'd'] }]);
      await a.sync(wanted({ default: ['a', 'b', 'c', 'd'] }));
      expect(lines.filter((l) => l.includes('exhausted'))).toHaveLength(1);
      expect(lines[0]).toMatch(/10\.9\.0\.0\/30.*default.*2 service/);
    });

    it('moves services into a changed CIDR', async () => {
      const t = `t${++tenant}`;
      const first = new VipAllocator({ db: database.db, tenant: t, cidr: '10.0.0.0/24' });
      expect(plain((await first.sync(wanted({ default: ['a', 'b'] }))).vips)).toEqual({ default: { a: '10.0.0.1', b: '10.0.0.2' } });
      const second = new VipAllocator({ db: database.db, tenant: t, cidr: '10.1.0.0/24' });
      expect(plain((await second.sync(wanted({ default: ['a', 'b'] }))).vips)).toEqual({ default: { a: '10.1.0.1', b: '10.1.0.2' } });
      expect((await database.db.select().from(dnsVips)).filter((r) => r.tenantId === t)).toHaveLength(2);
    });
  });
}

describe('VIP allocator on a reopened database', () => {
  let dir: string;
  beforeAll(async () => (dir = await mkdtemp(join(tmpdir(), 'ursa-vips-'))));
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('keeps every allocation across a restart', async () => {
    const open = async () => {
      const d = await openPglite(dir);
      await migrate(d);
      return d;
    };
    let d = await open();
    const services = Array.from({ length: 50 }, (_, i) => `svc-${i}`);
    const before = plain((await new VipAllocator({ db: d.db, tenant: 'local', cidr: '240.0.0.0/4' }).sync(wanted({ default: services, other: ['svc-7'] }))).vips);
    await d.close();
    d = await open();
    // A new service in between the old ones (by name) must not shift anything.
    const after = plain((await new VipAllocator({ db: d.db, tenant: 'local', cidr: '240.0.0.0/4' }).sync(wanted({ default: ['svc-10a', ...services.reverse()], other: ['svc-7'] }))).vips);
    await d.close();
    for (const s of services) expect(after.default![s]).toBe(before.default![s]);
    expect(after.other).toEqual(before.other);
    expect(after.default!['svc-10a']).toBe('240.0.0.51');
  });
});
