/**
 * What one zone may stage on the global is bounded (issue 12, defect 5). An inventory snapshot in transit
 * (zone -> global) waits in the database until its `complete` frame; here the global runs with small limits
 * (5 resources, 64 KiB) and a short expiry, and raw pushes and a raw WebSocket send what a zone might:
 * - a normal snapshot over several pushes still replaces the zone's inventory, and leaves nothing staged;
 * - a chunk that takes the zone over the count or the byte limit is refused with `limit-exceeded` naming
 *   the limit (413 on long-poll; an Error frame then a close on a WebSocket), and the staging is dropped;
 * - a newer snapshot supersedes an older one, and a snapshot abandoned mid-way is swept after the expiry.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Frame, Frames, PushRequest, type Delta, type Hello, type Resource } from '@ursa/proto/gen/kds.js';
import { MAX_STAGED_BYTES, MAX_STAGED_RESOURCES } from '@ursa/core';
import { call, startApi, type ApiServer } from '@ursa/test-support/api.js';
import { backends } from '@ursa/test-support/backends.js';
import { errorOf, postFrames, rawHello } from '@ursa/test-support/kds-hello.js';
import { eventually } from '@ursa/test-support/zone.js';

const TTL_MS = 1500;

/** A valid Dataplane; `inbounds` of ~70 bytes each make it as large as wanted. */
const dp = (name: string, inbounds = 1): Resource => {
  const inbound = Array.from({ length: inbounds }, (_, i) => ({ port: 1000 + i, tags: { 'kuma.io/service': `svc-${i}`, version: 'v1' } }));
  return { key: { kind: 'Dataplane', mesh: 'default', name }, labels: {}, specJson: Buffer.from(JSON.stringify({ networking: { address: '10.0.0.1', inbound } })) };
};
const snapshot = (revision: number, upserts: Resource[], complete: boolean, seq = 1): Delta => ({ seq, upserts, removals: [], revision, baseRevision: 0, snapshot: true, complete });

