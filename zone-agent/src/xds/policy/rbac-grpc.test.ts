/**
 * MeshTrafficPermission enforced by a REAL gRPC xDS server (`@grpc/grpc-js-xds` XdsServer) over real mTLS:
 * the engine matches the policies for the server's Dataplane and builds its RBAC filters
 * (`inboundRbacFilters`), the project's ADS server (`../grpc.ts`, `../cache.ts`) serves them to the gRPC
 * server inside a server-side Listener, and clients holding SPIFFE certificates of the mesh CA (issued by
 * `proto/src/pki`) observe OK or PERMISSION_DENIED per their identity.
 *
 * The Listener around the filters (non-forwarding route, DownstreamTlsContext with certificate-provider
 * instances, which is how gRPC takes its certificates) is assembled here: the zone agent does not yet
 * generate server-side listeners for proxyless gRPC servers, only client api_listeners. Its own process:
 * grpc-js-xds reads its bootstrap and RBAC switch once per process.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Listener } from '@ursa/proto/gen/envoy/config/listener/v3/listener.js';
import { Router } from '@ursa/proto/gen/envoy/extensions/filters/http/router/v3/router.js';
import { HttpConnectionManager } from '@ursa/proto/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import { DownstreamTlsContext } from '@ursa/proto/gen/envoy/extensions/transport_sockets/tls/v3/tls.js';
import { generateCa, issueLeaf } from '@ursa/proto';
import { SnapshotCache } from '../cache.js';
import { startAdsServer, type AdsServer } from '../grpc.js';
import { packAny } from '../hash.js';
import { Snapshot } from '../snapshot.js';
import { DOWNSTREAM_TLS_TYPE_URL, HCM_TYPE_URL, ROUTER_TYPE_URL } from '../type-urls.js';
import { inboundRbacFilters, matchPolicies, type PolicyResource } from './index.js';
import { dataplane, policy } from './testing.js';

const ECHO_PATH = '/ursa.test.Echo/Echo';
const identity = (b: Buffer) => b;
const NODE = 'default.web-1';
const SERVER_NAME = 'web.default.mesh';
const web = dataplane('web-1', ['web:8080:grpc']);

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** The server's Listener: mTLS with the mesh CA, the policy engine's RBAC filters, then the router. */
function serverListener(port: number, policies: PolicyResource[]): Listener {
  const inbound = matchPolicies({ mesh: 'default', zone: 'zone-1', dataplane: web, policies }).inbound(8080);
  const hcm = HttpConnectionManager.fromPartial({
    statPrefix: 'inbound_8080',
    routeSpecifier: {
      $case: 'routeConfig',
      value: { name: 'inbound:web', virtualHosts: [{ name: 'web', domains: ['*'], routes: [{ match: { pathSpecifier: { $case: 'prefix', value: '/' } }, action: { $case: 'nonForwardingAction', value: {} } }] }] },
    },
    httpFilters: [
      ...inboundRbacFilters(inbound, { mesh: 'default', mtls: true }),
      { name: 'envoy.filters.http.router', configType: { $case: 'typedConfig', value: packAny(ROUTER_TYPE_URL, Router, Router.fromPartial({})) } },
    ],
  });
  const tls = DownstreamTlsContext.fromPartial({
    commonTlsContext: {
      tlsCertificateProviderInstance: { instanceName: 'mesh', certificateName: '' },
      validationContextType: { $case: 'validationContext', value: { caCertificateProviderInstance: { instanceName: 'mesh', certificateName: '' } } },
    },
    requireClientCertificate: true,
  });
  return Listener.fromPartial({
    name: `grpc/server?xds.resource.listening_address=127.0.0.1:${port}`,
    address: { address: { $case: 'socketAddress', value: { address: '127.0.0.1', portSpecifier: { $case: 'portValue', value: port } } } },
    filterChains: [
      {
        filters: [{ name: 'envoy.filters.network.http_connection_manager', configType: { $case: 'typedConfig', value: packAny(HCM_TYPE_URL, HttpConnectionManager, hcm) } }],
        transportSocket: { name: 'envoy.transport_sockets.tls', configType: { $case: 'typedConfig', value: packAny(DOWNSTREAM_TLS_TYPE_URL, DownstreamTlsContext, tls) } },
      },
    ],
  });
}

