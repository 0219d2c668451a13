import { describe, it, expect } from 'vitest';
import { validateResource, type Violation } from '../../validate.js';

/** Strips the meta fields a caller removes from a flat Kuma REST body, leaving the spec. */
const META = ['type', 'name', 'mesh', 'labels', 'creationTime', 'modificationTime', 'kri'];
function specOf(body: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).filter(([k]) => !META.includes(k)));
}

const MESH_SCOPED = new Set(['Dataplane', 'DataplaneInsight', 'Secret']);

function validate(kind: string, spec: unknown) {
  return validateResource({ kind, mesh: MESH_SCOPED.has(kind) ? 'default' : undefined, name: 'x', spec });
}

function expectValid(kind: string, spec: unknown) {
  const result = validate(kind, spec);
  expect(result.ok ? [] : result.violations).toEqual([]);
  return result;
}

function violations(kind: string, spec: unknown): Violation[] {
  const result = validate(kind, spec);
  expect(result.ok).toBe(false);
  return result.ok ? [] : result.violations;
}

/** The sorted, de-duplicated field paths of the violations. */
function fields(kind: string, spec: unknown): string[] {
  return [...new Set(violations(kind, spec).map((v) => v.field))].sort();
}

function messageAt(kind: string, spec: unknown, field: string): string[] {
  return violations(kind, spec)
    .filter((v) => v.field === field)
    .map((v) => v.message);
}

// ---------------------------------------------------------------------------------------------------------------------

