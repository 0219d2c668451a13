import { describe, it, expect } from 'vitest';
import { validateResource, type Violation } from '../../validate.js';

/** Violations of one resource of `kind` in mesh `default` (empty when valid). */
function check(kind: string, spec: unknown): Violation[] {
  const r = validateResource({ kind, mesh: 'default', name: 'x', spec });
  return r.ok ? [] : r.violations;
}
const fields = (kind: string, spec: unknown) => check(kind, spec).map((v) => v.field);
const messageAt = (kind: string, spec: unknown, field: string) => check(kind, spec).find((v) => v.field === field)?.message;

function expectValid(kind: string, spec: unknown) {
  const r = validateResource({ kind, mesh: 'default', name: 'x', spec });
  expect(r.ok ? [] : r.violations).toEqual([]);
  expect(r.ok && r.value.kind).toBe(kind);
}

const svc = (name: string, extra: Record<string, unknown> = {}) => ({ kind: 'MeshService', name, ...extra });

describe('MeshTimeout', () => {
  const kind = 'MeshTimeout';
  it('accepts the docs example', () => {
    expectValid(kind, {
      targetRef: { kind: 'Mesh' },
      to: [
        {
          targetRef: svc('backend', { namespace: 'kuma-demo', sectionName: 'http' }),
          default: { idleTimeout: '20s', connectionTimeout: '2s', http: { requestTimeout: '2s', streamIdleTimeout: '1h' } },
        },
      ],
    });
  });
  it('reports wrong kinds, bad durations and unknown fields at their paths', () => {
    const spec = {
      to: [{ targetRef: { kind: 'Dataplane' }, default: { idleTimeout: '20 seconds', http: { requestTimeoutz: '1s' } } }],
      from: [{ targetRef: { kind: 'Mesh' }, default: { connectionTimeout: '0s' } }],
    };
    expect(check(kind, spec)).toEqual([
      { field: 'spec.to[0].targetRef.kind', message: "value 'Dataplane' is not supported" },
      { field: 'spec.to[0].default.idleTimeout', message: 'must be a duration string like "5s" or "1m30s"' },
      { field: 'spec.to[0].default.http.requestTimeoutz', message: 'unknown field "requestTimeoutz"' },
      { field: 'spec.from[0].default.connectionTimeout', message: 'must be greater than zero when defined' },
      // Kuma: an http section must set one of its timeouts (requestTimeoutz is not one).
      { field: 'spec.to[0].default.http', message: 'at least one timeout in this section should be configured' },
    ]);
  });
  it('accepts rules with matches', () => {
    expectValid(kind, {
      targetRef: { kind: 'Dataplane', labels: { app: 'backend' } },
      rules: [
        {
          matches: [{ spiffeID: { type: 'Prefix', value: 'spiffe://default.zone-1.mesh.local/ns/kuma-demo' } }, { sni: { type: 'Exact', value: 'backend.mesh' } }],
          default: { http: { requestTimeout: '2s' } },
        },
      ],
    });
  });
  it("refuses, as Kuma, timeouts a spiffeID match cannot condition and rules together with 'to'", () => {
    const rule = { matches: [{ spiffeID: { type: 'Exact', value: 'spiffe://default/web' } }], default: { idleTimeout: '20s', http: { requestTimeout: '2s' } } };
    expect(check(kind, { rules: [rule] })).toEqual([
      { field: 'spec.rules[0].default.idleTimeout', message: "can't be specified when matches contain spiffeID because this field cannot be conditioned on source identity" },
    ]);
    const to = [{ targetRef: { kind: 'Mesh' }, default: { idleTimeout: '1s' } }];
    expect(check(kind, { rules: [{ default: { idleTimeout: '1s' } }], to })).toEqual([{ field: 'spec', message: "fields 'to' and 'from' must be empty when 'rules' is defined" }]);
  });
  it('accepts a MeshHTTPRoute as top-level targetRef, with only what a route can time out', () => {
    expectValid(kind, { targetRef: { kind: 'MeshHTTPRoute', name: 'route-1' }, to: [{ targetRef: { kind: 'Mesh' }, default: { http: { requestTimeout: '1s' } } }] });
    expect(check(kind, { targetRef: { kind: 'MeshHTTPRoute', name: 'route-1' }, to: [{ targetRef: { kind: 'Mesh' }, default: { idleTimeout: '1s' } }] })).toEqual([
      { field: 'spec.to[0].default.idleTimeout', message: "can't be specified when top-level TargetRef is referencing MeshHTTPRoute" },
    ]);
  });
  it('reports bad and empty rule matches at their paths', () => {
    expect(
      check(kind, { rules: [{ matches: [{ spiffeID: { type: 'Regex', value: 'frontend' } }, {}], default: { http: { requestTimeout: '20s' } } }] }),
    ).toEqual([
      { field: 'spec.rules[0].matches[0].spiffeID.type', message: 'unrecognized type "Regex", supported values are: Exact, Prefix' },
      { field: 'spec.rules[0].matches[0].spiffeID', message: 'must be a valid Spiffe ID: scheme is missing or invalid' },
      { field: 'spec.rules[0].matches[1]', message: "must specify at least one of 'spiffeID' or 'sni'" },
    ]);
  });
});

