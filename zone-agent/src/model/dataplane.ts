/**
 * The zone's model of a Dataplane: what the xDS generator, the policy engine, the resolver, the ingress
 * bookkeeping and the token check need to know about one proxy, derived once from its typed spec
 * (`SpecOf<'Dataplane'>`). Nothing else in the zone agent reads a Dataplane's spec.
 *
 * Stored specs were validated against the Dataplane schema on write (`@ursa/core` `asTyped`), so this reads
 * them as their type says: required fields are there, enums are names, ports are in range. What the type
 * leaves optional gets Kuma's defaults here (inbound address = the Dataplane's, service address 127.0.0.1,
 * outbound address 127.0.0.1, redirect ports 15006/15001), once, instead of in every reader.
 */
import { ORIGIN_LABEL } from '@ursa/core';
import type { SpecOf } from '@ursa/proto';

export const SERVICE_TAG = 'kuma.io/service';
export const PROTOCOL_TAG = 'kuma.io/protocol';
/** The zone an instance runs in: an inbound tag the zone stamps at registration, and a label. */
export const ZONE_TAG = 'kuma.io/zone';
/** Kubernetes' well-known topology labels, which Kuma copies onto inbound tags on Kubernetes. */
const TOPOLOGY_PREFIX = 'topology.kubernetes.io/';

/** Kuma's transparent-proxy defaults (kuma-dp / kumactl install transparent-proxy). */
const REDIRECT_PORT_OUTBOUND = 15001;
const REDIRECT_PORT_INBOUND = 15006;
const LOOPBACK = '127.0.0.1';

export type Protocol = 'tcp' | 'http' | 'http2' | 'grpc' | 'kafka';
const PROTOCOLS: readonly Protocol[] = ['tcp', 'http', 'http2', 'grpc', 'kafka'];

type Spec = SpecOf<'Dataplane'>;
type InboundSpec = NonNullable<Spec['networking']['inbound']>[number];
type OutboundSpec = NonNullable<Spec['networking']['outbound']>[number];
type ListenerSpec = NonNullable<Spec['networking']['listeners']>[number];

/** The parts of a stored Dataplane the model is built from (a `TypedResource<'Dataplane'>` fits). */
export interface DataplaneResource {
  readonly mesh: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly spec: Spec;
}

export type InboundState = NonNullable<InboundSpec['state']>;

export interface Inbound {
  /** `inbound.name` (`''` when unnamed): a policy's `sectionName` may name it. */
  readonly name: string;
  /** Where the proxy listens: `inbound.address`, else the Dataplane's `networking.address`. */
  readonly address: string;
  readonly port: number;
  /** Where the application listens: `serviceAddress` (else 127.0.0.1) and `servicePort` (else `port`). */
  readonly serviceAddress: string;
  readonly servicePort: number;
  readonly tags: Readonly<Record<string, string>>;
  /** `kuma.io/service` (`''` only if an inbound without it was ever stored). */
  readonly service: string;
  /** `kuma.io/protocol`, lower case; unknown or absent is `tcp`. */
  readonly protocol: Protocol;
  /** `state` as written, `Ready` when absent. */
  readonly state: InboundState;
  /** `state: Ignored`: the proxy neither listens on it nor announces it. */
  readonly ignored: boolean;
  /**
   * Kuma's `GetHealthyInbounds`: not `NotReady` or `Ignored`, and `health`, when present, says `ready: true`.
   * Only healthy inbounds are endpoints and available services.
   */
  readonly healthy: boolean;
}

export interface Outbound {
  /** `outbound.address`, else 127.0.0.1. */
  readonly address: string;
  readonly port: number;
  readonly tags: Readonly<Record<string, string>>;
  /** `kuma.io/service` of a tag-addressed outbound; `''` for a `backendRef` one. */
  readonly service: string;
  /** A MeshService-style destination (`backendRef`), not generated yet. */
  readonly backendRef?: NonNullable<OutboundSpec['backendRef']>;
}

