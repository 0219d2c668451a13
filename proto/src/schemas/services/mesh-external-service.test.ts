/**
 * MeshExternalService validation, case by case from Kuma v2.14.3's validator test data
 * (`pkg/core/resources/apis/meshexternalservice/api/v1alpha1/testdata/*.input.yaml` and their outputs):
 * same field paths, same messages, all violations at once.
 */
import { describe, expect, it } from 'vitest';
import { validateResource, type Violation } from '../../validate.js';

function check(spec: unknown, name = 'httpbin'): Violation[] {
  const r = validateResource({ kind: 'MeshExternalService', mesh: 'default', name, spec });
  return r.ok ? [] : r.violations;
}

const minimal = { match: { type: 'HostnameGenerator', port: 80, protocol: 'http' }, endpoints: [{ address: '1.1.1.1', port: 12345 }] };

describe('MeshExternalService validation (Kuma testdata)', () => {
  it('full-without-extension-valid: endpoints by IP and hostname, TLS with verification and a client cert', () => {
    expect(
      check({
        match: { type: 'HostnameGenerator', port: 8080, protocol: 'http' },
        endpoints: [{ address: '1.1.1.1', port: 12345 }, { address: 'example.com', port: 80 }],
        tls: {
          version: { min: 'TLS12', max: 'TLS13' },
          allowRenegotiation: false,
          verification: {
            serverName: 'example.com',
            subjectAltNames: [{ type: 'Exact', value: 'example.com' }, { type: 'Prefix', value: 'spiffe://example.local/ns/local' }],
            caCert: { inline: 'dGVzdA==' },
            clientCert: { secret: '123' },
            clientKey: { secret: '123' },
          },
        },
      }),
    ).toEqual([]);
  });

  it('endpoints-with-priority-valid', () => {
    expect(check({ match: { type: 'HostnameGenerator', port: 8080, protocol: 'http' }, endpoints: [0, 1, 2].map((p) => ({ address: `${p + 1}.${p + 1}.${p + 1}.${p + 1}`, port: 443, priority: p })) })).toEqual([]);
  });

  it('full-invalid: every violation, in Kuma order', () => {
    expect(
      check({
        match: { type: 'UnknownMatchType', port: 0, protocol: 'unknown' },
        endpoints: [{ address: '1.1.1.1' }, { address: '1.1.1.2', port: 999999 }, { address: 'example.com' }, { port: 90 }],
        tls: {
          version: { min: 'TLS15', max: 'TLS16' },
          verification: { serverName: 'not[]valid', mode: 'Unknown', subjectAltNames: [{ type: 'Regex', value: '.*.example.com' }], clientCert: { secret: '123' } },
        },
      }),
    ).toEqual([
      { field: 'spec.match.type', message: "unrecognized type 'UnknownMatchType' - only 'HostnameGenerator' is supported" },
      { field: 'spec.match.port', message: 'port must be a valid (1-65535)' },
      { field: 'spec.match.protocol', message: '"protocol" must be one of ["tcp", "grpc", "http", "http2"]' },
      { field: 'spec.endpoints[0].port', message: 'port must be a valid (1-65535)' },
      { field: 'spec.endpoints[1].port', message: 'port must be a valid (1-65535)' },
      { field: 'spec.endpoints[2].port', message: 'port must be a valid (1-65535)' },
      { field: 'spec.endpoints[3].address', message: 'address has to be a valid IP or hostname' },
      { field: 'spec.tls.version.min', message: '"min" must be one of ["TLSAuto", "TLS10", "TLS11", "TLS12", "TLS13"]' },
      { field: 'spec.tls.version.max', message: '"max" must be one of ["TLSAuto", "TLS10", "TLS11", "TLS12", "TLS13"]' },
      { field: 'spec.tls.verification.serverName', message: 'must be a valid DNS name' },
      { field: 'spec.tls.verification.mode', message: '"mode" must be one of ["SkipSAN", "SkipCA", "SkipAll", "Secured"]' },
      { field: 'spec.tls.verification.subjectAltNames[0].type', message: '"type" must be one of ["Prefix", "Exact"]' },
      { field: 'spec.tls.verification.clientKey', message: 'must be defined when clientCert is defined' },
    ]);
  });

  it('minimal-invalid: an unknown protocol', () => {
    expect(check({ ...minimal, match: { ...minimal.match, protocol: 'unknown' } })).toEqual([{ field: 'spec.match.protocol', message: '"protocol" must be one of ["tcp", "grpc", "http", "http2"]' }]);
  });

  it('minimal-invalid-extension: an extension needs a type (and then endpoints are its business)', () => {
    expect(check({ match: minimal.match, extension: { config: { example: true } } })).toEqual([{ field: 'spec.extension.type', message: 'must not be empty' }]);
    expect(check({ match: minimal.match, extension: { type: 'Lambda' }, endpoints: [{ port: 1 }] })).toEqual([]);
  });

  it('missing-client-cert-invalid: a client key without a client cert', () => {
    expect(check({ ...minimal, tls: { verification: { clientKey: { secret: '123' } } } })).toEqual([{ field: 'spec.tls.verification.clientCert', message: 'must be defined when clientKey is defined' }]);
  });

  it('min-higher-than-max-invalid', () => {
    expect(check({ ...minimal, tls: { version: { min: 'TLS13', max: 'TLS12' } } })).toEqual([{ field: 'spec.tls.version.min', message: 'min version must be lower than max' }]);
  });

  it('name-length-63 is valid, name-too-long is not (a DNS label of its hostname)', () => {
    expect(check(minimal, 'a'.repeat(63))).toEqual([]);
    expect(check(minimal, 'a'.repeat(64))).toEqual([{ field: 'name', message: 'must not be longer than 63 characters' }]);
  });

  it('a missing match and wrong types are named, never a crash', () => {
    expect(check({ endpoints: [{ address: 'x.example', port: 'eighty' }] }).map((v) => v.field)).toEqual(expect.arrayContaining(['spec.match', 'spec.endpoints[0].port']));
    expect(check({ ...minimal, tls: { enabled: 'yes' } })).toEqual([{ field: 'spec.tls.enabled', message: 'must be a boolean' }]);
  });
});