describe('MeshTrafficPermission', () => {
  const kind = 'MeshTrafficPermission';
  it('accepts the docs examples (rules and legacy from)', () => {
    expectValid(kind, {
      targetRef: { kind: 'Dataplane', labels: { app: 'backend' } },
      rules: [
        {
          default: {
            allow: [{ spiffeID: { type: 'Exact', value: 'spiffe://default.zone-1.mesh.local/ns/kuma-demo/sa/frontend' } }],
            deny: [{ spiffeID: { type: 'Prefix', value: 'spiffe://default.zone-1.mesh.local/ns/legacy' } }],
          },
        },
      ],
    });
    expectValid(kind, {
      targetRef: { kind: 'MeshService', name: 'backend' },
      from: [
        { targetRef: { kind: 'MeshSubset', tags: { 'kuma.io/zone': 'us-east' } }, default: { action: 'Allow' } },
        { targetRef: { kind: 'Mesh' }, default: { action: 'Deny' } },
      ],
    });
  });
  it('reports kinds, actions, matches and unknown sections', () => {
    expect(
      check(kind, {
        targetRef: { kind: 'MeshGateway', name: 'edge' },
        from: [{ targetRef: { kind: 'Dataplane', name: 'dp-1' }, default: { action: 'Permit' } }, { targetRef: { kind: 'Mesh' } }],
        to: [],
      }),
    ).toEqual([
      { field: 'spec.targetRef.kind', message: "value 'MeshGateway' is not supported" },
      { field: 'spec.from[0].targetRef.kind', message: "value 'Dataplane' is not supported" },
      { field: 'spec.from[0].default.action', message: 'must be one of: Allow, Deny, AllowWithShadowDeny' },
      { field: 'spec.from[1].default.action', message: 'must be defined' },
      { field: 'spec.to', message: 'unknown field "to"' },
    ]);
    expect(
      check(kind, {
        rules: [{ default: { allow: [{ spiffeID: { type: 'Exact', value: 'frontend' } }], deny: [{ sni: { type: 'Prefix', value: 'Backend' } }] } }, { default: {} }],
      }),
    ).toEqual([
      // Kuma's paths for a rule leave out `default`; its texts come from go-spiffe and Kubernetes.
      { field: 'spec.rules[0].allow[0].spiffeID', message: 'must be a valid Spiffe ID: scheme is missing or invalid' },
      { field: 'spec.rules[0].deny[0].sni.type', message: 'unrecognized type "Prefix", supported values are: Exact' },
      { field: 'spec.rules[0].deny[0].sni.value', message: expect.stringMatching(/^a lowercase RFC 1123 subdomain must consist of/) },
      { field: 'spec.rules[1]', message: "at least one of 'allow', 'allowWithShadowDeny', 'deny' has to be defined" },
    ]);
  });
  it('needs from or rules, never both', () => {
    expect(check(kind, { targetRef: { kind: 'Mesh' } })).toEqual([{ field: 'spec', message: "at least one of 'from' or 'rules' has to be defined" }]);
    expect(
      check(kind, { from: [{ targetRef: { kind: 'Mesh' }, default: { action: 'Allow' } }], rules: [{ default: { allow: [{ sni: { type: 'Exact', value: 'a.b' } }] } }] }),
    ).toEqual([{ field: 'spec', message: "field 'from' must be empty when 'rules' is defined" }]);
  });
});

describe('MeshRetry', () => {
  const kind = 'MeshRetry';
  it('accepts the docs example and the default mesh-retry-all policy', () => {
    expectValid(kind, {
      targetRef: { kind: 'Dataplane', labels: { app: 'frontend' } },
      to: [
        {
          targetRef: svc('backend', { namespace: 'kuma-demo', sectionName: 'http' }),
          default: {
            http: {
              numRetries: 10,
              backOff: { baseInterval: '15s', maxInterval: '20m' },
              retryOn: ['5xx', '429', 'HttpMethodGet'],
              retriableResponseHeaders: [{ name: 'x-retry', type: 'Present' }],
              hostSelection: [{ predicate: 'OmitPreviousPriorities', updateFrequency: 2 }],
              rateLimitedBackOff: { maxInterval: '1m', resetHeaders: [{ name: 'retry-after', format: 'Seconds' }] },
            },
            grpc: { numRetries: 5, retryOn: ['Canceled', 'DeadlineExceeded'] },
          },
        },
      ],
    });
    expectValid(kind, {
      targetRef: { kind: 'Mesh' },
      to: [
        {
          targetRef: { kind: 'Mesh' },
          default: {
            tcp: { maxConnectAttempt: 5 },
            http: { numRetries: 5, perTryTimeout: '16s', backOff: { baseInterval: '25ms', maxInterval: '250ms' } },
            grpc: { numRetries: 5, perTryTimeout: '16s', backOff: { baseInterval: '25ms', maxInterval: '250ms' } },
          },
        },
      ],
    });
  });
  it('reports value problems inside default', () => {
    expect(
      check(kind, {
        to: [
          {
            targetRef: { kind: 'Mesh' },
            default: {
              tcp: { maxConnectAttempt: 0 },
              http: { numRetries: -1, perTryTimeout: '1 second', retryOn: ['5XX', '999'], backOff: {} },
              grpc: { retryOn: ['Aborted'] },
            },
          },
        ],
      }),
    ).toEqual([
      { field: 'spec.to[0].default.conf.tcp.maxConnectAttempt', message: 'must be greater than 0' },
      { field: 'spec.to[0].default.conf.http.numRetries', message: 'must be a non-negative integer' },
      { field: 'spec.to[0].default.conf.http.perTryTimeout', message: 'must be a duration string like "5s" or "1m30s"' },
      { field: 'spec.to[0].default.conf.http.backOff', message: 'must not be empty' },
      { field: 'spec.to[0].default.conf.http.retryOn[0]', message: "unknown item '5XX'" },
      { field: 'spec.to[0].default.conf.http.retryOn[1]', message: "unknown item '999'" },
      { field: 'spec.to[0].default.conf.grpc.retryOn[0]', message: "unknown item 'Aborted'" },
    ]);
  });
  it('requires a protocol section and rejects from/rules', () => {
    expect(check(kind, { to: [{ targetRef: { kind: 'Mesh' }, default: {} }] })).toEqual([
      { field: 'spec.to[0].default.conf', message: "at least one of the 'tcp', 'http', 'grpc' must be specified" },
    ]);
    expect(check(kind, { to: [{ targetRef: { kind: 'Mesh' } }] })).toEqual([{ field: 'spec.to[0].default.conf', message: 'must be defined' }]);
    expect(fields(kind, { from: [{ targetRef: { kind: 'Mesh' }, default: { tcp: { maxConnectAttempt: 1 } } }] })).toEqual(['spec.from']);
    expect(messageAt(kind, { to: [{ targetRef: { kind: 'Mesh' }, default: { tcp: {} } }] }, 'spec.to[0].default.conf.tcp')).toBe('must not be empty');
  });
  it('narrows destinations under a MeshGateway and keeps sectionName for inbound policies', () => {
    const conf = { http: { numRetries: 3 } };
    expect(
      check(kind, {
        targetRef: { kind: 'MeshGateway', name: 'edge' },
        to: [
          { targetRef: svc('backend'), default: conf },
          { targetRef: { kind: 'MeshExternalService', name: 'httpbin' }, default: conf },
        ],
      }),
    ).toEqual([
      { field: 'spec.to[0].targetRef.kind', message: "value 'MeshService' is not supported" },
    ]);
    expect(
      check(kind, { targetRef: { kind: 'Dataplane', name: 'dp-1', sectionName: 'http' }, to: [{ targetRef: { kind: 'MeshServiceSubset', name: 'a', tags: { v: '1' } }, default: conf }] }),
    ).toEqual([
      { field: 'spec.to[0].targetRef.kind', message: "value 'MeshServiceSubset' is not supported" },
      { field: 'spec.targetRef.sectionName', message: 'can only be used with inbound policies' },
    ]);
  });
});

