/**
 * MeshFaultInjection, MeshRateLimit, MeshAccessLog and MeshTrace, and DNS in the proxy, from a real zone
 * agent process (standalone, its own embedded database, DNS on so services have VIPs) to a scripted
 * incremental ADS client that introduces itself as Envoy does (kuma-dp's node metadata `workdir` included):
 * - the four policies, written on the zone API, turn up in the sidecar's listeners and clusters as Kuma
 *   builds them (fault and rate limit filters on its HTTP inbound, the TCP connection limit on its TCP
 *   inbound, access loggers and the tracer on inbound and outbound listeners, the collectors' clusters),
 *   every resource valid protobuf for Envoy's types (binary and JSON round trips), and `_policies` shows them;
 * - the sidecar's `_kuma:dynamicconfig` listener carries its mesh's VIP table at `/dns` for kuma-dp's
 *   embedded DNS server: the names and VIPs the agent's own resolver answers, updated when a service appears.
 */
import { Resolver } from 'node:dns/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Node } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import { AggregatedDiscoveryServiceClient, CLUSTER_TYPE_URL as CDS, LISTENER_TYPE_URL as LDS } from '@ursa/proto/xds';
import { call } from '@ursa/test-support/api.js';
import { removeDirs } from '@ursa/test-support/cluster.js';
import { DeltaClient } from '@ursa/test-support/delta-ads.js';
import { cleanEnv, freePort, getJson, start, waitFor, type Child } from '@ursa/test-support/process.js';
import { envoyJson, roundTripProblems } from '@ursa/zone-agent';

const ZONE_BIN = new URL('../zone-agent/bin/zone-agent.js', import.meta.url).pathname;
const tp = { redirectPortInbound: 15006, redirectPortOutbound: 15001 };
const WORKDIR = '/tmp/kuma-dp-web-1';

type Json = Record<string, any>;
/** A resource as Envoy JSON (nested typed configs decoded). */
const json = (typeUrl: string, r: { value: Buffer } | undefined): Json => envoyJson(typeUrl, r!.value) as Json;
const hcmOf = (listener: Json): Json => listener.filterChains[0].filters.find((f: Json) => f.name === 'envoy.filters.network.http_connection_manager').typedConfig;

