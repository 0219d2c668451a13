import { describe, expect, it } from 'vitest';
import type { DataplaneResource } from '../model/dataplane.js';
import { stored } from '../model/testing.js';
import { computeAvailableServices, exclusiveMeshes, sameAvailableServices, tagKey } from './available.js';

const LOCAL_LABELS = { 'kuma.io/origin': 'zone', 'kuma.io/zone': 'zone-1' };

/** A Dataplane as the store keeps it (validated: numeric enums come out as names). */
function dp(name: string, inbound: Record<string, unknown>[], opts: { mesh?: string; labels?: Record<string, string> } = {}): DataplaneResource {
  return stored('Dataplane', { mesh: opts.mesh ?? 'default', name, labels: opts.labels ?? LOCAL_LABELS, spec: { networking: { address: '10.0.0.1', inbound } } });
}
const ib = (service: string, extra: Record<string, unknown> = {}, tags: Record<string, string> = {}) => ({
  port: 8080,
  tags: { 'kuma.io/service': service, 'kuma.io/zone': 'zone-1', ...tags },
  ...extra,
});

describe('computeAvailableServices', () => {
  it('counts identical tag sets together, whatever the key order', () => {
    const out = computeAvailableServices([
      dp('a', [ib('backend')]),
      dp('b', [{ port: 8080, tags: { 'kuma.io/zone': 'zone-1', 'kuma.io/service': 'backend' } }]),
      dp('c', [ib('backend', {}, { version: 'v2' })]),
    ]);
    expect(out).toEqual([
      { mesh: 'default', tags: { 'kuma.io/service': 'backend', 'kuma.io/zone': 'zone-1' }, instances: 2 },
      { mesh: 'default', tags: { 'kuma.io/service': 'backend', 'kuma.io/zone': 'zone-1', version: 'v2' }, instances: 1 },
    ]);
  });

  it('counts every inbound of a dataplane (one dataplane, two services)', () => {
    const out = computeAvailableServices([dp('a', [ib('web'), { ...ib('admin'), port: 9090 }])]);
    expect(out.map((s) => [s.tags['kuma.io/service'], s.instances])).toEqual([
      ['admin', 1],
      ['web', 1],
    ]);
  });

  it('leaves out unhealthy inbounds: health.ready false or absent, NotReady, Ignored', () => {
    const out = computeAvailableServices([
      dp('ok-no-health', [ib('backend')]),
      dp('ok-ready', [ib('backend', { health: { ready: true } })]),
      dp('ok-state-ready', [ib('backend', { state: 'Ready' })]),
      dp('not-ready', [ib('backend', { health: { ready: false } })]),
      dp('empty-health', [ib('backend', { health: {} })]),
      dp('state-not-ready', [ib('backend', { state: 'NotReady' })]),
      dp('ignored', [ib('backend', { state: 'Ignored' })]),
      dp('ignored-numeric', [ib('backend', { state: 2 })]),
      dp('ready-but-ignored', [ib('backend', { health: { ready: true }, state: 'Ignored' })]),
    ]);
    expect(out).toEqual([{ mesh: 'default', tags: { 'kuma.io/service': 'backend', 'kuma.io/zone': 'zone-1' }, instances: 3 }]);
  });

  it('keeps meshes apart and sorts by mesh, then by tag string', () => {
    const out = computeAvailableServices([
      dp('z1', [ib('zeta')], { mesh: 'zulu' }),
      dp('a2', [ib('web')], { mesh: 'alpha' }),
      dp('a1', [ib('api')], { mesh: 'alpha' }),
      dp('d1', [ib('web')]),
      dp('a3', [ib('web')], { mesh: 'alpha' }),
    ]);
    expect(out.map((s) => `${s.mesh}/${s.tags['kuma.io/service']}x${s.instances}`)).toEqual(['alpha/apix1', 'alpha/webx2', 'default/webx1', 'zulu/zetax1']);
  });

  it('sorts by the canonical k=v string (byte order), not by service name alone', () => {
    const out = computeAvailableServices([dp('a', [ib('b', {}, { version: 'v1' }), { ...ib('b'), port: 2 }, { ...ib('B'), port: 3 }, { ...ib('b-x'), port: 4 }])]);
    expect(out.map((s) => tagKey(s.tags))).toEqual([
      'kuma.io/service=B,kuma.io/zone=zone-1',
      'kuma.io/service=b,kuma.io/zone=zone-1',
      'kuma.io/service=b,kuma.io/zone=zone-1,version=v1',
      'kuma.io/service=b-x,kuma.io/zone=zone-1',
    ]);
  });

  it('ignores copies from the global and gateways; tag-less inbounds and malformed specs cannot be stored', () => {
    const out = computeAvailableServices([
      dp('remote', [ib('backend')], { labels: { 'kuma.io/origin': 'global' } }),
      dp('unlabelled-local', [ib('backend')], { labels: {} }),
      stored('Dataplane', { mesh: 'default', name: 'gw', labels: LOCAL_LABELS, spec: { networking: { address: '10.0.0.1', gateway: { tags: { 'kuma.io/service': 'gw' } } } } }),
    ]);
    expect(out).toEqual([{ mesh: 'default', tags: { 'kuma.io/service': 'backend', 'kuma.io/zone': 'zone-1' }, instances: 1 }]);
    // These never reach the bookkeeping: the store refuses them (stored specs are typed, see model/dataplane.ts).
    expect(() => dp('tagless', [{ port: 8080 }])).toThrow(/mandatory tag "kuma.io\/service" is missing/);
    expect(() => stored('Dataplane', { mesh: 'default', name: 'broken', labels: LOCAL_LABELS, spec: {} })).toThrow(/networking: must be defined/);
  });

  it('skips meshes in MeshService Exclusive mode', () => {
    const skip = exclusiveMeshes([
      stored('Mesh', { name: 'excl', spec: { meshServices: { mode: 'Exclusive' } } }),
      stored('Mesh', { name: 'excl-num', spec: { meshServices: { mode: 3 } } }),
      stored('Mesh', { name: 'default', spec: { meshServices: { mode: 'Everywhere' } } }),
    ]);
    expect([...skip].sort()).toEqual(['excl', 'excl-num']);
    const out = computeAvailableServices([dp('a', [ib('web')], { mesh: 'excl' }), dp('b', [ib('web')])], { skipMeshes: skip });
    expect(out.map((s) => s.mesh)).toEqual(['default']);
  });

  it('is empty without dataplanes', () => {
    expect(computeAvailableServices([])).toEqual([]);
  });
});

describe('sameAvailableServices', () => {
  const computed = computeAvailableServices([dp('a', [ib('web')]), dp('b', [ib('web')])]);
  it('treats absent as empty and ignores map key order and default fields', () => {
    expect(sameAvailableServices(undefined, [])).toBe(true);
    expect(sameAvailableServices([], [])).toBe(true);
    expect(sameAvailableServices([{ instances: 2, tags: { 'kuma.io/zone': 'zone-1', 'kuma.io/service': 'web' }, mesh: 'default', externalService: false }], computed)).toBe(true);
  });
  it('sees count, tag, mesh and order differences', () => {
    expect(sameAvailableServices(undefined, computed)).toBe(false);
    expect(sameAvailableServices([{ ...computed[0], instances: 1 }], computed)).toBe(false);
    expect(sameAvailableServices([{ ...computed[0], mesh: 'other' }], computed)).toBe(false);
    expect(sameAvailableServices([{ ...computed[0], tags: { 'kuma.io/service': 'web' } }], computed)).toBe(false);
    const two = computeAvailableServices([dp('a', [ib('a')]), dp('b', [ib('b')])]);
    expect(sameAvailableServices([...two].reverse(), two)).toBe(false);
  });
});