describe('Mesh', () => {
  const mesh = {
    type: 'Mesh',
    name: 'default',
    creationTime: '2024-01-01T00:00:00Z',
    modificationTime: '2024-01-01T00:00:00Z',
    kri: 'kri_m____default_',
    mtls: {
      enabledBackend: 'ca-1',
      backends: [
        {
          name: 'ca-1',
          type: 'builtin',
          dpCert: { rotation: { expiration: '1d' }, requestTimeout: '10s' },
          conf: { caCert: { RSAbits: 2048, expiration: '10y' } },
        },
      ],
    },
    logging: {
      defaultBackend: 'file',
      backends: [
        { name: 'file', type: 'file', conf: { path: '/tmp/access.log' } },
        { name: 'logstash', type: 'tcp', format: '{"start": "%START_TIME%"}', conf: { address: '127.0.0.1:5000' } },
      ],
    },
    tracing: {
      defaultBackend: 'jaeger',
      backends: [
        { name: 'jaeger', type: 'zipkin', sampling: 100, conf: { url: 'http://jaeger-collector:9411/api/v2/spans' } },
        { name: 'dd', type: 'datadog', sampling: 50.5, conf: { address: '127.0.0.1', port: 8126, splitService: true } },
      ],
    },
    metrics: {
      enabledBackend: 'prometheus-1',
      backends: [
        {
          name: 'prometheus-1',
          type: 'prometheus',
          conf: {
            port: 5670,
            path: '/metrics',
            skipMTLS: false,
            tags: { 'kuma.io/service': 'dataplane-metrics' },
            envoy: { filterRegex: 'http2_act.*', usedOnly: true },
            aggregate: [{ name: 'app', port: 8080, path: '/metrics', enabled: true }],
          },
        },
      ],
    },
    networking: { outbound: { passthrough: false } },
    routing: { localityAwareLoadBalancing: true, zoneEgress: true },
    constraints: {
      dataplaneProxy: {
        requirements: [{ tags: { 'kuma.io/zone': '*' } }],
        restrictions: [{ tags: { 'kuma.io/service': 'legacy', team: 'a/b' } }],
      },
    },
    meshServices: { mode: 'Exclusive' },
    skipCreatingInitialPolicies: ['*'],
  };

  it('accepts a full Mesh as documented by Kuma', () => {
    expectValid('Mesh', specOf(mesh));
  });

  it('accepts an empty Mesh and a provided CA', () => {
    expectValid('Mesh', {});
    expectValid('Mesh', {
      mtls: {
        enabledBackend: 'ca-1',
        backends: [
          {
            name: 'ca-1',
            type: 'provided',
            mode: 'PERMISSIVE',
            conf: { cert: { secret: 'my-cert' }, key: { inline: 'LS0tLS1CRUdJTg==' } },
          },
        ],
      },
    });
    // skipValidation: Kuma does not check a provided CA's config.
    expectValid('Mesh', { mtls: { skipValidation: true, backends: [{ name: 'ca-1', type: 'provided' }] } });
  });

  it('accepts protojson enum numbers and normalises them to names', () => {
    const result = expectValid('Mesh', { meshServices: { mode: 3 } });
    expect(result.ok && result.value.spec).toEqual({ meshServices: { mode: 'Exclusive' } });
  });

  it('requires enabledBackend to name a backend', () => {
    const spec = { mtls: { enabledBackend: 'ca-2', backends: [{ name: 'ca-1', type: 'builtin' }] } };
    expect(fields('Mesh', spec)).toEqual(['mtls.enabledBackend']);
    expect(messageAt('Mesh', spec, 'mtls.enabledBackend')).toEqual(['has to be set to one of the backends in the mesh']);
  });

  it('rejects unknown CA types, bad expirations and a provided CA without cert and key', () => {
    expect(fields('Mesh', { mtls: { backends: [{ name: 'ca-1', type: 'vault' }] } })).toEqual(['mtls.backends[0].type']);
    expect(messageAt('Mesh', { mtls: { backends: [{ name: 'ca-1', type: 'vault' }] } }, 'mtls.backends[0].type')).toEqual([
      'must be one of: builtin, provided',
    ]);
    expect(fields('Mesh', { mtls: { backends: [{ name: 'ca-1', type: 'builtin', dpCert: { rotation: { expiration: '1 day' } } }] } })).toEqual([
      'mtls.dpcert.rotation.expiration',
    ]);
    expect(fields('Mesh', { mtls: { backends: [{ name: 'ca-1', type: 'provided', conf: {} }] } })).toEqual([
      'mtls.backends[0].conf.cert',
      'mtls.backends[0].conf.key',
    ]);
    expect(
      fields('Mesh', { mtls: { backends: [{ name: 'ca-1', type: 'provided', conf: { cert: {}, key: { inline: 'not base64!' } } }] } }),
    ).toEqual(['mtls.backends[0].conf.cert', 'mtls.backends[0].conf.key.inline']);
  });

  it('allows at most one CA backend with unique names', () => {
    const spec = { mtls: { backends: [{ name: 'ca-1', type: 'builtin' }, { name: 'ca-1', type: 'builtin' }] } };
    expect(fields('Mesh', spec)).toEqual(['mtls.backends', 'mtls.backends[1].name']);
    expect(messageAt('Mesh', spec, 'mtls.backends[1].name')).toEqual(['"ca-1" name is already used for another backend']);
  });

  it('requires mTLS when zoneEgress is enabled', () => {
    expect(fields('Mesh', { routing: { zoneEgress: true } })).toEqual(['mtls']);
    expect(messageAt('Mesh', { routing: { zoneEgress: true } }, 'mtls')).toEqual(['has to be set when zoneEgress enabled']);
  });

  it('checks logging, tracing and metrics backends', () => {
    const spec = {
      logging: {
        defaultBackend: 'nope',
        backends: [
          { name: 'tcp', type: 'tcp', conf: { address: 'no-port' } },
          { name: 'file', type: 'file' },
          { name: 'x', type: 'syslog' },
        ],
      },
      tracing: {
        backends: [
          { name: 'z', type: 'zipkin', sampling: 101, conf: { url: 'http://jaeger/api/v2/spans', apiVersion: 'v9' } },
          { name: 'dd', type: 'datadog', conf: { address: 'dd' } },
        ],
      },
      metrics: {
        enabledBackend: 'prom',
        backends: [
          { name: 'prom', type: 'prometheus', conf: { skipMTLS: true, tls: { mode: 'activeMTLSBackend' } } },
          { name: 'other', type: 'statsd' },
        ],
      },
    };
    expect(fields('Mesh', spec)).toEqual([
      'logging.backends[0].config.address',
      'logging.backends[1].config.path',
      'logging.backends[2].type',
      'logging.defaultBackend',
      'metrics.backends[0].conf',
      'metrics.backends[1].type',
      'tracing.backends[0].config.apiVersion',
      'tracing.backends[0].config.url',
      'tracing.backends[0].sampling',
      'tracing.backends[1].config.port',
    ]);
    expect(messageAt('Mesh', spec, 'tracing.backends[0].config.url')).toEqual(['port has to be explicitly specified']);
    expect(messageAt('Mesh', spec, 'logging.backends[2].type')).toEqual(['unknown backend type. Available backends: "tcp", "file"']);
  });

  it('checks constraints and meshServices', () => {
    const spec = {
      constraints: { dataplaneProxy: { requirements: [{ tags: {} }], restrictions: [{ tags: { 'kuma.io/service': 'a b' } }] } },
      meshServices: { mode: 'Sometimes' },
    };
    expect(fields('Mesh', spec)).toEqual([
      'constraints.dataplaneProxy.requirements[0].tags',
      'constraints.dataplaneProxy.restrictions[0].tags["kuma.io/service"]',
      'meshServices.mode',
    ]);
    expect(messageAt('Mesh', spec, 'meshServices.mode')).toEqual(['must be one of: Disabled, Everywhere, ReachableBackends, Exclusive']);
  });

  it('rejects unknown fields', () => {
    expect(violations('Mesh', { mtlss: {} })).toEqual([{ field: 'mtlss', message: 'unknown field "mtlss"' }]);
    expect(violations('Mesh', { routing: { zoneEgres: true } })).toEqual([{ field: 'routing.zoneEgres', message: 'unknown field "zoneEgres"' }]);
  });
});

