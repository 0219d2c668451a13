/**
 * Kuma's inspect endpoints on the zone API:
 * - `GET /meshes/{mesh}/dataplanes/{name}/_config`: the xDS resources the proxy is being served right now,
 *   read from the snapshot cache (never regenerated for the request), per type (`CDS`, `EDS`, `LDS`, `RDS`,
 *   `SDS`) with each resource's name, version and Envoy JSON (nested `Any`s such as `typed_config` decoded
 *   and shown with their `@type`; private keys redacted). 404 when the proxy has no snapshot (it is not
 *   connected) or the Dataplane does not exist;
 * - `GET /meshes/{mesh}/dataplanes/{name}/_policies`: the policies that match the Dataplane and what they
 *   merge into, from the policy engine (`policy/index.ts` `matchPolicies(...).inspect()`), over the
 *   services the mesh has (local Dataplanes and other zones' ingresses).
 * Routes: `inspect-routes.ts` (this module loads the Envoy protos, so it is loaded on the first request).
 */
import type { Context } from 'hono';
import { ApiError, type AppEnv, getTyped, type ResourceStore } from '@ursa/core';
import { Cluster } from '@ursa/proto/gen/envoy/config/cluster/v3/cluster.js';
import { ClusterLoadAssignment } from '@ursa/proto/gen/envoy/config/endpoint/v3/endpoint.js';
import { Listener } from '@ursa/proto/gen/envoy/config/listener/v3/listener.js';
import { RouteConfiguration } from '@ursa/proto/gen/envoy/config/route/v3/route.js';
import { DatadogConfig } from '@ursa/proto/gen/envoy/config/trace/v3/datadog.js';
import { OpenTelemetryConfig } from '@ursa/proto/gen/envoy/config/trace/v3/opentelemetry.js';
import { ZipkinConfig } from '@ursa/proto/gen/envoy/config/trace/v3/zipkin.js';
import { FileAccessLog } from '@ursa/proto/gen/envoy/extensions/access_loggers/file/v3/file.js';
import { OpenTelemetryAccessLogConfig } from '@ursa/proto/gen/envoy/extensions/access_loggers/open_telemetry/v3/logs_service.js';
import { HTTPFault } from '@ursa/proto/gen/envoy/extensions/filters/http/fault/v3/fault.js';
import { LocalRateLimit as HttpLocalRateLimit } from '@ursa/proto/gen/envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.js';
import { LocalRateLimit as NetworkLocalRateLimit } from '@ursa/proto/gen/envoy/extensions/filters/network/local_ratelimit/v3/local_rate_limit.js';
import { RBAC as HttpRbac } from '@ursa/proto/gen/envoy/extensions/filters/http/rbac/v3/rbac.js';
import { Router } from '@ursa/proto/gen/envoy/extensions/filters/http/router/v3/router.js';
import { HttpConnectionManager } from '@ursa/proto/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import { RBAC as NetworkRbac } from '@ursa/proto/gen/envoy/extensions/filters/network/rbac/v3/rbac.js';
import { TcpProxy } from '@ursa/proto/gen/envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.js';
import { Secret } from '@ursa/proto/gen/envoy/extensions/transport_sockets/tls/v3/secret.js';
import { DownstreamTlsContext, UpstreamTlsContext } from '@ursa/proto/gen/envoy/extensions/transport_sockets/tls/v3/tls.js';
import { isRecord, POLICY_KINDS } from '@ursa/proto';
import { SECRET_TYPE_URL } from '@ursa/proto/xds';
import { dataplaneOf as modelOf, SERVICE_TAG } from '../model/dataplane.js';
import { ResourcesByKind } from '../model/resources.js';
import { readLocalKinds } from '../rebuild-loop.js';
import type { XdsHandle } from './component.js';
import { PROXYLESS_NOTE } from './generate/proxyless-snapshot.js';
import { matchPolicies } from './policy/index.js';
import { PUSH_ORDER, shortType } from './snapshot.js';
import {
  DATADOG_TYPE_URL,
  FAULT_TYPE_URL,
  FILE_ACCESS_LOG_TYPE_URL,
  HTTP_LOCAL_RATE_LIMIT_TYPE_URL,
  NETWORK_LOCAL_RATE_LIMIT_TYPE_URL,
  OTEL_ACCESS_LOG_TYPE_URL,
  OTEL_TRACE_TYPE_URL,
  ZIPKIN_TYPE_URL,
} from './type-urls.js';

