/**
 * The zone's model of a Dataplane (`dataplane.ts`), built from Dataplanes as Kuma writes them and as the
 * store keeps them (every fixture goes through the Dataplane schema first, `testing.ts`): sidecars with
 * several inbounds, unhealthy and ignored inbounds, gateways, zone-proxy listeners, copies from the global,
 * and Dataplanes that leave every optional field out.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { activeInbounds, buildDataplane, dataplaneOf, healthyInbounds, tagValues, type Dataplane, type Inbound, type ProxyType } from './dataplane.js';
import { stored } from './testing.js';

const dataplane = (networking: Record<string, unknown>, opts: { name?: string; labels?: Record<string, string>; mesh?: string } = {}) =>
  stored('Dataplane', { mesh: opts.mesh ?? 'default', name: opts.name ?? 'web-1', labels: opts.labels ?? {}, spec: { networking } });

/** What `kumactl`/the Kubernetes injector register for a pod with two ports, as this zone stamped it. */
const k8sPod = () =>
  dataplane(
    {
      address: '10.244.0.7',
      inbound: [
        {
          port: 8080,
          tags: {
            'kuma.io/service': 'web_kuma-demo_svc_8080',
            'kuma.io/protocol': 'HTTP',
            'kuma.io/zone': 'zone-1',
            'k8s.kuma.io/namespace': 'kuma-demo',
            'topology.kubernetes.io/region': 'eu-west-1',
            'topology.kubernetes.io/zone': 'eu-west-1a',
          },
          health: { ready: true },
        },
        {
          port: 9090,
          servicePort: 19090,
          serviceAddress: '10.244.0.8',
          address: '10.244.0.9',
          name: 'metrics',
          tags: { 'kuma.io/service': 'web-metrics', 'kuma.io/protocol': 'grpc', 'kuma.io/zone': 'zone-1' },
        },
      ],
      outbound: [
        { port: 10001, tags: { 'kuma.io/service': 'backend' } },
        { address: '10.0.0.5', port: 10002, tags: { 'kuma.io/service': 'db', version: 'v2' } },
        { port: 10003, backendRef: { kind: 'MeshService', name: 'redis', port: 6379 } },
      ],
      transparentProxying: { redirectPortInbound: 15106 },
    },
    { labels: { 'kuma.io/origin': 'zone', 'kuma.io/zone': 'zone-1', 'kuma.io/display-name': 'web-1' } },
  );