/** Kuma's proxy types as policies' `targetRef.proxyTypes` name them. */
export type ProxyType = 'Sidecar' | 'Gateway';

export interface Gateway {
  readonly type: NonNullable<NonNullable<Spec['networking']['gateway']>['type']>;
  readonly tags: Readonly<Record<string, string>>;
  readonly service: string;
}

/** A zone-proxy listener (`networking.listeners`): the Dataplane also serves as a zone ingress or egress. */
export interface ZoneProxyListener {
  readonly type: NonNullable<ListenerSpec['type']>;
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly ready: boolean;
}

export interface Locality {
  /** `kuma.io/zone` of its tags (else its label): the zone it runs in. */
  readonly zone?: string;
  /** `topology.kubernetes.io/*` tags (region, zone), by full tag name; empty outside Kubernetes. */
  readonly topology: Readonly<Record<string, string>>;
}

export interface TransparentProxy {
  readonly redirectPortInbound: number;
  readonly redirectPortOutbound: number;
  /**
   * `reachableServices`, sorted and without duplicates, when given: the only services (`kuma.io/service`)
   * the proxy gets outbounds for, as Kuma's `resolveVIPOutbounds` does; absent = every service of the mesh.
   */
  readonly reachableServices?: readonly string[];
}

export interface Dataplane {
  readonly mesh: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** `networking.address`. */
  readonly address: string;
  readonly advertisedAddress?: string;
  /** Every inbound in spec order, `Ignored` ones included (policies and inspect see them too). */
  readonly inbounds: readonly Inbound[];
  readonly outbounds: readonly Outbound[];
  readonly proxyType: ProxyType;
  readonly gateway?: Gateway;
  readonly listeners: readonly ZoneProxyListener[];
  /** Set when iptables redirect the proxy's traffic (`networking.transparentProxying`), with Kuma's default ports. */
  readonly transparentProxy?: TransparentProxy;
  readonly locality: Locality;
  /**
   * `kuma.io/origin`: `zone` for one registered in a zone, `global` for a copy the global sent; absent on
   * a Dataplane written straight into the local store.
   */
  readonly origin?: 'zone' | 'global';
  /** This zone's own: anything that did not come from the global. */
  readonly local: boolean;
}

export const protocolOf = (tags: Readonly<Record<string, string>>): Protocol => {
  const p = (tags[PROTOCOL_TAG] ?? '').toLowerCase();
  return (PROTOCOLS as readonly string[]).includes(p) ? (p as Protocol) : 'tcp';
};

/** HTTP-aware protocols get an HttpConnectionManager (routes, HTTP policies); the rest a TCP proxy. */
export const isHttp = (p: Protocol): boolean => p === 'http' || p === 'http2' || p === 'grpc';

/** Resources that came from the global (other zones' copies) are never this zone's own. */
export const isLocal = (r: { readonly labels: Readonly<Record<string, string>> }): boolean => r.labels[ORIGIN_LABEL] !== 'global';

function inbound(ib: InboundSpec, dataplaneAddress: string): Inbound {
  const state = ib.state ?? 'Ready';
  const ready = ib.health === undefined || ib.health.ready === true;
  return {
    name: ib.name ?? '',
    address: ib.address || dataplaneAddress,
    port: ib.port,
    serviceAddress: ib.serviceAddress || LOOPBACK,
    servicePort: ib.servicePort || ib.port,
    tags: ib.tags,
    service: ib.tags[SERVICE_TAG] ?? '',
    protocol: protocolOf(ib.tags),
    state,
    ignored: state === 'Ignored',
    healthy: ready && state === 'Ready',
  };
}

function outbound(ob: OutboundSpec): Outbound {
  const tags = ob.tags ?? {};
  return { address: ob.address || LOOPBACK, port: ob.port, tags, service: tags[SERVICE_TAG] ?? '', ...(ob.backendRef ? { backendRef: ob.backendRef } : {}) };
}