// ---------------------------------------------------------------------------------------------------------------------

describe('Zone', () => {
  it('accepts Kuma zones', () => {
    expectValid('Zone', specOf({ type: 'Zone', name: 'zone-1', enabled: true }));
    expectValid('Zone', specOf({ type: 'Zone', name: 'zone-1', creationTime: '2024-01-01T00:00:00Z' }));
  });

  it('rejects a non-boolean enabled and unknown fields', () => {
    expect(violations('Zone', { enabled: 'yes' })).toEqual([{ field: 'enabled', message: 'must be a boolean' }]);
    expect(fields('Zone', { enabled: true, address: 'grpcs://x' })).toEqual(['address']);
  });

  it('must not carry a mesh', () => {
    const result = validateResource({ kind: 'Zone', mesh: 'default', name: 'x', spec: {} });
    expect(result.ok ? [] : result.violations.map((v) => v.field)).toEqual(['mesh']);
  });
});

// ---------------------------------------------------------------------------------------------------------------------

describe('ZoneInsight', () => {
  const insight = {
    type: 'ZoneInsight',
    name: 'zone-1',
    subscriptions: [
      {
        id: '1',
        globalInstanceId: 'node-001',
        zoneInstanceId: 'zone-cp-1',
        connectTime: '2018-07-17T16:05:36.995Z',
        disconnectTime: '2018-07-17T17:05:36.995Z',
        status: {
          lastUpdateTime: '2018-07-17T17:00:00Z',
          total: { responsesSent: '22', responsesRejected: '11' },
          stat: { Mesh: { responsesSent: '2', responsesAcknowledged: 1, responsesRejected: '1' } },
        },
        version: {
          kumaCp: {
            version: '2.14.3',
            gitTag: 'v2.14.3',
            gitCommit: '91ce236824a9d875601679aa80c63783fb0e8725',
            buildDate: '2019-08-07T11:26:06Z',
            kumaCpGlobalCompatible: true,
          },
        },
        generation: 7,
        config: '{"mode":"zone"}',
        authTokenProvided: true,
      },
      { id: '2', globalInstanceId: 'node-001', connectTime: '2018-07-17T17:06:00Z', status: {} },
    ],
    healthCheck: { time: '2018-07-17T17:06:10Z' },
    kdsStreams: {
      globalToZone: { globalInstanceId: 'node-001', connectTime: '2018-07-17T17:06:00Z' },
      zoneToGlobal: { globalInstanceId: 'node-001', connectTime: '2018-07-17T17:06:00Z' },
    },
    envoyAdminStreams: { configDumpGlobalInstanceId: 'node-001' },
  };

  it('accepts protojson as Kuma renders it', () => {
    expectValid('ZoneInsight', specOf(insight));
    expectValid('ZoneInsight', {});
  });

  it('rejects bad timestamps, counters and unknown fields', () => {
    const spec = {
      subscriptions: [
        { id: '1', connectTime: 'yesterday', status: { total: { responsesSent: '-1' }, stat: { Mesh: { sent: 1 } } } },
      ],
      healthCheck: { time: 1234 },
    };
    expect(fields('ZoneInsight', spec)).toEqual([
      'healthCheck.time',
      'subscriptions[0].connectTime',
      'subscriptions[0].status.stat.Mesh.sent',
      'subscriptions[0].status.total.responsesSent',
    ]);
    expect(messageAt('ZoneInsight', spec, 'subscriptions[0].status.stat.Mesh.sent')).toEqual(['unknown field "sent"']);
  });
});

// ---------------------------------------------------------------------------------------------------------------------