describe('the Dataplane model', () => {
  it('reads a Kubernetes-style sidecar: inbounds with their service tags, addresses and ports, outbounds, locality, origin', () => {
    const dp = buildDataplane(k8sPod());
    expect(dp).toMatchObject({ mesh: 'default', name: 'web-1', address: '10.244.0.7', proxyType: 'Sidecar', origin: 'zone', local: true, listeners: [] });
    expect(dp.gateway).toBeUndefined();
    expect(dp.inbounds).toEqual([
      {
        name: '',
        address: '10.244.0.7',
        port: 8080,
        serviceAddress: '127.0.0.1',
        servicePort: 8080,
        tags: expect.objectContaining({ 'kuma.io/service': 'web_kuma-demo_svc_8080', 'k8s.kuma.io/namespace': 'kuma-demo' }),
        service: 'web_kuma-demo_svc_8080',
        protocol: 'http',
        state: 'Ready',
        ignored: false,
        healthy: true,
      },
      {
        name: 'metrics',
        address: '10.244.0.9',
        port: 9090,
        serviceAddress: '10.244.0.8',
        servicePort: 19090,
        tags: { 'kuma.io/service': 'web-metrics', 'kuma.io/protocol': 'grpc', 'kuma.io/zone': 'zone-1' },
        service: 'web-metrics',
        protocol: 'grpc',
        state: 'Ready',
        ignored: false,
        healthy: true,
      },
    ]);
    expect(dp.outbounds).toEqual([
      { address: '127.0.0.1', port: 10001, tags: { 'kuma.io/service': 'backend' }, service: 'backend' },
      { address: '10.0.0.5', port: 10002, tags: { 'kuma.io/service': 'db', version: 'v2' }, service: 'db' },
      { address: '127.0.0.1', port: 10003, tags: {}, service: '', backendRef: { kind: 'MeshService', name: 'redis', port: 6379 } },
    ]);
    // Kuma's default for the port left out.
    expect(dp.transparentProxy).toEqual({ redirectPortInbound: 15106, redirectPortOutbound: 15001 });
    expect(dp.locality).toEqual({ zone: 'zone-1', topology: { 'topology.kubernetes.io/region': 'eu-west-1', 'topology.kubernetes.io/zone': 'eu-west-1a' } });
  });

  it('tells healthy, not-ready and ignored inbounds apart (Kuma GetHealthyInbounds), numeric states included', () => {
    const states: [string, Record<string, unknown>][] = [
      ['plain', {}],
      ['ready', { health: { ready: true } }],
      ['ready-state-0', { health: { ready: true }, state: 0 }],
      ['not-ready', { health: { ready: false } }],
      ['empty-health', { health: {} }],
      ['state-not-ready', { state: 'NotReady' }],
      ['state-1', { state: 1 }],
      ['ignored', { state: 'Ignored' }],
      ['state-2', { state: 2 }],
      ['ready-but-ignored', { health: { ready: true }, state: 'Ignored' }],
    ];
    const dp = buildDataplane(dataplane({ address: '10.0.0.1', inbound: states.map(([service, extra], i) => ({ port: 8000 + i, tags: { 'kuma.io/service': service }, ...extra })) }));
    const row = (i: Inbound) => [i.service, i.state, i.healthy, i.ignored];
    expect(dp.inbounds.map(row)).toEqual([
      ['plain', 'Ready', true, false],
      ['ready', 'Ready', true, false],
      ['ready-state-0', 'Ready', true, false],
      ['not-ready', 'Ready', false, false],
      ['empty-health', 'Ready', false, false],
      ['state-not-ready', 'NotReady', false, false],
      ['state-1', 'NotReady', false, false],
      ['ignored', 'Ignored', false, true],
      ['state-2', 'Ignored', false, true],
      ['ready-but-ignored', 'Ignored', false, true],
    ]);
    expect(healthyInbounds(dp).map((i) => i.service)).toEqual(['plain', 'ready', 'ready-state-0']);
    // Not-ready inbounds are still served (listeners exist), only not announced as endpoints.
    expect(activeInbounds(dp).map((i) => i.service)).toEqual(['plain', 'ready', 'ready-state-0', 'not-ready', 'empty-health', 'state-not-ready', 'state-1']);
  });

  it('gives every optional field its default when a Dataplane leaves them all out', () => {
    const dp = buildDataplane(dataplane({ address: 'web-1.example.com' }));
    expect(dp).toEqual({
      mesh: 'default',
      name: 'web-1',
      labels: {},
      address: 'web-1.example.com',
      inbounds: [],
      outbounds: [],
      proxyType: 'Sidecar',
      listeners: [],
      locality: { topology: {} },
      local: true,
    } satisfies Dataplane);
    // A transparent proxy with no ports set gets both of Kuma's defaults.
    expect(buildDataplane(dataplane({ address: '10.0.0.1', transparentProxying: {} })).transparentProxy).toEqual({ redirectPortInbound: 15006, redirectPortOutbound: 15001 });
    // A protocol the tag does not name, or names unknown to the generator, is TCP.
    const protocols = buildDataplane(dataplane({ address: '10.0.0.1', inbound: [{ port: 1, tags: { 'kuma.io/service': 'a' } }, { port: 2, tags: { 'kuma.io/service': 'b', 'kuma.io/protocol': 'mysql' } }] }));
    expect(protocols.inbounds.map((i) => i.protocol)).toEqual(['tcp', 'tcp']);
  });

  it('models gateways: delegated (the default type) and builtin, located by their tags, without inbounds', () => {
    const delegated = buildDataplane(dataplane({ address: '10.0.0.2', gateway: { tags: { 'kuma.io/service': 'edge', 'kuma.io/zone': 'zone-2' } }, outbound: [{ port: 10001, tags: { 'kuma.io/service': 'web' } }] }));
    expect(delegated.proxyType).toBe('Gateway');
    expect(delegated.gateway).toEqual({ type: 'DELEGATED', tags: { 'kuma.io/service': 'edge', 'kuma.io/zone': 'zone-2' }, service: 'edge' });
    expect(delegated.inbounds).toEqual([]);
    expect(delegated.outbounds.map((o) => o.service)).toEqual(['web']);
    expect(delegated.locality.zone).toBe('zone-2');
    const builtin = buildDataplane(dataplane({ address: '10.0.0.3', gateway: { type: 'BUILTIN', tags: { 'kuma.io/service': 'gw' } } }));
    expect(builtin.gateway?.type).toBe('BUILTIN');
    expect(tagValues(delegated)).toEqual(new Map([['kuma.io/service', new Set(['edge'])], ['kuma.io/zone', new Set(['zone-2'])]]));
  });

  it('models zone-proxy listeners (ingress and egress) on a Dataplane, and proxies with neither', () => {
    const dp = buildDataplane(
      dataplane({
        address: '10.0.0.4',
        listeners: [
          { type: 'ZoneIngress', address: '10.0.0.4', port: 10001, name: 'ingress' },
          { type: 'ZoneEgress', address: '10.0.0.4', port: 10002, state: 'NotReady' },
        ],
      }),
    );
    expect(dp.listeners).toEqual([
      { type: 'ZoneIngress', name: 'ingress', address: '10.0.0.4', port: 10001, ready: true },
      { type: 'ZoneEgress', name: '', address: '10.0.0.4', port: 10002, ready: false },
    ]);
    expect(dp.proxyType).toBe('Sidecar');
    expect(buildDataplane(k8sPod()).listeners).toEqual([]);
  });

  it('tells this zone\'s Dataplanes from copies the global sent, and takes the zone label when no tag names one', () => {
    const copy = buildDataplane(dataplane({ address: '10.0.0.1' }, { labels: { 'kuma.io/origin': 'global', 'kuma.io/zone': 'zone-2' } }));
    expect(copy).toMatchObject({ origin: 'global', local: false, locality: { zone: 'zone-2', topology: {} } });
    const unlabelled = buildDataplane(dataplane({ address: '10.0.0.1' }));
    expect(unlabelled.origin).toBeUndefined();
    expect(unlabelled.local).toBe(true);
  });

  it('is built once per stored object: an unchanged Dataplane keeps its model, a changed one gets a new one', () => {
    const a = k8sPod();
    expect(dataplaneOf(a)).toBe(dataplaneOf(a));
    expect(dataplaneOf(k8sPod())).not.toBe(dataplaneOf(a));
    expect(dataplaneOf(a)).toEqual(buildDataplane(a));
  });

  it('has the types its readers rely on', () => {
    expectTypeOf<Dataplane['proxyType']>().toEqualTypeOf<ProxyType>();
    expectTypeOf<Inbound['state']>().toEqualTypeOf<'Ready' | 'NotReady' | 'Ignored'>();
    expectTypeOf<Dataplane['inbounds'][number]['port']>().toEqualTypeOf<number>();
    expectTypeOf(buildDataplane).parameter(0).toHaveProperty('spec').toHaveProperty('networking').toHaveProperty('inbound');
  });
});
