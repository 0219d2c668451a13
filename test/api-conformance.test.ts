/**
 * Kuma API conformance: what our API serves, over a real socket and a real database, validated against
 * Kuma 2.14.3's published OpenAPI description (`test/fixtures/`, or `KUMA_OPENAPI`) and against our own
 * `/openapi.json`.
 *
 * Every descriptor has a realistic sample below. Kinds Kuma's spec has an item schema for (`<Kind>Item`) are
 * checked against it; Kuma's spec has none for Zone, ZoneInsight, ZoneIngressInsight, ZoneEgressInsight,
 * DataplaneInsight and GlobalSecret, so those are checked against our document only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ResourceDescriptor, RESOURCES } from '@ursa/proto';
import { call, startApi, type ApiServer } from '@ursa/test-support/api.js';
import { backends } from '@ursa/test-support/backends.js';
import { loadKumaOpenApi, openApiValidators, pointerToken, problems, type OpenApiValidators } from '@ursa/test-support/kuma-openapi.js';

type Body = Record<string, unknown>;
type Sample = (at: { mesh: string; name: string }) => Body;

const MESH = 'conformance';
const META = new Set(['type', 'mesh', 'name', 'labels', 'creationTime', 'modificationTime', 'kri']);

const svc = (name: string, extra: Body = {}) => ({ kind: 'MeshService', name, ...extra });
/** A targetRef policy body. */
const policy = (kind: string, spec: Body): Sample => ({ mesh, name }) => ({ type: kind, mesh, name, labels: { team: 'payments' }, spec });

/**
 * An xDS subscription as zones report it. Its uint64 counters are numbers: protojson accepts numbers or strings and
 * we echo what the zone sent; Kuma's spec says integer (its server writes strings), so numbers let Kuma's
 * DataplaneOverview schema check the rest.
 */
const subscription = {
  id: '1',
  controlPlaneInstanceId: 'node-001',
  connectTime: '2018-07-17T16:05:36.995Z',
  status: { lastUpdateTime: '2018-07-17T16:06:00Z', total: { responsesSent: 10, responsesAcknowledged: 9 }, cds: { responsesSent: 2 }, eds: {}, lds: {}, rds: {} },
  version: { kumaDp: { version: '2.14.3', gitTag: 'v2.14.3', kumaCpCompatible: true }, envoy: { version: '1.34.1', kumaDpCompatible: true } },
  generation: 3,
};

