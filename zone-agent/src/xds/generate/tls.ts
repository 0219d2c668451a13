/**
 * mTLS for sidecars (pure): the SDS Secrets a proxy gets over ADS, and the TLS contexts that name them.
 *
 * - `identity_cert:secret:<mesh>`: the proxy's certificate chain and key (`../certs.ts` issues it);
 * - `mesh_ca:secret:<mesh>`: the mesh CA certificate as a validation context (the trust bundle).
 * Inbound listeners require a client certificate from the mesh CA whose SPIFFE URI is in the mesh
 * (`spiffe://<mesh>/...`: which services may call is MeshTrafficPermission's job, in an RBAC filter).
 * Outbound clusters present the proxy's identity, verify that the server is `spiffe://<mesh>/<service>`,
 * and send the SNI `<service>{mesh=<mesh>}` a remote zone ingress routes by.
 * Secrets are referenced by name over ADS (`sds_config: {ads: {}}`), so a rotated certificate is one SDS
 * push and no listener or cluster changes.
 */
import type { TransportSocket } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import { SubjectAltNameMatcher_SanType } from '@ursa/proto/gen/envoy/extensions/transport_sockets/tls/v3/common.js';
import { Secret } from '@ursa/proto/gen/envoy/extensions/transport_sockets/tls/v3/secret.js';
import { DownstreamTlsContext, UpstreamTlsContext, type CommonTlsContext } from '@ursa/proto/gen/envoy/extensions/transport_sockets/tls/v3/tls.js';
import { encodeCanonical } from '../hash.js';
import { DOWNSTREAM_TLS_TYPE_URL, UPSTREAM_TLS_TYPE_URL } from '../type-urls.js';
import { adsSource, tlsTransportSocket } from './envoy.js';
import { caSecretName, identitySecretName, sniFor, spiffeId, ZONE_EGRESS_SERVICE } from './naming.js';

export function identitySecret(mesh: string, certPem: string, keyPem: string): Secret {
  return Secret.fromPartial({
    name: identitySecretName(mesh),
    type: {
      $case: 'tlsCertificate',
      value: { certificateChain: { specifier: { $case: 'inlineBytes', value: Buffer.from(certPem) } }, privateKey: { specifier: { $case: 'inlineBytes', value: Buffer.from(keyPem) } } },
    },
  });
}

export function caSecret(mesh: string, caPem: string): Secret {
  return Secret.fromPartial({
    name: caSecretName(mesh),
    type: { $case: 'validationContext', value: { trustedCa: { specifier: { $case: 'inlineBytes', value: Buffer.from(caPem) } } } },
  });
}

function common(mesh: string, san: { $case: 'exact' | 'prefix'; value: string }): CommonTlsContext {
  return {
    tlsCertificateSdsSecretConfigs: [{ name: identitySecretName(mesh), sdsConfig: adsSource() }],
    validationContextType: {
      $case: 'combinedValidationContext',
      value: {
        defaultValidationContext: { matchTypedSubjectAltNames: [{ sanType: SubjectAltNameMatcher_SanType.URI, matcher: { matchPattern: san, ignoreCase: false }, oid: '' }] },
        validationContextSdsSecretConfig: { name: caSecretName(mesh), sdsConfig: adsSource() },
      },
    },
  } as CommonTlsContext;
}

/** Server side of an inbound: any workload of the mesh, authenticated by the mesh CA. */
export function inboundTls(mesh: string): TransportSocket {
  const ctx = DownstreamTlsContext.fromPartial({ commonTlsContext: common(mesh, { $case: 'prefix', value: `spiffe://${mesh}/` }), requireClientCertificate: true });
  return tlsTransportSocket(DOWNSTREAM_TLS_TYPE_URL, encodeCanonical(DownstreamTlsContext, ctx));
}

/** Client side towards `service`: our identity, theirs verified, and the SNI a remote ingress routes by. */
export function outboundTls(mesh: string, service: string): TransportSocket {
  const ctx = UpstreamTlsContext.fromPartial({ sni: sniFor(service, mesh), commonTlsContext: common(mesh, { $case: 'exact', value: spiffeId(mesh, service) }) });
  return tlsTransportSocket(UPSTREAM_TLS_TYPE_URL, encodeCanonical(UpstreamTlsContext, ctx));
}

/**
 * Client side towards the zone egress for a MeshExternalService (Kuma `ClientSideMTLSCustomSNI` with the
 * service `zone-egress`): our identity, the egress's `spiffe://<mesh>/zone-egress` verified, the service's
 * SNI (the egress picks its filter chain by it) and ALPN `kuma`.
 */
export function egressTls(mesh: string, sni: string): TransportSocket {
  const ctx = UpstreamTlsContext.fromPartial({ sni, commonTlsContext: { ...common(mesh, { $case: 'exact', value: spiffeId(mesh, ZONE_EGRESS_SERVICE) }), alpnProtocols: ['kuma'] } });
  return tlsTransportSocket(UPSTREAM_TLS_TYPE_URL, encodeCanonical(UpstreamTlsContext, ctx));
}