interface Codec {
  decode(bytes: Uint8Array): unknown;
  toJSON(m: never): unknown;
}

const T = 'type.googleapis.com/';
/** Messages shown decoded wherever they appear as an `Any`. */
const CODECS: ReadonlyMap<string, Codec> = new Map<string, Codec>([
  [`${T}envoy.config.cluster.v3.Cluster`, Cluster],
  [`${T}envoy.config.endpoint.v3.ClusterLoadAssignment`, ClusterLoadAssignment],
  [`${T}envoy.config.listener.v3.Listener`, Listener],
  [`${T}envoy.config.route.v3.RouteConfiguration`, RouteConfiguration],
  [`${T}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`, HttpConnectionManager],
  [`${T}envoy.extensions.filters.http.router.v3.Router`, Router],
  [`${T}envoy.extensions.filters.http.rbac.v3.RBAC`, HttpRbac],
  [`${T}envoy.extensions.filters.network.rbac.v3.RBAC`, NetworkRbac],
  [`${T}envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`, TcpProxy],
  [`${T}envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext`, UpstreamTlsContext],
  [`${T}envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext`, DownstreamTlsContext],
  [SECRET_TYPE_URL, Secret],
  [FAULT_TYPE_URL, HTTPFault],
  [HTTP_LOCAL_RATE_LIMIT_TYPE_URL, HttpLocalRateLimit],
  [NETWORK_LOCAL_RATE_LIMIT_TYPE_URL, NetworkLocalRateLimit],
  [FILE_ACCESS_LOG_TYPE_URL, FileAccessLog],
  [OTEL_ACCESS_LOG_TYPE_URL, OpenTelemetryAccessLogConfig],
  [ZIPKIN_TYPE_URL, ZipkinConfig],
  [DATADOG_TYPE_URL, DatadogConfig],
  [OTEL_TRACE_TYPE_URL, OpenTelemetryConfig],
]);

/** One `Any` as Envoy's config dump shows it: `{"@type": ..., ...fields}`; unknown types stay base64. */
export function anyToJson(typeUrl: string, value: Uint8Array): unknown {
  const codec = CODECS.get(typeUrl);
  if (!codec) return { '@type': typeUrl, value: Buffer.from(value).toString('base64') };
  const json = expand(codec.toJSON(codec.decode(value) as never)) as Record<string, unknown>;
  if (typeUrl === SECRET_TYPE_URL) redactKeys(json);
  return { '@type': typeUrl, ...json };
}

/** ts-proto renders a nested Any as `{typeUrl, value: base64}`: decode the ones we know, recursively. */
function expand(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(expand);
  if (!isRecord(v)) return v;
  const o = v;
  if (typeof o.typeUrl === 'string' && Object.keys(o).every((k) => k === 'typeUrl' || k === 'value')) {
    return anyToJson(o.typeUrl, Buffer.from(typeof o.value === 'string' ? o.value : '', 'base64'));
  }
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, expand(x)]));
}

/** Private keys never leave the agent. */
function redactKeys(o: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(o)) {
    if (k === 'privateKey') o[k] = '[redacted]';
    else if (v && typeof v === 'object') redactKeys(v as Record<string, unknown>);
  }
}

export interface InspectDeps {
  readonly tenant: string;
  readonly zone: string;
  readonly store: ResourceStore;
  /** The running xDS component; undefined while it starts, or when it is off. */
  readonly xds: () => XdsHandle | undefined;
}

async function dataplaneOf(deps: InspectDeps, mesh: string, name: string, title: string) {
  const dp = await getTyped(deps.store, deps.tenant, 'Dataplane', { mesh, name });
  if (!dp) throw new ApiError(404, title, 'Not found');
  return dp;
}