/** One realistic resource of every kind, as its REST body. */
const SAMPLES: Record<string, Sample> = {
  Mesh: ({ name }) => ({
    type: 'Mesh',
    name,
    mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin', dpCert: { rotation: { expiration: '1d' } }, conf: { caCert: { expiration: '10y' } } }] },
    logging: { defaultBackend: 'file', backends: [{ name: 'file', type: 'file', conf: { path: '/tmp/access.log' } }] },
    tracing: { defaultBackend: 'zipkin', backends: [{ name: 'zipkin', type: 'zipkin', sampling: 50.5, conf: { url: 'http://jaeger-collector:9411/api/v2/spans' } }] },
    metrics: { enabledBackend: 'prom', backends: [{ name: 'prom', type: 'prometheus', conf: { port: 5670, path: '/metrics', skipMTLS: false } }] },
    networking: { outbound: { passthrough: false } },
    routing: { localityAwareLoadBalancing: true, zoneEgress: true },
    constraints: { dataplaneProxy: { requirements: [{ tags: { 'kuma.io/zone': '*' } }] } },
    meshServices: { mode: 'Exclusive' },
  }),
  Zone: ({ name }) => ({ type: 'Zone', name, enabled: true }),
  ZoneInsight: ({ name }) => ({
    type: 'ZoneInsight',
    name,
    subscriptions: [
      {
        id: '1',
        globalInstanceId: 'node-001',
        zoneInstanceId: 'zone-cp-1',
        connectTime: '2018-07-17T16:05:36.995Z',
        status: { lastUpdateTime: '2018-07-17T17:00:00Z', total: { responsesSent: '22' }, stat: { Mesh: { responsesSent: '2' } } },
        version: { kumaCp: { version: '2.14.3', kumaCpGlobalCompatible: true } },
        generation: 7,
      },
    ],
  }),
  ZoneIngress: ({ name }) => ({
    type: 'ZoneIngress',
    name,
    zone: 'zone-1',
    networking: { address: '10.2.3.4', advertisedAddress: '10.3.4.5', port: 10001, advertisedPort: 10001, admin: { port: 9901 } },
    availableServices: [{ tags: { 'kuma.io/service': 'backend', 'kuma.io/zone': 'zone-1' }, instances: 2, mesh: MESH }],
  }),
  ZoneIngressInsight: ({ name }) => ({ type: 'ZoneIngressInsight', name, subscriptions: [subscription] }),
  ZoneEgress: ({ name }) => ({ type: 'ZoneEgress', name, zone: 'zone-1', networking: { address: '192.168.0.1', port: 10002, admin: { port: 9902 } } }),
  ZoneEgressInsight: ({ name }) => ({ type: 'ZoneEgressInsight', name, subscriptions: [subscription] }),
  Dataplane: ({ mesh, name }) => ({
    type: 'Dataplane',
    mesh,
    name,
    labels: { 'kuma.io/zone': 'zone-1' },
    networking: {
      address: '192.168.0.2',
      inbound: [{ port: 11011, servicePort: 11012, tags: { 'kuma.io/service': 'backend', 'kuma.io/protocol': 'http', version: '2' }, state: 'Ready', name: 'http' }],
      outbound: [{ port: 33033, tags: { 'kuma.io/service': 'database' } }],
      transparentProxying: { redirectPortInbound: 15006, redirectPortOutbound: 15001, ipFamilyMode: 'DualStack' },
      admin: { port: 9901 },
    },
    metrics: { type: 'prometheus', conf: { port: 5670, path: '/metrics' } },
    probes: { port: 9000, endpoints: [{ inboundPort: 8080, inboundPath: '/healthz', path: '/8080/healthz' }] },
  }),
  DataplaneInsight: ({ mesh, name }) => ({
    type: 'DataplaneInsight',
    mesh,
    name,
    subscriptions: [subscription],
    mTLS: { certificateExpirationTime: '2030-05-08T08:28:22Z', certificateRegenerations: 10, issuedBackend: 'ca-1', supportedBackends: ['ca-1'] },
  }),
  Secret: ({ mesh, name }) => ({ type: 'Secret', mesh, name, data: 'c2VjcmV0LXZhbHVl' }),
  GlobalSecret: ({ name }) => ({ type: 'GlobalSecret', name, data: 'LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==' }),
  MeshTrafficPermission: policy('MeshTrafficPermission', {
    targetRef: { kind: 'MeshService', name: 'backend' },
    from: [{ targetRef: { kind: 'MeshSubset', tags: { 'kuma.io/zone': 'us-east' } }, default: { action: 'Allow' } }],
  }),
  MeshTimeout: policy('MeshTimeout', {
    targetRef: { kind: 'Mesh' },
    to: [{ targetRef: svc('backend', { sectionName: 'http' }), default: { idleTimeout: '20s', connectionTimeout: '2s', http: { requestTimeout: '2s', streamIdleTimeout: '1h' } } }],
  }),
  MeshRetry: policy('MeshRetry', {
    targetRef: { kind: 'Mesh' },
    to: [{ targetRef: { kind: 'Mesh' }, default: { tcp: { maxConnectAttempt: 5 }, http: { numRetries: 5, perTryTimeout: '16s', backOff: { baseInterval: '25ms', maxInterval: '250ms' }, retryOn: ['5xx'] } } }],
  }),
  MeshCircuitBreaker: policy('MeshCircuitBreaker', {
    targetRef: { kind: 'Mesh' },
    to: [
      {
        targetRef: svc('backend'),
        default: {
          connectionLimits: { maxConnections: 2, maxPendingRequests: 8, maxRetries: 2, maxRequests: 2 },
          outlierDetection: { disabled: false, interval: '5s', baseEjectionTime: '30s', maxEjectionPercent: 20, detectors: { totalFailures: { consecutive: 10 } } },
        },
      },
    ],
  }),
  MeshHealthCheck: policy('MeshHealthCheck', {
    targetRef: { kind: 'Mesh' },
    to: [{ targetRef: svc('backend'), default: { interval: '10s', timeout: '2s', unhealthyThreshold: 3, healthyThreshold: 1, http: { path: '/health', expectedStatuses: [200] } } }],
  }),
  MeshHTTPRoute: policy('MeshHTTPRoute', {
    targetRef: { kind: 'Dataplane', labels: { app: 'frontend' } },
    to: [
      {
        targetRef: svc('backend'),
        rules: [
          {
            matches: [{ path: { type: 'PathPrefix', value: '/v2' }, method: 'GET' }],
            default: { backendRefs: [svc('backend-v1', { port: 3001, weight: 90 }), svc('backend-v2', { port: 3001, weight: 10 })] },
          },
        ],
      },
    ],
  }),
  MeshTCPRoute: policy('MeshTCPRoute', {
    targetRef: { kind: 'Mesh' },
    to: [{ targetRef: svc('backend'), rules: [{ default: { backendRefs: [svc('backend-v1', { port: 3001, weight: 90 }), svc('backend-v2', { port: 3001, weight: 10 })] } }] }],
  }),
  MeshLoadBalancingStrategy: policy('MeshLoadBalancingStrategy', {
    targetRef: { kind: 'Mesh' },
    to: [
      {
        targetRef: { kind: 'Mesh' },
        default: {
          localityAwareness: { localZone: { affinityTags: [{ key: 'k8s.io/node' }] }, crossZone: { failover: [{ to: { type: 'Any' } }] } },
          loadBalancer: { type: 'RingHash', ringHash: { hashFunction: 'MurmurHash2', minRingSize: 64, maxRingSize: 1024 } },
        },
      },
    ],
  }),
  MeshFaultInjection: policy('MeshFaultInjection', {
    targetRef: { kind: 'Dataplane', labels: { app: 'backend' } },
    rules: [{ default: { http: [{ abort: { httpStatus: 500, percentage: '2.5' } }, { delay: { value: '5s', percentage: 5 } }] } }],
  }),
  MeshRateLimit: policy('MeshRateLimit', {
    targetRef: { kind: 'Dataplane', labels: { app: 'backend' } },
    rules: [{ default: { local: { http: { requestRate: { num: 5, interval: '10s' }, onRateLimit: { status: 423 } }, tcp: { connectionRate: { num: 5, interval: '10s' } } } } }],
  }),
  MeshAccessLog: policy('MeshAccessLog', {
    targetRef: { kind: 'Mesh' },
    from: [{ targetRef: { kind: 'Mesh' }, default: { backends: [{ type: 'File', file: { path: '/dev/stdout', format: { type: 'Plain', plain: '[%START_TIME%] %KUMA_MESH%' } } }] } }],
  }),
  MeshExternalService: ({ mesh, name }) => ({
    type: 'MeshExternalService',
    mesh,
    name,
    spec: {
      match: { type: 'HostnameGenerator', port: 443, protocol: 'tcp' },
      endpoints: [{ address: 'httpbin.org', port: 443 }],
      tls: { enabled: true, version: { min: 'TLS12', max: 'TLS13' }, verification: { mode: 'Secured', serverName: 'httpbin.org', subjectAltNames: [{ type: 'Exact', value: 'httpbin.org' }] } },
    },
  }),
  MeshTrace: policy('MeshTrace', {
    targetRef: { kind: 'Mesh' },
    default: {
      tags: [{ name: 'team', literal: 'core' }],
      sampling: { overall: 80 },
      backends: [{ type: 'Zipkin', zipkin: { url: 'http://jaeger-collector:9411/api/v2/spans', apiVersion: 'httpJson' } }],
    },
  }),
};

