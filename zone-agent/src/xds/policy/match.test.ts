import { describe, expect, it } from 'vitest';
import { matchPolicies } from './index.js';
import { dataplane, policy } from './testing.js';

const web = dataplane('web-1', ['web:8080:http', 'web-admin:9901']);
const match = (policies: ReturnType<typeof policy>[], dp = web, zone = 'zone-1') => matchPolicies({ mesh: 'default', zone, dataplane: dp, policies });
const timeoutTo = (service: string | undefined, conf: Record<string, unknown>) => ({
  to: [{ targetRef: service ? { kind: 'MeshService', name: service } : { kind: 'Mesh' }, default: conf }],
});

describe('precedence of overlapping policies of one kind', () => {
  it('orders by top-level kind: Mesh < MeshSubset < MeshService, each merging over the last', () => {
    const m = match([
      policy('MeshTimeout', 'by-service', { targetRef: { kind: 'MeshService', name: 'web' }, ...timeoutTo(undefined, { connectionTimeout: '3s' }) }),
      policy('MeshTimeout', 'mesh-wide', { targetRef: { kind: 'Mesh' }, ...timeoutTo(undefined, { connectionTimeout: '1s', idleTimeout: '1h', http: { requestTimeout: '10s' } }) }),
      policy('MeshTimeout', 'by-subset', { targetRef: { kind: 'MeshSubset', tags: { 'kuma.io/service': 'web' } }, ...timeoutTo(undefined, { connectionTimeout: '2s', http: { streamIdleTimeout: '5m' } }) }),
    ]);
    // connectionTimeout from the most specific; the rest merged from the less specific ones (objects merge).
    expect(m.outbound('backend').timeout).toEqual({ connectionTimeout: '3s', idleTimeout: '1h', http: { requestTimeout: '10s', streamIdleTimeout: '5m' } });
    expect(m.inspect(['backend']).outbounds[0]!.policies.MeshTimeout!.matched.map((p) => p.name)).toEqual(['mesh-wide', 'by-subset', 'by-service']);
  });

  it('between equal kinds, the lexicographically smaller name wins', () => {
    const m = match([
      policy('MeshTimeout', 'aaa', timeoutTo(undefined, { connectionTimeout: '1s' })),
      policy('MeshTimeout', 'bbb', timeoutTo(undefined, { connectionTimeout: '2s' })),
    ]);
    expect(m.outbound('backend').timeout?.connectionTimeout).toBe('1s');
  });

  it('a zone-origin policy beats a global one of the same kind regardless of name', () => {
    const m = match([
      policy('MeshTimeout', 'aaa-global', timeoutTo(undefined, { connectionTimeout: '1s' }), { labels: { 'kuma.io/origin': 'global' } }),
      policy('MeshTimeout', 'zzz-zone', timeoutTo(undefined, { connectionTimeout: '9s' }), { labels: { 'kuma.io/origin': 'zone', 'kuma.io/zone': 'zone-1' } }),
    ]);
    expect(m.outbound('backend').timeout?.connectionTimeout).toBe('9s');
  });

  it('a zone-origin policy of another zone does not apply', () => {
    const m = match([policy('MeshTimeout', 'theirs', timeoutTo(undefined, { connectionTimeout: '9s' }), { labels: { 'kuma.io/origin': 'zone', 'kuma.io/zone': 'zone-2' } })], dataplane('web-1', ['web:8080'], { labels: { 'kuma.io/origin': 'zone' } }));
    expect(m.outbound('backend').timeout).toBeUndefined();
  });

  it('within equal policy attributes, a MeshService destination beats a Mesh destination', () => {
    const m = match([
      policy('MeshTimeout', 'aaa', timeoutTo(undefined, { connectionTimeout: '1s' })),
      policy('MeshTimeout', 'zzz', timeoutTo('backend', { connectionTimeout: '7s' })),
    ]);
    expect(m.outbound('backend').timeout?.connectionTimeout).toBe('7s');
    expect(m.outbound('other').timeout?.connectionTimeout).toBe('1s');
  });

  it('but a more specific top-level targetRef beats a more specific destination', () => {
    const m = match([
      policy('MeshTimeout', 'mesh-to-backend', timeoutTo('backend', { connectionTimeout: '7s' })),
      policy('MeshTimeout', 'web-to-all', { targetRef: { kind: 'MeshService', name: 'web' }, ...timeoutTo(undefined, { connectionTimeout: '2s' }) }),
    ]);
    expect(m.outbound('backend').timeout?.connectionTimeout).toBe('2s');
  });

  it('replaces lists instead of merging them', () => {
    const m = match([
      policy('MeshRetry', 'a', { targetRef: { kind: 'MeshService', name: 'web' }, to: [{ targetRef: { kind: 'Mesh' }, default: { http: { retryOn: ['5xx'] } } }] }),
      policy('MeshRetry', 'b', { to: [{ targetRef: { kind: 'Mesh' }, default: { http: { numRetries: 3, retryOn: ['GatewayError', 'Reset'] } } }] }),
    ]);
    expect(m.outbound('backend').retry).toEqual({ http: { numRetries: 3, retryOn: ['5xx'] } });
  });

  it('does not depend on the order policies are given in', () => {
    const list = [
      policy('MeshCircuitBreaker', 'one', { to: [{ targetRef: { kind: 'Mesh' }, default: { connectionLimits: { maxConnections: 1, maxRequests: 5 } } }] }),
      policy('MeshCircuitBreaker', 'two', { to: [{ targetRef: { kind: 'Mesh' }, default: { connectionLimits: { maxConnections: 2 } } }] }),
      policy('MeshCircuitBreaker', 'three', { to: [{ targetRef: { kind: 'MeshService', name: 'backend' }, default: { connectionLimits: { maxPendingRequests: 3 } } }] }),
    ];
    const a = match(list).outbound('backend');
    const b = match([...list].reverse()).outbound('backend');
    expect(a).toEqual(b);
    expect(a.circuitBreaker).toEqual({ connectionLimits: { maxConnections: 1, maxRequests: 5, maxPendingRequests: 3 } });
    expect(match(list).outboundKey).toBe(match([...list].reverse()).outboundKey);
  });
});

