/**
 * Property tests of the HTTP API on a real socket and a real database: thousands of random and mutated
 * requests (methods, real and odd paths, junk queries and headers, valid Kuma resources mutated at random
 * depths, broken JSON and YAML). Properties, for every request:
 * (a) the status is 2xx or 4xx, never 5xx;
 * (b) every 4xx carries Kuma's error body, `causes` mirroring `invalid_parameters`;
 * (c) nothing is written partially: a 4xx leaves the tenant's revision unchanged, a 2xx PUT reads back as
 *     sent (spec and labels, less the unknown fields dropped, each named in the answer's `warnings`), a 2xx
 *     DELETE is gone.
 * (d) what is stored is bounded: bodies built to sit around the limits (YAML aliases expanding a small
 *     text, multibyte padding, many labels, many and long query filters) are answered promptly, a 2xx
 *     stores at most MAX_RESOURCE_BYTES, and a 413 names the body limit.
 * The seed is fixed (override with FC_SEED=<n>; fast-check prints seed and path of any failure, and
 * FC_RUNS=<n> changes the number of runs of each property, FC_SCALE=<k> multiplies the defaults, as
 * `test/slow/` does). Bugs these properties found are pinned as deterministic cases at the end.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { descriptorForPath, droppedFieldWarning, dropUnknownFields, jsonByteLength, type ResourceDescriptor, RESOURCES, validateResource } from '@ursa/proto';
import { MAX_BODY_BYTES, MAX_RESOURCE_BYTES } from '@ursa/core';
import { call, startApi, type ApiServer } from '@ursa/test-support/api.js';
import { backends } from '@ursa/test-support/backends.js';

const SEED = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : 1_121_2025;
const RUNS = process.env.FC_RUNS !== undefined ? Number(process.env.FC_RUNS) : undefined;
const SCALE = Number(process.env.FC_SCALE ?? 1);
const TENANT = 'default';
const OPERATOR = 'operator-token-for-tests';

// ---------------------------------------------------------------------------------------------------------
// Valid resources: one realistic spec per kind (Kuma docs examples), the seeds of every mutation.
// ---------------------------------------------------------------------------------------------------------

const svc = (name: string, extra: Record<string, unknown> = {}) => ({ kind: 'MeshService', name, ...extra });

const SPECS: Record<string, Record<string, unknown>> = {
  Mesh: {
    mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin', dpCert: { rotation: { expiration: '1d' } }, conf: { caCert: { expiration: '10y' } } }] },
    logging: { defaultBackend: 'file', backends: [{ name: 'file', type: 'file', conf: { path: '/tmp/access.log' } }, { name: 'logstash', type: 'tcp', conf: { address: '127.0.0.1:5000' } }] },
    tracing: { defaultBackend: 'jaeger', backends: [{ name: 'jaeger', type: 'zipkin', sampling: 100, conf: { url: 'http://jaeger-collector:9411/api/v2/spans' } }] },
    metrics: { enabledBackend: 'prometheus-1', backends: [{ name: 'prometheus-1', type: 'prometheus', conf: { port: 5670, path: '/metrics', tags: { 'kuma.io/service': 'dataplane-metrics' } } }] },
    networking: { outbound: { passthrough: false } },
    routing: { localityAwareLoadBalancing: true, zoneEgress: true },
    constraints: { dataplaneProxy: { requirements: [{ tags: { 'kuma.io/zone': '*' } }] } },
    meshServices: { mode: 'Exclusive' },
    skipCreatingInitialPolicies: ['mesh-retry-all-*'],
  },
  Zone: { enabled: true },
  ZoneInsight: {},
  ZoneIngress: { networking: { address: '10.2.3.4', port: 10001, advertisedAddress: '1.2.3.4', advertisedPort: 10001 } },
  ZoneIngressInsight: {},
  ZoneEgress: { zone: 'zone-1', networking: { address: '192.168.0.1', port: 10002, admin: { port: 9902 } } },
  ZoneEgressInsight: {},
  Dataplane: { networking: { address: '10.0.0.1', inbound: [{ port: 8080, tags: { 'kuma.io/service': 'web', version: 'v1' } }] } },
  DataplaneInsight: {},
  Secret: { data: 'dGVzdAo=' },
  GlobalSecret: { data: 'LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==' },
  MeshTrafficPermission: {
    targetRef: { kind: 'MeshService', name: 'backend' },
    from: [
      { targetRef: { kind: 'MeshSubset', tags: { 'kuma.io/zone': 'us-east' } }, default: { action: 'Allow' } },
      { targetRef: { kind: 'Mesh' }, default: { action: 'Deny' } },
    ],
  },
  MeshTimeout: {
    targetRef: { kind: 'Mesh' },
    to: [{ targetRef: svc('backend', { namespace: 'kuma-demo', sectionName: 'http' }), default: { idleTimeout: '20s', connectionTimeout: '2s', http: { requestTimeout: '2s', streamIdleTimeout: '1h' } } }],
  },
  MeshRetry: {
    targetRef: { kind: 'Dataplane', labels: { app: 'frontend' } },
    to: [
      {
        targetRef: svc('backend', { namespace: 'kuma-demo', sectionName: 'http' }),
        default: {
          http: { numRetries: 10, backOff: { baseInterval: '15s', maxInterval: '20m' }, retryOn: ['5xx', '429', 'HttpMethodGet'], retriableResponseHeaders: [{ name: 'x-retry', type: 'Present' }] },
          grpc: { numRetries: 5, retryOn: ['Canceled', 'DeadlineExceeded'] },
          tcp: { maxConnectAttempt: 3 },
        },
      },
    ],
  },
  MeshCircuitBreaker: {
    targetRef: { kind: 'Mesh' },
    to: [
      {
        targetRef: svc('backend', { namespace: 'kuma-demo', sectionName: 'http' }),
        default: {
          connectionLimits: { maxConnections: 2, maxPendingRequests: 8, maxRetries: 2, maxRequests: 2 },
          outlierDetection: { disabled: false, interval: '5s', baseEjectionTime: '30s', maxEjectionPercent: 20, detectors: { totalFailures: { consecutive: 10 } } },
        },
      },
    ],
  },
  MeshHealthCheck: {
    targetRef: { kind: 'Mesh' },
    to: [
      {
        targetRef: svc('backend', { namespace: 'kuma-demo', sectionName: 'http' }),
        default: { interval: '10s', timeout: '2s', unhealthyThreshold: 3, healthyThreshold: 1, http: { path: '/health', expectedStatuses: [200, 201] }, tcp: { send: 'Zm9v', receive: ['YmFy'] } },
      },
    ],
  },
  MeshHTTPRoute: {
    targetRef: { kind: 'Dataplane', labels: { app: 'frontend' } },
    to: [
      {
        targetRef: svc('backend', { namespace: 'kuma-demo', sectionName: 'http' }),
        rules: [
          {
            matches: [{ path: { type: 'PathPrefix', value: '/v2' }, method: 'GET', headers: [{ type: 'Exact', name: 'x-version', value: '2' }] }],
            default: {
              filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-custom', value: 'v2' }], remove: ['x-debug'] } }],
              backendRefs: [svc('backend-v1', { namespace: 'kuma-demo', port: 3001, weight: 90 }), svc('backend-v2', { namespace: 'kuma-demo', port: 3001, weight: 10 })],
            },
          },
        ],
      },
    ],
  },
  MeshTCPRoute: {
    targetRef: { kind: 'Mesh' },
    to: [{ targetRef: svc('backend', { namespace: 'kuma-demo', sectionName: 'http' }), rules: [{ default: { backendRefs: [svc('backend-v1', { port: 3001, weight: 90 }), svc('backend-v2', { port: 3001, weight: 10 })] } }] }],
  },
  MeshLoadBalancingStrategy: {
    targetRef: { kind: 'Mesh' },
    to: [
      {
        targetRef: { kind: 'Mesh' },
        default: {
          localityAwareness: { localZone: { affinityTags: [{ key: 'k8s.io/node' }] }, crossZone: { failover: [{ from: { zones: ['zone-1'] }, to: { type: 'Only', zones: ['zone-2'] } }], failoverThreshold: { percentage: 70 } } },
          loadBalancer: { type: 'RingHash', ringHash: { hashFunction: 'MurmurHash2', minRingSize: 64, maxRingSize: 1024, hashPolicies: [{ type: 'Header', header: { name: 'x-header' } }] } },
        },
      },
    ],
  },
  MeshFaultInjection: {
    targetRef: { kind: 'Dataplane', labels: { app: 'backend' } },
    rules: [{ default: { http: [{ abort: { httpStatus: 500, percentage: '2.5' } }, { delay: { value: '5s', percentage: 5 } }, { responseBandwidth: { limit: '100kbps', percentage: 50 } }] } }],
  },
  MeshRateLimit: {
    targetRef: { kind: 'Dataplane', labels: { app: 'backend' } },
    rules: [
      {
        default: {
          local: {
            http: { requestRate: { num: 5, interval: '10s' }, onRateLimit: { status: 423, headers: { set: [{ name: 'x-kuma-rate-limited', value: 'true' }] } } },
            tcp: { connectionRate: { num: 5, interval: '10s' } },
          },
        },
      },
    ],
  },
  MeshAccessLog: {
    targetRef: { kind: 'Dataplane', labels: { app: 'web' } },
    to: [
      {
        targetRef: svc('backend'),
        default: {
          backends: [
            { type: 'Tcp', tcp: { address: '127.0.0.1:5000', format: { type: 'Json', json: [{ key: 'start_time', value: '%START_TIME%' }] } } },
            {
              type: 'OpenTelemetry',
              openTelemetry: { endpoint: 'otel-collector:4317', body: { kvlistValue: { values: [{ key: 'status', value: { stringValue: '%RESPONSE_CODE%' } }, { key: 'n', value: { intValue: 200 } }] } } },
            },
          ],
        },
      },
    ],
  },
  MeshTrace: {
    targetRef: { kind: 'Mesh' },
    default: {
      tags: [{ name: 'team', literal: 'core' }, { name: 'env', header: { name: 'x-env', default: 'prod' } }],
      sampling: { overall: 80, random: 60, client: '40.5' },
      backends: [{ type: 'Zipkin', zipkin: { url: 'http://jaeger-collector:9411/api/v2/spans', apiVersion: 'httpJson' } }],
    },
  },
  MeshExternalService: {
    match: { type: 'HostnameGenerator', port: 443, protocol: 'http' },
    endpoints: [{ address: 'api.example.com', port: 443 }, { address: '192.0.2.10', port: 8443 }],
    tls: { enabled: true, verification: { mode: 'Secured', serverName: 'api.example.com' } },
  },
};

const META_FIELDS = ['type', 'name', 'mesh', 'labels', 'creationTime', 'modificationTime', 'kri'];

/** A Kuma REST body of `desc` (flat or nested, as the descriptor says). */
function restBody(desc: ResourceDescriptor, mesh: string, name: string, spec: unknown, labels?: Record<string, string>): Record<string, unknown> {
  const meta: Record<string, unknown> = { type: desc.kind, ...(desc.scope === 'mesh' ? { mesh } : {}), name };
  if (desc.shape === 'spec') return { ...meta, labels: labels ?? {}, spec };
  return { ...meta, ...(labels ? { labels } : {}), ...(spec as Record<string, unknown>) };
}

