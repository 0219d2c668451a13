/**
 * The global's dataplane inspect endpoints (`_rules`, `_policies`, `_inbounds/{kri}/_policies`) over a real
 * socket and store, on policies written through the API as a user would: each answer validates against
 * Kuma's 2.14.3 document and Ursa's `/openapi.json`, and shows what the policies give the proxy. (Kuma's own
 * golden cases run in `kuma-conformance.test.ts`.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startApi, type ApiServer } from '@ursa/test-support/api.js';
import { backends } from '@ursa/test-support/backends.js';
import { loadKumaOpenApi, openApiValidators, problems, type OpenApiValidators } from '@ursa/test-support/kuma-openapi.js';

const kuma = loadKumaOpenApi();

describe.each(backends().map((b) => [b.name, b] as const))('dataplane inspect on %s', (_name, backend) => {
  let api: ApiServer;
  let ours: OpenApiValidators;
  const put = async (path: string, body: Record<string, unknown>) => expect((await call(api.url, 'PUT', path, { body })).status).toBe(201);

  beforeAll(async () => {
    api = await startApi(backend);
    ours = openApiValidators((await call(api.url, 'GET', '/openapi.json')).body, 'ursa-openapi.json');
    await put('/meshes/shop', { type: 'Mesh', name: 'shop', meshServices: { mode: 'Exclusive' }, skipCreatingInitialPolicies: ['*'] });
    await put('/meshes/legacy', { type: 'Mesh', name: 'legacy', skipCreatingInitialPolicies: ['*'] });
    for (const mesh of ['shop', 'legacy']) {
      // A Dataplane as a zone reports it (the global refuses Dataplane writes).
      await api.resources.create('default', {
        kind: 'Dataplane',
        mesh,
        name: 'web-1',
        labels: { 'kuma.io/zone': 'east', app: 'web' },
        spec: { networking: { address: '10.0.0.1', inbound: [{ port: 8080, name: 'http', tags: { 'kuma.io/service': 'web' } }, { port: 9090, tags: { 'kuma.io/service': 'admin' } }] } },
      });
      await put(`/meshes/${mesh}/meshtimeouts/everyone`, { type: 'MeshTimeout', mesh, name: 'everyone', spec: { rules: [{ default: { idleTimeout: '60s' } }] } });
      await put(`/meshes/${mesh}/meshtimeouts/http-port`, {
        type: 'MeshTimeout',
        mesh,
        name: 'http-port',
        spec: { targetRef: { kind: 'Dataplane', labels: { app: 'web' }, sectionName: 'http' }, rules: [{ default: { http: { requestTimeout: '2s' } } }] },
      });
      await put(`/meshes/${mesh}/meshtimeouts/to-api`, { type: 'MeshTimeout', mesh, name: 'to-api', spec: { to: [{ targetRef: { kind: 'MeshService', name: 'api' }, default: { connectionTimeout: '3s' } }] } });
      await put(`/meshes/${mesh}/meshtraces/tracing`, { type: 'MeshTrace', mesh, name: 'tracing', spec: { default: { backends: [{ type: 'Zipkin', zipkin: { url: 'http://zipkin:9411/api/v2/spans' } }] } } });
    }
  }, 60_000);
  afterAll(async () => api?.close());

  it('_rules: per kind, inbound rules in precedence order, legacy to-rules outside Exclusive mode, the proxy-wide trace', async () => {
    const r = await call(api.url, 'GET', '/meshes/legacy/dataplanes/web-1/_rules');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(problems(kuma.response('InspectRulesResponse'), r.body)).toBe('');
    expect(problems(ours.schema('InspectRules'), r.body)).toBe('');
    const byType = Object.fromEntries((r.body.rules as Record<string, unknown>[]).map((x) => [x.type, x]));
    expect(Object.keys(byType)).toEqual(['MeshTimeout', 'MeshTrace']);
    const timeout = byType.MeshTimeout as Record<string, any>;
    const http = timeout.inboundRules.find((i: any) => i.inbound.port === 8080);
    // The mesh-wide rule first, the more specific one (Dataplane with a section) after it; durations as Go prints them.
    expect(http.rules.map((x: any) => [x.origin[0].resourceMeta.name, x.conf[0]])).toEqual([
      ['everyone', { idleTimeout: '1m0s' }],
      ['http-port', { http: { requestTimeout: '2s' } }],
    ]);
    expect(timeout.inboundRules.find((i: any) => i.inbound.port === 9090).rules).toHaveLength(1);
    expect(timeout.toRules).toEqual([{ conf: { connectionTimeout: '3s' }, matchers: [{ key: 'kuma.io/service', not: false, value: 'api' }], origin: [expect.objectContaining({ name: 'to-api', type: 'MeshTimeout' })] }]);
    expect((byType.MeshTrace as any).proxyRule.conf.backends[0].zipkin).toEqual({ url: 'http://zipkin:9411/api/v2/spans', traceId128bit: false, apiVersion: 'httpJson', sharedSpanContext: true });

    const exclusive = await call(api.url, 'GET', '/meshes/shop/dataplanes/web-1/_rules');
    expect((exclusive.body.rules as any[]).find((x) => x.type === 'MeshTimeout').toRules).toEqual([]);
    expect((await call(api.url, 'GET', '/meshes/shop/dataplanes/nope/_rules')).body.title).toBe('Could not retrieve Dataplane');
    expect((await call(api.url, 'GET', '/meshes/nope/dataplanes/web-1/_rules')).status).toBe(404);
  });

  it('_policies: the proxy-wide policies with their KRIs, in a MeshService-exclusive mesh only', async () => {
    const r = await call(api.url, 'GET', '/meshes/shop/dataplanes/web-1/_policies');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(problems(kuma.response('ProxyPolicyConfResponse'), r.body)).toBe('');
    expect(problems(ours.schema('ProxyPolicies'), r.body)).toBe('');
    expect(r.body.policies).toEqual([expect.objectContaining({ kind: 'MeshTrace', origins: [{ kri: 'kri_mtr_shop___tracing_' }] })]);
    const legacy = await call(api.url, 'GET', '/meshes/legacy/dataplanes/web-1/_policies');
    expect([legacy.status, legacy.body.detail]).toEqual([400, "bad request: can't use _policies endpoint without meshService enabled"]);
  });

  it('_inbounds/{kri}/_policies: one inbound by its KRI section (name or port); a malformed KRI is a 400 naming it', async () => {
    const r = await call(api.url, 'GET', '/meshes/shop/dataplanes/web-1/_inbounds/kri_dp_shop_east__web-1_http/_policies');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(problems(kuma.response('InboundPolicyConfResponse'), r.body)).toBe('');
    expect(problems(ours.schema('InboundPolicies'), r.body)).toBe('');
    expect(r.body.policies).toEqual([
      {
        kind: 'MeshTimeout',
        origins: [{ kri: 'kri_mt_shop___everyone_' }, { kri: 'kri_mt_shop___http-port_' }],
        rules: [
          { conf: { idleTimeout: '1m0s' }, kri: 'kri_mt_shop___everyone_' },
          { conf: { http: { requestTimeout: '2s' } }, kri: 'kri_mt_shop___http-port_' },
        ],
      },
    ]);
    const byPort = await call(api.url, 'GET', '/meshes/shop/dataplanes/web-1/_inbounds/kri_dp_shop_east__web-1_9090/_policies');
    expect((byPort.body.policies as any[])[0].origins).toEqual([{ kri: 'kri_mt_shop___everyone_' }]);
    const bad = await call(api.url, 'GET', '/meshes/shop/dataplanes/web-1/_inbounds/not-a-kri/_policies');
    expect([bad.status, bad.body.detail]).toEqual([400, 'bad request: invalid identifier string: "not-a-kri"']);
    expect((await call(api.url, 'GET', '/meshes/shop/dataplanes/web-1/_inbounds/kri_dp_shop_east__web-1_nope/_policies')).status).toBe(404);
  });
});
