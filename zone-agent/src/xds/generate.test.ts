import { describe, expect, it } from 'vitest';
import { Cluster_DiscoveryType } from '@ursa/proto/gen/envoy/config/cluster/v3/cluster.js';
import { HttpConnectionManager } from '@ursa/proto/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import type { DataplaneResource } from '../model/dataplane.js';
import type { ZoneIngressResource } from '../model/resources.js';
import { stored } from '../model/testing.js';
import { parseProxyId } from './component.js';
import { meshEndpoints } from './generate/endpoints.js';
import { proxylessResources } from './generate/proxyless.js';
import { Snapshot } from './snapshot.js';
import { HCM_TYPE_URL, ROUTER_TYPE_URL } from './type-urls.js';

const dp = (name: string, address: string, inbounds: Record<string, unknown>[], opts: { mesh?: string; labels?: Record<string, string> } = {}): DataplaneResource =>
  stored('Dataplane', {
    mesh: opts.mesh ?? 'default',
    name,
    labels: opts.labels ?? {},
    spec: { networking: { address, inbound: inbounds } },
  });
const inbound = (service: string, port: number, extra: Record<string, unknown> = {}) => ({ port, tags: { 'kuma.io/service': service }, ...extra });
const ingress = (zone: string, networking: Record<string, unknown>, available: { mesh?: string; service: string; instances: number }[], local = false): ZoneIngressResource =>
  stored('ZoneIngress', {
    mesh: '',
    name: `${zone}-ingress`,
    labels: local ? {} : { 'kuma.io/origin': 'global' },
    spec: { zone, networking, availableServices: available.map((a) => ({ mesh: a.mesh ?? 'default', tags: { 'kuma.io/service': a.service, 'kuma.io/zone': zone }, instances: a.instances })) },
  });

describe('meshEndpoints', () => {
  const dataplanes = [
    dp('web-2', '10.0.0.2', [inbound('web', 8080)]),
    dp('web-1', '10.0.0.1', [inbound('web', 8080), inbound('admin', 9000, { state: 'Ignored' })]),
    dp('web-3', '10.0.0.3', [inbound('web', 8080, { health: { ready: false } })]),
    dp('api-1', '10.0.0.4', [inbound('api', 7000, { address: '10.9.9.9' })]),
    dp('other-mesh', '10.0.0.5', [inbound('web', 8080)], { mesh: 'other' }),
    dp('synced', '10.0.0.6', [inbound('web', 8080)], { labels: { 'kuma.io/origin': 'global' } }),
  ];
  const zoneIngresses = [
    ingress('z2', { address: '192.168.0.2', port: 10001, advertisedAddress: '1.2.3.4', advertisedPort: 443 }, [{ service: 'web', instances: 3 }, { service: 'api', instances: 1, mesh: 'other' }]),
    ingress('z3', { address: '192.168.0.3', port: 10001 }, [{ service: 'web', instances: 2 }, { service: 'remote-only', instances: 5 }]),
    ingress('z1', { address: '192.168.0.1', port: 10001 }, [{ service: 'web', instances: 99 }]),
    ingress('z4', { address: '192.168.0.4', port: 10001 }, [{ service: 'web', instances: 7 }], true),
  ];

  it('takes healthy local inbounds and remote ingresses, weighted by instances, sorted', () => {
    const out = meshEndpoints({ mesh: 'default', zone: 'z1', dataplanes, zoneIngresses });
    expect([...out.keys()]).toEqual(['api', 'remote-only', 'web']);
    expect(out.get('web')!.zones).toEqual([
      { zone: 'z1', weight: 2, endpoints: [{ address: '10.0.0.1', port: 8080, weight: 1 }, { address: '10.0.0.2', port: 8080, weight: 1 }] },
      { zone: 'z2', weight: 3, endpoints: [{ address: '1.2.3.4', port: 443, weight: 3 }] },
      { zone: 'z3', weight: 2, endpoints: [{ address: '192.168.0.3', port: 10001, weight: 2 }] },
    ]);
    expect(out.get('api')!.zones).toEqual([{ zone: 'z1', weight: 1, endpoints: [{ address: '10.9.9.9', port: 7000, weight: 1 }] }]);
    expect(out.get('remote-only')!.zones).toEqual([{ zone: 'z3', weight: 5, endpoints: [{ address: '192.168.0.3', port: 10001, weight: 5 }] }]);
  });

  it('does not depend on input order', () => {
    const a = meshEndpoints({ mesh: 'default', zone: 'z1', dataplanes, zoneIngresses });
    const b = meshEndpoints({ mesh: 'default', zone: 'z1', dataplanes: [...dataplanes].reverse(), zoneIngresses: [...zoneIngresses].reverse() });
    expect(Snapshot.build(proxylessResources(a)).sameAs(Snapshot.build(proxylessResources(b)))).toBe(true);
  });
});

