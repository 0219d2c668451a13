/**
 * MeshTimeout on an HttpConnectionManager (pure), inbound or outbound (Kuma `meshtimeout/plugin/xds`):
 * `idleTimeout` / `http.maxConnectionDuration` / `http.maxStreamDuration` → common HTTP protocol options,
 * `http.streamIdleTimeout` → stream idle timeout, `http.requestHeadersTimeout` → request headers timeout,
 * and on an inline route table (an inbound's) `http.requestTimeout` → every route's timeout.
 */
import { HttpProtocolOptions } from '@ursa/proto/gen/envoy/config/core/v3/protocol.js';
import { HttpConnectionManager } from '@ursa/proto/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import type { TimeoutConf } from '../types.js';
import { defined, duration } from './convert.js';

export function applyHcmTimeouts(hcm: HttpConnectionManager, conf: TimeoutConf | undefined): HttpConnectionManager {
  if (!conf) return hcm;
  const out = HttpConnectionManager.fromPartial(hcm);
  const common = defined({
    idleTimeout: duration(conf.idleTimeout),
    maxConnectionDuration: duration(conf.http?.maxConnectionDuration),
    maxStreamDuration: duration(conf.http?.maxStreamDuration),
  });
  if (Object.keys(common).length > 0) out.commonHttpProtocolOptions = HttpProtocolOptions.fromPartial({ ...out.commonHttpProtocolOptions, ...common });
  out.streamIdleTimeout = duration(conf.http?.streamIdleTimeout) ?? out.streamIdleTimeout;
  out.requestHeadersTimeout = duration(conf.http?.requestHeadersTimeout) ?? out.requestHeadersTimeout;
  const request = duration(conf.http?.requestTimeout);
  if (request && out.routeSpecifier?.$case === 'routeConfig') {
    for (const vh of out.routeSpecifier.value.virtualHosts) {
      for (const r of vh.routes) if (r.action?.$case === 'route' && !r.action.value.timeout) r.action.value.timeout = request;
    }
  }
  return out;
}