describe('zone agent xDS: fault injection, rate limit, access log, trace and DNS in the proxy', () => {
  let agent: Child | undefined;
  let dataDir: string;
  let url: string;
  let dnsPort: number;
  let ads: AggregatedDiscoveryServiceClient;
  let web: DeltaClient;

  const put = async (path: string, body: Json) => {
    const r = await call(url, 'PUT', path, { body });
    expect(r.status, `${path}: ${JSON.stringify(r.body)}`).toBeLessThan(300);
  };
  const until = <T>(what: string, f: () => T | undefined, ms = 15_000) => waitFor(what, async () => f(), ms, agent);
  const dataplane = (name: string, address: string, inbound: Json[]) => ({ type: 'Dataplane', mesh: 'default', name, networking: { address, inbound, transparentProxying: tp } });
  /** The body kuma-dp's embedded DNS server reads. */
  const dnsBody = () => {
    const l = web.get(LDS).get('_kuma:dynamicconfig');
    if (!l) return undefined;
    const routes = hcmOf(json(LDS, l)).routeConfig.virtualHosts[0].routes as Json[];
    return JSON.parse(routes.find((r) => r.name === '_kuma:dynamicconfig:/dns')!.directResponse.body.inlineString) as { records: { name: string; ips: string[] }[]; ttl: number };
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'ursa-xds-telemetry-'));
    const apiPort = await freePort();
    const xdsPort = await freePort();
    dnsPort = await freePort();
    agent = start(process.execPath, [ZONE_BIN, '--zone', 'zone-1', '--data-dir', dataDir, '--api-port', String(apiPort), '--xds-port', String(xdsPort), '--dns-port', String(dnsPort), '--dns-upstream', '127.0.0.1:9', '--xds-status-flush-ms', '300'], { env: cleanEnv() });
    url = `http://127.0.0.1:${apiPort}`;
    await waitFor('zone agent GET /ready', () => getJson(`${url}/ready`), 30_000, agent);
    await waitFor('xds server up', async () => (agent!.output().includes('.xds\tADS (') ? true : undefined), 10_000, agent);
    await put('/meshes/default', { type: 'Mesh', name: 'default' });
    await put('/meshes/default/dataplanes/web-1', dataplane('web-1', '127.0.0.11', [{ port: 8080, tags: { 'kuma.io/service': 'web', 'kuma.io/protocol': 'http' } }, { port: 9090, tags: { 'kuma.io/service': 'web-admin' } }]));
    await put('/meshes/default/dataplanes/api-1', dataplane('api-1', '127.0.0.21', [{ port: 8080, tags: { 'kuma.io/service': 'api', 'kuma.io/protocol': 'http' } }]));
    const self = { kind: 'Dataplane', name: 'web-1' };
    await put('/meshes/default/meshfaultinjections/faults', {
      type: 'MeshFaultInjection', mesh: 'default', name: 'faults',
      spec: { targetRef: self, from: [{ targetRef: { kind: 'Mesh' }, default: { http: [{ abort: { httpStatus: 503, percentage: 10 }, delay: { value: '2s', percentage: '12.5' } }] } }] },
    });
    await put('/meshes/default/meshratelimits/limits', {
      type: 'MeshRateLimit', mesh: 'default', name: 'limits',
      spec: { targetRef: self, rules: [{ default: { local: { http: { requestRate: { num: 50, interval: '1s' }, onRateLimit: { status: 429 } }, tcp: { connectionRate: { num: 10, interval: '1s' } } } } }] },
    });
    await put('/meshes/default/meshaccesslogs/logs', {
      type: 'MeshAccessLog', mesh: 'default', name: 'logs',
      spec: {
        targetRef: self,
        from: [{ targetRef: { kind: 'Mesh' }, default: { backends: [{ type: 'File', file: { path: '/var/log/inbound.log' } }] } }],
        to: [{ targetRef: { kind: 'Mesh' }, default: { backends: [{ type: 'Tcp', tcp: { address: 'logstash:5000' } }, { type: 'OpenTelemetry', openTelemetry: { endpoint: 'otel-collector:4317' } }] } }],
      },
    });
    await put('/meshes/default/meshtraces/trace', {
      type: 'MeshTrace', mesh: 'default', name: 'trace',
      spec: { targetRef: self, default: { backends: [{ type: 'Zipkin', zipkin: { url: 'http://zipkin.observability:9411/api/v2/spans' } }], sampling: { overall: 80 } } },
    });
    ads = new AggregatedDiscoveryServiceClient(`127.0.0.1:${xdsPort}`, grpc.credentials.createInsecure());
    const token = await call(url, 'POST', '/tokens/dataplane', { body: { mesh: 'default', name: 'web-1', validFor: '1h' } });
    expect(token.status).toBe(201);
    web = new DeltaClient(ads, Node.fromPartial({ id: 'default.web-1', userAgentName: 'envoy', metadata: { workdir: WORKDIR } }), token.body.token as string);
    web.subscribe(CDS);
    web.subscribe(LDS);
  }, 90_000);

  afterAll(async () => {
    web?.close();
    ads?.close();
    await agent?.stop();
    if (dataDir) await removeDirs([dataDir]);
  });

  it('applies the four policies to the sidecar as Kuma does, as valid Envoy protobuf', async () => {
    const resolver = new Resolver();
    resolver.setServers([`127.0.0.1:${dnsPort}`]);
    const [apiVip] = await waitFor('api.mesh resolves', () => resolver.resolve4('api.mesh').catch(() => undefined), 15_000, agent);
    const listeners = await until('inbound and VIP listeners', () => (web.get(LDS).has('inbound:127.0.0.11:8080') && web.get(LDS).has(`outbound:${apiVip}:8080`) ? web.get(LDS) : undefined));
    const clusters = await until('collector clusters', () => (web.get(CDS).has('meshtrace:zipkin') ? web.get(CDS) : undefined));
    for (const [type, set] of [[LDS, listeners], [CDS, clusters]] as const) {
      for (const [name, r] of set) expect(roundTripProblems(type, r.value), `${name}`).toEqual([]);
    }

    // HTTP inbound: fault and rate limit filters before the router, the limit on the route, the file log, the tracer.
    const inbound = hcmOf(json(LDS, listeners.get('inbound:127.0.0.11:8080')));
    expect(inbound.httpFilters.map((f: Json) => f.name)).toEqual(['envoy.filters.http.fault', 'envoy.filters.http.local_ratelimit', 'envoy.filters.http.router']);
    expect(inbound.httpFilters[0].typedConfig).toMatchObject({ abort: { httpStatus: 503, percentage: { numerator: 10 } }, delay: { fixedDelay: { seconds: 2 }, percentage: { numerator: 1250, denominator: 'TEN_THOUSAND' } } });
    const limit = inbound.routeConfig.virtualHosts[0].routes[0].typedPerFilterConfig['envoy.filters.http.local_ratelimit'];
    expect(limit).toMatchObject({ statPrefix: 'rate_limit', status: { code: 'TooManyRequests' }, tokenBucket: { maxTokens: 50, tokensPerFill: 50, fillInterval: { seconds: 1 } } });
    expect(inbound.accessLog).toMatchObject([{ name: 'envoy.access_loggers.file', typedConfig: { path: '/var/log/inbound.log' } }]);
    expect(inbound.accessLog[0].typedConfig.logFormat.textFormatSource.inlineString).toContain('"unknown" "web" "127.0.0.11"');
    expect(inbound.tracing).toMatchObject({ overallSampling: { value: 80 }, provider: { name: 'envoy.tracers.zipkin', typedConfig: { collectorCluster: 'meshtrace:zipkin', collectorEndpoint: '/api/v2/spans', collectorHostname: 'zipkin.observability:9411' } } });

    // TCP inbound: the connection limit first, then the TCP proxy.
    const tcpInbound = json(LDS, listeners.get('inbound:127.0.0.11:9090'));
    expect(tcpInbound.filterChains[0].filters.map((f: Json) => f.name)).toEqual(['envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit', 'envoy.filters.network.tcp_proxy']);
    expect(tcpInbound.filterChains[0].filters[0].typedConfig.tokenBucket).toMatchObject({ maxTokens: 10 });

    // Outbound (api's VIP): kuma-dp's TCP log socket under its work dir's default, the OTLP logger, the tracer.
    const outbound = hcmOf(json(LDS, listeners.get(`outbound:${apiVip}:8080`)));
    expect(outbound.accessLog.map((l: Json) => l.name)).toEqual(['envoy.access_loggers.file', 'envoy.access_loggers.open_telemetry']);
    expect(outbound.accessLog[0].typedConfig).toMatchObject({ path: '/tmp/kuma-al-web-1-default.sock', logFormat: { jsonFormat: { address: 'logstash:5000' } } });
    expect(outbound.accessLog[0].typedConfig.logFormat.jsonFormat.message).toContain('"web" "api" "127.0.0.11"');
    expect(outbound.accessLog[1].typedConfig.commonConfig.grpcService.envoyGrpc.clusterName).toBe('meshaccesslog:opentelemetry:otel-collector:4317');
    expect(outbound.tracing.provider.name).toBe('envoy.tracers.zipkin');
    expect(json(CDS, clusters.get('meshtrace:zipkin')).loadAssignment.endpoints[0].lbEndpoints[0].endpoint.address.socketAddress).toEqual({ address: 'zipkin.observability', portValue: 9411 });
    expect(json(CDS, clusters.get('meshaccesslog:opentelemetry:otel-collector:4317')).type).toBe('STRICT_DNS');

    // _config shows the new typed configs decoded, as Envoy's config dump would.
    const config = await call(url, 'GET', '/meshes/default/dataplanes/web-1/_config');
    expect(config.status).toBe(200);
    const shown = config.body.resources.LDS.items.find((i: Json) => i.name === 'inbound:127.0.0.11:8080').resource;
    expect(hcmOf(shown).httpFilters[0].typedConfig).toMatchObject({ '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault', abort: { httpStatus: 503 } });
    expect(hcmOf(shown).tracing.provider.typedConfig['@type']).toBe('type.googleapis.com/envoy.config.trace.v3.ZipkinConfig');

    // _policies shows what matched web-1, and that api-1 (not selected) got none of it.
    const inspected = await call(url, 'GET', '/meshes/default/dataplanes/web-1/_policies');
    expect(inspected.status).toBe(200);
    const http = inspected.body.inbounds.find((i: Json) => i.port === 8080).policies;
    expect(Object.keys(http).sort()).toEqual(['MeshAccessLog', 'MeshFaultInjection', 'MeshRateLimit']);
    expect(http.MeshRateLimit.conf.local.http.requestRate).toEqual({ num: 50, interval: '1s' });
    expect(http.MeshFaultInjection.matched.map((m: Json) => `${m.kind}/${m.name}`)).toEqual(['MeshFaultInjection/faults']);
    const toApi = inspected.body.outbounds.find((o: Json) => o.service === 'api').policies;
    expect(toApi.MeshAccessLog.conf.backends.map((b: Json) => b.type)).toEqual(['Tcp', 'OpenTelemetry']);
    expect(inspected.body.proxy.policies.MeshTrace.conf.sampling).toEqual({ overall: 80 });
    const other = await call(url, 'GET', '/meshes/default/dataplanes/api-1/_policies');
    expect(other.body.inbounds[0].policies).toEqual({});
    expect(other.body.proxy).toBeUndefined();
  });

  it('carries the mesh VIP table for kuma-dp\'s DNS server, and updates it when a service appears', async () => {
    const resolver = new Resolver();
    resolver.setServers([`127.0.0.1:${dnsPort}`]);
    const body = await until('the /dns route', dnsBody);
    expect(body.ttl).toBe(30);
    for (const service of ['api', 'web', 'web-admin']) {
      const [vip] = await resolver.resolve4(`${service}.mesh`);
      expect(body.records).toContainEqual({ name: `${service}.mesh`, ips: [vip] });
    }
    expect(json(LDS, web.get(LDS).get('_kuma:dynamicconfig')).address).toEqual({ pipe: { path: `${WORKDIR}/kuma-mesh-metric-config.sock` } });

    await put('/meshes/default/dataplanes/cache-1', dataplane('cache-1', '127.0.0.31', [{ port: 6379, tags: { 'kuma.io/service': 'cache' } }]));
    const [cacheVip] = await waitFor('cache.mesh resolves', () => resolver.resolve4('cache.mesh').catch(() => undefined), 15_000, agent);
    const updated = await until('cache.mesh in the sidecar', () => {
      const b = dnsBody();
      return b?.records.some((r) => r.name === 'cache.mesh') ? b : undefined;
    });
    expect(updated.records).toContainEqual({ name: 'cache.mesh', ips: [cacheVip] });
    expect(updated.records.filter((r) => r.name !== 'cache.mesh')).toEqual(body.records);
  });
});
