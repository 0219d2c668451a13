/**
 * Names of generated resources, as Kuma names them (`pkg/xds/envoy/names`), so Kuma's docs, dashboards and
 * habits (`inbound:10.0.0.1:8080`, `localhost:8080`, `backend{mesh=default}`) carry over:
 * - listeners: `inbound:<ip>:<port>`, `outbound:<ip>:<port>`, `outbound:passthrough:ipv4` and
 *   `inbound:passthrough:ipv4` (transparent proxying);
 * - clusters: `<service>` for an outbound destination, `localhost:<servicePort>` for the application behind an
 *   inbound, `<mesh>:<service>` on a zone ingress (which serves every mesh), the passthrough clusters;
 * - secrets (SDS): `identity_cert:secret:<mesh>` (the proxy's own certificate) and `mesh_ca:secret:<mesh>`
 *   (the trust bundle);
 * - SNI: the legacy tag form `<service>{mesh=<mesh>}` (`kuma-multizone.md` §4.3), which a remote zone
 *   ingress parses back to route a connection it does not decrypt.
 */
export const inboundListenerName = (ip: string, port: number): string => `inbound:${ip}:${port}`;
export const outboundListenerName = (ip: string, port: number): string => `outbound:${ip}:${port}`;
export const OUTBOUND_PASSTHROUGH = 'outbound:passthrough:ipv4';
export const INBOUND_PASSTHROUGH = 'inbound:passthrough:ipv4';
export const localClusterName = (servicePort: number): string => `localhost:${servicePort}`;
export const outboundClusterName = (service: string): string => service;
export const ingressClusterName = (mesh: string, service: string): string => `${mesh}:${service}`;
export const identitySecretName = (mesh: string): string => `identity_cert:secret:${mesh}`;
export const caSecretName = (mesh: string): string => `mesh_ca:secret:${mesh}`;
/** The identity a zone egress presents in each mesh (Kuma's `mesh_proto.ZoneEgressServiceName`). */
export const ZONE_EGRESS_SERVICE = 'zone-egress';
export const spiffeId = (mesh: string, service: string): string => `spiffe://${mesh}/${service}`;

/**
 * Kuma's `SNIFromTags`: the service, then every other tag (with `mesh`) as sorted `k=v` pairs in braces.
 * Only `kuma.io/service` and the mesh are used for now, which is what sidecars send to a remote ingress.
 */
export function sniFor(service: string, mesh: string, tags: Readonly<Record<string, string>> = {}): string {
  const pairs = Object.entries({ ...tags, mesh })
    .filter(([k]) => k !== 'kuma.io/service')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`);
  return `${service}{${pairs.join(',')}}`;
}

/** The inverse of `sniFor` (what a zone ingress does with a client's SNI); undefined when malformed. */
export function parseSni(sni: string): { service: string; tags: Record<string, string> } | undefined {
  const m = /^([^{}]+)\{([^{}]*)\}$/.exec(sni);
  if (!m) return undefined;
  const tags: Record<string, string> = {};
  for (const pair of m[2]!.split(',').filter((p) => p !== '')) {
    const i = pair.indexOf('=');
    if (i <= 0) return undefined;
    tags[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return { service: m[1]!, tags };
}
