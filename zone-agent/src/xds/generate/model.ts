/**
 * The parts of stored resources generation reads, parsed once into plain typed values (pure). Stored specs
 * were validated on the way in, but generation still never throws on odd data: a field that is not what it
 * should be is skipped, so one bad Dataplane cannot stop every other proxy's configuration.
 */
import { caSecretNames, enabledBuiltinBackend } from '@ursa/core';
import { isLocal, SERVICE_TAG, type ResourceLike } from '../../ingress/available.js';

export const PROTOCOL_TAG = 'kuma.io/protocol';
/** Kuma's transparent-proxy defaults (kuma-dp / kumactl install transparent-proxy). */
const REDIRECT_PORT_OUTBOUND = 15001;
const REDIRECT_PORT_INBOUND = 15006;

export type Protocol = 'tcp' | 'http' | 'http2' | 'grpc' | 'kafka';
const PROTOCOLS: readonly Protocol[] = ['tcp', 'http', 'http2', 'grpc', 'kafka'];

export interface InboundModel {
  /** Address the listener binds to (`inbound.address`, else the Dataplane's). */
  readonly address: string;
  readonly port: number;
  /** Where the application listens (`servicePort`, else `port`). */
  readonly servicePort: number;
  readonly serviceAddress: string;
  readonly service: string;
  readonly protocol: Protocol;
  readonly tags: Readonly<Record<string, string>>;
}

export interface OutboundModel {
  readonly address: string;
  readonly port: number;
  readonly service: string;
}

export interface DataplaneModel {
  readonly mesh: string;
  readonly name: string;
  readonly address: string;
  readonly inbounds: readonly InboundModel[];
  readonly outbounds: readonly OutboundModel[];
  /** Set when iptables redirect the proxy's traffic (`networking.transparentProxying`). */
  readonly transparentProxy?: { readonly redirectPortInbound: number; readonly redirectPortOutbound: number };
}

export interface MeshModel {
  readonly name: string;
  /** Builtin mTLS backend enabled: its CA secrets' names. Other backend types are not supported yet. */
  readonly mtls?: { readonly backend: string; readonly certSecret: string; readonly keySecret: string };
  /** `routing.localityAwareLoadBalancing` (a MeshLoadBalancingStrategy may override it per destination). */
  readonly localityAware: boolean;
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const port = (v: unknown): number => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : 0;
  return Number.isInteger(n) && n > 0 && n <= 65535 ? n : 0;
};
const stringTags = (v: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  if (isRecord(v)) for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
};

export const protocolOf = (tags: Readonly<Record<string, string>>): Protocol => {
  const p = (tags[PROTOCOL_TAG] ?? '').toLowerCase();
  return (PROTOCOLS as readonly string[]).includes(p) ? (p as Protocol) : 'tcp';
};

/** HTTP-aware protocols get an HttpConnectionManager (routes, HTTP policies); the rest a TCP proxy. */
export const isHttp = (p: Protocol): boolean => p === 'http' || p === 'http2' || p === 'grpc';

export function meshModel(mesh: ResourceLike): MeshModel {
  const backend = enabledBuiltinBackend(mesh.spec as Record<string, unknown>);
  const routing = isRecord(mesh.spec.routing) ? mesh.spec.routing : {};
  const name = typeof backend?.name === 'string' ? backend.name : '';
  const names = name === '' ? undefined : caSecretNames(mesh.name, name);
  return {
    name: mesh.name,
    mtls: names ? { backend: name, certSecret: names.cert, keySecret: names.key } : undefined,
    localityAware: routing.localityAwareLoadBalancing === true,
  };
}

const models = new WeakMap<ResourceLike, DataplaneModel>();

/** `dataplaneModel`, parsed once per resource object (the store view keeps unchanged ones). */
export function dataplaneModelOf(dp: ResourceLike): DataplaneModel {
  let m = models.get(dp);
  if (!m) models.set(dp, (m = dataplaneModel(dp)));
  return m;
}

export function dataplaneModel(dp: ResourceLike): DataplaneModel {
  const n = isRecord(dp.spec.networking) ? dp.spec.networking : {};
  const address = str(n.address);
  const inbounds: InboundModel[] = [];
  for (const ib of Array.isArray(n.inbound) ? n.inbound : []) {
    if (!isRecord(ib) || ib.state === 'Ignored' || ib.state === 2) continue;
    const tags = stringTags(ib.tags);
    const service = tags[SERVICE_TAG] ?? '';
    const p = port(ib.port);
    const addr = str(ib.address) || address;
    if (service === '' || p === 0 || addr === '') continue;
    inbounds.push({ address: addr, port: p, servicePort: port(ib.servicePort) || p, serviceAddress: str(ib.serviceAddress) || '127.0.0.1', service, protocol: protocolOf(tags), tags });
  }
  const outbounds: OutboundModel[] = [];
  for (const ob of Array.isArray(n.outbound) ? n.outbound : []) {
    if (!isRecord(ob)) continue;
    const service = stringTags(ob.tags)[SERVICE_TAG] ?? '';
    const p = port(ob.port);
    // `backendRef` (MeshService) outbounds are not generated yet: only tag-addressed services.
    if (service === '' || p === 0) continue;
    outbounds.push({ address: str(ob.address) || '127.0.0.1', port: p, service });
  }
  const tp = isRecord(n.transparentProxying) ? n.transparentProxying : undefined;
  return {
    mesh: dp.mesh,
    name: dp.name,
    address,
    inbounds,
    outbounds,
    transparentProxy: tp
      ? { redirectPortInbound: port(tp.redirectPortInbound) || REDIRECT_PORT_INBOUND, redirectPortOutbound: port(tp.redirectPortOutbound) || REDIRECT_PORT_OUTBOUND }
      : undefined,
  };
}

/**
 * The protocol of every service of a mesh, from its instances' `kuma.io/protocol` tags (local inbounds and
 * the tags remote ingresses advertise): the one they agree on, else `tcp`, as Kuma falls back when
 * instances disagree.
 */
export function serviceProtocols(mesh: string, dataplanes: readonly ResourceLike[], zoneIngresses: readonly ResourceLike[], localZone: string): Map<string, Protocol> {
  const seen = new Map<string, Set<Protocol>>();
  const add = (service: string, p: Protocol) => {
    let s = seen.get(service);
    if (!s) seen.set(service, (s = new Set()));
    s.add(p);
  };
  for (const dp of dataplanes) {
    if (dp.mesh !== mesh || !isLocal(dp)) continue;
    for (const ib of dataplaneModelOf(dp).inbounds) add(ib.service, ib.protocol);
  }
  for (const zi of zoneIngresses) {
    if (isLocal(zi) || str(zi.spec.zone) === localZone) continue;
    for (const a of Array.isArray(zi.spec.availableServices) ? zi.spec.availableServices : []) {
      if (!isRecord(a) || a.mesh !== mesh) continue;
      const tags = stringTags(a.tags);
      if (tags[SERVICE_TAG]) add(tags[SERVICE_TAG], protocolOf(tags));
    }
  }
  const out = new Map<string, Protocol>();
  for (const [service, set] of seen) out.set(service, set.size === 1 ? [...set][0]! : 'tcp');
  return out;
}

/** A Secret's PEM (`spec.data` is base64, as Kuma stores it); undefined when absent or not text. */
export function secretPem(secret: ResourceLike | undefined): string | undefined {
  const data = secret && str(secret.spec.data);
  if (!data) return undefined;
  const pem = Buffer.from(data, 'base64').toString('utf8');
  return pem.includes('-----BEGIN') ? pem : undefined;
}