/** What Kuma's spec does not describe (checked against our document only). */
const NOT_IN_KUMA_SPEC = ['DataplaneInsight', 'GlobalSecret', 'Zone', 'ZoneEgressInsight', 'ZoneIngressInsight', 'ZoneInsight'];

const kuma = loadKumaOpenApi();
const kumaItem = (d: ResourceDescriptor) => `${d.kind}Item`;
const inKuma = (d: ResourceDescriptor) => kuma.hasSchema(kumaItem(d));

/** The store draft of a REST body (for zone-owned kinds, which the global refuses over REST). */
function draftOf(d: ResourceDescriptor, body: Body) {
  const spec = d.shape === 'spec' ? body.spec : Object.fromEntries(Object.entries(body).filter(([k]) => !META.has(k)));
  return { kind: d.kind, mesh: d.scope === 'mesh' ? (body.mesh as string) : undefined, name: body.name as string, labels: (body.labels as Record<string, string>) ?? {}, spec };
}

const collectionOf = (d: ResourceDescriptor, path = d.path) => (d.scope === 'mesh' ? `/meshes/${MESH}/${path}` : `/${path}`);

/** Every `$ref` in a document resolves inside it. */
function unresolvedRefs(doc: unknown): string[] {
  const bad: string[] = [];
  const resolve = (ptr: string) =>
    ptr
      .slice(2)
      .split('/')
      .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce<any>((node, t) => (node === undefined ? undefined : node[t]), doc);
  const walk = (n: unknown) => {
    if (Array.isArray(n)) return n.forEach(walk);
    if (typeof n !== 'object' || n === null) return;
    for (const [k, v] of Object.entries(n)) {
      if (k === '$ref' && typeof v === 'string' && (!v.startsWith('#/') || resolve(v) === undefined)) bad.push(v);
      else walk(v);
    }
  };
  walk(doc);
  return bad;
}