/** The spec and labels of a REST body, as the server splits it. */
function splitBody(desc: ResourceDescriptor, body: Record<string, unknown>): { spec: unknown; labels: unknown } {
  if (desc.shape === 'spec') return { spec: body.spec, labels: body.labels };
  return { spec: Object.fromEntries(Object.entries(body).filter(([k]) => !META_FIELDS.includes(k))), labels: body.labels };
}

const resourcePath = (desc: ResourceDescriptor, path: string, mesh: string, name?: string) =>
  (desc.scope === 'mesh' ? `/meshes/${mesh}/${path}` : `/${path}`) + (name === undefined ? '' : `/${name}`);

/** The resource route a (normalised) path names, if any. */
function routeOf(pathname: string): { desc: ResourceDescriptor } | undefined {
  const segs = pathname.split('/').slice(1);
  if (segs.length === 4 && segs[0] === 'meshes') {
    const desc = descriptorForPath(segs[2]!);
    return desc?.scope === 'mesh' ? { desc } : undefined;
  }
  if (segs.length === 2) {
    const desc = descriptorForPath(segs[0]!);
    return desc?.scope === 'global' ? { desc } : undefined;
  }
  return undefined;
}

/** What Hono's path-parameter decoding makes of a raw segment: decodable `%xx` runs decoded, the rest kept. */
function decodeSegment(raw: string): string {
  return raw.replace(/(?:%[0-9A-Fa-f]{2})+/g, (m) => {
    try {
      return decodeURIComponent(m);
    } catch {
      return m;
    }
  });
}

// ---------------------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------------------

/** `arb` in `percent`% of the cases, otherwise undefined. */
const sometimes = <T>(arb: fc.Arbitrary<T>, percent: number): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: 100 - percent, arbitrary: fc.constant(undefined) }, { weight: percent, arbitrary: arb });

