/**
 * What kind of proxy a node is, from the first request of its stream (the only one sure to carry `node`).
 *
 * - **Zone ingress**: Kuma's kuma-dp identifies one by metadata `dataplane.proxyType: "ingress"` and
 *   `node.id = ".<name>"` (a proxy id whose mesh is empty: a zone ingress serves every mesh). Both are
 *   accepted, and so is the bare `<name>` with that metadata.
 * - **Zone egress**: kuma-dp's `--proxy-type=egress` sends metadata `dataplane.proxyType: "egress"` and
 *   `node.id = ".<name>"` (an egress, too, serves every mesh). Only the metadata tells it from an ingress.
 * - **Envoy sidecar**: Envoy always sends `user_agent_name: "envoy"`; kuma-dp adds metadata
 *   `dataplane.proxyType: "dataplane"`. Either one makes a sidecar.
 * - **Proxyless gRPC**: every gRPC xDS client names itself `gRPC <language>...` in `user_agent_name`
 *   (grpc-js-xds: `gRPC Node Pure JS`). Anything that is neither of the above is treated as proxyless too,
 *   because proxyless generation (api_listener Listeners named by service) is harmless to a client that
 *   only asks by name, while sidecar listeners would make a gRPC client reject the whole LDS response.
 * - `ursa.io/proxy-type: "sidecar" | "proxyless" | "ingress" | "egress"` in the metadata overrides all of this (for
 *   test clients and custom Envoy builds).
 */
import type { Node } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import { quote } from '../limits.js';

export type ProxyKind = 'sidecar' | 'proxyless' | 'ingress' | 'egress';

export interface NodeIdentity {
  readonly kind: ProxyKind;
  /** `''` for a zone ingress or egress. */
  readonly mesh: string;
  /** Dataplane name, or ZoneIngress / ZoneEgress name. */
  readonly name: string;
}

export interface NodeProblem {
  readonly error: string;
}

const KINDS: readonly ProxyKind[] = ['sidecar', 'proxyless', 'ingress', 'egress'];
const KUMA_PROXY_TYPES: Readonly<Record<string, ProxyKind>> = { dataplane: 'sidecar', ingress: 'ingress', egress: 'egress' };

/** Zone proxies serve every mesh: their id has no mesh. */
export const isZoneProxy = (kind: ProxyKind | undefined): kind is 'ingress' | 'egress' => kind === 'ingress' || kind === 'egress';

const metaString = (node: Node | undefined, key: string): string | undefined => {
  const v = node?.metadata?.[key];
  return typeof v === 'string' ? v : undefined;
};

export function proxyKindOf(node: Node | undefined): ProxyKind | NodeProblem {
  const override = metaString(node, 'ursa.io/proxy-type');
  if (override !== undefined) {
    if ((KINDS as readonly string[]).includes(override)) return override as ProxyKind;
    return { error: `node.metadata["ursa.io/proxy-type"] is ${quote(override)}: expected one of ${KINDS.join(', ')}` };
  }
  const kuma = metaString(node, 'dataplane.proxyType');
  if (kuma !== undefined) {
    const kind = KUMA_PROXY_TYPES[kuma];
    if (!kind) return { error: `node.metadata["dataplane.proxyType"] is ${quote(kuma)}: expected one of ${Object.keys(KUMA_PROXY_TYPES).join(', ')}` };
    return kind;
  }
  if ((node?.id ?? '').startsWith('.')) return 'ingress';
  if (node?.userAgentName === 'envoy') return 'sidecar';
  return 'proxyless';
}

/** The node's kind and the resource it stands for, or what is wrong with its id. */
export function describeNode(node: Node | undefined): NodeIdentity | NodeProblem {
  const kind = proxyKindOf(node);
  if (typeof kind !== 'string') return kind;
  const id = node?.id ?? '';
  if (isZoneProxy(kind)) {
    const name = id.startsWith('.') ? id.slice(1) : id;
    if (name === '') return { error: `node.id ${quote(id)} of a zone ${kind} must be ".<zone${kind}-name>"` };
    return { kind, mesh: '', name };
  }
  const i = id.indexOf('.');
  if (i <= 0 || i === id.length - 1) return { error: `node.id ${quote(id)} is not "<mesh>.<dataplane-name>"` };
  return { kind, mesh: id.slice(0, i), name: id.slice(i + 1) };
}

export const isNodeProblem = (v: NodeIdentity | NodeProblem | ProxyKind): v is NodeProblem => typeof v === 'object' && 'error' in v;