describe('MeshCircuitBreaker', () => {
  const kind = 'MeshCircuitBreaker';
  it('accepts the docs example and the default policy', () => {
    expectValid(kind, {
      targetRef: { kind: 'Mesh' },
      to: [
        {
          targetRef: svc('backend', { namespace: 'kuma-demo', sectionName: 'http' }),
          default: {
            connectionLimits: { maxConnections: 2, maxPendingRequests: 8, maxRetries: 2, maxRequests: 2 },
            outlierDetection: {
              disabled: false,
              interval: '5s',
              baseEjectionTime: '30s',
              maxEjectionPercent: 20,
              splitExternalAndLocalErrors: true,
              detectors: {
                totalFailures: { consecutive: 10 },
                gatewayFailures: { consecutive: 10 },
                localOriginFailures: { consecutive: 10 },
                successRate: { minimumHosts: 5, requestVolume: 10, standardDeviationFactor: '1.9' },
                failurePercentage: { requestVolume: 10, minimumHosts: 5, threshold: 85 },
              },
            },
          },
        },
      ],
    });
    expectValid(kind, {
      targetRef: { kind: 'Dataplane', labels: { app: 'backend' }, sectionName: 'http' },
      rules: [{ default: { connectionLimits: { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 } } }],
    });
  });
  it('reports limits, detectors and kinds at their paths', () => {
    expect(
      check(kind, {
        to: [
          {
            targetRef: { kind: 'MeshHTTPRoute', name: 'r' },
            default: {
              connectionLimits: { maxConnections: 0 },
              outlierDetection: { interval: '0s', maxEjectionPercent: 120, healthyPanicThreshold: '101' },
            },
          },
        ],
        from: [{ targetRef: svc('web'), default: { outlierDetection: { detectors: { successRate: { standardDeviationFactor: '-1' } } } } }],
      }),
    ).toEqual([
      { field: 'spec.to[0].targetRef.kind', message: "value 'MeshHTTPRoute' is not supported" },
      { field: 'spec.to[0].default.connectionLimits.maxConnections', message: 'must be greater than 0' },
      { field: 'spec.to[0].default.outlierDetection.interval', message: 'must be greater than zero when defined' },
      { field: 'spec.to[0].default.outlierDetection.maxEjectionPercent', message: 'must be in inclusive range [0, 100]' },
      { field: 'spec.to[0].default.outlierDetection.healthyPanicThreshold', message: 'must be in inclusive range [0.0, 100.0]' },
      { field: 'spec.to[0].default.outlierDetection.detectors', message: 'must be defined' },
      { field: 'spec.from[0].targetRef.kind', message: "value 'MeshService' is not supported" },
      { field: 'spec.from[0].default.outlierDetection.detectors.successRate.standardDeviationFactor', message: 'must be greater than 0' },
    ]);
  });
  it('requires something to configure, and rules alone', () => {
    expect(check(kind, { to: [{ targetRef: { kind: 'Mesh' }, default: { outlierDetection: { detectors: {} } } }] })).toEqual([
      {
        field: 'spec.to[0].default.outlierDetection.detectors',
        message: 'must have at least one defined: totalFailures, gatewayFailures, localOriginFailures, successRate, failurePercentage',
      },
    ]);
    expect(check(kind, { rules: [{ default: {} }], to: [{ targetRef: { kind: 'Mesh' }, default: { connectionLimits: {} } }] })).toEqual([
      { field: 'spec.rules[0].default', message: "at least one of: 'connectionLimits' or 'outlierDetection' should be configured" },
      { field: 'spec', message: "fields 'to' and 'from' must be empty when 'rules' is defined" },
    ]);
    expect(check(kind, {})).toEqual([{ field: 'spec', message: "at least one of 'from', 'to' or 'rules' has to be defined" }]);
  });
});

