/**
 * The apply-a-batch rule both planes share, with the real descriptors and validator; the last test applies
 * its ops to a real store to show what ownership protects.
 */
import { describe, expect, it } from 'vitest';
import type { Resource as WireFrameResource } from '@ursa/proto/gen/kds.js';
import { openPglite } from '../store/pglite.js';
import { migrate } from '../store/migrate.js';
import { ResourceStore } from '../store/resource-store.js';
import { downwardRule, planBatch, replaceOwnedOps, upwardRule } from './apply-batch.js';
import { KdsError, toWire } from './frames.js';
import { globalName } from './mappers.js';

const timeout = (name: string, requestTimeout: unknown = '5s') => ({
  kind: 'MeshTimeout',
  mesh: 'default',
  name,
  labels: {},
  spec: { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { http: { requestTimeout } } }] },
});
const dataplane = (name: string, port: unknown = 8080, zoneTag = 'lies') => ({
  kind: 'Dataplane',
  mesh: 'default',
  name,
  labels: {},
  spec: { networking: { address: '10.0.0.5', inbound: [{ port, tags: { 'kuma.io/service': 'web', 'kuma.io/zone': zoneTag } }] } },
});
const rawSpec = (kind: string, name: string, specJson: string): WireFrameResource => ({ key: { kind, mesh: 'default', name }, labels: {}, specJson: Buffer.from(specJson) });

describe('planBatch on a zone (what the global sends down)', () => {
  const rule = downwardRule();

  it('accepts valid resources labelled as the global\'s, and rejects each bad one with its reason', () => {
    const plan = planBatch(
      {
        snapshot: false,
        upserts: [toWire(timeout('ok')), toWire(timeout('bad-duration', 42)), rawSpec('MeshTimeout', 'not-json', '{'), rawSpec('MeshTimeout', 'array', '[]'), toWire(dataplane('up-only'))],
        removals: [],
      },
      rule,
    );
    expect(plan.accepted.map((r) => [r.name, r.labels['kuma.io/origin']])).toEqual([['ok', 'global']]);
    expect(plan.rejections).toEqual([
      { key: { kind: 'MeshTimeout', mesh: 'default', name: 'bad-duration' }, reason: expect.stringMatching(/^spec\.to\[0\]\.default\.http\.requestTimeout: /) },
      { key: { kind: 'MeshTimeout', mesh: 'default', name: 'not-json' }, reason: 'spec_json is not valid UTF-8 JSON' },
      { key: { kind: 'MeshTimeout', mesh: 'default', name: 'array' }, reason: 'spec_json must be a JSON object' },
      // A zone does not take what only flows up: refused, not fatal.
      { key: { kind: 'Dataplane', mesh: 'default', name: 'up-only' }, reason: 'type "Dataplane" is not synced to zones' },
    ]);
    expect(plan.ops).toEqual([{ op: 'upsert', resource: plan.accepted[0] }]);
  });

  it('removes only what the global owns, and ignores removals of kinds it never takes', () => {
    const plan = planBatch({ snapshot: false, upserts: [], removals: [{ kind: 'MeshTimeout', mesh: 'default', name: 't' }, { kind: 'Dataplane', mesh: 'default', name: 'web' }, { kind: 'Nope', mesh: '', name: 'x' }] }, rule);
    expect(plan.ops).toEqual([{ op: 'delete', ifExists: true, ownedBy: { 'kuma.io/origin': 'global' }, key: { kind: 'MeshTimeout', mesh: 'default', name: 't' } }]);
  });

  it('a snapshot frame only sorts: no ops until the caller has the whole snapshot', () => {
    const plan = planBatch({ snapshot: true, upserts: [toWire(timeout('a'))], removals: [] }, rule);
    expect(plan.accepted.map((r) => r.name)).toEqual(['a']);
    expect(plan.ops).toEqual([]);
  });
});