/** Strings with anything in them: NUL, lone surrogates, emoji, control characters, very long runs. */
const nastyString = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 6 }),
  fc.constantFrom('', ' ', '\u0000', 'a\u0000b', '\ud800', '\udc00x', 'é', '😀', '\n', '%', '..', '__proto__', 'constructor', '5s', '-1s', '0', '1e3', 'Mesh', 'default'),
  fc.integer({ min: 200, max: 5000 }).map((n) => 'x'.repeat(n)),
);

/** Values that replace a field: wrong types, extremes, nested garbage, very deep nesting. */
const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 3, arbitrary: nastyString },
  {
    weight: 3,
    arbitrary: fc.constantFrom<unknown>(null, true, false, 0, -1, 1.5, -0.000001, 1e308, -1e308, 5e-324, 2 ** 53 + 2, 4294967296, 65536, 70000, 100, 101, [], {}, [[[[[]]]]], { kind: 'Mesh' }, { type: 'Mesh' }, ['5xx'], { '': '' }),
  },
  { weight: 1, arbitrary: fc.integer({ min: 60, max: 300 }).map((n) => JSON.parse('['.repeat(n) + '1' + ']'.repeat(n)) as unknown) },
  { weight: 1, arbitrary: fc.dictionary(nastyString, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }) },
);

type MutationOp = 'delete' | 'replace' | 'retype' | 'addKey' | 'wrapArray' | 'duplicate' | 'poisonString' | 'poisonKey' | 'extremeNumber' | 'deepen';
interface Mutation {
  at: number;
  op: MutationOp;
  value: unknown;
  key: string;
  /** For the leaf ops: what to put into a string or key, which number, how deep. */
  poison: string;
  number: number;
  depth: number;
}
/** Text a client may send in any string but a database may not store, or stores differently. */
const POISON = ['\u0000', 'a\u0000', '\ud800', '\udfff', 'x\udc00y', '😀', 'é', '\u202e', '\r\n', '%00', '\\', '"'];
const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  at: fc.nat(),
  op: fc.constantFrom<MutationOp>('delete', 'replace', 'replace', 'retype', 'retype', 'addKey', 'wrapArray', 'duplicate', 'poisonString', 'poisonString', 'poisonKey', 'extremeNumber', 'deepen'),
  value: nastyValue,
  key: fc.oneof(fc.constantFrom('extra', 'kind', 'name', 'default', 'targetRef', '__proto__', ''), nastyString),
  poison: fc.constantFrom(...POISON),
  number: fc.constantFrom(1e308, -1e308, 5e-324, 2 ** 53 + 2, 4294967296, -1, 0.1, 1e21, 123456789.123456789),
  depth: fc.integer({ min: 2, max: 120 }),
});

/** Wraps `v` in `depth` levels of alternating arrays and objects. */
function nest(v: unknown, depth: number): unknown {
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { n: v };
  return v;
}

/** Every (container, key) position in a JSON value, depth-first. */
function positions(root: unknown): [Record<string, unknown> | unknown[], string | number][] {
  const out: [Record<string, unknown> | unknown[], string | number][] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) {
      v.forEach((item, i) => {
        out.push([v, i]);
        walk(item);
      });
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, item] of Object.entries(v)) {
        out.push([v as Record<string, unknown>, k]);
        walk(item);
      }
    }
  };
  walk(root);
  return out;
}

function retype(v: unknown): unknown {
  if (typeof v === 'string') return v.length === 0 ? 0 : Number.isNaN(Number(v)) ? [v] : Number(v);
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 0;
  if (Array.isArray(v)) return Object.fromEntries(v.map((x, i) => [String(i), x]));
  if (v === null) return {};
  return Object.values(v as object);
}

/** Applies mutations to a copy of `base`: drop, replace, retype, add, wrap or duplicate at random depths. */
function mutate(base: Record<string, unknown>, muts: readonly Mutation[]): unknown {
  let root: unknown = structuredClone(base);
  for (const m of muts) {
    let all = positions(root);
    // The leaf ops pick among the leaves they change: every string, every key, every number.
    if (m.op === 'poisonString') all = all.filter(([p, k]) => typeof (p as Record<string | number, unknown>)[k] === 'string');
    if (m.op === 'poisonKey') all = all.filter(([p]) => !Array.isArray(p));
    if (m.op === 'extremeNumber') all = all.filter(([p, k]) => typeof (p as Record<string | number, unknown>)[k] === 'number');
    if (all.length === 0) {
      if (m.op === 'replace') root = m.value;
      continue;
    }
    const [parent, key] = all[m.at % all.length]!;
    const get = () => (parent as Record<string | number, unknown>)[key];
    const set = (v: unknown) => ((parent as Record<string | number, unknown>)[key] = v);
    switch (m.op) {
      case 'delete':
        if (Array.isArray(parent)) parent.splice(key as number, 1);
        else delete parent[key as string];
        break;
      case 'replace':
        set(structuredClone(m.value));
        break;
      case 'retype':
        set(retype(get()));
        break;
      case 'addKey': {
        const target = get();
        if (typeof target === 'object' && target !== null && !Array.isArray(target)) (target as Record<string, unknown>)[m.key] = structuredClone(m.value);
        else if (Array.isArray(target)) target.push(structuredClone(m.value));
        else if (!Array.isArray(parent)) Object.defineProperty(parent, m.key, { value: structuredClone(m.value), enumerable: true, writable: true, configurable: true });
        break;
      }
      case 'wrapArray':
        set([get()]);
        break;
      case 'duplicate':
        if (Array.isArray(parent)) parent.push(structuredClone(get()));
        else set(structuredClone(root) as unknown);
        break;
      case 'poisonString': {
        const s = get() as string;
        const i = m.at % (s.length + 1);
        set(s.slice(0, i) + m.poison + s.slice(i));
        break;
      }
      case 'poisonKey': {
        const obj = parent as Record<string, unknown>;
        const value = obj[key as string];
        delete obj[key as string];
        obj[`${key as string}${m.poison}`] = value;
        break;
      }
      case 'extremeNumber':
        set(m.number);
        break;
      case 'deepen':
        set(nest(get(), m.depth));
        break;
    }
  }
  return root;
}

