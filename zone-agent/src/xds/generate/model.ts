/**
 * What generation reads of the zone's resources, as plain typed values (pure): the mesh's mTLS and locality
 * settings, each proxy's served inbounds and generated outbounds (from the zone's Dataplane model,
 * `model/dataplane.ts`), service protocols and CA secrets. Specs come typed from the store (validated on
 * write), so nothing here checks shapes.
 */
import { caSecretNames, enabledBuiltinBackend } from '@ursa/core';
import { dataplaneOf, isLocal, protocolOf, SERVICE_TAG, type DataplaneResource, type Inbound, type Outbound, type Protocol, type TransparentProxy } from '../../model/dataplane.js';
import type { MeshResource, SecretResource, ZoneIngressResource } from '../../model/resources.js';

export { isHttp, PROTOCOL_TAG, protocolOf, type Protocol } from '../../model/dataplane.js';
export type InboundModel = Inbound;

export interface MeshModel {
  readonly name: string;
  /** Builtin mTLS backend enabled: its CA secrets' names. Other backend types are not supported yet. */
  readonly mtls?: { readonly backend: string; readonly certSecret: string; readonly keySecret: string };
  /** `routing.localityAwareLoadBalancing` (a MeshLoadBalancingStrategy may override it per destination). */
  readonly localityAware: boolean;
}

/** What a sidecar's own resources are generated from. */
export interface ProxyModel {
  readonly mesh: string;
  readonly name: string;
  /** Inbounds the proxy listens on: all but `Ignored` ones, with a service. */
  readonly inbounds: readonly Inbound[];
  /** Tag-addressed outbounds (`backendRef` ones are not generated yet). */
  readonly outbounds: readonly Outbound[];
  readonly transparentProxy?: TransparentProxy;
}

export function meshModel(mesh: Pick<MeshResource, 'name' | 'spec'>): MeshModel {
  const name = enabledBuiltinBackend(mesh.spec)?.name ?? '';
  const names = name === '' ? undefined : caSecretNames(mesh.name, name);
  return {
    name: mesh.name,
    mtls: names ? { backend: name, certSecret: names.cert, keySecret: names.key } : undefined,
    localityAware: mesh.spec.routing?.localityAwareLoadBalancing === true,
  };
}

const proxies = new WeakMap<DataplaneResource, ProxyModel>();

/** The proxy model of a Dataplane, built once per resource object (the store view keeps unchanged ones). */
export function proxyModelOf(resource: DataplaneResource): ProxyModel {
  let m = proxies.get(resource);
  if (!m) {
    const dp = dataplaneOf(resource);
    m = {
      mesh: dp.mesh,
      name: dp.name,
      inbounds: dp.inbounds.filter((i) => !i.ignored && i.service !== ''),
      outbounds: dp.outbounds.filter((o) => o.service !== ''),
      transparentProxy: dp.transparentProxy,
    };
    proxies.set(resource, m);
  }
  return m;
}

/**
 * The protocol of every service of a mesh, from its instances' `kuma.io/protocol` tags (local inbounds and
 * the tags remote ingresses advertise): the one they agree on, else `tcp`, as Kuma falls back when
 * instances disagree.
 */
export function serviceProtocols(mesh: string, dataplanes: readonly DataplaneResource[], zoneIngresses: readonly ZoneIngressResource[], localZone: string): Map<string, Protocol> {
  const seen = new Map<string, Set<Protocol>>();
  const add = (service: string, p: Protocol) => {
    let s = seen.get(service);
    if (!s) seen.set(service, (s = new Set()));
    s.add(p);
  };
  for (const dp of dataplanes) {
    if (dp.mesh !== mesh || !isLocal(dp)) continue;
    for (const ib of proxyModelOf(dp).inbounds) add(ib.service, ib.protocol);
  }
  for (const zi of zoneIngresses) {
    if (isLocal(zi) || (zi.spec.zone ?? '') === localZone) continue;
    for (const a of zi.spec.availableServices ?? []) {
      if (a.mesh !== mesh) continue;
      const service = a.tags[SERVICE_TAG];
      if (service) add(service, protocolOf(a.tags));
    }
  }
  const out = new Map<string, Protocol>();
  for (const [service, set] of seen) out.set(service, set.size === 1 ? [...set][0]! : 'tcp');
  return out;
}

/** A Secret's PEM (`spec.data` is base64, as Kuma stores it); undefined when absent or not text. */
export function secretPem(secret: Pick<SecretResource, 'spec'> | undefined): string | undefined {
  const data = secret?.spec.data;
  if (!data) return undefined;
  const pem = Buffer.from(data, 'base64').toString('utf8');
  return pem.includes('-----BEGIN') ? pem : undefined;
}
