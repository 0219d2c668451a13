/**
 * TCP traffic to one destination (pure): MeshTCPRoute weighted backends as the TcpProxy cluster specifier,
 * and MeshTimeout `idleTimeout` / MeshRetry `tcp.maxConnectAttempt` on the TcpProxy.
 */
import { TcpProxy } from '@ursa/proto/gen/envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.js';
import type { OutboundPolicies } from '../types.js';
import { duration } from './convert.js';
import { backendTarget, type ClusterNamer } from './routes.js';

export function tcpClusterSpecifier(out: OutboundPolicies, clusterFor: ClusterNamer): TcpProxy['clusterSpecifier'] {
  const backends = (out.tcpRule?.default.backendRefs ?? []).flatMap((ref) => {
    const t = backendTarget(ref);
    return t ? [{ name: clusterFor(t), weight: ref.weight ?? 1 }] : [];
  });
  if (backends.length === 0) return { $case: 'cluster', value: clusterFor({ service: out.service }) };
  if (backends.length === 1) return { $case: 'cluster', value: backends[0]!.name };
  return { $case: 'weightedClusters', value: { clusters: backends.map((b) => ({ name: b.name, weight: b.weight, metadataMatch: undefined })) } };
}

/** A new TcpProxy with the destination's routes, idle timeout and connect attempts. */
export function decorateTcpProxy(tcp: TcpProxy, out: OutboundPolicies, clusterFor: ClusterNamer): TcpProxy {
  const t = TcpProxy.fromPartial(tcp);
  t.clusterSpecifier = tcpClusterSpecifier(out, clusterFor);
  t.idleTimeout = duration(out.timeout?.idleTimeout) ?? t.idleTimeout;
  if (out.retry?.tcp?.maxConnectAttempt !== undefined) t.maxConnectAttempts = out.retry.tcp.maxConnectAttempt;
  return t;
}