/** A path segment: `raw` goes into the URL, Hono hands the handler `decodeSegment(raw)`. */
const segmentArb = (pool: readonly string[]) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...pool) },
    { weight: 2, arbitrary: fc.stringMatching(/^[a-z0-9]([-a-z0-9.]{0,20}[a-z0-9])?$/) },
    { weight: 1, arbitrary: fc.integer({ min: 250, max: 1200 }).map((n) => 'a'.repeat(n)) },
    { weight: 2, arbitrary: nastyString.map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, 'x'))) },
    { weight: 2, arbitrary: fc.constantFrom('%00', 'a%00', '%ZZ', '%', '%2F', 'a%2Fb', '%25', '%E0%A4%A', '%C0%AE', '%ED%A0%80', '..', '.', '%2e%2e', '~', '%20', '+', 'UPPER', 'a.b', '-a', 'a-', 'a_b', '%F0%9F%98%80', 'm%C3%A9sh', '_resources') },
  );

const MESHES = ['default', 'default', 'default', 'mesh-1', 'mesh-2', 'other'];
const NAMES = ['p-1', 'p-2', 'p-3', 'default', 'mesh-1', 'zone-1', 'sec-1', 'gs-1', 'dp-1', 'mesh-timeout-all-default', 'mesh-1.ca-builtin-cert-ca-1'];

interface Req {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  body?: string;
}

/** A real resource path (any path or Kuma alternative path, list or item). */
const resourcePathArb = fc
  .record({ desc: fc.constantFrom(...RESOURCES), alt: fc.nat(), mesh: segmentArb(MESHES), name: sometimes(segmentArb(NAMES), 75) })
  .map(({ desc, alt, mesh, name }) => {
    const paths = [desc.path, ...desc.altPaths];
    return resourcePath(desc, paths[alt % paths.length]!, mesh, name);
  });

const pathArb = fc.oneof(
  { weight: 6, arbitrary: resourcePathArb },
  { weight: 1, arbitrary: fc.constantFrom('/', '/_resources', '/policies', '/config', '/tokens', '/_operator/tenants', '/meshes', '/zones') },
  { weight: 1, arbitrary: segmentArb(['0123456789abcdef', 'zzzz']).map((id) => `/tokens/${id}`) },
  { weight: 2, arbitrary: fc.array(segmentArb([...MESHES, ...NAMES, 'meshes', 'meshtimeouts', 'tokens', 'zones']), { minLength: 1, maxLength: 5 }).map((s) => `/${s.join('/')}`) },
);

const queryValue = fc.oneof(
  fc.constantFrom('1', '0', '-1', '2', '1000', '1001', '99999999999999999999', '1e3', '0x10', ' 5', '', '%00', '%', '%ZZ', 'a:b', ':b', 'a:', 'kuma.io/service:web', 'version:v1', '__proto__'),
  nastyString.map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '?'))),
);
const queryArb = fc
  .array(
    fc.oneof(
      queryValue.map((v) => `size=${v}`),
      queryValue.map((v) => `offset=${v}`),
      queryValue.map((v) => `name=${v}`),
      fc.tuple(fc.oneof(fc.constantFrom('team', 'kuma.io/mesh', '__proto__', 'constructor', '%00', ''), queryValue), queryValue).map(([k, v]) => `filter[labels.${k}]=${v}`),
      queryValue.map((v) => `filter[spec.to]=${v}`),
      queryValue.map((v) => `filter[${v}`),
      queryValue.map((v) => `tag=${v}`),
      fc.tuple(queryValue, queryValue).map(([k, v]) => `${k}=${v}`),
    ),
    { maxLength: 4 },
  )
  .map((parts) => (parts.length > 0 ? `?${parts.join('&')}` : ''));

/** Queries around the bounds: up to 25 label or tag filters, names and values up to 600 characters. */
const boundedQueryArb = fc
  .record({
    labels: fc.integer({ min: 0, max: 25 }),
    tags: fc.integer({ min: 0, max: 25 }),
    length: fc.constantFrom(1, 100, 511, 512, 513, 600),
    unit: fc.constantFrom('a', 'é', '€', '%00', '_'),
  })
  .map(({ labels, tags, length, unit }) => {
    const text = unit === '%00' ? '%00' + 'a'.repeat(length - 1) : encodeURIComponent(unit.repeat(length));
    const parts = [
      ...Array.from({ length: labels }, (_, i) => `filter[labels.k${i}]=${i === 0 ? text : 'v'}`),
      ...Array.from({ length: tags }, (_, i) => `tag=k${i}:${i === 0 ? text : 'v'}`),
      `name=${text}`,
    ];
    return `?${parts.join('&')}`;
  });

/** Header values a client can send (visible ASCII), plus the interesting ones. */
const headerText = fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,30}[\x21-\x7e])?$/);
const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml; charset=utf-8', 'text/plain', 'garbage', 'multipart/form-data; boundary=x'];
const headersArb = fc
  .record({
    contentType: sometimes(fc.oneof(fc.constantFrom(...CONTENT_TYPES), headerText), 60),
    ifMatch: sometimes(fc.oneof(fc.constantFrom('"1"', '"2"', 'W/"1"', '*', '"abc"', '1', '"99999999999999999999"', '""', '"-1"'), headerText), 20),
    auth: sometimes(
      fc.oneof(fc.constantFrom('Bearer', 'Bearer x', 'Basic YTpi', 'bearer  a b', `Bearer ursa_0000000000000000_${'A'.repeat(43)}`, 'READ-ONLY', 'OPERATOR', 'Bearer ursa_'), headerText.map((h) => `Bearer ${h}`), headerText),
      25,
    ),
  })
  .map(({ contentType, ifMatch, auth }) => {
    const h: Record<string, string> = {};
    if (contentType !== undefined) h['content-type'] = contentType;
    if (ifMatch !== undefined) h['if-match'] = ifMatch;
    if (auth !== undefined) h.authorization = auth;
    return h;
  });

type Encoding = 'json' | 'yaml' | 'json-text' | 'yaml-text';
interface TextMutation {
  at: number;
  op: 'truncate' | 'insert' | 'delete' | 'big-number' | 'nan';
  ch: string;
}
const textMutationArb: fc.Arbitrary<TextMutation> = fc.record({
  at: fc.nat(),
  op: fc.constantFrom('truncate', 'insert', 'delete', 'big-number', 'nan'),
  ch: fc.constantFrom('{', '}', '[', ']', '"', ',', ':', '\\', '\n', ' ', '-', '&a ', '*a', '!!', '\t', '#', '\u0000', '%'),
});