describe('planBatch on the global (what zone-a sends up)', () => {
  const rule = upwardRule('zone-a');

  it('maps accepted resources into the zone\'s slice and pins its zone; rejects invalid ones', () => {
    const plan = planBatch({ snapshot: false, upserts: [toWire(dataplane('web-1')), toWire(dataplane('web-bad', 'eighty'))], removals: [] }, rule);
    expect(plan.rejections).toEqual([{ key: { kind: 'Dataplane', mesh: 'default', name: 'web-bad' }, reason: 'networking.inbound[0].port: must be an integer port' }]);
    const [dp] = plan.accepted;
    expect(dp!.name).toBe(globalName('zone-a', 'default', 'web-1'));
    expect(dp!.labels).toMatchObject({ 'kuma.io/zone': 'zone-a', 'kuma.io/origin': 'zone', 'kuma.io/display-name': 'web-1' });
    expect((dp!.spec as { networking: { inbound: { tags: Record<string, string> }[] } }).networking.inbound[0]!.tags['kuma.io/zone']).toBe('zone-a');
  });

  it('removes by the hashed name, only inside the zone\'s slice', () => {
    const plan = planBatch({ snapshot: false, upserts: [], removals: [{ kind: 'Dataplane', mesh: 'default', name: 'web-1' }] }, rule);
    expect(plan.ops).toEqual([
      { op: 'delete', ifExists: true, ownedBy: { 'kuma.io/zone': 'zone-a', 'kuma.io/origin': 'zone' }, key: { kind: 'Dataplane', mesh: 'default', name: globalName('zone-a', 'default', 'web-1') } },
    ]);
  });

  it('a kind zones may not send fails the batch, naming the entry (the session ends)', () => {
    const fail = (batch: Parameters<typeof planBatch>[0]) => {
      try {
        planBatch(batch, rule);
      } catch (err) {
        return err instanceof KdsError ? `${err.code}: ${err.message}` : String(err);
      }
      return 'no error';
    };
    expect(fail({ snapshot: false, upserts: [toWire(dataplane('ok')), toWire(timeout('t'))], removals: [] })).toBe('unknown-type: delta.upserts[1]: zones may not send resources of type "MeshTimeout"');
    expect(fail({ snapshot: false, upserts: [rawSpec('Nope', 'x', '{}')], removals: [] })).toBe('unknown-type: delta.upserts[0]: unknown resource type "Nope"');
    expect(fail({ snapshot: false, upserts: [], removals: [{ kind: 'Mesh', mesh: '', name: 'default' }] })).toBe('unknown-type: delta.removals[0]: zones may not remove resources of type "Mesh"');
  });

  it('uses the validator it is given', () => {
    const plan = planBatch({ snapshot: false, upserts: [toWire(dataplane('web-1'))], removals: [] }, rule, () => ({ ok: false, violations: [{ field: 'spec', message: 'refused by policy' }] }));
    expect(plan.rejections).toEqual([{ key: { kind: 'Dataplane', mesh: 'default', name: 'web-1' }, reason: 'spec: refused by policy' }]);
  });
});

describe('replaceOwnedOps, applied to a real store', () => {
  it('a complete snapshot replaces what the other side owns here, and nothing else', async () => {
    const database = await openPglite();
    try {
      await migrate(database);
      const store = new ResourceStore(database.db);
      const rule = downwardRule();
      const global = { 'kuma.io/origin': 'global' };
      await store.create('local', { ...timeout('kept'), labels: global });
      await store.create('local', { ...timeout('gone'), labels: global });
      await store.create('local', timeout('zone-own'));

      const plan = planBatch({ snapshot: true, upserts: [toWire(timeout('kept', '9s')), toWire(timeout('new'))], removals: [] }, rule);
      const held = await store.keysWithLabels('local', rule.ownedBy, rule.kinds);
      await store.apply('local', replaceOwnedOps(plan.accepted, held));

      const items = (await store.list('local', 'MeshTimeout')).items;
      expect(items.map((r) => r.name).sort()).toEqual(['kept', 'new', 'zone-own']);
      expect(JSON.stringify(items.find((r) => r.name === 'kept')!.spec)).toContain('9s');
      expect(items.find((r) => r.name === 'zone-own')!.labels['kuma.io/origin']).toBeUndefined();
    } finally {
      await database.close();
    }
  });
});