for (const backend of backends()) {
  describe(`KDS staging limits on ${backend.name}`, () => {
    let api: ApiServer;
    const tokens = new Map<string, string>();
    const hello = (zone: string, h: Partial<Hello> = {}) => rawHello({ zone, token: tokens.get(zone)!, instanceId: `${zone}-raw`, ...h });
    const push = (zone: string, delta: Delta) => postFrames(api.url, '/kds/v1/push', PushRequest.encode({ hello: hello(zone), delta }).finish());
    const staged = (zone: string, revision: number) => api.stores.kds.staged('default', zone, String(revision));
    const zoneDataplanes = async (zone: string) =>
      ((await call(api.url, 'GET', '/meshes/default/dataplanes')).body.items as { labels: Record<string, string> }[]).filter((d) => d.labels['kuma.io/zone'] === zone).map((d) => d.labels['kuma.io/display-name']).sort();

    beforeAll(async () => {
      api = await startApi(backend, {}, { stagingLimits: { resources: 5, bytes: 64 * 1024 }, stagingTtlMs: TTL_MS });
      await call(api.url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default' } });
      for (const zone of ['zone-ok', 'zone-count', 'zone-bytes', 'zone-old']) tokens.set(zone, (await api.stores.zoneTokens.issue('default', zone, 3600)).token);
    });
    afterAll(async () => api?.close());

    it('the defaults leave a 10,000-proxy zone room', () => {
      expect(MAX_STAGED_RESOURCES).toBeGreaterThanOrEqual(5 * 10_000);
      expect(MAX_STAGED_BYTES).toBeGreaterThanOrEqual(10_000 * 8 * 1024);
    });

    it('a snapshot over several pushes within the limits replaces the inventory and leaves nothing staged', async () => {
      expect((await push('zone-ok', snapshot(10, [dp('a'), dp('b'), dp('c')], false))).status).toBe(200);
      expect(await staged('zone-ok', 10)).toHaveLength(3);
      expect((await push('zone-ok', snapshot(10, [dp('d'), dp('e')], true, 2))).status).toBe(200);
      expect(await zoneDataplanes('zone-ok')).toEqual(['a', 'b', 'c', 'd', 'e']);
      expect(await staged('zone-ok', 10)).toHaveLength(0);
      // The same chunk sent twice (a retried push) counts once.
      expect((await push('zone-ok', snapshot(11, [dp('a'), dp('b'), dp('c')], false))).status).toBe(200);
      expect((await push('zone-ok', snapshot(11, [dp('a'), dp('b'), dp('c')], false, 2))).status).toBe(200);
      expect((await push('zone-ok', snapshot(11, [dp('d'), dp('e')], true, 3))).status).toBe(200);
      expect(await zoneDataplanes('zone-ok')).toEqual(['a', 'b', 'c', 'd', 'e']);
    });

    it('a chunk over the count limit is refused (413 limit-exceeded naming the limit) and the staging dropped', async () => {
      expect((await push('zone-count', snapshot(20, [dp('a'), dp('b'), dp('c')], false))).status).toBe(200);
      const r = await push('zone-count', snapshot(20, [dp('d'), dp('e'), dp('f')], false, 2));
      expect(r.status).toBe(413);
      expect(errorOf(r.frames)).toEqual({
        code: 'limit-exceeded',
        message: `the inventory snapshot of zone zone-count exceeds the global's staging limit of 5 resources (MAX_STAGED_RESOURCES, default ${MAX_STAGED_RESOURCES}): it was dropped; a zone this large needs the global's limit raised`,
      });
      expect(await staged('zone-count', 20)).toHaveLength(0);
      expect(await zoneDataplanes('zone-count')).toEqual([]);
      // A snapshot within the limit still goes through afterwards.
      expect((await push('zone-count', snapshot(21, [dp('a'), dp('b')], true))).status).toBe(200);
      expect(await zoneDataplanes('zone-count')).toEqual(['a', 'b']);
    });

    it('over the byte limit on a WebSocket: an Error frame naming the limit, then the close', async () => {
      const big = [dp('big-1', 500), dp('big-2', 500)]; // ~35 KB each: 70 KB > 64 KiB
      const u = new URL('/kds/v1/stream', api.url);
      u.protocol = 'ws:';
      const ws = new WebSocket(u);
      const got: Frame[] = [];
      const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
      ws.on('open', () => ws.send(Frame.encode({ body: { $case: 'hello', value: hello('zone-bytes') } }).finish()));
      ws.on('message', (data: Buffer) => {
        const f = Frame.decode(data);
        got.push(f);
        if (f.body?.$case === 'welcome') ws.send(Frame.encode({ body: { $case: 'delta', value: snapshot(30, big, false) } }).finish());
      });
      ws.on('error', () => {});
      expect(await closed).toBe(1008);
      expect(errorOf(got)?.code).toBe('limit-exceeded');
      expect(errorOf(got)?.message).toMatch(/staging limit of 65536 bytes \(MAX_STAGED_BYTES, default 268435456 bytes \(256 MiB\)\)/);
      expect(await staged('zone-bytes', 30)).toHaveLength(0);
    });

    it('a newer snapshot supersedes an older one; an abandoned one is swept after the expiry', async () => {
      expect((await push('zone-old', snapshot(40, [dp('a'), dp('b')], false))).status).toBe(200);
      expect((await push('zone-old', snapshot(41, [dp('c')], false))).status).toBe(200);
      expect(await staged('zone-old', 40)).toHaveLength(0);
      expect(await staged('zone-old', 41)).toHaveLength(1);
      // zone-old goes away mid-upload. Any zone's next hello after the expiry sweeps it.
      await new Promise((r) => setTimeout(r, TTL_MS + 200));
      await eventually('the abandoned snapshot swept', async () => {
        await postFrames(api.url, '/kds/v1/push', PushRequest.encode({ hello: hello('zone-ok'), delta: snapshot(50, [dp('a')], false) }).finish());
        return (await staged('zone-old', 41)).length === 0;
      });
      // A live upload is not: zone-ok's chunk was just staged.
      expect(await staged('zone-ok', 50)).toHaveLength(1);
    });
  });
}