function encode(value: unknown, encoding: Encoding, tm: TextMutation): { text: string; yaml: boolean } {
  const yaml = encoding === 'yaml' || encoding === 'yaml-text';
  let text: string;
  try {
    text = yaml ? stringifyYaml(value) : JSON.stringify(value);
  } catch {
    text = JSON.stringify(value);
  }
  text ??= 'null';
  if (encoding === 'json-text' || encoding === 'yaml-text') {
    const i = tm.at % (text.length + 1);
    switch (tm.op) {
      case 'truncate':
        text = text.slice(0, i);
        break;
      case 'insert':
        text = text.slice(0, i) + tm.ch + text.slice(i);
        break;
      case 'delete':
        text = text.slice(0, i) + text.slice(i + 1);
        break;
      case 'big-number':
        text = text.replace(/\b[0-9]+\b/, '1e999');
        break;
      case 'nan': {
        // Replace one of the number literals (the at-th) by one that is not a finite number.
        let n = 0;
        const count = (text.match(yaml ? /: [0-9]+\b/g : /:[0-9]+\b/g) ?? []).length;
        const which = count === 0 ? 0 : tm.at % count;
        text = text.replace(yaml ? /: [0-9]+\b/g : /:[0-9]+\b/g, (m) => (n++ === which ? (yaml ? ': .nan' : ':-1e400') : m));
        break;
      }
    }
  }
  return { text, yaml };
}

/** The content types the server reads as YAML (`http/body.ts`); anything else is JSON. */
const SERVER_YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];
const YAML_CT = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml; charset=utf-8'];

const WRITABLE = RESOURCES.filter((d) => !d.readOnly && !d.readOnlyOnGlobal);
/** Mostly valid segments, so that most unmutated bodies get written; odd ones now and then. */
const mostlyValid = (pool: readonly string[]) =>
  fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...pool) }, { weight: 1, arbitrary: fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/) }, { weight: 1, arbitrary: segmentArb(pool) });

/** A valid resource for the URL of `desc`, mutated (or not), encoded as JSON or YAML (or broken text). */
const resourceRequestArb = fc
  .record({
    desc: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...WRITABLE) }, { weight: 1, arbitrary: fc.constantFrom(...RESOURCES) }),
    bodyKind: sometimes(fc.constantFrom(...RESOURCES), 5),
    alt: fc.nat(),
    mesh: mostlyValid(['default', 'default', 'default', 'default', 'mesh-1', 'other']),
    name: mostlyValid(NAMES),
    labels: sometimes(fc.dictionary(fc.constantFrom('team', 'env', 'kuma.io/origin', 'a/b', 'UPPER', ''), fc.constantFrom('a', 'core', '', 'x'.repeat(70), 'b c'), { maxKeys: 2 }), 30),
    mutations: fc.oneof({ weight: 2, arbitrary: fc.constant([]) }, { weight: 3, arbitrary: fc.array(mutationArb, { minLength: 1, maxLength: 3 }) }),
    encoding: fc.constantFrom<Encoding>('json', 'json', 'json', 'json', 'yaml', 'yaml', 'json-text', 'yaml-text'),
    textMutation: textMutationArb,
    method: fc.constantFrom('PUT', 'PUT', 'PUT', 'PUT', 'PUT', 'PUT', 'DELETE', 'GET'),
    ifMatch: sometimes(fc.constantFrom('"1"', '"2"', '"3"', 'junk'), 10),
    auth: sometimes(fc.constantFrom('READ-ONLY', 'Bearer junk'), 8),
  })
  .map((r): Req => {
    const paths = [r.desc.path, ...r.desc.altPaths];
    const path = resourcePath(r.desc, paths[r.alt % paths.length]!, r.mesh, r.name);
    const bodyDesc = r.bodyKind ?? r.desc;
    const body = restBody(bodyDesc, decodeSegment(r.mesh), decodeSegment(r.name), structuredClone(SPECS[bodyDesc.kind]), r.labels);
    const { text, yaml } = encode(mutate(body, r.mutations), r.encoding, r.textMutation);
    const headers: Record<string, string> = { 'content-type': yaml ? YAML_CT[r.alt % YAML_CT.length]! : 'application/json' };
    if (r.ifMatch !== undefined) headers['if-match'] = r.ifMatch;
    if (r.auth !== undefined) headers.authorization = r.auth;
    return { method: r.method, path, query: '', headers, body: r.method === 'GET' ? undefined : text };
  });

/** Bodies for random requests: none, empty, broken, non-objects, random JSON, or a mutated resource. */
const bodyArb = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', '{', '{"type":', 'null', '[]', '42', '"str"', 'true', '{}', '[{}]', 'a: [', 'a: &x [*x]', '- a\n- b', ': :', '{"a":1e999}', 'a: .nan', '\u0000', '{"name":"acme"}', '{"name":"ci","role":"read-only"}', '{"name":"ci","role":"admin","validFor":-1}') },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.record({ name: fc.oneof(nastyString, fc.jsonValue()), role: fc.oneof(fc.constantFrom('admin', 'read-only', 'Admin'), fc.jsonValue()), validFor: fc.oneof(fc.integer(), fc.double(), fc.jsonValue()) }, { requiredKeys: [] }).map((v) => JSON.stringify(v)) },
  { weight: 3, arbitrary: resourceRequestArb.map((r) => r.body ?? '{}') },
);

/** A MeshAccessLog whose free-form OpenTelemetry `body` is given as YAML (flow style). */
const accessLogYaml = (body: string) =>
  `type: MeshAccessLog\nmesh: default\nname: sized\nspec:\n  targetRef: {kind: Mesh}\n  from:\n  - targetRef: {kind: Mesh}\n    default:\n      backends:\n      - type: OpenTelemetry\n        openTelemetry:\n          endpoint: "otel:4317"\n          body: ${body}\n`;
const accessLogJson = (body: unknown, labels: Record<string, string> = {}) =>
  JSON.stringify({ type: 'MeshAccessLog', mesh: 'default', name: 'sized', labels, spec: { targetRef: { kind: 'Mesh' }, from: [{ targetRef: { kind: 'Mesh' }, default: { backends: [{ type: 'OpenTelemetry', openTelemetry: { endpoint: 'otel:4317', body } }] } }] } });

/** PUT bodies built to sit around the body and resource limits. */
const sizedRequestArb = fc
  .record({
    shape: fc.constantFrom('yaml-alias', 'yaml-alias-map', 'json-pad', 'yaml-pad', 'json-labels'),
    // Bytes of the padding or anchor: small, around the resource limit, around the body limit.
    bytes: fc.oneof(
      fc.integer({ min: 1, max: 2000 }),
      fc.integer({ min: MAX_RESOURCE_BYTES - 4000, max: MAX_RESOURCE_BYTES + 4000 }),
      fc.integer({ min: MAX_BODY_BYTES - 4000, max: MAX_BODY_BYTES + 4000 }),
      fc.integer({ min: 1, max: MAX_BODY_BYTES + 100_000 }),
    ),
    uses: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 5, max: 120 })),
    unit: fc.constantFrom('a', 'é', '€', '😀', '"', '\\'),
  })
  .map(({ shape, bytes, uses, unit }): Req => {
    const unitBytes = Buffer.byteLength(JSON.stringify(unit)) - 2;
    const pad = (n: number) => unit.repeat(Math.max(1, Math.floor(n / unitBytes)));
    const put = (body: string, yaml: boolean): Req => ({ method: 'PUT', path: '/meshes/default/meshaccesslogs/sized', query: '', headers: { 'content-type': yaml ? 'application/yaml' : 'application/json' }, body });
    // Anchors stay below the body limit as text; what they expand to is the point.
    const anchor = JSON.stringify(pad(Math.min(bytes, 600_000)));
    switch (shape) {
      case 'yaml-alias':
        return put(accessLogYaml(`[&big ${anchor}${', *big'.repeat(uses - 1)}]`), true);
      case 'yaml-alias-map':
        return put(accessLogYaml(`{a: &m {k: ${anchor}}${Array.from({ length: uses - 1 }, (_, i) => `, b${i}: *m`).join('')}}`), true);
      case 'json-pad':
        return put(accessLogJson(pad(bytes)), false);
      case 'yaml-pad':
        return put(accessLogYaml(JSON.stringify(pad(bytes))), true);
      default:
        return put(accessLogJson('x', Object.fromEntries(Array.from({ length: Math.max(1, Math.floor(bytes / 40)) }, (_, i) => [`label-${i}`, 'v'.repeat(24)]))), false);
    }
  });