for (const backend of backends()) {
  describe(`Kuma API conformance on ${backend.name}`, () => {
    let api: ApiServer;
    let ours: OpenApiValidators;
    let ourDoc: any;

    beforeAll(async () => {
      api = await startApi(backend);
      const r = await call(api.url, 'GET', '/openapi.json');
      expect(r.status).toBe(200);
      ourDoc = r.body;
      ours = openApiValidators(ourDoc, 'ursa-openapi.json');
      expect((await call(api.url, 'PUT', `/meshes/${MESH}`, { body: { type: 'Mesh', name: MESH } })).status).toBe(201);
    });
    afterAll(async () => api?.close());

    it('has a sample for every kind, and knows which kinds Kuma describes', () => {
      expect(Object.keys(SAMPLES).sort()).toEqual(RESOURCES.map((d) => d.kind).sort());
      expect(RESOURCES.filter((d) => !inKuma(d)).map((d) => d.kind).sort()).toEqual(NOT_IN_KUMA_SPEC);
    });

    for (const desc of RESOURCES) {
      const writable = !desc.readOnly && !desc.readOnlyOnGlobal;
      it(`${desc.kind}: PUT/GET/list/DELETE bodies validate against ${inKuma(desc) ? `Kuma's ${kumaItem(desc)} and ` : ''}our schemas`, async () => {
        const name = `sample-${desc.kind.toLowerCase()}`;
        const body = SAMPLES[desc.kind]!({ mesh: MESH, name });
        const itemPath = `${collectionOf(desc)}/${name}`;
        if (writable) {
          expect(problems(ours.schema(`${desc.kind}ItemInput`), body)).toBe('');
          const put = await call(api.url, 'PUT', itemPath, { body });
          expect(put.status, JSON.stringify(put.body)).toBe(201);
          expect(put.body).toEqual({});
          if (kuma.hasResponse(`${desc.kind}CreateOrUpdateSuccessResponse`)) expect(problems(kuma.response(`${desc.kind}CreateOrUpdateSuccessResponse`), put.body)).toBe('');
        } else {
          await api.resources.create('default', draftOf(desc, body));
        }

        const got = await call(api.url, 'GET', itemPath);
        expect(got.status).toBe(200);
        expect(got.body).toMatchObject({ type: desc.kind, name });
        expect(problems(ours.schema(`${desc.kind}Item`), got.body)).toBe('');
        if (inKuma(desc)) expect(problems(kuma.schema(kumaItem(desc)), got.body)).toBe('');
        // Every path (Kuma's alternatives too) serves the same resource.
        for (const alt of desc.altPaths) expect((await call(api.url, 'GET', `${collectionOf(desc, alt)}/${name}`)).body).toEqual(got.body);

        const lists = [collectionOf(desc), ...(desc.scope === 'mesh' ? [`/${desc.path}`] : [])];
        for (const listPath of lists) {
          for (const query of ['', '?size=1']) {
            const list = await call(api.url, 'GET', listPath + query);
            expect(list.status).toBe(200);
            expect(list.body.items.map((i: Body) => i.name)).toContain(query ? list.body.items[0].name : name);
            expect(problems(ours.schema(`${desc.kind}List`), list.body)).toBe('');
            if (inKuma(desc)) {
              const kumaList = kuma.hasResponse(`${desc.kind}List`) ? kuma.response(`${desc.kind}List`) : undefined;
              if (kumaList) expect(problems(kumaList, list.body)).toBe('');
              for (const item of list.body.items) expect(problems(kuma.schema(kumaItem(desc)), item)).toBe('');
            }
          }
        }

        const del = await call(api.url, 'DELETE', itemPath);
        if (writable) {
          expect(del.status).toBe(200);
          expect(del.body).toEqual({});
          if (kuma.hasResponse(`${desc.kind}DeleteSuccessResponse`)) expect(problems(kuma.response(`${desc.kind}DeleteSuccessResponse`), del.body)).toBe('');
          expect((await call(api.url, 'GET', itemPath)).status).toBe(404);
        } else {
          expect(del.status).toBe(405);
          expect(problems(kuma.schema('Error'), del.body)).toBe('');
          await api.resources.delete('default', { kind: desc.kind, mesh: desc.scope === 'mesh' ? MESH : '', name });
        }
      });
    }

    it('error bodies validate against Kuma Error (and InvalidParameters) and ours', async () => {
      const mt = (name: string, mesh: string, timeout = '5s') => ({
        type: 'MeshTimeout',
        mesh,
        name,
        spec: { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { http: { requestTimeout: timeout } } }] },
      });
      await call(api.url, 'PUT', `/meshes/${MESH}/meshtimeouts/e1`, { body: mt('e1', MESH) });
      const ro = await api.tokens.issue('default', { name: 'ro', role: 'read-only' });
      const cases: [string, number, Promise<{ status: number; body: any }>][] = [
        ['invalid spec', 400, call(api.url, 'PUT', `/meshes/${MESH}/meshtimeouts/e2`, { body: mt('e2', MESH, 'soon') })],
        ['mesh not found', 400, call(api.url, 'PUT', '/meshes/ghost/meshtimeouts/e3', { body: mt('e3', 'ghost') })],
        ['bad page size', 400, call(api.url, 'GET', `/meshes/${MESH}/meshtimeouts?size=0`)],
        ['not found', 404, call(api.url, 'GET', `/meshes/${MESH}/meshtimeouts/nope`)],
        ['no route', 404, call(api.url, 'GET', '/teleporters')],
        ['read-only type', 405, call(api.url, 'PUT', `/meshes/${MESH}/dataplanes/dp`, { body: { type: 'Dataplane', mesh: MESH, name: 'dp' } })],
        ['stale If-Match', 409, call(api.url, 'PUT', `/meshes/${MESH}/meshtimeouts/e1`, { body: mt('e1', MESH, '9s'), headers: { 'if-match': '"99"' } })],
        ['bad bearer token', 401, call(api.url, 'GET', '/meshes', { token: 'ursa_nope_nope' })],
        ['read-only token writing', 403, call(api.url, 'PUT', `/meshes/${MESH}/meshtimeouts/e4`, { body: mt('e4', MESH), token: ro.token })],
      ];
      for (const [what, status, pending] of cases) {
        const r = await pending;
        expect(r.status, what).toBe(status);
        expect(problems(kuma.schema('Error'), r.body), what).toBe('');
        expect(problems(ours.schema('Error'), r.body), what).toBe('');
        expect(r.body.status, what).toBe(status);
        if (status === 400) {
          expect(r.body.invalid_parameters.length, what).toBeGreaterThan(0);
          for (const p of r.body.invalid_parameters) expect(problems(kuma.schema('InvalidParameters'), p), what).toBe('');
        }
        if (status === 404) expect(problems(kuma.schema('NotFoundError'), r.body), what).toBe('');
      }
    });

    it('/, /_resources and /global-insight validate against Kuma; /policies and /config against ours', async () => {
      const index = await call(api.url, 'GET', '/');
      expect(problems(kuma.schema('Index'), index.body)).toBe('');
      expect(problems(ours.schema('Index'), index.body)).toBe('');
      const resources = await call(api.url, 'GET', '/_resources');
      expect(problems(kuma.schema('ResourceTypeDescriptionList'), resources.body)).toBe('');
      expect(problems(ours.schema('ResourceTypeDescriptionList'), resources.body)).toBe('');
      const insight = await call(api.url, 'GET', '/global-insight');
      expect(insight.status).toBe(200);
      expect(problems(kuma.schema('GlobalInsightBase'), insight.body)).toBe('');
      expect(problems(ours.schema('GlobalInsight'), insight.body)).toBe('');
      const policies = await call(api.url, 'GET', '/policies');
      expect(problems(ours.schema('PolicyDescriptionList'), policies.body)).toBe('');
      expect((await call(api.url, 'GET', '/config')).status).toBe(200);
    });

    it('overviews validate against ours (and Kuma where it has a schema)', async () => {
      for (const desc of RESOURCES) {
        const insights = RESOURCES.filter((d) => d.insightOf === desc.kind);
        if (insights.length === 0) continue;
        const name = `ov-${desc.kind.toLowerCase()}`;
        const at = { mesh: MESH, name };
        const body = SAMPLES[desc.kind]!(at);
        if (!desc.readOnly && !desc.readOnlyOnGlobal) expect((await call(api.url, 'PUT', `${collectionOf(desc)}/${name}`, { body })).status).toBe(201);
        else await api.resources.create('default', draftOf(desc, body));
        // The first insight is reported, any others are not (`{}`).
        await api.resources.create('default', draftOf(insights[0]!, SAMPLES[insights[0]!.kind]!(at)));

        const one = await call(api.url, 'GET', `${collectionOf(desc)}/${name}/_overview`);
        expect(one.status, desc.kind).toBe(200);
        expect(problems(ours.schema(`${desc.kind}Overview`), one.body), desc.kind).toBe('');
        const list = await call(api.url, 'GET', `${collectionOf(desc)}/_overview`);
        expect(list.status, desc.kind).toBe(200);
        expect(problems(ours.schema(`${desc.kind}OverviewList`), list.body), desc.kind).toBe('');
        if (kuma.hasSchema(`${desc.kind}OverviewWithMeta`)) expect(problems(kuma.schema(`${desc.kind}OverviewWithMeta`), one.body), desc.kind).toBe('');
        if (kuma.hasResponse(`Get${desc.kind}OverviewListResponse`)) expect(problems(kuma.response(`Get${desc.kind}OverviewListResponse`), list.body), desc.kind).toBe('');

        for (const d of [insights[0]!, desc]) await api.resources.delete('default', { kind: d.kind, mesh: d.scope === 'mesh' ? MESH : '', name });
      }
    });

    it('our /openapi.json is a well-formed OpenAPI 3.1 document covering every descriptor', async () => {
      expect(ourDoc.openapi).toMatch(/^3\.1\.\d+$/);
      expect(typeof ourDoc.info.title).toBe('string');
      expect(typeof ourDoc.info.version).toBe('string');
      expect(ourDoc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
      expect(unresolvedRefs(ourDoc)).toEqual([]);

      // Every schema compiles.
      for (const name of Object.keys(ourDoc.components.schemas)) expect(() => ours.schema(name), name).not.toThrow();

      const deref = (n: any) => (n?.$ref ? n.$ref.slice(2).split('/').reduce((o: any, t: string) => o[t], ourDoc) : n);
      const operationIds = new Set<string>();
      const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];
      for (const [path, item] of Object.entries<any>(ourDoc.paths)) {
        expect(path.startsWith('/'), path).toBe(true);
        const pathParams = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
        for (const method of Object.keys(item).filter((k) => METHODS.includes(k))) {
          const op = item[method];
          const where = `${method.toUpperCase()} ${path}`;
          expect(op.operationId, where).toBeTypeOf('string');
          expect(operationIds.has(op.operationId), `duplicate operationId ${op.operationId}`).toBe(false);
          operationIds.add(op.operationId);
          const params = [...(item.parameters ?? []), ...(op.parameters ?? [])].map(deref);
          for (const p of params) {
            expect(['path', 'query', 'header', 'cookie'], where).toContain(p.in);
            if (p.in === 'path') expect(p.required, where).toBe(true);
          }
          expect(params.filter((p) => p.in === 'path').map((p) => p.name).sort(), where).toEqual([...pathParams].sort());
          expect(Object.keys(op.responses).length, where).toBeGreaterThan(0);
          const base = `/paths/${pointerToken(path)}/${method}`;
          for (const [code, r] of Object.entries<any>(op.responses)) {
            expect(code, where).toMatch(/^([1-5][0-9X]{2}|default)$/);
            const resp = deref(r);
            expect(resp.description, `${where} ${code}`).toBeTypeOf('string');
            for (const type of Object.keys(resp.content ?? {})) {
              const ptr = r.$ref ? `${r.$ref.slice(1)}/content/${pointerToken(type)}/schema` : `${base}/responses/${code}/content/${pointerToken(type)}/schema`;
              expect(() => ours.at(ptr), `${where} ${code}`).not.toThrow();
            }
          }
          for (const type of Object.keys(op.requestBody?.content ?? {})) {
            expect(() => ours.at(`${base}/requestBody/content/${pointerToken(type)}/schema`), where).not.toThrow();
          }
        }
      }

      // Every descriptor path, with the operations its flags allow (and 405 documented for the others).
      for (const d of RESOURCES) {
        for (const p of [d.path, ...d.altPaths]) {
          const collection = d.scope === 'mesh' ? `/meshes/{mesh}/${p}` : `/${p}`;
          expect(ourDoc.paths[collection]?.get, collection).toBeDefined();
          if (d.scope === 'mesh') expect(ourDoc.paths[`/${p}`]?.get, `/${p}`).toBeDefined();
          const item = ourDoc.paths[`${collection}/{name}`];
          expect(item?.get, `${collection}/{name}`).toBeDefined();
          for (const m of ['put', 'delete']) {
            const codes = Object.keys(item[m].responses);
            if (d.readOnly || d.readOnlyOnGlobal) expect(codes, `${m} ${collection}`).toContain('405');
            else expect(codes, `${m} ${collection}`).toContain('200');
          }
        }
      }
      for (const p of ['/', '/_resources', '/policies', '/global-insight', '/config', '/openapi.json', '/tokens', '/tokens/{id}', '/_operator/tenants']) {
        expect(ourDoc.paths[p], p).toBeDefined();
      }
      // Built once: a second fetch serves the same document. The checks above block this process (server
      // included) for seconds, past the server's keep-alive timeout: the pooled socket can be closed under the
      // request (ECONNRESET), so this idempotent GET is sent again once, as an HTTP client would.
      const again = await call(api.url, 'GET', '/openapi.json').catch(() => call(api.url, 'GET', '/openapi.json'));
      expect(again.body).toEqual(ourDoc);
    });
  });
}
