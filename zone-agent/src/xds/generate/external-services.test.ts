/**
 * MeshExternalService models (`external-services.ts`): Kuma's names and SNI, and the TLS origination that
 * `spec.tls.verification.mode` shapes (Kuma `setTlsConfiguration` / `UpstreamTlsContextOutsideMesh`): what
 * the egress's Envoy would verify and present to the external service.
 */
import { describe, expect, it } from 'vitest';
import { asTyped } from '@ursa/core';
import { UpstreamTlsContext } from '@ursa/proto/gen/envoy/extensions/transport_sockets/tls/v3/tls.js';
import { stored } from '../../model/testing.js';
import { externalServiceModels, externalServiceSni, SYSTEM_CA_PATH } from './external-services.js';

const mes = (name: string, spec: Record<string, unknown>, mesh = 'default') => asTyped('MeshExternalService', stored('MeshExternalService', { mesh, name, labels: {}, spec }));
const base = { match: { type: 'HostnameGenerator', port: 443, protocol: 'tcp' }, endpoints: [{ address: 'api.example.com', port: 443 }] };
const pem = { inlineString: '-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n' };
const tlsOf = (spec: Record<string, unknown>) => {
  const [m] = externalServiceModels('default', [mes('x', spec)], []);
  return UpstreamTlsContext.decode(m!.tls!.configType!.value.value);
};
const verification = (mode: string) => ({ ...base, tls: { enabled: true, verification: { mode, caCert: pem, clientCert: pem, clientKey: pem, subjectAltNames: [{ type: 'Prefix', value: 'api.' }] } } });

describe('MeshExternalService models', () => {
  it("names clusters and SNIs as Kuma 2.14 does (its golden's SNI for `example` on 9090)", () => {
    expect(externalServiceSni('default', 'example', 9090)).toBe('afce62f771ed74b78.example.9090.default.mes');
    const [m] = externalServiceModels('default', [mes('example', { ...base, match: { ...base.match, port: 9090 } })], []);
    expect(m!.cluster).toBe('default_example___extsvc_9090');
    expect(m!.tls).toBeUndefined();
  });

  it('Secured (default): SNI from the hostname endpoint, its CA, the name and SANs checked, a client certificate', () => {
    const t = tlsOf(verification('Secured'));
    expect(t.sni).toBe('api.example.com');
    expect(t.commonTlsContext!.tlsCertificates).toHaveLength(1);
    const v = t.commonTlsContext!.validationContextType;
    expect(v?.$case === 'validationContext' && v.value.trustedCa?.specifier?.$case).toBe('inlineString');
    expect(v?.$case === 'validationContext' && v.value.matchTypedSubjectAltNames.map((m) => m.matcher?.matchPattern?.value)).toEqual(['api.example.com', 'api.example.com', 'api.', 'api.']);
  });

  it('SkipSAN: no SNI and no name checks; SkipCA: no verification at all; SkipAll: neither nor a client certificate', () => {
    const san = tlsOf(verification('SkipSAN'));
    expect(san.sni).toBe('');
    const v = san.commonTlsContext!.validationContextType;
    expect(v?.$case === 'validationContext' && v.value.matchTypedSubjectAltNames).toEqual([]);
    const ca = tlsOf(verification('SkipCA'));
    expect(ca.commonTlsContext!.validationContextType).toBeUndefined();
    expect(ca.commonTlsContext!.tlsCertificates).toHaveLength(1);
    const all = tlsOf(verification('SkipAll'));
    expect(all.sni).toBe('');
    expect(all.commonTlsContext).toBeUndefined();
  });

  it("falls back to the system trust store without a CA; an IP endpoint gives no SNI; versions map to Envoy's", () => {
    const t = tlsOf({ ...base, endpoints: [{ address: '192.0.2.10', port: 443 }], tls: { enabled: true, version: { min: 'TLS12' } } });
    expect(t.sni).toBe('');
    const v = t.commonTlsContext!.validationContextType;
    expect(v?.$case === 'validationContext' && v.value.trustedCa?.specifier).toEqual({ $case: 'filename', value: SYSTEM_CA_PATH });
    expect(t.commonTlsContext!.tlsParams?.tlsMinimumProtocolVersion).toBe(3);
  });

  it('leaves out one whose TLS names a missing Secret, one with an extension, and other meshes', () => {
    const list = externalServiceModels(
      'default',
      [
        mes('a', { ...base, tls: { enabled: true, verification: { caCert: { secret: 'nope' } } } }),
        mes('b', { ...base, extension: { type: 'Lambda' } }),
        mes('c', base, 'other'),
        mes('d', base),
      ],
      [],
    );
    expect(list.map((m) => m.name)).toEqual(['d']);
  });
});