/** The proxy kinds a config dump can be asked for (the zone API serves Dataplanes; the global forwards all three). */
export type ProxyResourceType = 'Dataplane' | 'ZoneIngress' | 'ZoneEgress';

/** `GET /meshes/{mesh}/dataplanes/{name}/_config`. */
export async function inspectConfig(c: Context<AppEnv>, deps: InspectDeps, mesh: string, name: string): Promise<Response> {
  return c.json(await configDump(deps, 'Dataplane', mesh, name));
}

/**
 * The body of `_config`: the xDS resources the proxy is served now. Also what the global's forwarded
 * `xds` / `_config` answer (`forward.ts`), so both show the same document. Throws ApiError (404) when the
 * proxy does not exist in this zone or has no snapshot (not connected to this agent).
 */
export async function configDump(deps: InspectDeps, type: ProxyResourceType, mesh: string, name: string): Promise<Record<string, unknown>> {
  const title = type === 'Dataplane' ? 'Could not get the xDS configuration of the dataplane' : `Could not get the xDS configuration of the ${type === 'ZoneIngress' ? 'zone ingress' : 'zone egress'}`;
  if (type === 'Dataplane') await dataplaneOf(deps, mesh, name, title);
  else if (!(await deps.store.get(deps.tenant, { kind: type, mesh: '', name }))) throw new ApiError(404, title, 'Not found');
  const xds = deps.xds();
  if (!xds) throw new ApiError(404, title, 'the xDS server of this zone agent is off or still starting (--xds-port)');
  // Zone ingresses and egresses serve every mesh: their node id has none (`.<name>`).
  const nodeId = `${type === 'Dataplane' ? mesh : ''}.${name}`;
  const snap = xds.cache.getSnapshot(nodeId);
  if (!snap) throw new ApiError(404, title, `${type === 'Dataplane' ? 'dataplane' : type} ${nodeId} has no xDS configuration: it is not connected to this zone agent`);
  const types = [...PUSH_ORDER, SECRET_TYPE_URL];
  const resources: Record<string, { version: string; items: { name: string; version: string; resource: unknown }[] }> = {};
  for (const t of types) {
    const set = snap.get(t);
    if (set.items.size === 0) continue;
    resources[t === SECRET_TYPE_URL ? 'SDS' : shortType(t)] = {
      version: set.version,
      items: [...set.items.values()].map((r) => ({ name: r.name, version: r.version, resource: anyToJson(r.body.typeUrl, r.body.value) })),
    };
  }
  const kind = xds.kindOf(nodeId);
  return { mesh, name, nodeId, connected: kind !== undefined, ...(kind ? { proxyType: kind } : {}), ...(kind === 'proxyless' ? { notes: [PROXYLESS_NOTE] } : {}), resources };
}

/** `GET /meshes/{mesh}/dataplanes/{name}/_policies`. */
export async function inspectPolicies(c: Context<AppEnv>, deps: InspectDeps, mesh: string, name: string): Promise<Response> {
  const dataplane = await dataplaneOf(deps, mesh, name, 'Could not get the policies of the dataplane');
  const all = new ResourcesByKind(await readLocalKinds(deps.store, ['Dataplane', 'ZoneIngress', ...POLICY_KINDS]));
  const policies = all.policies().filter((p) => p.mesh === mesh);
  return c.json(matchPolicies({ mesh, zone: deps.zone, dataplane, policies }).inspect(servicesOf(mesh, all)));
}

/** Every `kuma.io/service` of the mesh: local inbounds and what other zones' ingresses offer. */
function servicesOf(mesh: string, all: ResourcesByKind): string[] {
  const out = new Set<string>();
  for (const dp of all.get('Dataplane') ?? []) {
    if (dp.mesh !== mesh) continue;
    for (const i of modelOf(dp).inbounds) if (i.service) out.add(i.service);
  }
  for (const zi of all.get('ZoneIngress') ?? []) {
    for (const s of zi.spec.availableServices ?? []) {
      const service = s.tags[SERVICE_TAG];
      if (s.mesh === mesh && service) out.add(service);
    }
  }
  return [...out].sort();
}