const randomRequestArb = fc
  .record({ method: fc.constantFrom('GET', 'GET', 'PUT', 'PUT', 'DELETE', 'POST', 'PATCH'), path: pathArb, query: queryArb, headers: headersArb, body: bodyArb })
  .map((r): Req => ({ ...r, body: r.method === 'GET' ? undefined : r.body }));

// ---------------------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------------------

const show = (req: Req) => `${req.method} ${req.path}${req.query} ${JSON.stringify(req.headers)} ${req.body === undefined ? '' : JSON.stringify(req.body).slice(0, 400)}`;

/**
 * Property (b): Kuma's error body, `status` equal to the HTTP status, `causes` mirroring `invalid_parameters`;
 * as Kuma, both lists are left out when empty, never sent empty.
 */
function expectKumaError(res: { status: number; body: any; headers: Headers }, what: string): void {
  expect(res.headers.get('content-type') ?? '', what).toContain('application/json');
  const hasParams = res.body?.invalid_parameters !== undefined;
  expect(res.body, what).toEqual({
    type: '/std-errors',
    status: res.status,
    title: expect.stringMatching(/\S/),
    detail: expect.any(String),
    instance: expect.stringMatching(/\S/),
    details: expect.any(String),
    ...(hasParams ? { invalid_parameters: expect.any(Array), causes: expect.any(Array) } : {}),
  });
  const params = (res.body.invalid_parameters ?? []) as Record<string, unknown>[];
  if (hasParams) expect(params.length, what).toBeGreaterThan(0);
  expect(res.body.causes ?? [], what).toHaveLength(params.length);
  params.forEach((p, i) => {
    expect(p, what).toMatchObject({ field: expect.any(String), reason: expect.any(String), source: expect.stringMatching(/^(body|query|path|header)$/) });
    expect(Object.keys(p).every((k) => ['field', 'reason', 'source', 'rule', 'choices'].includes(k)), what).toBe(true);
    expect(res.body.causes[i], what).toEqual({ field: p.field, message: p.reason });
  });
}

/** `got` equals `sent` except where the server normalised a protojson enum number to its name. */
function expectSameUpToEnumNames(sent: unknown, got: unknown, at: string): void {
  if (typeof sent === 'number' && typeof got === 'string') return;
  if (Array.isArray(sent) && Array.isArray(got)) {
    expect(got.length, at).toBe(sent.length);
    sent.forEach((s, i) => expectSameUpToEnumNames(s, got[i], `${at}[${i}]`));
    return;
  }
  if (typeof sent === 'object' && sent !== null && typeof got === 'object' && got !== null && !Array.isArray(sent) && !Array.isArray(got)) {
    expect(Object.keys(got).sort(), at).toEqual(Object.keys(sent).sort());
    for (const k of Object.keys(sent)) expectSameUpToEnumNames((sent as Record<string, unknown>)[k], (got as Record<string, unknown>)[k], `${at}.${k}`);
    return;
  }
  expect(got, at).toEqual(sent);
}