describe('proxylessResources', () => {
  const services = meshEndpoints({
    mesh: 'default',
    zone: 'z1',
    dataplanes: [dp('echo-1', '127.0.0.1', [inbound('echo', 5001)]), dp('echo-2', '127.0.0.1', [inbound('echo', 5002)])],
    zoneIngresses: [ingress('z2', { address: '10.1.1.1', port: 10001 }, [{ service: 'echo', instances: 4 }])],
  });
  const r = proxylessResources(services);

  it('gives each service an api_listener with an HttpConnectionManager routing over RDS', () => {
    expect(r.listeners.map((l) => l.name)).toEqual(['echo']);
    const any = r.listeners[0]!.apiListener!.apiListener!;
    expect(any.typeUrl).toBe(HCM_TYPE_URL);
    const hcm = HttpConnectionManager.decode(any.value);
    expect(hcm.httpFilters.map((f) => (f.configType?.$case === 'typedConfig' ? f.configType.value.typeUrl : ''))).toEqual([ROUTER_TYPE_URL]);
    expect(hcm.routeSpecifier?.$case === 'rds' && hcm.routeSpecifier.value.routeConfigName).toBe('echo');
    expect(hcm.routeSpecifier?.$case === 'rds' && hcm.routeSpecifier.value.configSource?.configSourceSpecifier?.$case).toBe('ads');
    const route = r.routes[0]!.virtualHosts[0]!.routes[0]!;
    expect(route.action?.$case === 'route' && route.action.value.clusterSpecifier).toEqual({ $case: 'cluster', value: 'echo' });
  });

  it('gives an EDS cluster and weighted localities', () => {
    const c = r.clusters[0]!;
    expect(c.clusterDiscoveryType).toEqual({ $case: 'type', value: Cluster_DiscoveryType.EDS });
    expect(c.edsClusterConfig?.edsConfig?.configSourceSpecifier?.$case).toBe('ads');
    const cla = r.endpoints[0]!;
    expect(cla.clusterName).toBe('echo');
    expect(cla.endpoints.map((l) => [l.locality?.zone, l.loadBalancingWeight, l.priority, l.lbEndpoints.length])).toEqual([
      ['z1', 2, 0, 2],
      ['z2', 4, 0, 1],
    ]);
    const first = cla.endpoints[0]!.lbEndpoints[0]!.hostIdentifier;
    expect(first?.$case === 'endpoint' && first.value.address?.address).toEqual({ $case: 'socketAddress', value: expect.objectContaining({ address: '127.0.0.1', portSpecifier: { $case: 'portValue', value: 5001 } }) });
  });
});

describe('parseProxyId', () => {
  it('splits <mesh>.<name> at the first dot', () => {
    expect(parseProxyId('default.backend-1.kuma-demo')).toEqual({ mesh: 'default', name: 'backend-1.kuma-demo' });
    expect(parseProxyId('nodot')).toBeUndefined();
    expect(parseProxyId('.x')).toBeUndefined();
    expect(parseProxyId('x.')).toBeUndefined();
  });
});
