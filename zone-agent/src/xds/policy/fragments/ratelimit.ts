/**
 * MeshRateLimit on an inbound (pure), Kuma `meshratelimit/plugin/xds`:
 * - HTTP (`local.http.requestRate`): an empty `envoy.filters.http.local_ratelimit` filter before the router
 *   (stat prefix `rate_limit`) and, on every route of the inbound's route table, the limit itself as that
 *   filter's per-route config: a token bucket of `num` tokens refilled every `interval`, enabled and
 *   enforced for 100% of requests, answering `onRateLimit.status` with `onRateLimit.headers`;
 * - TCP (`local.tcp.connectionRate`): `envoy.filters.network.local_ratelimit` first in the filter chain
 *   (stat prefix `tcp_rate_limit`), a token bucket of connections.
 * `disabled: true` (or no rate) leaves the traffic unlimited.
 */
import { HeaderValueOption_HeaderAppendAction, RuntimeFractionalPercent } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import type { Filter } from '@ursa/proto/gen/envoy/config/listener/v3/listener_components.js';
import { LocalRateLimit as HttpLocalRateLimit } from '@ursa/proto/gen/envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.js';
import { LocalRateLimit as NetworkLocalRateLimit } from '@ursa/proto/gen/envoy/extensions/filters/network/local_ratelimit/v3/local_rate_limit.js';
import { HttpConnectionManager, type HttpFilter } from '@ursa/proto/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import { FractionalPercent_DenominatorType } from '@ursa/proto/gen/envoy/type/v3/percent.js';
import { packAny } from '../../hash.js';
import { HTTP_LOCAL_RATE_LIMIT_TYPE_URL, NETWORK_LOCAL_RATE_LIMIT_TYPE_URL } from '../../type-urls.js';
import type { InboundPolicies, RateLimitConf } from '../types.js';
import { duration } from './convert.js';

export const HTTP_RATE_LIMIT_FILTER_NAME = 'envoy.filters.http.local_ratelimit';
/** Kuma names the TCP filter by its type, not by its well-known name. */
export const TCP_RATE_LIMIT_FILTER_NAME = 'envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit';

const always = (runtimeKey: string) => RuntimeFractionalPercent.fromPartial({ defaultValue: { numerator: 100, denominator: FractionalPercent_DenominatorType.HUNDRED }, runtimeKey });

function httpLimit(conf: RateLimitConf | undefined) {
  const http = conf?.local?.http;
  return http && !http.disabled && http.requestRate ? http : undefined;
}

/** The HTTP filter (before the router) when an HTTP limit applies. */
export function inboundRateLimitHttpFilters(inbound: InboundPolicies): HttpFilter[] {
  if (!httpLimit(inbound.rateLimit)) return [];
  const config = packAny(HTTP_LOCAL_RATE_LIMIT_TYPE_URL, HttpLocalRateLimit, HttpLocalRateLimit.fromPartial({ statPrefix: 'rate_limit' }));
  return [{ name: HTTP_RATE_LIMIT_FILTER_NAME, isOptional: false, disabled: false, configType: { $case: 'typedConfig', value: config } }];
}

/** The limit on every route of the HCM's inline route table (a route that has its own keeps it). */
export function applyRateLimitRoutes(hcm: HttpConnectionManager, inbound: InboundPolicies): HttpConnectionManager {
  const http = httpLimit(inbound.rateLimit);
  if (!http || hcm.routeSpecifier?.$case !== 'routeConfig') return hcm;
  const rate = http.requestRate!;
  const headers = [
    ...(http.onRateLimit?.headers?.add ?? []).map((h) => ({ header: { key: h.name, value: h.value, rawValue: Buffer.alloc(0) }, appendAction: HeaderValueOption_HeaderAppendAction.APPEND_IF_EXISTS_OR_ADD, keepEmptyValue: false })),
    ...(http.onRateLimit?.headers?.set ?? []).map((h) => ({ header: { key: h.name, value: h.value, rawValue: Buffer.alloc(0) }, appendAction: HeaderValueOption_HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD, keepEmptyValue: false })),
  ];
  const limit = HttpLocalRateLimit.fromPartial({
    statPrefix: 'rate_limit',
    status: http.onRateLimit?.status !== undefined ? { code: http.onRateLimit.status } : undefined,
    tokenBucket: { maxTokens: rate.num, tokensPerFill: rate.num, fillInterval: duration(rate.interval) },
    filterEnabled: always('local_rate_limit_enabled'),
    filterEnforced: always('local_rate_limit_enforced'),
    responseHeadersToAdd: headers,
  });
  const any = packAny(HTTP_LOCAL_RATE_LIMIT_TYPE_URL, HttpLocalRateLimit, limit);
  const out = HttpConnectionManager.fromPartial(hcm);
  if (out.routeSpecifier?.$case !== 'routeConfig') return out;
  for (const vh of out.routeSpecifier.value.virtualHosts) {
    for (const r of vh.routes) if (!r.typedPerFilterConfig[HTTP_RATE_LIMIT_FILTER_NAME]) r.typedPerFilterConfig[HTTP_RATE_LIMIT_FILTER_NAME] = any;
  }
  return out;
}

/** The TCP connection limit, to put first in a TCP inbound's filter chain; `[]` when none applies. */
export function inboundRateLimitNetworkFilters(inbound: InboundPolicies): Filter[] {
  const tcp = inbound.rateLimit?.local?.tcp;
  if (!tcp || tcp.disabled || !tcp.connectionRate) return [];
  const n = tcp.connectionRate.num;
  const config = NetworkLocalRateLimit.fromPartial({ statPrefix: 'tcp_rate_limit', tokenBucket: { maxTokens: n, tokensPerFill: n, fillInterval: duration(tcp.connectionRate.interval) } });
  return [{ name: TCP_RATE_LIMIT_FILTER_NAME, configType: { $case: 'typedConfig', value: packAny(NETWORK_LOCAL_RATE_LIMIT_TYPE_URL, NetworkLocalRateLimit, config) } }];
}