for (const backend of backends()) {
  describe(`HTTP API properties on ${backend.name}`, () => {
    let api: ApiServer;
    let readOnlyToken = '';
    const statuses = new Map<string, Map<number, number>>();
    let current = '';

    /** The baseline every run may touch: mesh `default` (held by a dataplane), a policy of each kind, zone, secrets, insights. */
    const BASELINE_NAMES: Record<string, string> = { Mesh: 'default', Zone: 'zone-1', ZoneInsight: 'zone-1', Dataplane: 'dp-1', DataplaneInsight: 'dp-1' };
    const reseed = () =>
      api.resources.apply(
        TENANT,
        RESOURCES.map((desc) => ({
          op: 'create' as const,
          ifAbsent: true,
          resource: { kind: desc.kind, mesh: desc.scope === 'mesh' ? 'default' : undefined, name: BASELINE_NAMES[desc.kind] ?? 'p-1', spec: structuredClone(SPECS[desc.kind]) },
        })),
      );

    async function exercise(req: Req): Promise<void> {
      const headers = { ...req.headers };
      if (headers.authorization === 'READ-ONLY') headers.authorization = `Bearer ${readOnlyToken}`;
      if (headers.authorization === 'OPERATOR') headers.authorization = `Bearer ${OPERATOR}`;
      const what = show(req);
      const before = await api.resources.currentRevision(TENANT);
      const started = Date.now();
      const res = await call(api.url, req.method, req.path + req.query, { body: req.body, headers });
      // (d) answered promptly: no body makes the server work in proportion to what it expands to.
      expect(Date.now() - started, `${what}: answered too slowly`).toBeLessThan(15_000);
      if (res.status === 413) expect(res.body?.invalid_parameters, what).toEqual([{ field: '', reason: `must be at most ${MAX_BODY_BYTES} bytes (2 MiB)`, source: 'body' }]);
      const seen = statuses.get(current) ?? statuses.set(current, new Map()).get(current)!;
      seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
      // (a) never a server error for whatever a client sends.
      expect(res.status, `${what}\n→ ${JSON.stringify(res.body)?.slice(0, 500)}`).toBeGreaterThanOrEqual(200);
      expect(res.status, `${what}\n→ ${JSON.stringify(res.body)?.slice(0, 500)}`).toBeLessThan(500);
      if (res.status >= 400) {
        // (b) Kuma's error body; (c) and nothing written.
        expectKumaError(res, what);
        expect(await api.resources.currentRevision(TENANT), `${what}: a ${res.status} must not write`).toBe(before);
        return;
      }
      const pathname = new URL(req.path, api.url).pathname; // as fetch normalised it (`..`, `%2e`)
      const route = routeOf(pathname);
      if (req.method === 'PUT') {
        // (c) a 2xx PUT reads back as sent.
        expect(route, what).toBeDefined();
        const desc = route!.desc;
        const ct = (headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        const sent = (SERVER_YAML_TYPES.includes(ct) ? parseYaml(req.body!) : JSON.parse(req.body!)) as Record<string, unknown>;
        const got = await call(api.url, 'GET', pathname);
        expect(got.status, what).toBe(200);
        const s0 = splitBody(desc, sent);
        // Fields the type does not have are dropped, as Kuma does, and each is named in the answer's warnings.
        const lenient = dropUnknownFields(desc, s0.spec);
        const s = { ...s0, spec: lenient.spec };
        expect(res.body?.warnings ?? [], what).toEqual(expect.arrayContaining(lenient.dropped.map(droppedFieldWarning)));
        const g = splitBody(desc, got.body);
        const normalised = validateResource({ kind: desc.kind, mesh: got.body.mesh, name: got.body.name, labels: s.labels, spec: s.spec });
        expect(normalised.ok, what).toBe(true);
        expect(g.spec, what).toEqual(normalised.ok ? normalised.value.spec : undefined);
        // Plus Kuma's computed `kuma.io/mesh` on mesh-scoped kinds (unless the request set it).
        const computed = desc.scope === 'mesh' ? { 'kuma.io/mesh': got.body.mesh } : {};
        expect(g.labels ?? {}, what).toEqual({ ...computed, ...((s.labels as Record<string, string> | undefined) ?? {}) });
        expectSameUpToEnumNames(s.spec ?? {}, g.spec, `${what}: spec`);
        expect(await api.resources.currentRevision(TENANT), what).toBeGreaterThan(before);
        // (d) what is stored is bounded.
        const stored = await api.resources.get(TENANT, { kind: desc.kind, mesh: got.body.mesh, name: got.body.name });
        expect(jsonByteLength({ kind: stored!.kind, mesh: stored!.mesh, name: stored!.name, labels: stored!.labels, spec: stored!.spec }), what).toBeLessThanOrEqual(MAX_RESOURCE_BYTES);
      } else if (req.method === 'DELETE' && route) {
        expect((await call(api.url, 'GET', pathname)).status, `${what}: deleted, still there`).toBe(404);
        await reseed();
      }
    }

    beforeAll(async () => {
      api = await startApi(backend);
      // Meshes through the API (with Kuma's default policies), the rest straight into the store.
      expect((await call(api.url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default' } })).status).toBe(201);
      await reseed();
      readOnlyToken = (await api.tokens.issue(TENANT, { name: 'ro', role: 'read-only' })).token;
    });
    afterAll(async () => {
      for (const [property, seen] of statuses) {
        console.log(`[${backend.name}] ${property}: ${JSON.stringify(Object.fromEntries([...seen].sort(([a], [b]) => a - b)))}`);
      }
      await api?.close();
    });

    it('every example the mutations start from is valid', () => {
      for (const desc of RESOURCES) {
        const r = validateResource({ kind: desc.kind, mesh: desc.scope === 'mesh' ? 'default' : undefined, name: 'x', spec: SPECS[desc.kind] });
        expect(r.ok ? [] : r.violations, desc.kind).toEqual([]);
      }
    });

    it('mutated resources: never 5xx, Kuma errors, no partial writes, 2xx PUTs read back as sent (less the unknown fields they warn about)', async () => {
      current = 'mutated resources';
      await fc.assert(
        fc.asyncProperty(resourceRequestArb, async (req) => exercise(req)),
        { seed: SEED, numRuns: RUNS ?? 1500 * SCALE },
      );
    }, 90_000 * SCALE);

    it('random requests: never 5xx, Kuma errors, no partial writes', async () => {
      current = 'random requests';
      await fc.assert(
        fc.asyncProperty(randomRequestArb, async (req) => exercise(req)),
        { seed: SEED + 1, numRuns: RUNS ?? 2000 * SCALE },
      );
    }, 90_000 * SCALE);

    it('sized bodies and bounded queries: never 5xx, prompt answers, at most MAX_RESOURCE_BYTES stored', async () => {
      current = 'sized bodies';
      const arb = fc.oneof(
        { weight: 3, arbitrary: sizedRequestArb },
        { weight: 1, arbitrary: fc.record({ path: fc.constantFrom('/meshes/default/meshtimeouts', '/meshtimeouts', '/meshes/default/dataplanes', '/dataplanes/_overview'), query: boundedQueryArb }).map(({ path, query }): Req => ({ method: 'GET', path, query, headers: {} })) },
      );
      await fc.assert(
        fc.asyncProperty(arb, async (req) => exercise(req)),
        { seed: SEED + 2, numRuns: RUNS ?? 40 * SCALE },
      );
    }, 180_000 * SCALE);
  });

  // Bugs the properties found, pinned. Each ran into a driver error (a 500) or silently changed data.
  describe(`HTTP API regressions on ${backend.name}`, () => {
    let api: ApiServer;
    beforeAll(async () => {
      api = await startApi(backend);
    });
    afterAll(async () => api?.close());

    const mt = (spec: Record<string, unknown>) => ({ type: 'MeshAccessLog', mesh: 'default', name: 'al', spec });
    const otel = (body: string) =>
      `{"type":"MeshAccessLog","mesh":"default","name":"al","spec":{"targetRef":{"kind":"Mesh"},"from":[{"targetRef":{"kind":"Mesh"},"default":{"backends":[{"type":"OpenTelemetry","openTelemetry":{"endpoint":"otel:4317","body":${body}}}]}}]}}`;
    const BODY_FIELD = 'spec.from[0].default.backends[0].openTelemetry.body';

    it('loopback admin can issue a token before the default tenant has written anything', async () => {
      // The tenant row did not exist yet: a foreign-key violation.
      const r = await call(api.url, 'POST', '/tokens', { body: { name: 'first', role: 'read-only' } });
      expect(r.status).toBe(201);
      expect((await call(api.url, 'GET', '/meshes', { token: r.body.secret })).status).toBe(200);
    });

    it('U+0000 in a path or query matches nothing: 404 or an empty list', async () => {
      expect((await call(api.url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default' } })).status).toBe(201);
      const rev = await api.resources.currentRevision(TENANT);
      // A list in a mesh named with U+0000 is a list in a mesh that does not exist: Kuma's 404.
      for (const path of ['/meshes/%00', '/meshes/default/meshtimeouts/a%00', '/meshes/a%00/meshtimeouts/x', '/zones/%00', '/meshes/%00/meshtimeouts']) {
        const r = await call(api.url, 'GET', path);
        expect(r.status, path).toBe(404);
        expectKumaError(r, path);
        expect((await call(api.url, 'DELETE', path)).status, path).toBe(404);
      }
      for (const path of ['/meshtimeouts?name=%00', '/meshtimeouts?filter[labels.a]=%00', '/meshtimeouts?filter[labels.%00]=a', '/dataplanes?tag=a:%00', '/dataplanes?tag=%00:a']) {
        const r = await call(api.url, 'GET', path);
        expect([r.status, r.body], path).toEqual([200, { total: 0, items: [], next: null }]);
      }
      expect((await call(api.url, 'DELETE', '/tokens/%00')).status).toBe(404);
      expect(await api.resources.currentRevision(TENANT)).toBe(rev);
    });

    it('strings PostgreSQL cannot store are a 400 naming the field, for resources and token names', async () => {
      const target = { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { idleTimeout: '1s' } }] };
      for (const [value, reason] of [
        ['a\u0000b', 'must not contain NUL (U+0000) characters'],
        ['\ud800', 'must not contain unpaired UTF-16 surrogates'],
      ]) {
        const body = { type: 'MeshTimeout', mesh: 'default', name: 'x', spec: { ...target, targetRef: { kind: 'MeshSubset', tags: { team: value } } } };
        const r = await call(api.url, 'PUT', '/meshes/default/meshtimeouts/x', { body });
        expect(r.status).toBe(400);
        expect(r.body.invalid_parameters).toEqual([{ field: 'spec.targetRef.tags.team', reason, source: 'body' }]);
        const key = await call(api.url, 'PUT', '/meshes/default/meshtimeouts/x', { body: { ...body, spec: { ...target, targetRef: { kind: 'MeshSubset', tags: { [`k${value}`]: 'v' } } } } });
        expect(key.status).toBe(400);
        expect(key.body.invalid_parameters[0].reason).toBe(`key ${reason}`);
        const token = await call(api.url, 'POST', '/tokens', { body: { name: `ci${value}`, role: 'admin' } });
        expect(token.status).toBe(400);
        expect(token.body.invalid_parameters).toEqual([{ field: 'name', reason, source: 'body' }]);
      }
      const yaml = 'type: MeshTimeout\nmesh: default\nname: x\nspec:\n  targetRef: {kind: MeshSubset, tags: {a: "\\0"}}\n  to: [{targetRef: {kind: Mesh}, default: {idleTimeout: 1s}}]\n';
      expect((await call(api.url, 'PUT', '/meshes/default/meshtimeouts/x', { body: yaml, headers: { 'content-type': 'application/yaml' } })).status).toBe(400);
      expect((await call(api.url, 'GET', '/meshes/default/meshtimeouts/x')).status).toBe(404);
    });

    it('non-finite numbers are refused, not stored as null', async () => {
      for (const [text, type] of [
        [otel('{"a":1e999}'), 'application/json'],
        [otel('{"a":-1e400}'), 'application/json'],
        ['type: MeshAccessLog\nmesh: default\nname: al\nspec:\n  targetRef: {kind: Mesh}\n  from: [{targetRef: {kind: Mesh}, default: {backends: [{type: OpenTelemetry, openTelemetry: {endpoint: "otel:4317", body: {a: .nan}}}]}}]\n', 'application/yaml'],
        ['type: MeshAccessLog\nmesh: default\nname: al\nspec:\n  targetRef: {kind: Mesh}\n  from: [{targetRef: {kind: Mesh}, default: {backends: [{type: OpenTelemetry, openTelemetry: {endpoint: "otel:4317", body: {a: -.inf}}}]}}]\n', 'application/yaml'],
      ]) {
        const r = await call(api.url, 'PUT', '/meshes/default/meshaccesslogs/al', { body: text, headers: { 'content-type': type! } });
        expect(r.status, text).toBe(400);
        expect(r.body.invalid_parameters, text).toEqual([{ field: `${BODY_FIELD}.a`, reason: 'must be a finite number', source: 'body' }]);
      }
      expect((await call(api.url, 'GET', '/meshes/default/meshaccesslogs/al')).status).toBe(404);
    });

    it('very deep documents and YAML alias cycles are a 400, not a stack overflow', async () => {
      for (const depth of [65, 6000, 100_000]) {
        const r = await call(api.url, 'PUT', '/meshes/default/meshaccesslogs/al', { body: otel('['.repeat(depth) + '1' + ']'.repeat(depth)) });
        expect(r.status, String(depth)).toBe(400);
        expect(r.body.invalid_parameters[0].reason).toBe('must not be nested more than 64 levels deep');
      }
      const cycle = 'type: MeshAccessLog\nmesh: default\nname: al\nspec:\n  targetRef: {kind: Mesh}\n  from: [{targetRef: {kind: Mesh}, default: {backends: [{type: OpenTelemetry, openTelemetry: {endpoint: "otel:4317", body: &x [*x]}}]}}]\n';
      expect((await call(api.url, 'PUT', '/meshes/default/meshaccesslogs/al', { body: cycle, headers: { 'content-type': 'application/yaml' } })).status).toBe(400);
      // Reasonable nesting is still fine.
      expect((await call(api.url, 'PUT', '/meshes/default/meshaccesslogs/al', { body: mt(JSON.parse(otel('[[[[[[[[1]]]]]]]]')).spec) })).status).toBe(201);
    });

    it('filter[labels.__proto__] filters on that key instead of being dropped', async () => {
      const r = await call(api.url, 'GET', '/meshtimeouts?filter[labels.__proto__]=x');
      expect(r.status).toBe(200);
      expect(r.body.total).toBe(0);
      expect((await call(api.url, 'GET', '/meshtimeouts')).body.total).toBeGreaterThan(0);
    });
  });
}
