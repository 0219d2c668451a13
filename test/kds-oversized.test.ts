/**
 * No resource the API accepted may stop a tenant's sync (issue 12, defect 2): 40 policies of ~900 KB each
 * (36 MB in all, more than twice the 16 MiB frame limit) reach two zones on each transport, one following
 * the changes as they are written and one starting afterwards (a snapshot); a small policy written after
 * them arrives too. Every message a zone received (a WebSocket frame, a long-poll answer) stayed under
 * MAX_FRAME_BYTES, and neither zone ever reconnected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, MAX_FRAME_BYTES } from '@ursa/core';
import { backends } from '@ursa/test-support/backends.js';
import { call, startApi, type ApiServer } from '@ursa/test-support/api.js';
import { meshTimeoutBody } from '@ursa/test-support/fixtures.js';
import { eventually, startZone, type TestZone } from '@ursa/test-support/zone.js';

const COUNT = 40;
const PAD = 900_000;

/** A valid MeshAccessLog of ~900 KB: the OpenTelemetry body is free-form JSON. */
const bigPolicy = (name: string) => ({
  type: 'MeshAccessLog',
  mesh: 'default',
  name,
  spec: { targetRef: { kind: 'Mesh' }, from: [{ targetRef: { kind: 'Mesh' }, default: { backends: [{ type: 'OpenTelemetry', openTelemetry: { endpoint: 'otel:4317', body: `${name}:${'x'.repeat(PAD)}` } }] } }] },
});

for (const backend of backends()) {
  for (const transport of ['ws', 'poll'] as const) {
    describe(`${COUNT} policies of ~900 KB over ${transport} on ${backend.name}`, () => {
      let api: ApiServer;
      const zones: TestZone[] = [];
      const token = async (zone: string) => (await api.stores.zoneTokens.issue('default', zone, 3600)).token;
      const lines: string[] = [];
      const log = (zone: string) => createLogger({ level: 'info', name: zone, write: (_level, line) => lines.push(line) });
      const count = async (z: TestZone) => (await z.store.list('local', 'MeshAccessLog', { limit: 1000 })).items.filter((r) => r.labels['kuma.io/origin'] === 'global').length;

      /**
       * A PUT, sent again once if the connection was reset before any answer: on a loaded 2-vCPU VM the
       * client may reuse a keep-alive connection the server is closing (PUT is idempotent).
       */
      const put = async (path: string, body: unknown) => {
        try {
          return await call(api.url, 'PUT', path, { body });
        } catch (err) {
          if ((err as { cause?: { code?: string } }).cause?.code !== 'ECONNRESET') throw err;
          return call(api.url, 'PUT', path, { body });
        }
      };

      beforeAll(async () => {
        // The production heartbeat (5 s; silence ends a session after three): global, zones and writes share
        // this process, and packing or applying ~900 KB resources stalls it on a loaded VM.
        api = await startApi(backend, {}, { heartbeatMs: 5000, leaseTtlMs: 15_000 });
        await call(api.url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default' } });
      });
      afterAll(async () => {
        await Promise.all(zones.map((z) => z.stop()));
        await api?.close();
      });

      it('reach a zone following the changes and a zone starting afterwards, then a small policy does too; no frame over the limit, no reconnect', async () => {
        zones.push(await startZone({ name: 'zone-live', globalUrl: api.url, token: await token('zone-live'), transport, pollWaitS: 1, log: log('zone-live') }));
        await eventually('zone-live connected', () => zones[0]!.client.status.connected);
        for (let i = 0; i < COUNT; i++) {
          const res = await put(`/meshes/default/meshaccesslogs/big-${i}`, bigPolicy(`big-${i}`));
          expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
        }
        zones.push(await startZone({ name: 'zone-late', globalUrl: api.url, token: await token('zone-late'), transport, pollWaitS: 1, log: log('zone-late') }));
        for (const z of zones) await eventually(`${z.name} has all ${COUNT}`, async () => (await count(z)) === COUNT, 180_000);

        await put('/meshes/default/meshtimeouts/small-after', meshTimeoutBody('small-after', '3s'));
        for (const z of zones) await eventually(`${z.name} has small-after`, async () => (await z.store.get('local', { kind: 'MeshTimeout', mesh: 'default', name: 'small-after' })) !== undefined, 30_000);

        const sample = await zones[1]!.store.get('local', { kind: 'MeshAccessLog', mesh: 'default', name: 'big-7' });
        expect(JSON.stringify(sample?.spec)).toContain(`big-7:${'x'.repeat(100)}`);
        for (const z of zones) {
          const s = z.client.status;
          expect(s.bytesIn, z.name).toBeGreaterThan(COUNT * PAD);
          expect(s.largestIn, z.name).toBeLessThan(MAX_FRAME_BYTES);
          expect(s.sessions, `${z.name} reconnected:\n${lines.filter((l) => l.includes(z.name)).join('\n')}`).toBe(1);
          expect(s.connected, z.name).toBe(true);
        }
      }, 400_000);
    });
  }
}
