/**
 * kuma-dp against a real zone agent process (standalone, its own embedded database), scripted as kuma-dp
 * runs: `POST /bootstrap` over HTTPS on the xDS port, verified with the CA `zone-agent ca-cert` prints,
 * carrying the dataplane file and the token; then ADS over TLS on the same port with the node and the
 * `authorization` metadata the bootstrap says (grpc-js with TLS credentials stands in for Envoy, which
 * cannot run here). Shown: the Dataplane is registered on connect (zone stamped), its proxy receives its
 * listeners and clusters, a reconnect within the deregistration delay writes nothing (same version, so no
 * other proxy's configuration moves) and a changed resource is updated; gone for good, it is deregistered
 * after the delay, while a Dataplane registered through the API stays; a zone ingress registers itself
 * the same way with its ingress token, or with a zone token (scope ingress) the standalone agent issues; wrong tokens, bad resources and bad bootstrap requests are refused
 * naming what is wrong; plaintext HTTP is refused and plaintext gRPC still served; a stopped and restarted
 * agent keeps what proxies registered and its certificate.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Node } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import { Listener } from '@ursa/proto/gen/envoy/config/listener/v3/listener.js';
import { ClusterLoadAssignment } from '@ursa/proto/gen/envoy/config/endpoint/v3/endpoint.js';
import { AggregatedDiscoveryServiceClient, CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, CLUSTER_TYPE_URL, DiscoveryRequest, LISTENER_TYPE_URL, type DiscoveryResponse } from '@ursa/proto/xds';
import { call } from '@ursa/test-support/api.js';
import { removeDirs } from '@ursa/test-support/cluster.js';
import { freePort, getJson, start, waitFor, type Child } from '@ursa/test-support/process.js';

const ZONE = new URL('../zone-agent/bin/zone-agent.js', import.meta.url).pathname;
const DELAY_MS = 1500;

function env(): NodeJS.ProcessEnv {
  const e = { ...process.env };
  for (const k of Object.keys(e)) if (k.startsWith('URSA_') || k === 'DATABASE_URL') delete e[k];
  return e;
}

const webYaml = (version: string) => `type: Dataplane
mesh: default
name: web-1
networking:
  address: 127.0.0.1
  inbound:
  - port: 17001
    servicePort: 7001
    tags:
      kuma.io/service: web
      kuma.io/protocol: http
      version: ${version}
  outbound:
  - port: 18080
    tags:
      kuma.io/service: api
`;

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * kuma-dp's bootstrap call: HTTPS with the CA file, JSON body. A `host` other than localhost is sent as the
 * Host header without checking the certificate's names (kuma-dp without --ca-cert-file does not verify).
 */
