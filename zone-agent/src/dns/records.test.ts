import { describe, expect, it } from 'vitest';
import { stored } from '../model/testing.js';
import { dottedAlias, isEncodableName, RecordTable, wantedServices, type StoreView } from './records.js';

const dp = (mesh: string, inbound: unknown[], labels: Record<string, string> = {}) => stored('Dataplane', { mesh, labels, spec: { networking: { address: '10.0.0.1', inbound } } });
const ib = (service: string, extra: Record<string, unknown> = {}) => ({ port: 8080, tags: { 'kuma.io/service': service }, ...extra });
const zi = (zone: string, services: { mesh: string; service: string }[], origin = 'global') =>
  stored('ZoneIngress', {
    labels: { 'kuma.io/origin': origin },
    spec: { zone, networking: { port: 10001 }, availableServices: services.map((s) => ({ mesh: s.mesh, instances: 1, tags: { 'kuma.io/service': s.service } })) },
  });
const vipMap = (m: Record<string, Record<string, string>>) => new Map(Object.entries(m).map(([k, v]) => [k, new Map(Object.entries(v))]));
const sets = (m: Map<string, Set<string>>) => Object.fromEntries([...m].map(([k, v]) => [k, [...v].sort()]));

describe('wantedServices', () => {
  it('takes local inbounds (not Ignored) and remote ingresses\' services, per existing mesh', () => {
    const view: StoreView = {
      meshes: [{ name: 'default' }, { name: 'other' }, { name: 'empty' }],
      dataplanes: [
        dp('default', [ib('backend_kuma-demo_svc_8080'), ib('ignored', { state: 'Ignored' }), ib('notready', { state: 'NotReady' })]),
        // (A tag-less inbound cannot be stored: `mandatory tag "kuma.io/service" is missing`.)
        dp('other', [ib('web')]),
        dp('gone-mesh', [ib('orphan')]),
      ],
      zoneIngresses: [
        zi('zone-2', [{ mesh: 'default', service: 'remote-api' }, { mesh: 'other', service: 'remote-db' }, { mesh: 'nowhere', service: 'x' }]),
        zi('zone-1', [{ mesh: 'default', service: 'own-ingress' }]),
        zi('', [{ mesh: 'default', service: 'local-ingress' }], 'zone'),
      ],
    };
    expect(sets(wantedServices(view, 'zone-1'))).toEqual({
      default: ['backend_kuma-demo_svc_8080', 'notready', 'remote-api'],
      other: ['remote-db', 'web'],
      empty: [],
    });
  });
});

describe('RecordTable', () => {
  it('answers <service>.mesh and its RFC 1123 dotted form, case-insensitively, with or without the trailing dot', () => {
    const t = RecordTable.build(vipMap({ default: { 'backend_kuma-demo_svc_8080': '240.0.0.1', web: '240.0.0.2' } }));
    expect(dottedAlias('backend_kuma-demo_svc_8080')).toBe('backend.kuma-demo.svc.8080');
    expect(t.lookup('backend_kuma-demo_svc_8080.mesh')?.ip).toBe('240.0.0.1');
    expect(t.lookup('backend.kuma-demo.svc.8080.mesh')?.ip).toBe('240.0.0.1');
    expect(t.lookup('Backend.Kuma-Demo.SVC.8080.MESH.')?.ip).toBe('240.0.0.1');
    expect(t.lookup('web.mesh')).toMatchObject({ ip: '240.0.0.2', mesh: 'default', service: 'web' });
    expect(t.lookup('web')).toBeUndefined();
    expect(t.lookup('nope.mesh')).toBeUndefined();
    expect(t.size).toBe(3);
  });

  it('prefers an exact name over an alias, and mesh default, then name order, on clashes', () => {
    const t = RecordTable.build(
      vipMap({
        zeta: { 'a.b': '240.0.0.9', shared: '240.0.0.8' },
        default: { a_b: '240.0.0.1', shared: '240.0.0.2' },
        alpha: { shared: '240.0.0.5', only: '240.0.0.6' },
      }),
    );
    expect(t.lookup('a.b.mesh')).toMatchObject({ ip: '240.0.0.9', mesh: 'zeta' });
    expect(t.lookup('a_b.mesh')?.ip).toBe('240.0.0.1');
    expect(t.lookup('shared.mesh')).toMatchObject({ mesh: 'default', ip: '240.0.0.2' });
    expect(t.lookup('only.mesh')?.mesh).toBe('alpha');
  });

  it('leaves out names DNS cannot carry', () => {
    expect(isEncodableName(`${'a'.repeat(63)}.mesh`)).toBe(true);
    expect(isEncodableName(`${'a'.repeat(64)}.mesh`)).toBe(false);
    expect(isEncodableName('a..mesh')).toBe(false);
    const t = RecordTable.build(vipMap({ default: { [`${'a'.repeat(64)}`]: '240.0.0.1', 'x_': '240.0.0.2' } }));
    expect(t.records().map((r) => r.name)).toEqual(['x_.mesh']);
  });
});