describe('ZoneIngress', () => {
  const ingress = {
    type: 'ZoneIngress',
    name: 'zone-ingress-1',
    creationTime: '0001-01-01T00:00:00Z',
    modificationTime: '0001-01-01T00:00:00Z',
    kri: 'kri_zi____zone-ingress-1_',
    zone: 'zone-1',
    networking: { address: '10.2.3.4', advertisedAddress: '10.3.4.5', port: 1000, advertisedPort: 1000, admin: { port: 9901 } },
    availableServices: [
      { tags: { 'kuma.io/service': 'backend', 'kuma.io/zone': 'zone-1', version: 'v1' }, instances: 2, mesh: 'default' },
      { tags: { 'kuma.io/service': 'httpbin', 'kuma.io/zone': 'zone-1' }, instances: 1, mesh: 'default', externalService: true },
    ],
  };

  it('accepts a Kuma ZoneIngress', () => {
    expectValid('ZoneIngress', specOf(ingress));
    expectValid('ZoneIngress', { networking: { address: 'ingress.example.com', port: 10001 } });
  });

  it('requires advertisedAddress and advertisedPort together', () => {
    const noPort = { networking: { address: '10.2.3.4', port: 1000, advertisedAddress: '10.3.4.5' } };
    expect(violations('ZoneIngress', noPort)).toEqual([
      { field: 'networking.advertisedPort', message: 'has to be defined with advertisedAddress' },
    ]);
    const noAddress = { networking: { address: '10.2.3.4', port: 1000, advertisedPort: 1000 } };
    expect(violations('ZoneIngress', noAddress)).toEqual([
      { field: 'networking.advertisedAddress', message: 'has to be defined with advertisedPort' },
    ]);
    // Reported together with unrelated errors, as Kuma does.
    expect(violations('ZoneIngress', { networking: { advertisedAddress: '10.3.4.5' } })).toEqual([
      { field: 'networking.port', message: 'port must be in the range [1, 65535]' },
      { field: 'networking.advertisedPort', message: 'has to be defined with advertisedAddress' },
    ]);
  });

  it('requires kuma.io/service in every available service', () => {
    const spec = { ...specOf(ingress), availableServices: [{ tags: { version: 'v1' } }, { instances: 1 }] };
    expect(fields('ZoneIngress', spec)).toEqual(['availableServices[0].tags', 'availableServices[1].tags']);
    expect(messageAt('ZoneIngress', spec, 'availableServices[0].tags')).toEqual(['mandatory tag "kuma.io/service" is missing']);
  });

  it('requires the admin port to differ from the port on loopback or wildcard addresses', () => {
    expect(fields('ZoneIngress', { networking: { address: '0.0.0.0', port: 9901, admin: { port: 9901 } } })).toEqual([
      'networking.address',
      'networking.admin.port',
    ]);
    expect(violations('ZoneIngress', { networking: { address: '127.0.0.1', port: 9901, admin: { port: 9901 } } })).toEqual([
      { field: 'networking.admin.port', message: 'must differ from port' },
    ]);
    // Envoy's admin listens on 127.0.0.1 only, so a routable address may share the port number (as in Kuma).
    expectValid('ZoneIngress', { networking: { address: '10.2.3.4', port: 9901, admin: { port: 9901 } } });
  });

  it('requires networking and a port in range', () => {
    expect(violations('ZoneIngress', {})).toEqual([{ field: 'networking', message: 'must be defined' }]);
    expect(violations('ZoneIngress', { networking: { address: '10.2.3.4' } })).toEqual([
      { field: 'networking.port', message: 'port must be in the range [1, 65535]' },
    ]);
    expect(fields('ZoneIngress', { networking: { address: 'not an address', port: 70000 } })).toEqual([
      'networking.address',
      'networking.port',
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------------------------

const discoverySubscription = {
  id: '1',
  controlPlaneInstanceId: 'node-001',
  connectTime: '2018-07-17T16:05:36.995Z',
  disconnectTime: '2018-07-17T16:06:36.995Z',
  status: {
    lastUpdateTime: '2018-07-17T16:06:00Z',
    total: { responsesSent: '10', responsesAcknowledged: '9', responsesRejected: '1' },
    cds: { responsesSent: '2', responsesAcknowledged: '2' },
    eds: { responsesSent: 3 },
    lds: {},
    rds: {},
  },
  version: {
    kumaDp: {
      version: '1.0.0',
      gitTag: 'v1.0.0',
      gitCommit: '91ce236824a9d875601679aa80c63783fb0e8725',
      buildDate: '2019-08-07T11:26:06Z',
      kumaCpCompatible: true,
    },
    envoy: { version: '1.16.0', build: 'hash/1.16.0/RELEASE', kumaDpCompatible: true },
    dependencies: { coredns: '1.8.3' },
  },
  generation: 3,
};

describe('ZoneIngressInsight', () => {
  it('accepts Kuma subscriptions', () => {
    expectValid(
      'ZoneIngressInsight',
      specOf({ type: 'ZoneIngressInsight', name: 'zone-ingress-1', subscriptions: [discoverySubscription], metadata: { a: 1 } }),
    );
  });

  it('rejects malformed subscriptions', () => {
    const spec = { subscriptions: [{ ...discoverySubscription, connectTime: '2018-07-17 16:05', status: { xds: {} } }] };
    expect(fields('ZoneIngressInsight', spec)).toEqual(['subscriptions[0].connectTime', 'subscriptions[0].status.xds']);
  });
});

// ---------------------------------------------------------------------------------------------------------------------

describe('ZoneEgress', () => {
  it('accepts a Kuma ZoneEgress', () => {
    expectValid(
      'ZoneEgress',
      specOf({ type: 'ZoneEgress', name: 'zoneegress-1', zone: 'zone-1', networking: { address: '192.168.0.1', port: 10002, admin: { port: 9902 } } }),
    );
  });

  it('checks the port, the address and the admin port', () => {
    expect(fields('ZoneEgress', { networking: { address: '192.168.0.1', port: 70000 } })).toEqual(['networking.port']);
    expect(violations('ZoneEgress', { networking: { address: '::', port: 10002, admin: { port: 10002 } } })).toEqual([
      { field: 'networking.admin.port', message: 'must differ from port' },
      { field: 'networking.address', message: 'must not be 0.0.0.0 or ::' },
    ]);
    expect(violations('ZoneEgress', { networking: { port: 10002 }, availableServices: [] })).toEqual([
      { field: 'availableServices', message: 'unknown field "availableServices"' },
    ]);
  });
});

describe('ZoneEgressInsight', () => {
  it('accepts Kuma subscriptions', () => {
    expectValid('ZoneEgressInsight', { subscriptions: [discoverySubscription, { ...discoverySubscription, id: '2', disconnectTime: undefined }] });
  });

  it('rejects bad generations and counters', () => {
    const spec = { subscriptions: [{ ...discoverySubscription, generation: -1, status: { total: { responsesSent: 1.5 } } }] };
    expect(fields('ZoneEgressInsight', spec)).toEqual(['subscriptions[0].generation', 'subscriptions[0].status.total.responsesSent']);
  });
});

// ---------------------------------------------------------------------------------------------------------------------

describe('Dataplane', () => {
  const dataplane = {
    type: 'Dataplane',
    mesh: 'default',
    name: 'backend-1',
    creationTime: '2024-01-01T00:00:00Z',
    modificationTime: '2024-01-01T00:00:00Z',
    kri: 'kri_dp_default_zone-1__backend-1_',
    networking: {
      address: '192.168.0.2',
      advertisedAddress: '10.0.0.2',
      inbound: [
        {
          port: 11011,
          servicePort: 11012,
          serviceAddress: '127.0.0.1',
          tags: { 'kuma.io/service': 'backend', 'kuma.io/protocol': 'http', 'kuma.io/zone': 'zone-1', version: '2.0', env: 'production' },
          health: { ready: true },
          serviceProbe: { interval: '10s', timeout: '2s', unhealthyThreshold: 3, healthyThreshold: 1, tcp: {} },
          state: 'Ready',
          name: 'http',
        },
      ],
      outbound: [
        { port: 33033, tags: { 'kuma.io/service': 'database' } },
        { address: '127.0.0.1', port: 33034, backendRef: { kind: 'MeshService', name: 'redis', port: 6379 } },
      ],
      transparentProxying: {
        redirectPortInbound: 15006,
        redirectPortOutbound: 15001,
        reachableServices: ['redis', 'database'],
        ipFamilyMode: 'DualStack',
        reachableBackends: { refs: [{ kind: 'MeshService', name: 'redis' }, { kind: 'MeshExternalService', labels: { team: 'a' } }] },
      },
      admin: { port: 9901 },
    },
    metrics: { type: 'prometheus', conf: { port: 5670, path: '/metrics', tags: { 'kuma.io/service': 'backend' } } },
    probes: { port: 9000, endpoints: [{ inboundPort: 8080, inboundPath: '/healthz', path: '/8080/healthz' }] },
  };

  it('accepts a Kuma Dataplane', () => {
    expectValid('Dataplane', specOf(dataplane));
  });

  it('accepts gateways and zero inbounds', () => {
    expectValid('Dataplane', { networking: { address: '10.0.0.1', gateway: { tags: { 'kuma.io/service': 'kong' } }, outbound: [] } });
    expectValid('Dataplane', { networking: { address: '10.0.0.1', gateway: { type: 'BUILTIN', tags: { 'kuma.io/service': 'edge' } } } });
    expectValid('Dataplane', { networking: { address: 'backend.local', transparentProxying: { redirectPortInbound: 15006 } } });
  });

  it('normalises protojson enum numbers', () => {
    const result = expectValid('Dataplane', {
      networking: { address: '10.0.0.1', inbound: [{ port: 8080, tags: { 'kuma.io/service': 'web' }, state: 1 }] },
    });
    expect(result.ok && result.value.spec).toEqual({
      networking: { address: '10.0.0.1', inbound: [{ port: 8080, tags: { 'kuma.io/service': 'web' }, state: 'NotReady' }] },
    });
  });

  it('requires kuma.io/service on every inbound', () => {
    const spec = { networking: { address: '192.168.0.2', inbound: [{ port: 11011, tags: { version: 'v1' } }] } };
    expect(violations('Dataplane', spec)).toEqual([{ field: 'networking.inbound[0].tags["kuma.io/service"]', message: 'tag has to exist' }]);
    // Kuma 2.14 accepts tag-less inbounds (inboundTagsDisabled); Ursa does not: such an instance would be invisible.
    const missing = { field: 'networking.inbound[0].tags', message: 'mandatory tag "kuma.io/service" is missing' };
    expect(violations('Dataplane', { networking: { address: '10.0.0.1', inbound: [{ port: 8080 }] } })).toEqual([missing]);
    expect(violations('Dataplane', { networking: { address: '10.0.0.1', inbound: [{ port: 8080, tags: {} }] } })).toEqual([missing]);
  });

  it('requires networking and its address', () => {
    expect(violations('Dataplane', {})).toEqual([{ field: 'networking', message: 'must be defined' }]);
    expect(violations('Dataplane', { networking: { inbound: [{ port: 1, tags: { 'kuma.io/service': 'a' } }] } })).toEqual([
      { field: 'networking.address', message: "address can't be empty" },
    ]);
    expect(messageAt('Dataplane', { networking: { address: '0.0.0.0' } }, 'networking.address')).toEqual(['must not be 0.0.0.0 or ::']);
  });

  it('checks inbound ports, tags, protocol and addresses', () => {
    const spec = {
      networking: {
        address: '192.168.0.2',
        inbound: [
          { servicePort: 70000, tags: { 'kuma.io/service': 'my service' } },
          { port: 8080, tags: { 'kuma.io/service': 'web', 'kuma.io/protocol': 'smtp', env: '' }, protocol: 'ftp' },
          { port: 8081, serviceAddress: '192.168.0.2', tags: { 'kuma.io/service': 'web' } },
          { port: 8082, address: 'localhost', tags: { 'kuma.io/service': 'web' }, serviceProbe: { interval: '0s' } },
        ],
      },
    };
    expect(fields('Dataplane', spec)).toEqual([
      'networking.inbound[0].port',
      'networking.inbound[0].servicePort',
      'networking.inbound[0].tags["kuma.io/service"]',
      'networking.inbound[1].protocol',
      'networking.inbound[1].tags.env',
      'networking.inbound[1].tags["kuma.io/protocol"]',
      'networking.inbound[2].serviceAddress',
      'networking.inbound[3].address',
      'networking.inbound[3].serviceProbe.interval',
    ]);
    expect(messageAt('Dataplane', spec, 'networking.inbound[0].tags["kuma.io/service"]')).toEqual([
      'tag value must consist of alphanumeric characters, dots, dashes and underscores',
    ]);
    expect(messageAt('Dataplane', spec, 'networking.inbound[1].tags["kuma.io/protocol"]')).toEqual([
      'tag "kuma.io/protocol" has an invalid value "smtp". Allowed values: grpc, http, http2, kafka, tcp',
    ]);
    expect(messageAt('Dataplane', spec, 'networking.inbound[1].tags.env')).toEqual([
      'tag value must be non-empty',
    ]);
  });

  it('reports several violations at once', () => {
    const spec = {
      networking: {
        address: '192.168.0.2',
        inbound: [
          { port: 8080, tags: { version: 'v1' } },
          { port: 0, tags: { 'kuma.io/service': 'web' } },
        ],
        outbound: [{ port: 33033 }, { port: 33034, tags: { 'kuma.io/service': 'db' }, backendRef: { kind: 'Service', port: 1 } }],
        admin: { port: 9901 },
      },
      probes: { port: 9000, endpoints: [{ inboundPort: 8080, inboundPath: 'healthz', path: '/p' }] },
    };
    expect(violations('Dataplane', spec)).toEqual(
      expect.arrayContaining([
        { field: 'networking.inbound[0].tags["kuma.io/service"]', message: 'tag has to exist' },
        { field: 'networking.inbound[1].port', message: 'port must be in the range [1, 65535]' },
        { field: 'networking.outbound[0].tags', message: 'mandatory tag "kuma.io/service" is missing' },
        { field: 'networking.outbound[1].backendRef.kind', message: 'invalid value. Available values are: MeshExternalService,MeshMultiZoneService,MeshService' },
        { field: 'networking.outbound[1].backendRef', message: "either 'name' or 'labels' should be specified" },
        { field: 'networking.outbound[1].backendRef', message: 'both backendRef and tags/service cannot be defined' },
        { field: 'probes.endpoints[0].inboundPath', message: 'should be a valid URL Path' },
      ]),
    );
    expect(fields('Dataplane', spec)).toHaveLength(6);
  });

  it('checks the admin port against inbounds and outbounds on loopback', () => {
    const spec = {
      networking: {
        address: '192.168.0.2',
        inbound: [{ port: 8080, servicePort: 9901, serviceAddress: '127.0.0.1', tags: { 'kuma.io/service': 'web' } }],
        outbound: [{ port: 9902, tags: { 'kuma.io/service': 'db' } }],
        admin: { port: 9901 },
      },
    };
    // The application listens on 127.0.0.1:9901, where Envoy's admin would listen too.
    expect(messageAt('Dataplane', spec, 'networking.admin.port')).toEqual(['must differ from inbound']);
    // Outbounds listen on 127.0.0.1 unless they say otherwise.
    spec.networking.admin.port = 9902;
    expect(messageAt('Dataplane', spec, 'networking.admin.port')).toEqual(['must differ from outbound']);
    // The inbound listener itself binds the routable address, so its port may equal the admin port.
    spec.networking.admin.port = 8080;
    expectValid('Dataplane', spec);
  });

  it('checks gateway rules', () => {
    const builtin = {
      networking: {
        address: '10.0.0.1',
        gateway: { type: 'BUILTIN', tags: { 'kuma.io/service': 'edge', 'kuma.io/protocol': 'http' } },
        inbound: [{ port: 8080, tags: { 'kuma.io/service': 'web' } }],
        outbound: [{ port: 9000, tags: { 'kuma.io/service': 'db' } }],
      },
      probes: { port: 9000 },
    };
    expect(fields('Dataplane', builtin)).toEqual([
      'networking.gateway.tags["kuma.io/protocol"]',
      'networking.inbound',
      'networking.outbound',
      'probes',
    ]);
    expect(messageAt('Dataplane', builtin, 'networking.inbound')).toEqual(['inbound cannot be defined for builtin gateways']);
    const delegated = {
      networking: { address: '10.0.0.1', gateway: { tags: { team: 'edge' } }, inbound: [{ port: 8080, tags: { 'kuma.io/service': 'web' } }] },
    };
    expect(violations('Dataplane', delegated)).toEqual([
      { field: 'networking.gateway.tags', message: 'mandatory tag "kuma.io/service" is missing' },
      { field: 'networking.inbound', message: 'inbound cannot be defined for delegated gateways' },
    ]);
    expect(messageAt('Dataplane', { networking: { address: '10.0.0.1', gateway: { type: 'EGRESS' } } }, 'networking.gateway.type')).toEqual([
      'must be one of: DELEGATED, BUILTIN',
    ]);
  });

  it('checks zone-proxy listeners', () => {
    const spec = {
      networking: {
        address: '10.0.0.1',
        inbound: [{ port: 8080, name: 'http', tags: { 'kuma.io/service': 'web' } }],
        listeners: [
          { type: 'ZoneIngress', address: '10.0.0.1', port: 10001, name: 'ingress' },
          { type: 'ZoneEgress', address: '10.0.0.1', port: 10001, name: 'http' },
          { address: '10.0.0.1', port: 8080 },
        ],
      },
    };
    expect(violations('Dataplane', spec)).toEqual([
      { field: 'networking.listeners[1].name', message: 'name "http" must be unique across inbounds and listeners' },
      { field: 'networking.listeners[1]', message: 'address:port 10.0.0.1:10001 is used by listeners of different types' },
      { field: 'networking.listeners[2].type', message: 'type must be ZoneIngress or ZoneEgress' },
      { field: 'networking.listeners[2]', message: 'address:port 10.0.0.1:8080 collides with an inbound listener' },
    ]);
  });

  it('checks metrics and reachable backends, and rejects unknown fields', () => {
    const spec = {
      networking: {
        address: '10.0.0.1',
        transparentProxying: { reachableBackends: { refs: [{ kind: 'MeshService', namespace: 'kuma-demo' }, { kind: 'Service', name: 'Redis' }] } },
        inbound: [{ port: 8080, tags: { 'kuma.io/service': 'web' }, healthy: true }],
      },
      metrics: { type: 'statsd' },
    };
    expect(fields('Dataplane', spec)).toEqual([
      'metrics.type',
      'networking.inbound[0].healthy',
      'networking.transparentProxying.reachableBackends.refs[0].name',
      'networking.transparentProxying.reachableBackends.refs[1].kind',
      'networking.transparentProxying.reachableBackends.refs[1].name',
    ]);
    expect(messageAt('Dataplane', spec, 'networking.inbound[0].healthy')).toEqual(['unknown field "healthy"']);
  });
});

// ---------------------------------------------------------------------------------------------------------------------

describe('DataplaneInsight', () => {
  const insight = {
    type: 'DataplaneInsight',
    mesh: 'default',
    name: 'backend-1',
    subscriptions: [discoverySubscription],
    mTLS: {
      certificateExpirationTime: '2020-05-08T08:28:22Z',
      lastCertificateRegeneration: '2019-07-16T19:48:08Z',
      certificateRegenerations: 10,
      issuedBackend: 'ca-1',
      supportedBackends: ['ca-1', 'ca-2'],
    },
    metadata: { features: ['feature-tproxy'] },
    openTelemetry: {
      backends: [{ name: 'otel', traces: { enabled: true, state: 'Ready' }, metrics: { enabled: false, blockedReasons: ['EnvDisallowed'] } }],
    },
  };

  it('accepts a Kuma DataplaneInsight', () => {
    expectValid('DataplaneInsight', specOf(insight));
  });

  it('rejects malformed mTLS insights and unknown fields', () => {
    const spec = { mTLS: { certificateRegenerations: -1, certificateExpirationTime: { seconds: 1 }, issuer: 'x' } };
    expect(fields('DataplaneInsight', spec)).toEqual(['mTLS.certificateExpirationTime', 'mTLS.certificateRegenerations', 'mTLS.issuer']);
  });

  it('needs a mesh', () => {
    const result = validateResource({ kind: 'DataplaneInsight', name: 'x', spec: {} });
    expect(result.ok ? [] : result.violations.map((v) => v.field)).toEqual(['mesh']);
  });
});

// ---------------------------------------------------------------------------------------------------------------------

describe('Secret', () => {
  it('accepts base64 data', () => {
    expectValid('Secret', specOf({ type: 'Secret', mesh: 'default', name: 'sec-1', data: 'dGVzdAo=' }));
    expectValid('Secret', { data: 'c2VjcmV0' });
    expectValid('Secret', { data: 'c2VjcmV0LXZhbHVl_-w' }); // URL-safe, unpadded
  });

  it('rejects non-base64 data, missing data and unknown fields', () => {
    expect(violations('Secret', { data: 'not base64!' })).toEqual([{ field: 'data', message: 'must be a valid base64 string' }]);
    expect(violations('Secret', { data: 'abcde' })).toEqual([{ field: 'data', message: 'must be a valid base64 string' }]);
    expect(violations('Secret', {})).toEqual([{ field: 'data', message: 'must be defined' }]);
    expect(violations('Secret', { data: '' })).toEqual([{ field: 'data', message: 'cannot be empty' }]);
    expect(violations('Secret', { data: 'dGVzdAo=', value: 'x' })).toEqual([{ field: 'value', message: 'unknown field "value"' }]);
  });
});

describe('GlobalSecret', () => {
  it('accepts base64 data', () => {
    expectValid('GlobalSecret', specOf({ type: 'GlobalSecret', name: 'inter-cp-ca', data: 'LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==' }));
  });

  it('rejects non-base64 data', () => {
    expect(violations('GlobalSecret', { data: 'a=b=' })).toEqual([{ field: 'data', message: 'must be a valid base64 string' }]);
    expect(violations('GlobalSecret', { data: 42 })).toEqual([{ field: 'data', message: 'must be a base64 string' }]);
  });
});