function bootstrap(port: number, ca: string, body: unknown, host = 'localhost'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const unverified = host === 'localhost' ? {} : { checkServerIdentity: () => undefined };
    const req = httpsRequest({ host: '127.0.0.1', servername: 'localhost', port, path: '/bootstrap', method: 'POST', ca, ...unverified, headers: { host: `${host}:${port}`, 'content-type': 'application/json' } }, (res) => {
      let b = '';
      res.on('data', (c) => (b += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

const request = (name: string, extra: Record<string, unknown>) => ({
  mesh: 'default',
  name,
  proxyType: 'dataplane',
  version: { kumaDp: { version: '2.14.3', gitTag: 'v2.14.3', gitCommit: 'x', buildDate: '2026-01-01T00:00:00Z' }, envoy: { version: '1.36.2', build: 'x', kumaDpCompatible: true } },
  workdir: '/tmp/kuma-dp',
  features: ['feature-embedded-dns'],
  ...extra,
});

/** One ADS stream as Envoy opens it from the bootstrap. */
class Ads {
  readonly got: DiscoveryResponse[] = [];
  error: grpc.ServiceError | undefined;
  private readonly stream: grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;

  constructor(client: AggregatedDiscoveryServiceClient, authorization: string | undefined, node: Node, typeUrl: string) {
    const meta = new grpc.Metadata();
    if (authorization) meta.set('authorization', authorization);
    this.stream = client.streamAggregatedResources(meta);
    this.stream.on('data', (r: DiscoveryResponse) => {
      this.got.push(r);
      // Envoy ACKs every response (with the names it asked for): the server may then send the next one.
      if (this.autoAck) this.stream.write(DiscoveryRequest.fromPartial({ typeUrl: r.typeUrl, versionInfo: r.versionInfo, responseNonce: r.nonce, resourceNames: this.names.get(r.typeUrl) ?? [] }));
    });
    this.stream.on('error', (e: grpc.ServiceError) => (this.error = e));
    this.stream.write(DiscoveryRequest.fromPartial({ node, typeUrl }));
  }

  autoAck = false;
  private readonly names = new Map<string, string[]>();

  send(typeUrl: string, resourceNames: string[] = []): void {
    this.names.set(typeUrl, resourceNames);
    this.stream.write(DiscoveryRequest.fromPartial({ typeUrl, resourceNames }));
  }

  next(typeUrl: string, ms = 10_000): Promise<DiscoveryResponse> {
    return waitFor(`a ${typeUrl} response`, async () => {
      if (this.error) throw new Error(`stream ended: ${this.error.code} ${this.error.details}`);
      return this.got.find((r) => r.typeUrl === typeUrl);
    }, ms);
  }

  ended(ms = 10_000): Promise<grpc.ServiceError> {
    return waitFor('the stream to end', async () => this.error, ms);
  }

  close(): void {
    this.stream.cancel();
  }
}

/** What the bootstrap tells Envoy: its node and the ADS call's authorization. */
function fromBootstrap(yaml: string): { node: Node; authorization: string | undefined; ads: { address: string; port: number }; ca: string } {
  const b = parse(yaml);
  const ads = b.staticResources.clusters.find((c: { name: string }) => c.name === 'ads_cluster');
  const addr = ads.loadAssignment.endpoints[0].lbEndpoints[0].endpoint.address.socketAddress;
  return {
    node: Node.fromPartial({ id: b.node.id, cluster: b.node.cluster, metadata: b.node.metadata, userAgentName: 'envoy' }),
    authorization: b.dynamicResources.adsConfig.grpcServices[0].initialMetadata?.find((m: { key: string }) => m.key === 'authorization')?.value,
    ads: { address: addr.address, port: addr.portValue },
    ca: Buffer.from(b.staticResources.secrets[0].validationContext.trustedCa.inlineBytes, 'base64').toString('utf8'),
  };
}

describe('kuma-dp bootstrap and self-registration (real zone agent, HTTPS + ADS over TLS on one port)', () => {
  let agent: Child | undefined;
  let dataDir: string;
  let url: string;
  let xdsPort: number;
  let ca: string;
  let tls: AggregatedDiscoveryServiceClient;
  const streams: Ads[] = [];
  const tokens: Record<string, string> = {};
  let launch: () => Promise<void>;

  const issue = async (body: Record<string, unknown>) => {
    const res = await call(url, 'POST', '/tokens/dataplane', { body, headers: { accept: '*/*' } });
    expect(res.status).toBe(200);
    return res.body as string;
  };
  const getDp = (name: string) => call(url, 'GET', `/meshes/default/dataplanes/${name}`);

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'ursa-dp-bootstrap-'));
    const apiPort = await freePort();
    xdsPort = await freePort();
    url = `http://127.0.0.1:${apiPort}`;
    launch = async () => {
      const args = ['--zone', 'dp-zone', '--data-dir', dataDir, '--api-port', String(apiPort), '--xds-port', String(xdsPort), '--dns-port', '0', '--dataplane-deregistration-delay-ms', String(DELAY_MS)];
      agent = start(process.execPath, [ZONE, ...args], { env: env() });
      await waitFor('zone agent GET /ready', () => getJson(`${url}/ready`), 30_000, agent);
      await waitFor('dp-server up', async () => (agent!.output().includes('dp-server on 127.0.0.1') ? true : undefined), 15_000, agent);
    };
    await launch();
    expect((await call(url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default' } })).status).toBeLessThan(300);
    // api-1 calls web: its endpoints are web-1's, so a churn caused by web-1's proxy would reach it.
    const api1 = { type: 'Dataplane', mesh: 'default', name: 'api-1', networking: { address: '127.0.0.1', inbound: [{ port: 17002, servicePort: 7002, tags: { 'kuma.io/service': 'api' } }], outbound: [{ port: 18081, tags: { 'kuma.io/service': 'web' } }] } };
    expect((await call(url, 'PUT', '/meshes/default/dataplanes/api-1', { body: api1 })).status).toBe(201);
    tokens.web1 = await issue({ mesh: 'default', name: 'web-1' });
    tokens.api1 = await issue({ mesh: 'default', name: 'api-1' });
    tokens.webOnly = await issue({ mesh: 'default', tags: { 'kuma.io/service': ['web'] } });
    tokens.ingress = await issue({ type: 'ingress', name: 'zi-1' });
    // What an operator hands kuma-dp as --ca-cert-file.
    const { stdout } = await promisify(execFile)(process.execPath, [ZONE, 'ca-cert', '--data-dir', dataDir]);
    ca = stdout;
    expect(ca).toBe(await readFile(join(dataDir, 'dp-server', 'ca.pem'), 'utf8'));
    expect(ca).toMatch(/^-----BEGIN CERTIFICATE-----/);
    tls = new AggregatedDiscoveryServiceClient(`localhost:${xdsPort}`, grpc.credentials.createSsl(Buffer.from(ca)));
  }, 90_000);

  afterAll(async () => {
    for (const s of streams) s.close();
    tls?.close();
    await agent?.stop();
    if (dataDir) await removeDirs([dataDir]);
  });

  const connect = (yaml: string, typeUrl = CLUSTER_TYPE_URL) => {
    const b = fromBootstrap(yaml);
    const s = new Ads(tls, b.authorization, b.node, typeUrl);
    streams.push(s);
    return s;
  };

  it('bootstraps kuma-dp over HTTPS, registers its Dataplane on ADS connect and serves it its config', async () => {
    const answer = await bootstrap(xdsPort, ca, request('web-1', { dataplaneToken: tokens.web1, dataplaneResource: webYaml('v1'), dnsPort: 15053 }));
    expect(answer.status, answer.body).toBe(200);
    expect(answer.headers['content-type']).toBe('text/x-yaml');
    const b = fromBootstrap(answer.body);
    expect(b.node.id).toBe('default.web-1');
    expect(b.node.cluster).toBe('web');
    expect(b.node.metadata).toMatchObject({ 'dataplane.proxyType': 'dataplane', 'dataplane.resource': webYaml('v1'), 'dataplane.dns.port': '15053', version: { kumaDp: { version: '2.14.3' } } });
    expect(b.ads).toEqual({ address: 'localhost', port: xdsPort });
    expect(b.authorization).toBe(tokens.web1);
    expect(b.ca).toBe(ca);
    // Bootstrapping writes nothing: Kuma registers on the ADS stream.
    expect((await getDp('web-1')).status).toBe(404);

    const ads = connect(answer.body);
    const cds = await ads.next(CLUSTER_TYPE_URL);
    ads.send(LISTENER_TYPE_URL);
    const lds = await ads.next(LISTENER_TYPE_URL);
    expect(cds.resources.length).toBeGreaterThan(0);
    const listeners = lds.resources.map((r) => Listener.decode(r.value).name);
    expect(listeners).toEqual(expect.arrayContaining(['inbound:127.0.0.1:17001', 'outbound:127.0.0.1:18080']));

    const dp = await getDp('web-1');
    expect(dp.status).toBe(200);
    expect(dp.body.labels).toMatchObject({ 'kuma.io/zone': 'dp-zone' });
    expect(dp.body.networking.inbound[0].tags).toMatchObject({ 'kuma.io/service': 'web', version: 'v1', 'kuma.io/zone': 'dp-zone' });
  });

  it('a reconnect within the delay writes nothing and moves no other proxy\'s config; a changed resource is updated; gone for good, it is deregistered', async () => {
    const before = (await getDp('web-1')).body.modificationTime as string;
    const first = streams.at(-1)!;
    // api-1's proxy, with web-1 among its endpoints.
    const apiAnswer = fromBootstrap((await bootstrap(xdsPort, ca, request('api-1', { dataplaneToken: tokens.api1 }))).body);
    const api = new Ads(tls, apiAnswer.authorization, apiAnswer.node, CLUSTER_TYPE_URL);
    streams.push(api);
    api.autoAck = true;
    await api.next(CLUSTER_TYPE_URL);
    api.send(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, ['web']);
    await waitFor('api-1 to get web-1 as its endpoint', async () => {
      const eds = api.got.filter((r) => r.typeUrl === CLUSTER_LOAD_ASSIGNMENT_TYPE_URL).at(-1);
      const cla = eds && ClusterLoadAssignment.decode(eds.resources[0]!.value);
      const ports = cla?.endpoints.flatMap((e) => e.lbEndpoints.map((l) => (l.hostIdentifier?.$case === 'endpoint' && l.hostIdentifier.value.address?.address?.$case === 'socketAddress' ? l.hostIdentifier.value.address.address.value.portSpecifier : undefined)));
      return JSON.stringify(ports ?? []).includes('17001') ? true : undefined;
    }, 10_000, agent);
    const apiResponses = api.got.length;

    first.close();
    const again = connect((await bootstrap(xdsPort, ca, request('web-1', { dataplaneToken: tokens.web1, dataplaneResource: webYaml('v1') }))).body);
    await again.next(CLUSTER_TYPE_URL);
    // Past the delay the first stream's close would have removed it; it is back and untouched.
    await new Promise((r) => setTimeout(r, DELAY_MS + 500));
    expect((await getDp('web-1')).body.modificationTime).toBe(before);
    // Nothing was written, so api-1 was sent nothing new.
    expect(api.got.length).toBe(apiResponses);
    api.close();

    again.close();
    const changed = connect((await bootstrap(xdsPort, ca, request('web-1', { dataplaneToken: tokens.web1, dataplaneResource: webYaml('v2') }))).body);
    await changed.next(CLUSTER_TYPE_URL);
    expect((await getDp('web-1')).body.networking.inbound[0].tags.version).toBe('v2');

    changed.close();
    expect((await call(url, 'GET', '/meshes/default/dataplane-insights/web-1')).status).toBe(200);
    const gone = await waitFor('web-1 deregistered', async () => ((await getDp('web-1')).status === 404 ? true : undefined), DELAY_MS + 10_000, agent);
    expect(gone).toBe(true);
    // Its insight goes with it, as in Kuma.
    expect((await call(url, 'GET', '/meshes/default/dataplane-insights/web-1')).status).toBe(404);
  });

  it('keeps a Dataplane registered through the API when its proxy leaves', async () => {
    const answer = await bootstrap(xdsPort, ca, request('api-1', { dataplaneToken: tokens.api1 }));
    expect(answer.status, answer.body).toBe(200);
    expect(fromBootstrap(answer.body).node.metadata?.['dataplane.resource']).toBeUndefined();
    const ads = connect(answer.body);
    await ads.next(CLUSTER_TYPE_URL);
    ads.close();
    await new Promise((r) => setTimeout(r, DELAY_MS + 1000));
    expect((await getDp('api-1')).status).toBe(200);
  });

  it('registers a zone ingress from kuma-dp --proxy-type=ingress with its ingress token', async () => {
    const zi = 'type: ZoneIngress\nname: zi-1\nnetworking:\n  address: 127.0.0.1\n  port: 10001\n  advertisedAddress: 127.0.0.1\n  advertisedPort: 10001\n';
    const answer = await bootstrap(xdsPort, ca, request('zi-1', { mesh: '', proxyType: 'ingress', dataplaneToken: tokens.ingress, dataplaneResource: zi }));
    expect(answer.status, answer.body).toBe(200);
    expect(fromBootstrap(answer.body).node).toMatchObject({ id: '.zi-1', cluster: 'ingress' });
    const ads = connect(answer.body, LISTENER_TYPE_URL);
    await ads.next(LISTENER_TYPE_URL);
    const stored = await call(url, 'GET', '/zoneingresses/zi-1');
    expect(stored.status).toBe(200);
    expect(stored.body.labels).toMatchObject({ 'kuma.io/zone': 'dp-zone' });
  });

  it('a standalone zone issues zone tokens (scope ingress/egress) that admit its zone ingresses', async () => {
    const bad = await call(url, 'POST', '/tokens/zone', { body: { zone: 'elsewhere', scope: ['cp', 'mesh'], validFor: 'forever' } });
    expect(bad.status).toBe(400);
    expect(bad.body.invalid_parameters.map((p: { field: string }) => p.field).sort()).toEqual(['scope[0]', 'scope[1]', 'validFor', 'zone']);
    const zoneToken = await call(url, 'POST', '/tokens/zone', { body: { zone: 'dp-zone', scope: ['ingress', 'egress'], validFor: '1h' }, headers: { accept: '*/*' } });
    expect(zoneToken.status).toBe(200);
    const egressOnly = (await call(url, 'POST', '/tokens/zone', { body: { zone: 'dp-zone', scope: ['egress'] }, headers: { accept: '*/*' } })).body as string;

    const zi = 'type: ZoneIngress\nname: zi-2\nnetworking:\n  address: 127.0.0.1\n  port: 10002\n  advertisedAddress: 127.0.0.1\n  advertisedPort: 10002\n';
    const answer = await bootstrap(xdsPort, ca, request('zi-2', { mesh: '', proxyType: 'ingress', dataplaneToken: zoneToken.body, dataplaneResource: zi }));
    expect(answer.status, answer.body).toBe(200);
    const ads = connect(answer.body, LISTENER_TYPE_URL);
    await ads.next(LISTENER_TYPE_URL);
    expect((await call(url, 'GET', '/zoneingresses/zi-2')).status).toBe(200);

    const refused = await bootstrap(xdsPort, ca, request('zi-3', { mesh: '', proxyType: 'ingress', dataplaneToken: egressOnly, dataplaneResource: zi.replaceAll('zi-2', 'zi-3') }));
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('do not include "ingress"');
    const notForSidecars = await bootstrap(xdsPort, ca, request('web-1', { dataplaneToken: zoneToken.body, dataplaneResource: webYaml('v1') }));
    expect(notForSidecars.status).toBe(403);
    expect(notForSidecars.body).toContain('use a dataplane token');
  });

  it('refuses a token for another proxy or tag set, and a resource that is invalid, naming what is wrong', async () => {
    // The token names web-1; the resource names web-9.
    const other = webYaml('v1').replace('name: web-1', 'name: web-9');
    const b9 = fromBootstrap((await bootstrap(xdsPort, ca, request('web-9', { dataplaneToken: tokens.webOnly, dataplaneResource: other }))).body);
    const wrongName = new Ads(tls, tokens.web1, b9.node, CLUSTER_TYPE_URL);
    streams.push(wrongName);
    expect((await wrongName.ended()).code).toBe(grpc.status.PERMISSION_DENIED);
    // A tag-bound token (web only) cannot register a proxy of another service.
    const apiTagged = other.replace('kuma.io/service: web', 'kuma.io/service: api').replace('kuma.io/service: api\n`', '');
    const wrongTags = new Ads(tls, tokens.webOnly, Node.fromPartial({ ...b9.node, metadata: { ...b9.node.metadata, 'dataplane.resource': apiTagged } }), CLUSTER_TYPE_URL);
    streams.push(wrongTags);
    const denied = await wrongTags.ended();
    expect(denied.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(denied.details).toContain('kuma.io/service');
    // An invalid resource in node metadata: INVALID_ARGUMENT naming the field; nothing written.
    const invalid = new Ads(tls, tokens.webOnly, Node.fromPartial({ ...b9.node, metadata: { ...b9.node.metadata, 'dataplane.resource': other.replace('port: 17001', 'port: 70001') } }), CLUSTER_TYPE_URL);
    streams.push(invalid);
    const bad = await invalid.ended();
    expect(bad.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(bad.details).toContain('node.metadata["dataplane.resource"].networking.inbound[0].port');
    expect((await getDp('web-9')).status).toBe(404);
  });

  it('answers bad bootstrap requests with a 4xx naming the field, and plaintext HTTP with 400; plaintext gRPC still works', async () => {
    const noToken = await bootstrap(xdsPort, ca, request('web-1', { dataplaneResource: webYaml('v1') }));
    expect(noToken.status).toBe(422);
    expect(noToken.body).toContain('dataplaneToken: a dataplane token is required');
    const badField = await bootstrap(xdsPort, ca, request('web-1', { dataplaneToken: tokens.web1, dataplaneResource: webYaml('v1').replace('address: 127.0.0.1', 'address: not an ip') }));
    expect(badField.status).toBe(422);
    expect(badField.body).toContain('dataplaneResource.networking.address');
    const wrongType = await bootstrap(xdsPort, ca, { ...request('web-1', { dataplaneToken: tokens.web1 }), proxyType: 'sidecar' });
    expect(wrongType.status).toBe(422);
    expect(wrongType.body).toContain('proxyType: must be one of dataplane, ingress, egress');
    const forged = await bootstrap(xdsPort, ca, request('web-1', { dataplaneToken: tokens.api1, dataplaneResource: webYaml('v1') }));
    expect(forged.status).toBe(403);
    expect(forged.body).toContain('dataplaneToken: the dataplane token is for Dataplane "api-1"');
    const host = await bootstrap(xdsPort, ca, request('web-1', { dataplaneToken: tokens.web1 }), 'cp.example.com');
    expect(host.status).toBe(400);
    expect(host.body).toContain('--xds-tls-hostnames=cp.example.com');

    const plain = await new Promise<Answer>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: xdsPort, path: '/bootstrap', method: 'POST' }, (res) => {
        let b = '';
        res.on('data', (c) => (b += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b, headers: res.headers }));
      });
      req.on('error', reject);
      req.end('{}');
    });
    expect(plain.status).toBe(400);
    expect(plain.body).toContain('https');

    const insecure = new AggregatedDiscoveryServiceClient(`127.0.0.1:${xdsPort}`, grpc.credentials.createInsecure());
    try {
      const s = new Ads(insecure, `Bearer ${tokens.api1}`, Node.fromPartial({ id: 'default.api-1', userAgentName: 'envoy' }), CLUSTER_TYPE_URL);
      streams.push(s);
      expect((await s.next(CLUSTER_TYPE_URL)).resources.length).toBeGreaterThan(0);
    } finally {
      insecure.close();
    }
  });

  it('a stopping agent keeps what proxies registered, reuses its certificate, and takes them back after its restart', async () => {
    const caBefore = ca;
    const answer = await bootstrap(xdsPort, ca, request('web-1', { dataplaneToken: tokens.web1, dataplaneResource: webYaml('v3') }));
    const ads = connect(answer.body);
    await ads.next(CLUSTER_TYPE_URL);
    expect((await getDp('web-1')).status).toBe(200);
    await agent!.stop();
    await launch();
    expect(await readFile(join(dataDir, 'dp-server', 'ca.pem'), 'utf8')).toBe(caBefore);
    expect((await getDp('web-1')).body.networking.inbound[0].tags.version).toBe('v3');
    // The proxy reconnects (Envoy retries) and is served again, over a new TLS connection with the same CA.
    tls.close();
    tls = new AggregatedDiscoveryServiceClient(`localhost:${xdsPort}`, grpc.credentials.createSsl(Buffer.from(ca)));
    const back = connect(answer.body);
    await back.next(CLUSTER_TYPE_URL);
    expect((await getDp('web-1')).status).toBe(200);
  });
});
