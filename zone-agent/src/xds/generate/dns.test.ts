/**
 * DNS in the proxy (`dns.ts`) against Kuma v2.14.3's generator test data (pkg/xds/generator/testdata/dns,
 * case 5: embedded DNS): the same record names, TTL and labels in the body kuma-dp reads, the same listener,
 * routes and Etag handling; golden at testdata/golden/generate/dns-in-proxy.json (`UPDATE_GOLDEN=1` rewrites).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LISTENER_TYPE_URL } from '@ursa/proto/xds';
import { Listener } from '@ursa/proto/gen/envoy/config/listener/v3/listener.js';
import { encodeCanonical } from '../hash.js';
import { dynamicConfigListener, dynamicConfigSocket, proxyDnsBody, proxyDnsRecords } from './dns.js';
import { proxyDns } from './proxy-dns.js';
import { envoyJson, roundTripProblems } from './roundtrip.js';

const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), '..', 'testdata', 'golden', 'generate', 'dns-in-proxy.json');
const vips = new Map([
  ['backend_test-ns_svc_8080', '240.0.0.0'],
  ['httpbin', '240.0.0.1'],
]);

describe('DNS in the proxy (kuma-dp 2.14 dynamic config)', () => {
  it('serves the mesh VIP table at /dns on _kuma:dynamicconfig, as Kuma does', () => {
    const body = proxyDnsBody(proxyDnsRecords(vips), { mesh: 'default', kuma_io_zone: 'zone-1' });
    const parsed = JSON.parse(body) as { records: { name: string; ips: string[] }[]; ttl: number; extraLabels: Record<string, string> };
    // Kuma's names for these two services (its body also carries each VIP's IPv4-mapped IPv6 address when IPv6 is on).
    expect(parsed.records).toEqual([
      { name: 'backend.test-ns.svc.8080.mesh', ips: ['240.0.0.0'] },
      { name: 'backend_test-ns_svc_8080.mesh', ips: ['240.0.0.0'] },
      { name: 'httpbin.mesh', ips: ['240.0.0.1'] },
    ]);
    expect(parsed.ttl).toBe(30);
    expect(parsed.extraLabels).toEqual({ kuma_io_zone: 'zone-1', mesh: 'default' });

    const listener = dynamicConfigListener(body, dynamicConfigSocket('/tmp/kuma-dp-123'));
    const bytes = encodeCanonical(Listener, listener);
    expect(roundTripProblems(LISTENER_TYPE_URL, bytes)).toEqual([]);
    const json = envoyJson(LISTENER_TYPE_URL, bytes) as Record<string, any>;
    expect(json.name).toBe('_kuma:dynamicconfig');
    expect(json.address).toEqual({ pipe: { path: '/tmp/kuma-dp-123/kuma-mesh-metric-config.sock' } });
    const hcm = json.filterChains[0].filters[0].typedConfig;
    const [notModified, ok] = hcm.routeConfig.virtualHosts[0].routes;
    const etag = createHash('sha256').update(body).digest('hex');
    expect(notModified).toEqual({ match: { path: '/dns', headers: [{ name: 'If-None-Match', stringMatch: { exact: etag } }] }, directResponse: { status: 304 } });
    expect(ok.directResponse).toEqual({ status: 200, body: { inlineString: body } });
    expect(ok.responseHeadersToAdd).toEqual([{ header: { key: 'Etag', value: etag } }]);
    expect(hcm.routeConfig.maxDirectResponseBodySizeBytes).toBe(Buffer.byteLength(body));

    const text = `${JSON.stringify(json, null, 2)}\n`;
    if (process.env.UPDATE_GOLDEN === '1' || !existsSync(GOLDEN)) writeFileSync(GOLDEN, text);
    else expect(text, `${GOLDEN} differs; UPDATE_GOLDEN=1 rewrites it after review`).toBe(readFileSync(GOLDEN, 'utf8'));
  });

  it('answers a MeshExternalService with a VIP as <name>.extsvc.mesh.local, beside the services', () => {
    const records = proxyDnsRecords(new Map([['httpbin', '240.0.0.1']]), [{ name: 'httpbin', vip: '240.0.0.9' }]);
    expect(records).toEqual([{ name: 'httpbin.extsvc.mesh.local', ips: ['240.0.0.9'] }, { name: 'httpbin.mesh', ips: ['240.0.0.1'] }]);
    // Through the sidecar's memoised listener: one without a VIP yet is left out, and a new VIP changes the key.
    const vipsOf = new Map([['web', '240.0.0.2']]);
    const none = proxyDns(vipsOf, 'default', {}, '/w', [{ name: 'db' }]);
    const some = proxyDns(vipsOf, 'default', {}, '/w', [{ name: 'db', vip: '240.0.0.7' }]);
    expect(some.key).not.toBe(none.key);
    const body = (l: Listener) => JSON.parse((envoyJson(LISTENER_TYPE_URL, encodeCanonical(Listener, l)) as Record<string, any>).filterChains[0].filters[0].typedConfig.routeConfig.virtualHosts[0].routes[1].directResponse.body.inlineString);
    expect(body(none.listener()).records).toEqual([{ name: 'web.mesh', ips: ['240.0.0.2'] }]);
    expect(body(some.listener()).records).toEqual([{ name: 'db.extsvc.mesh.local', ips: ['240.0.0.7'] }, { name: 'web.mesh', ips: ['240.0.0.2'] }]);
  });

  it('an exact <service>.mesh name wins over another service\'s dotted alias, and the socket path fits', () => {
    const records = proxyDnsRecords(new Map([['a_b', '240.0.0.1'], ['a.b', '240.0.0.2']]));
    expect(records).toEqual([{ name: 'a.b.mesh', ips: ['240.0.0.2'] }, { name: 'a_b.mesh', ips: ['240.0.0.1'] }]);
    expect(dynamicConfigSocket(undefined)).toBe('kuma-mesh-metric-config.sock');
    expect(dynamicConfigSocket(`/${'x'.repeat(200)}`).length).toBe(98 + '.sock'.length);
  });
});