describe('MeshHealthCheck', () => {
  const kind = 'MeshHealthCheck';
  it('accepts the docs example', () => {
    expectValid(kind, {
      targetRef: { kind: 'Mesh' },
      to: [
        {
          targetRef: svc('backend', { namespace: 'kuma-demo', sectionName: 'http' }),
          default: {
            interval: '10s',
            timeout: '2s',
            unhealthyThreshold: 3,
            healthyThreshold: 1,
            failTrafficOnPanic: true,
            noTrafficInterval: '1s',
            healthyPanicThreshold: 0,
            reuseConnection: true,
            http: {
              path: '/health',
              expectedStatuses: [200, 201],
              requestHeadersToAdd: { set: [{ name: 'content-type', value: 'application/json' }], add: [{ name: 'accept', value: 'application/json' }] },
            },
            tcp: { send: 'Zm9v', receive: ['YmFy', 'YmF6'] },
            grpc: { serviceName: 'grpc-client', authority: 'grpc-client.default.svc.cluster.local' },
          },
        },
      ],
    });
  });
  it('reports thresholds, statuses, durations and kinds', () => {
    expect(
      check(kind, {
        targetRef: { kind: 'MeshHTTPRoute', name: 'r' },
        to: [
          {
            targetRef: { kind: 'MeshHTTPRoute', name: 'r' },
            default: { interval: '10', healthyThreshold: 0, intervalJitterPercent: 101, eventLogPath: 'logs', http: { path: '', expectedStatuses: [700] } },
          },
          { targetRef: { kind: 'Mesh' }, default: { interval: '5s' } },
        ],
      }),
    ).toEqual([
      { field: 'spec.targetRef.kind', message: "value 'MeshHTTPRoute' is not supported" },
      { field: 'spec.to[0].targetRef.kind', message: "value 'MeshHTTPRoute' is not supported" },
      { field: 'spec.to[0].default.interval', message: 'must be a duration string like "5s" or "1m30s"' },
      { field: 'spec.to[0].default.healthyThreshold', message: 'must be greater than zero when defined' },
      { field: 'spec.to[0].default.intervalJitterPercent', message: 'must be in inclusive range [0, 100]' },
      { field: 'spec.to[0].default.eventLogPath', message: 'must be a valid path when defined' },
      { field: 'spec.to[0].default.http.path', message: 'must be defined' },
      { field: 'spec.to[0].default.http.expectedStatuses[0]', message: 'must be in inclusive range [100, 599]' },
      { field: 'spec.to[1].default', message: 'must have at least one defined: http, tcp, grpc' },
    ]);
    expect(check(kind, { to: [{ targetRef: { kind: 'Mesh' }, default: { tcp: {}, udp: {} } }] })).toEqual([
      { field: 'spec.to[0].default.udp', message: 'unknown field "udp"' },
    ]);
  });
});