describe('top-level selection', () => {
  const cb = (targetRef: Record<string, unknown>) => policy('MeshCircuitBreaker', 'p', { targetRef, to: [{ targetRef: { kind: 'Mesh' }, default: { connectionLimits: { maxConnections: 1 } } }] });
  const applies = (targetRef: Record<string, unknown>, dp = web) => match([cb(targetRef)], dp).outbound('x').circuitBreaker !== undefined;

  it('selects by subset tags, service, service subset, and dataplane name or labels', () => {
    expect(applies({ kind: 'MeshSubset', tags: { 'kuma.io/protocol': 'http' } })).toBe(true);
    expect(applies({ kind: 'MeshSubset', tags: { 'kuma.io/protocol': 'grpc' } })).toBe(false);
    expect(applies({ kind: 'MeshService', name: 'web-admin' })).toBe(true);
    expect(applies({ kind: 'MeshService', name: 'backend' })).toBe(false);
    expect(applies({ kind: 'MeshServiceSubset', name: 'web', tags: { 'kuma.io/protocol': 'http' } })).toBe(true);
    expect(applies({ kind: 'MeshServiceSubset', name: 'web-admin', tags: { 'kuma.io/protocol': 'http' } })).toBe(false);
    expect(applies({ kind: 'Dataplane', name: 'web-1' })).toBe(true);
    expect(applies({ kind: 'Dataplane', name: 'web-2' })).toBe(false);
    expect(applies({ kind: 'Dataplane', labels: { team: 'a' } }, dataplane('web-1', ['web:8080'], { labels: { team: 'a' } }))).toBe(true);
    expect(applies({ kind: 'Dataplane', labels: { team: 'a' } })).toBe(false);
  });

  it('selects a proxy without inbounds (a proxyless client) by Mesh, not by service', () => {
    const client = dataplane('client', []);
    expect(applies({ kind: 'Mesh' }, client)).toBe(true);
    expect(applies({ kind: 'MeshService', name: 'web' }, client)).toBe(false);
  });

  it('ignores policies of other meshes', () => {
    const m = matchPolicies({
      mesh: 'default',
      zone: 'zone-1',
      dataplane: web,
      policies: [
        { ...policy('MeshTimeout', 'elsewhere', timeoutTo(undefined, { connectionTimeout: '1s' })), mesh: 'other' },
        { ...policy('MeshAccessLog', 'logs', { to: [{ targetRef: { kind: 'Mesh' }, default: { backends: [{ type: 'File', file: { path: '/tmp/x' } }] } }] }), mesh: 'other' },
      ],
    });
    expect(m.outbound('backend').timeout).toBeUndefined();
    expect(m.outbound('backend').accessLog).toBeUndefined();
    expect(m.inspect().policies).toEqual([]);
  });

  it('a Dataplane sectionName selects one inbound only', () => {
    const m = match([
      policy('MeshTimeout', 'admin-only', { targetRef: { kind: 'Dataplane', name: 'web-1', sectionName: '9901' }, rules: [{ default: { idleTimeout: '10s' } }] }),
    ]);
    expect(m.inbound(9901).timeout).toEqual({ idleTimeout: '10s' });
    expect(m.inbound(8080).timeout).toBeUndefined();
  });
});