function locality(inbounds: readonly Inbound[], gateway: Gateway | undefined, labels: Readonly<Record<string, string>>): Locality {
  const tagSets = [...inbounds.map((i) => i.tags), ...(gateway ? [gateway.tags] : [])];
  const topology: Record<string, string> = {};
  let zone: string | undefined;
  for (const tags of tagSets) {
    zone ??= tags[ZONE_TAG];
    for (const [k, v] of Object.entries(tags)) if (k.startsWith(TOPOLOGY_PREFIX) && !(k in topology)) topology[k] = v;
  }
  zone ??= labels[ZONE_TAG];
  return zone === undefined ? { topology } : { zone, topology };
}

/** The model of one Dataplane (pure; see `dataplaneOf` for the cached one). */
export function buildDataplane(dp: DataplaneResource): Dataplane {
  const n = dp.spec.networking;
  const inbounds = (n.inbound ?? []).map((ib) => inbound(ib, n.address));
  const gw = n.gateway;
  const gatewayTags = gw?.tags ?? {};
  const gateway: Gateway | undefined = gw && { type: gw.type ?? 'DELEGATED', tags: gatewayTags, service: gatewayTags[SERVICE_TAG] ?? '' };
  const tp = n.transparentProxying;
  const origin = dp.labels[ORIGIN_LABEL];
  return {
    mesh: dp.mesh,
    name: dp.name,
    labels: dp.labels,
    address: n.address,
    ...(n.advertisedAddress ? { advertisedAddress: n.advertisedAddress } : {}),
    inbounds,
    outbounds: (n.outbound ?? []).map(outbound),
    proxyType: gateway ? 'Gateway' : 'Sidecar',
    ...(gateway ? { gateway } : {}),
    listeners: (n.listeners ?? []).map((l) => ({ type: l.type ?? 'Unspecified', name: l.name ?? '', address: l.address ?? '', port: l.port, ready: l.state !== 'NotReady' })),
    ...(tp ? { transparentProxy: transparentProxy(tp) } : {}),
    locality: locality(inbounds, gateway, dp.labels),
    ...(origin === 'zone' || origin === 'global' ? { origin } : {}),
    local: origin !== 'global',
  };
}

function transparentProxy(tp: NonNullable<DataplaneResource['spec']['networking']['transparentProxying']>): TransparentProxy {
  const reachable = [...new Set(tp.reachableServices ?? [])].sort();
  return {
    redirectPortInbound: tp.redirectPortInbound || REDIRECT_PORT_INBOUND,
    redirectPortOutbound: tp.redirectPortOutbound || REDIRECT_PORT_OUTBOUND,
    ...(reachable.length > 0 ? { reachableServices: reachable } : {}),
  };
}

const cache = new WeakMap<DataplaneResource, Dataplane>();

/**
 * The model of a stored Dataplane, built once per resource object: the store view hands out the same
 * object until the Dataplane changes, so a rebuild after one change models one Dataplane.
 */
export function dataplaneOf(dp: DataplaneResource): Dataplane {
  let m = cache.get(dp);
  if (!m) cache.set(dp, (m = buildDataplane(dp)));
  return m;
}

/** Inbounds the proxy serves: every one but `Ignored`. */
export const activeInbounds = (dp: Dataplane): Inbound[] => dp.inbounds.filter((i) => !i.ignored);

/** Inbounds that are endpoints of their service (Kuma `GetHealthyInbounds`). */
export const healthyInbounds = (dp: Dataplane): Inbound[] => dp.inbounds.filter((i) => i.healthy);

/** Every tag value of the Dataplane (inbounds and gateway), by tag name. */
export function tagValues(dp: Dataplane): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const tags of [...dp.inbounds.map((i) => i.tags), dp.gateway?.tags ?? {}]) {
    for (const [k, v] of Object.entries(tags)) {
      let s = out.get(k);
      if (!s) out.set(k, (s = new Set()));
      s.add(v);
    }
  }
  return out;
}