describe('MeshHTTPRoute', () => {
  const kind = 'MeshHTTPRoute';
  it('accepts the docs examples (service and gateway)', () => {
    expectValid(kind, {
      targetRef: { kind: 'Dataplane', labels: { app: 'frontend' } },
      to: [
        {
          targetRef: svc('backend', { namespace: 'kuma-demo', sectionName: 'http' }),
          rules: [
            {
              matches: [{ path: { type: 'PathPrefix', value: '/v2' }, method: 'GET', headers: [{ type: 'Exact', name: 'x-version', value: '2' }] }],
              default: {
                filters: [
                  { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-custom', value: 'v2' }], remove: ['x-debug'] } },
                  { type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/' } } },
                ],
                backendRefs: [
                  svc('backend-v1', { namespace: 'kuma-demo', port: 3001, weight: 90 }),
                  svc('backend-v2', { namespace: 'kuma-demo', port: 3001, weight: 10 }),
                ],
              },
            },
          ],
        },
      ],
    });
    expectValid(kind, {
      targetRef: { kind: 'MeshGateway', name: 'edge-gateway' },
      to: [
        {
          targetRef: { kind: 'Mesh' },
          hostnames: ['example.com'],
          rules: [
            { matches: [{ path: { type: 'Exact', value: '/old' } }], default: { filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', statusCode: 301 } }] } },
            { matches: [{ path: { type: 'PathPrefix', value: '/' } }], default: { backendRefs: [{ kind: 'MeshMultiZoneService', name: 'backend', port: 80 }] } },
          ],
        },
      ],
    });
  });
  it('reports matches, filters and backendRefs at their paths', () => {
    expect(
      check(kind, {
        to: [
          {
            targetRef: { kind: 'Mesh' },
            hostnames: ['example.com'],
            rules: [
              {
                matches: [{ path: { type: 'Exact', value: 'v2' } }, { queryParams: [{ type: 'Exact', name: 'a', value: '1' }, { type: 'Exact', name: 'a', value: '2' }] }],
                default: {
                  filters: [{ type: 'RequestHeaderModifier' }],
                  backendRefs: [svc('backend', { weight: -1 }), { kind: 'MeshMultiZoneService', name: 'backend' }, { kind: 'MeshHTTPRoute', name: 'r' }],
                },
              },
              { matches: [], default: {} },
            ],
          },
        ],
      }),
    ).toEqual([
      { field: 'spec.to[0].rules[0].matches[0].path.value', message: 'must be an absolute path' },
      { field: 'spec.to[0].rules[0].matches[1].queryParams[1].name', message: 'multiple entries for name a' },
      { field: 'spec.to[0].rules[0].default.filters[0].requestHeaderModifier', message: 'must be defined' },
      { field: 'spec.to[0].rules[0].default.backendRefs[0].weight', message: 'must be a non-negative integer' },
      { field: 'spec.to[0].rules[0].default.backendRefs[1].port', message: 'must be defined with kind MeshMultiZoneService' },
      {
        field: 'spec.to[0].rules[0].default.backendRefs[2].kind',
        message: "value 'MeshHTTPRoute' is not supported",
      },
      { field: 'spec.to[0].rules[1].matches', message: 'must not be empty' },
      { field: 'spec.to[0].targetRef.kind', message: "value 'Mesh' is not supported" },
      { field: 'spec.to[0].hostnames', message: 'must not be defined' },
    ]);
  });
  it('applies the gateway-only rules once the rest is valid', () => {
    const rules = [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], default: { backendRefs: [svc('backend')] } }];
    expect(check(kind, { to: [{ targetRef: svc('backend'), hostnames: ['example.com'], rules }] })).toEqual([
      { field: 'spec.to[0].hostnames', message: 'must not be defined' },
    ]);
    expect(
      check(kind, {
        targetRef: { kind: 'MeshGateway', name: 'gw' },
        to: [{ targetRef: { kind: 'Mesh' }, rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/api' } }], default: {} }] }],
      }),
    ).toEqual([{ field: 'spec.to[0].rules[0].default.backendRefs', message: 'must not be empty' }]);
    expect(
      messageAt(
        kind,
        {
          to: [
            {
              targetRef: svc('backend'),
              rules: [{ matches: [{ method: 'GET' }], default: { filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/' } } }] } }],
            },
          ],
        },
        'spec.to[0].rules[0].default.filters[0].urlRewrite.path.replacePrefixMatch',
      ),
    ).toBe('can only appear if all matches match a path prefix');
  });
});

describe('MeshTCPRoute', () => {
  const kind = 'MeshTCPRoute';
  it('accepts the docs example', () => {
    expectValid(kind, {
      targetRef: { kind: 'Mesh' },
      to: [
        {
          targetRef: svc('backend', { namespace: 'kuma-demo', sectionName: 'http' }),
          rules: [{ default: { backendRefs: [svc('backend-v1', { port: 3001, weight: 90 }), svc('backend-v2', { port: 3001, weight: 10 })] } }],
        },
      ],
    });
  });
  it('reports backendRefs, ports and destination kinds', () => {
    expect(
      check(kind, {
        to: [
          { targetRef: svc('a'), rules: [{ default: { backendRefs: [] } }] },
          { targetRef: svc('b'), rules: [{ default: { backendRefs: [svc('b', { port: 70000 }), { kind: 'MeshMultiZoneService', name: 'm' }] } }] },
          { targetRef: { kind: 'Mesh' }, rules: [{ default: { backendRefs: [svc('c')] } }], default: {} },
        ],
      }),
    ).toEqual([
      { field: 'spec.to[0].rules[0].default.backendRefs', message: 'must be defined' },
      { field: 'spec.to[1].rules[0].default.backendRefs[0].port', message: 'port must be in the range [1, 65535]' },
      { field: 'spec.to[1].rules[0].default.backendRefs[1].port', message: 'must be defined with kind MeshMultiZoneService' },
      { field: 'spec.to[2].default', message: 'unknown field "default"' },
      { field: 'spec.to[2].targetRef.kind', message: "value 'Mesh' is not supported" },
    ]);
    expect(check(kind, { to: [] })).toEqual([{ field: 'spec.to', message: 'must not be empty' }]);
    // An oversized list fails before its items are parsed (zod size caps), so only the count is reported.
    expect(check(kind, { to: [{ targetRef: svc('b'), rules: [{ default: { backendRefs: [svc('b')] } }, { default: {} }] }] })).toEqual([
      { field: 'spec.to[0].rules', message: 'must have at most 1 item' },
    ]);
  });
});

describe('MeshLoadBalancingStrategy', () => {
  const kind = 'MeshLoadBalancingStrategy';
  it('accepts the docs examples', () => {
    expectValid(kind, {
      targetRef: { kind: 'Mesh' },
      to: [
        {
          targetRef: { kind: 'Mesh' },
          default: {
            localityAwareness: {
              localZone: { affinityTags: [{ key: 'k8s.io/node' }, { key: 'k8s.io/az' }] },
              crossZone: {
                failover: [{ from: { zones: ['zone-1'] }, to: { type: 'Only', zones: ['zone-2'] } }, { to: { type: 'Any' } }],
                failoverThreshold: { percentage: 70 },
              },
            },
            loadBalancer: { type: 'RingHash', ringHash: { hashFunction: 'MurmurHash2', minRingSize: 64, maxRingSize: 1024, hashPolicies: [{ type: 'Header', header: { name: 'x-header' } }] } },
          },
        },
        { targetRef: { kind: 'MeshHTTPRoute', name: 'route-1' }, default: { hashPolicies: [{ type: 'Cookie', cookie: { name: 'session', path: '/', ttl: '1h' } }] } },
      ],
    });
  });
  it('reports balancer, locality and hash problems at their paths', () => {
    expect(
      check(kind, {
        to: [
          {
            targetRef: svc('backend', { sectionName: 'http' }),
            default: {
              loadBalancer: { type: 'Fancy' },
              localityAwareness: {
                localZone: { affinityTags: [{ key: 'a', weight: 1 }, { key: '' }] },
                crossZone: { failover: [{ to: { type: 'Only' } }, { to: { type: 'Any', zones: ['z'] } }], failoverThreshold: { percentage: 120 } },
              },
            },
          },
          { targetRef: { kind: 'MeshExternalService', name: 'httpbin' } },
        ],
      }),
    ).toEqual([
      { field: 'spec.to[0].default.localityAwareness.localZone.affinityTags[1].key', message: 'must not be empty' },
      { field: 'spec.to[0].default.localityAwareness.localZone.affinityTags', message: 'all or none affinity tags should have weight' },
      { field: 'spec.to[0].default.localityAwareness.crossZone.failover[0].to.zones', message: 'must not be empty when type is Only' },
      { field: 'spec.to[0].default.localityAwareness.crossZone.failover[1].to.zones', message: 'must be empty when type is Any' },
      { field: 'spec.to[0].default.localityAwareness.crossZone.failoverThreshold.percentage', message: 'must be in inclusive range [0.0, 100.0]' },
      { field: 'spec.to[0].default.loadBalancer.type', message: 'must be one of: RoundRobin, LeastRequest, RingHash, Random, Maglev' },
      { field: 'spec.to[1].targetRef.kind', message: "value 'MeshExternalService' is not supported" },
    ]);
  });
  it('applies the cross-field rules once the values are valid', () => {
    expect(
      check(kind, {
        to: [
          { targetRef: { kind: 'MeshHTTPRoute', name: 'r' }, default: { loadBalancer: { type: 'Random' } } },
          { targetRef: svc('backend', { sectionName: 'http' }), default: { localityAwareness: { crossZone: { failoverThreshold: { percentage: '0' } } } } },
          { targetRef: svc('backend'), default: { localityAwareness: { localZone: { affinityTags: [{ key: 'a', weight: 9 }, { key: 'b' }] } } } },
        ],
      }),
    ).toEqual([
      { field: 'spec.to[0].default.loadBalancer', message: 'field is not allowed when targetRef.kind is MeshHTTPRoute, only hashPolicies is supported' },
      { field: 'spec.to[1].default.localityAwareness.crossZone.failoverThreshold.percentage', message: 'must be greater than 0' },
      { field: 'spec.to[1].default.localityAwareness.crossZone', message: 'must not be set: MeshService traffic is local' },
      { field: 'spec.to[2].default.localityAwareness.localZone.affinityTags', message: 'all or none affinity tags should have weight' },
    ]);
    expect(
      check(kind, {
        targetRef: { kind: 'MeshGateway', name: 'gw' },
        to: [{ targetRef: svc('backend'), default: { loadBalancer: { type: 'RoundRobin' } } }],
      }),
    ).toEqual([{ field: 'spec.to[0].targetRef.kind', message: "value 'MeshGateway' is not supported, only Mesh is allowed if loadBalancer is set" }]);
  });
});

describe('MeshFaultInjection', () => {
  const kind = 'MeshFaultInjection';
  it('accepts the docs examples (inbound rules and a gateway)', () => {
    expectValid(kind, {
      targetRef: { kind: 'Dataplane', labels: { app: 'backend' } },
      rules: [
        {
          default: {
            http: [
              { abort: { httpStatus: 500, percentage: '2.5' } },
              { abort: { httpStatus: 500, percentage: 10 } },
              { delay: { value: '5s', percentage: 5 } },
              { responseBandwidth: { limit: '100kbps', percentage: 50 } },
            ],
          },
        },
      ],
    });
    expectValid(kind, { targetRef: { kind: 'MeshGateway', name: 'edge' }, to: [{ targetRef: { kind: 'Mesh' }, default: { http: [{ abort: { httpStatus: 503, percentage: 1 } }] } }] });
  });
  it('reports statuses, percentages, durations and bandwidth', () => {
    expect(
      check(kind, {
        targetRef: { kind: 'Mesh', proxyTypes: ['Sidecar'] },
        from: [
          {
            targetRef: { kind: 'MeshGateway', name: 'gw' },
            default: {
              http: [
                { abort: { httpStatus: 99, percentage: 101 } },
                { delay: { value: '5 seconds', percentage: '5' } },
                { responseBandwidth: { limit: '10mbps', percentage: 1 } },
                { abort: { percentage: 1 } },
              ],
            },
          },
        ],
      }),
    ).toEqual([
      { field: 'spec.from[0].targetRef.kind', message: "value 'MeshGateway' is not supported" },
      // Kuma's paths name the fault kind, then the index; a missing status is Go's zero, out of range.
      { field: 'spec.from[0].default.http.abort[0].httpStatus', message: 'must be in inclusive range [100, 599]' },
      { field: 'spec.from[0].default.http.abort[0].percentage', message: 'must be in inclusive range [0.0, 100.0]' },
      { field: 'spec.from[0].default.http.delay[1].value', message: 'must be a duration string like "5s" or "1m30s"' },
      { field: 'spec.from[0].default.http.responseBandwidth[2].limit', message: 'must be in kbps/Mbps/Gbps units' },
      { field: 'spec.from[0].default.http.abort[3].httpStatus', message: 'must be in inclusive range [100, 599]' },
    ]);
  });
  it('keeps from to sidecars and to to gateways', () => {
    const conf = { http: [{ delay: { value: '1s', percentage: 10 } }] };
    expect(check(kind, { from: [{ targetRef: { kind: 'Mesh' }, default: conf }] })).toEqual([
      { field: 'spec.from', message: 'must not be defined when the scope includes a Gateway, select only proxyType Sidecar or select only gateways and use spec.to' },
    ]);
    expect(check(kind, { targetRef: { kind: 'Dataplane', labels: { app: 'a' } }, to: [{ targetRef: { kind: 'Mesh' }, default: conf }] })).toEqual([
      { field: 'spec.to', message: 'must not be defined' },
    ]);
    expect(check(kind, { targetRef: { kind: 'Dataplane', labels: { app: 'a' } }, from: [{ targetRef: { kind: 'Mesh' } }], rules: [{ default: conf }] })).toEqual([
      { field: 'spec', message: "field 'from' must be empty when 'rules' is defined" },
    ]);
  });
});

describe('MeshRateLimit', () => {
  const kind = 'MeshRateLimit';
  it('accepts the docs examples', () => {
    expectValid(kind, {
      targetRef: { kind: 'Dataplane', labels: { app: 'backend' } },
      rules: [
        {
          default: {
            local: {
              http: {
                requestRate: { num: 5, interval: '10s' },
                onRateLimit: { status: 423, headers: { set: [{ name: 'x-kuma-rate-limited', value: 'true' }] } },
              },
              tcp: { connectionRate: { num: 5, interval: '10s' } },
            },
          },
        },
      ],
    });
    expectValid(kind, {
      targetRef: { kind: 'MeshGateway', name: 'edge' },
      to: [{ targetRef: { kind: 'Mesh' }, default: { local: { http: { requestRate: { num: 100, interval: '1s' } } } } }],
    });
  });
  it('reports rates, empty sections and gateway scope', () => {
    expect(
      check(kind, {
        targetRef: { kind: 'Dataplane', labels: { app: 'backend' } },
        rules: [
          { default: { local: { http: { requestRate: { num: 0, interval: '10ms' } } } } },
          { default: { local: {} } },
          { default: {} },
          { matches: [{}], default: { local: { tcp: { disabled: true } } } },
        ],
      }),
    ).toEqual([
      { field: 'spec.rules[0].default.local.http.requestRate.num', message: 'must be greater than 0' },
      { field: 'spec.rules[0].default.local.http.requestRate.interval', message: 'must be greater than: 50ms' },
      { field: 'spec.rules[1].default.local', message: 'must have at least one defined: tcp, http' },
      { field: 'spec.rules[2].default.local', message: 'must be defined' },
      { field: 'spec.rules[3].matches[0]', message: "must specify at least one of 'spiffeID' or 'sni'" },
    ]);
    // A Mesh scope includes gateways unless limited to sidecars: inbound rules do not apply there.
    expect(check(kind, { rules: [{ default: { local: { tcp: { disabled: true } } } }] })).toEqual([{ field: 'spec.rules', message: 'must not be defined' }]);
    expect(
      check(kind, {
        targetRef: { kind: 'Mesh', proxyTypes: ['Sidecar'] },
        rules: [
          { matches: [{ spiffeID: { type: 'Exact', value: 'spiffe://default/ns/a/sa/b' } }], default: { local: { tcp: { disabled: true } } } },
        ],
      }),
    ).toEqual([
      { field: 'spec.rules[0].default.local.tcp', message: "can't be specified when matches contain spiffeID because this field cannot be conditioned on source identity" },
    ]);
  });
});

describe('MeshAccessLog', () => {
  const kind = 'MeshAccessLog';
  it('accepts the docs examples', () => {
    expectValid(kind, {
      targetRef: { kind: 'Mesh' },
      from: [
        {
          targetRef: { kind: 'Mesh' },
          default: { backends: [{ type: 'File', file: { path: '/dev/stdout', format: { type: 'Plain', plain: '[%START_TIME%] %KUMA_MESH% %UPSTREAM_HOST%' } } }] },
        },
      ],
    });
    expectValid(kind, {
      targetRef: { kind: 'Dataplane', labels: { app: 'web' } },
      to: [
        {
          targetRef: svc('backend'),
          default: {
            backends: [
              { type: 'Tcp', tcp: { address: '127.0.0.1:5000', format: { type: 'Json', json: [{ key: 'start_time', value: '%START_TIME%' }] } } },
              {
                type: 'OpenTelemetry',
                openTelemetry: {
                  backendRef: { kind: 'MeshOpenTelemetryBackend', labels: { 'kuma.io/otel': 'main' } },
                  attributes: [{ key: 'mesh.name', value: '%KUMA_MESH%' }],
                  body: { kvlistValue: { values: [{ key: 'status', value: { stringValue: '%RESPONSE_CODE%' } }] } },
                },
              },
            ],
          },
        },
      ],
    });
  });
  it('reports backends, formats and OpenTelemetry settings', () => {
    expect(
      check(kind, {
        rules: [
          {
            default: {
              backends: [
                { type: 'File', file: { path: 'relative.log', format: { type: 'Plain' } } },
                { type: 'Tcp' },
                { type: 'OpenTelemetry', openTelemetry: { endpoint: 'otel:4317', backendRef: { kind: 'MeshOpenTelemetryBackend', labels: { a: 'b' } } } },
                { type: 'OpenTelemetry', openTelemetry: { endpoint: 'otel:4317', attributes: [{ key: 'otel.name', value: 'x' }] } },
                { type: 'Syslog' },
              ],
            },
          },
          { default: {} },
        ],
      }),
    ).toEqual([
      { field: 'spec.rules[0].default.backends[0].file.format.plain', message: 'must be defined' },
      { field: 'spec.rules[0].default.backends[0].file.path', message: 'file backend requires a valid path' },
      { field: 'spec.rules[0].default.backends[1].tcp', message: 'must be defined' },
      { field: 'spec.rules[0].default.backends[2].openTelemetry', message: 'openTelemetry must have only one type defined: endpoint, backendRef' },
      { field: 'spec.rules[0].default.backends[3].openTelemetry.attributes[0].key', message: "must not use the reserved OpenTelemetry prefix 'otel.'" },
      { field: 'spec.rules[0].default.backends[4].type', message: 'must be one of: Tcp, File, OpenTelemetry' },
      { field: 'spec.rules[1].default.backends', message: 'must be defined' },
    ]);
  });
  it('narrows destinations under a MeshGateway and needs a section', () => {
    const conf = { backends: [{ type: 'File', file: { path: '/tmp/access.log' } }] };
    expect(check(kind, { targetRef: { kind: 'MeshGateway', name: 'gw' }, to: [{ targetRef: svc('backend'), default: conf }] })).toEqual([
      { field: 'spec.to[0].targetRef.kind', message: "value 'MeshService' is not supported" },
    ]);
    expect(check(kind, { targetRef: { kind: 'Mesh' } })).toEqual([{ field: 'spec', message: "at least one of 'from', 'to' or 'rules' has to be defined" }]);
  });
});

describe('MeshTrace', () => {
  const kind = 'MeshTrace';
  it('accepts the docs examples', () => {
    expectValid(kind, {
      targetRef: { kind: 'Mesh' },
      default: {
        tags: [{ name: 'team', literal: 'core' }, { name: 'env', header: { name: 'x-env', default: 'prod' } }],
        sampling: { overall: 80, random: 60, client: '40.5' },
        backends: [{ type: 'Zipkin', zipkin: { url: 'http://jaeger-collector:9411/api/v2/spans', apiVersion: 'httpJson' } }],
      },
    });
    expectValid(kind, { default: { backends: [{ type: 'Datadog', datadog: { url: 'http://127.0.0.1:8126', splitService: true } }] } });
    expectValid(kind, { default: { backends: [{ type: 'OpenTelemetry', openTelemetry: { endpoint: 'otel-collector:4317' } }] } });
  });
  it('reports backends, tags and sampling at their paths', () => {
    expect(
      check(kind, {
        targetRef: { kind: 'MeshHTTPRoute', name: 'r' },
        default: {
          tags: [{ name: 'team', literal: 'core', header: { name: 'x-team' } }, { name: '', literal: 'x' }],
          sampling: { overall: 101, client: 'half' },
          backends: [{ type: 'Datadog', datadog: { url: 'https://127.0.0.1:8126/path' } }],
        },
        to: [],
      }),
    ).toEqual([
      { field: 'spec.targetRef.kind', message: "value 'MeshHTTPRoute' is not supported" },
      { field: 'spec.default.backends[0].datadog.url', message: 'scheme must be http' },
      { field: 'spec.default.backends[0].datadog.url', message: 'path must not be defined' },
      { field: 'spec.default.sampling.overall', message: 'must be between 0 and 100' },
      { field: 'spec.default.sampling.client', message: 'string is not a number' },
      { field: 'spec.default.tags[0]', message: 'tag must have only one type defined: header, literal' },
      { field: 'spec.default.tags[1].name', message: 'must not be empty' },
      { field: 'spec.to', message: 'unknown field "to"' },
    ]);
    const zipkin = { type: 'Zipkin', zipkin: { url: 'http://zipkin:9411' } };
    expect(check(kind, { default: { backends: [zipkin, zipkin] } })).toEqual([{ field: 'spec.default.backends', message: 'must have zero or one backend defined' }]);
    expect(check(kind, { default: {} })).toEqual([{ field: 'spec.default.backends', message: 'must be defined' }]);
    // Kuma: a missing default is an empty one, whose backends must be defined.
    expect(check(kind, {})).toEqual([{ field: 'spec.default.backends', message: 'must be defined' }]);
  });
});

describe('reporting', () => {
  it('reports every violation of a resource at once', () => {
    const r = validateResource({
      kind: 'MeshRetry',
      mesh: 'default',
      name: 'Bad_Name',
      spec: {
        targetRef: { kind: 'MeshGateway', name: 'gw' },
        to: [
          { targetRef: svc('backend'), default: { http: { numRetries: 3 } } },
          { targetRef: { kind: 'Mesh' }, default: { http: { perTryTimeout: 'soon' }, grpc: { numRetries: -2 } } },
          { targetRef: { kind: 'Mesh' }, default: { tcp: { maxConnectAttempt: 1 } }, extra: true },
        ],
      },
    });
    expect(r.ok).toBe(false);
    expect(r.ok ? [] : r.violations.map((v) => v.field)).toEqual([
      'name',
      'spec.to[1].default.conf.http.perTryTimeout',
      'spec.to[1].default.conf.grpc.numRetries',
      'spec.to[2].extra',
      'spec.to[0].targetRef.kind',
    ]);
  });
});

describe('dropUnknownFields (what an API write keeps of a body with unknown fields)', () => {
  it('drops unknown fields at any depth, names them Kuma-style, and leaves a spec that validates', async () => {
    const { dropUnknownFields, descriptorFor, validateSpec } = await import('../../index.js');
    const desc = descriptorFor('MeshTimeout')!;
    const spec = { targetRef: { kind: 'Mesh', colour: 'red' }, to: [{ targetRef: { kind: 'Mesh' }, default: { idleTimoeut: '1m', connectionTimeout: '2s', http: null } }], extra: 1 };
    const out = dropUnknownFields(desc, spec);
    expect(out.dropped.sort()).toEqual(['spec.extra', 'spec.targetRef.colour', 'spec.to[0].default.idleTimoeut']);
    expect(out.spec).toEqual({ targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { connectionTimeout: '2s' } }] });
    expect(validateSpec(desc, out.spec).ok).toBe(true);
    expect(spec.extra).toBe(1); // the input is not changed
  });
  it('leaves other problems for validation', async () => {
    const { dropUnknownFields, descriptorFor } = await import('../../index.js');
    const out = dropUnknownFields(descriptorFor('MeshTimeout')!, { targetRef: { kind: 'Nonsense' }, typo: true });
    expect(out).toEqual({ spec: { targetRef: { kind: 'Nonsense' } }, dropped: ['spec.typo'] });
  });
});