describe('inbound merging', () => {
  it('folds Mesh `from` entries and match-less `rules` in precedence order', () => {
    const m = match([
      policy('MeshTimeout', 'mesh', { from: [{ targetRef: { kind: 'Mesh' }, default: { idleTimeout: '1h', http: { requestTimeout: '15s' } } }] }),
      policy('MeshTimeout', 'web', { targetRef: { kind: 'MeshService', name: 'web' }, rules: [{ default: { http: { requestTimeout: '2s' } } }] }),
    ]);
    expect(m.inbound(8080)).toMatchObject({ port: 8080, service: 'web', timeout: { idleTimeout: '1h', http: { requestTimeout: '2s' } } });
    expect(m.inbound(9901).timeout).toEqual({ idleTimeout: '1h', http: { requestTimeout: '15s' } });
    expect(m.inbound(1234)).toEqual({ port: 1234, service: '' });
  });

  it('keeps every MeshTrafficPermission entry, least precedent first', () => {
    const m = match([
      policy('MeshTrafficPermission', 'allow-all', { from: [{ targetRef: { kind: 'Mesh' }, default: { action: 'Allow' } }] }),
      policy('MeshTrafficPermission', 'deny-client', {
        targetRef: { kind: 'MeshService', name: 'web' },
        from: [{ targetRef: { kind: 'MeshService', name: 'client' }, default: { action: 'Deny' } }],
      }),
      policy('MeshTrafficPermission', 'rules', { targetRef: { kind: 'MeshService', name: 'web-admin' }, rules: [{ default: { deny: [{ spiffeID: { type: 'Exact', value: 'spiffe://default/x' } }] } }] }),
    ]);
    expect(m.inbound(8080).trafficPermission).toEqual({
      from: [
        { targetRef: { kind: 'Mesh' }, action: 'Allow' },
        { targetRef: { kind: 'MeshService', name: 'client' }, action: 'Deny' },
      ],
    });
    expect(m.inbound(9901).trafficPermission).toEqual({
      from: [{ targetRef: { kind: 'Mesh' }, action: 'Allow' }],
      rules: { allow: [], deny: [{ spiffeID: { type: 'Exact', value: 'spiffe://default/x' } }], allowWithShadowDeny: [] },
    });
  });
});

describe('MeshHTTPRoute rules', () => {
  const route = (name: string, rules: unknown[], targetRef?: Record<string, unknown>) =>
    policy('MeshHTTPRoute', name, { ...(targetRef ? { targetRef } : {}), to: [{ targetRef: { kind: 'MeshService', name: 'backend' }, rules }] });
  const prefix = (value: string) => [{ path: { type: 'PathPrefix', value } }];
  const to = (name: string, weight?: number) => ({ kind: 'MeshService', name, ...(weight === undefined ? {} : { weight }) });

  it('merges rules with equal matches, the more precedent default winning, and keeps its rules first', () => {
    const m = match([
      route('mesh-level', [
        { matches: prefix('/api'), default: { backendRefs: [to('backend-v1')] } },
        { matches: prefix('/static'), default: { backendRefs: [to('static')] } },
      ]),
      route('web-level', [{ matches: prefix('/api'), default: { backendRefs: [to('backend-v2', 80), to('backend-v1', 20)] } }], { kind: 'MeshService', name: 'web' }),
    ]);
    expect(m.outbound('backend').httpRules).toEqual([
      { matches: prefix('/api'), default: { backendRefs: [to('backend-v2', 80), to('backend-v1', 20)] }, origin: 'web-level' },
      { matches: prefix('/static'), default: { backendRefs: [to('static')] }, origin: 'mesh-level' },
    ]);
    expect(m.outbound('other').httpRules).toEqual([]);
  });

  it('gives a route-aimed MeshTimeout to that route only', () => {
    const m = match([
      route('split', [{ matches: prefix('/'), default: { backendRefs: [to('backend')] } }]),
      policy('MeshTimeout', 'all', timeoutTo(undefined, { http: { requestTimeout: '10s' } })),
      policy('MeshTimeout', 'on-route', { to: [{ targetRef: { kind: 'MeshHTTPRoute', name: 'split' }, default: { http: { requestTimeout: '1s' } } }] }),
    ]);
    const out = m.outbound('backend');
    expect(out.timeout).toEqual({ http: { requestTimeout: '10s' } });
    expect(out.byRoute.get('split')).toEqual({ timeout: { http: { requestTimeout: '1s' } } });
  });
});

describe('inspect', () => {
  it('lists the matched policies with their top-level refs and what each inbound and outbound got', () => {
    const m = match([
      policy('MeshTimeout', 'mesh', { from: [{ targetRef: { kind: 'Mesh' }, default: { idleTimeout: '1h' } }], to: [{ targetRef: { kind: 'Mesh' }, default: { connectionTimeout: '2s' } }] }, { labels: { 'kuma.io/origin': 'global' } }),
    ]);
    expect(m.inspect(['backend'])).toEqual({
      dataplane: { mesh: 'default', name: 'web-1' },
      policies: [{ kind: 'MeshTimeout', mesh: 'default', name: 'mesh', origin: 'global', topLevel: { kind: 'Mesh' } }],
      inbounds: [
        { port: 8080, service: 'web', policies: { MeshTimeout: { matched: [{ kind: 'MeshTimeout', mesh: 'default', name: 'mesh', origin: 'global' }], conf: { idleTimeout: '1h' } } } },
        { port: 9901, service: 'web-admin', policies: { MeshTimeout: { matched: [{ kind: 'MeshTimeout', mesh: 'default', name: 'mesh', origin: 'global' }], conf: { idleTimeout: '1h' } } } },
      ],
      outbounds: [{ service: 'backend', policies: { MeshTimeout: { matched: [{ kind: 'MeshTimeout', mesh: 'default', name: 'mesh', origin: 'global' }], conf: { connectionTimeout: '2s' } } } }],
    });
  });
});
