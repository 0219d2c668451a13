/**
 * MeshFaultInjection on an inbound (pure), Kuma `meshfaultinjection/plugin/xds`: each item of the merged
 * `http` list becomes its own `envoy.filters.http.fault` filter (abort, delay, response bandwidth, each with
 * its percentage), placed before the router in list order. Only the all-clients conf (`from` Mesh, `rules`
 * without matches) is merged by the engine, so no client header match is added (Kuma adds one per client
 * subset). Envoy's fault filter applies to HTTP only: a TCP inbound gets nothing, as in Kuma.
 */
import type { HttpFilter } from '@ursa/proto/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import { HTTPFault } from '@ursa/proto/gen/envoy/extensions/filters/http/fault/v3/fault.js';
import { packAny } from '../../hash.js';
import { FAULT_TYPE_URL } from '../../type-urls.js';
import type { InboundPolicies } from '../types.js';
import { bandwidthKbps, duration, fractionalPercent } from './convert.js';

export const FAULT_FILTER_NAME = 'envoy.filters.http.fault';

export function inboundFaultFilters(inbound: InboundPolicies): HttpFilter[] {
  return (inbound.faultInjection?.http ?? []).map((f) => {
    const config = HTTPFault.fromPartial({
      delay: f.delay ? { faultDelaySecifier: { $case: 'fixedDelay', value: duration(f.delay.value)! }, percentage: fractionalPercent(f.delay.percentage) } : undefined,
      abort: f.abort ? { errorType: { $case: 'httpStatus', value: f.abort.httpStatus }, percentage: fractionalPercent(f.abort.percentage) } : undefined,
      responseRateLimit: f.responseBandwidth
        ? { limitType: { $case: 'fixedLimit', value: { limitKbps: bandwidthKbps(f.responseBandwidth.limit) } }, percentage: fractionalPercent(f.responseBandwidth.percentage) }
        : undefined,
    });
    return { name: FAULT_FILTER_NAME, isOptional: false, disabled: false, configType: { $case: 'typedConfig', value: packAny(FAULT_TYPE_URL, HTTPFault, config) } };
  });
}