describe('MeshTrafficPermission enforced by a real gRPC xDS server over mTLS', () => {
  const cache = new SnapshotCache();
  let ads: AdsServer;
  let dir: string;
  let port: number;
  let server: grpc.Server;
  const certs = new Map<string, { cert: Buffer; key: Buffer }>();
  let caPem: Buffer;

  /** One RPC from a fresh connection presenting `who`'s certificate; the status code it ends with. */
  const callAs = (who: string): Promise<grpc.status> => {
    const c = certs.get(who)!;
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createSsl(caPem, c.key, c.cert), { 'grpc.ssl_target_name_override': SERVER_NAME, 'grpc.use_local_subchannel_pool': 1 });
    return new Promise<grpc.status>((resolve) =>
      client.makeUnaryRequest(ECHO_PATH, identity, identity, Buffer.from('hi'), { deadline: Date.now() + 3000 }, (err) => {
        client.close();
        resolve(err ? err.code : grpc.status.OK);
      }),
    ).then((code) => code);
  };
  /** Serve `policies` and wait until every client gets the expected outcome (the server applies new listeners to new connections). */
  const expectOutcomes = async (policies: PolicyResource[], expected: Record<string, 'OK' | 'PERMISSION_DENIED'>) => {
    cache.setSnapshot(NODE, Snapshot.build({ listeners: [serverListener(port, policies)] }));
    const deadline = Date.now() + 10_000;
    let seen: Record<string, string> = {};
    while (Date.now() < deadline) {
      seen = {};
      for (const who of Object.keys(expected)) seen[who] = grpc.status[await callAs(who)]!;
      if (JSON.stringify(seen) === JSON.stringify(expected)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen).toEqual(expected);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ursa-rbac-'));
    const ca = await generateCa({ commonName: 'default', spiffeTrustDomain: 'default', validForSeconds: 3600 });
    caPem = Buffer.from(ca.certPem);
    const leaf = async (uri: string, dns?: string) => {
      const l = await issueLeaf({ caCertPem: ca.certPem, caKeyPem: ca.keyPem, uris: [uri], dnsNames: dns ? [dns] : [], validForSeconds: 3600 });
      return { cert: Buffer.from(l.certPem), key: Buffer.from(l.keyPem!) };
    };
    for (const who of ['frontend', 'untrusted']) certs.set(who, await leaf(`spiffe://default/${who}`));
    const own = await leaf('spiffe://default/web', SERVER_NAME);
    await writeFile(join(dir, 'ca.pem'), ca.certPem);
    await writeFile(join(dir, 'cert.pem'), own.cert);
    await writeFile(join(dir, 'key.pem'), own.key);

    ads = await startAdsServer({ host: '127.0.0.1', port: 0, cache, identifier: 'rbac-test', callbacks: { openStream: async (n) => n?.id ?? '', closeStream: () => {} } });
    port = await freePort();
    process.env.GRPC_XDS_EXPERIMENTAL_RBAC = 'true';
    process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
      xds_servers: [{ server_uri: `127.0.0.1:${ads.port}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
      node: { id: NODE, locality: { zone: 'zone-1' } },
      server_listener_resource_name_template: 'grpc/server?xds.resource.listening_address=%s',
      certificate_providers: {
        mesh: { plugin_name: 'file_watcher', config: { certificate_file: join(dir, 'cert.pem'), private_key_file: join(dir, 'key.pem'), ca_certificate_file: join(dir, 'ca.pem'), refresh_interval: '600s' } },
      },
    });
    const xds = await import('@grpc/grpc-js-xds');
    xds.register(); // also registers the HTTP filters (router, RBAC) the server side validates against
    cache.setSnapshot(NODE, Snapshot.build({ listeners: [serverListener(port, [])] }));
    server = new xds.XdsServer({ drainGraceTimeMs: 100 } as grpc.ServerOptions);
    server.addService(
      { Echo: { path: ECHO_PATH, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } },
      { Echo: (_c: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from('web')) },
    );
    await new Promise<void>((resolve, reject) => server.bindAsync(`127.0.0.1:${port}`, new xds.XdsServerCredentials(grpc.ServerCredentials.createInsecure()), (err) => (err ? reject(err) : resolve())));
  }, 60_000);

  afterAll(async () => {
    await new Promise<void>((r) => (server ? server.tryShutdown(() => r()) : r()));
    await ads?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('denies every client when the mesh has mTLS and no MeshTrafficPermission allows it', async () => {
    await expectOutcomes([], { frontend: 'PERMISSION_DENIED', untrusted: 'PERMISSION_DENIED' });
  });

  it('admits everyone with an allow-all, and denies one service when a more precedent policy says so', async () => {
    const allowAll = policy('MeshTrafficPermission', 'allow-all', { from: [{ targetRef: { kind: 'Mesh' }, default: { action: 'Allow' } }] });
    await expectOutcomes([allowAll], { frontend: 'OK', untrusted: 'OK' });
    const denyUntrusted = policy('MeshTrafficPermission', 'web-deny-untrusted', {
      targetRef: { kind: 'MeshService', name: 'web' },
      from: [{ targetRef: { kind: 'MeshService', name: 'untrusted' }, default: { action: 'Deny' } }],
    });
    await expectOutcomes([allowAll, denyUntrusted], { frontend: 'OK', untrusted: 'PERMISSION_DENIED' });
  });

  it('rules: admits by SPIFFE id prefix, and a deny wins over the allow', async () => {
    const rules = policy('MeshTrafficPermission', 'rules', {
      rules: [{ default: { allow: [{ spiffeID: { type: 'Prefix', value: 'spiffe://default' } }], deny: [{ spiffeID: { type: 'Exact', value: 'spiffe://default/untrusted' } }] } }],
    });
    await expectOutcomes([rules], { frontend: 'OK', untrusted: 'PERMISSION_DENIED' });
  });
});
