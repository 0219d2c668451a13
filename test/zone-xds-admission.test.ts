/**
 * Proxy identity, admission and DataplaneInsight on a real zone agent process (standalone, its own embedded
 * database), dialled over real gRPC by scripted ADS clients:
 * - `POST /tokens/dataplane` issues tokens (plain text, Kuma's), and names every wrong field of a request;
 * - a proxy with a token for itself is admitted, whether it sends the token as call metadata (kuma-dp) or
 *   in node metadata (proxyless gRPC); missing, malformed, forged or expired tokens are UNAUTHENTICATED,
 *   tokens for another Dataplane, mesh or tag set PERMISSION_DENIED, unknown Dataplanes NOT_FOUND,
 *   malformed requests and unknown type URLs INVALID_ARGUMENT, and through all of it an admitted proxy
 *   keeps receiving updates;
 * - its DataplaneInsight is Online with connect time, instance id and per-type ACK/NACK counts, goes
 *   Offline on disconnect, and a subscription left open by a SIGKILLed agent is closed when it restarts;
 * - the inspect endpoints show the config the proxy holds (same versions) and the policies that match it;
 * - `--dataplane-auth false` (here through its environment variable) admits a proxy without a token.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Node } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import { AggregatedDiscoveryServiceClient, CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, CLUSTER_TYPE_URL, DiscoveryRequest, type DiscoveryResponse } from '@ursa/proto/xds';
import { parseZoneConfig } from '@ursa/zone-agent';
import { call } from '@ursa/test-support/api.js';
import { removeDirs } from '@ursa/test-support/cluster.js';
import { freePort, getJson, start, waitFor, type Child } from '@ursa/test-support/process.js';

const ZONE = new URL('../zone-agent/bin/zone-agent.js', import.meta.url).pathname;
const CDS = CLUSTER_TYPE_URL;
const EDS = CLUSTER_LOAD_ASSIGNMENT_TYPE_URL;

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e = { ...process.env };
  for (const k of Object.keys(e)) if (k.startsWith('URSA_') || k === 'DATABASE_URL') delete e[k];
  return { ...e, ...extra };
}

const dataplane = (mesh: string, name: string, service: string, port: number) => ({
  type: 'Dataplane',
  mesh,
  name,
  networking: { address: '127.0.0.1', inbound: [{ port, tags: { 'kuma.io/service': service } }] },
});

/** One scripted SotW ADS stream. */
class Ads {
  readonly got: DiscoveryResponse[] = [];
  error: grpc.ServiceError | undefined;
  private readonly stream: grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;

  constructor(client: AggregatedDiscoveryServiceClient, meta = new grpc.Metadata()) {
    this.stream = client.streamAggregatedResources(meta);
    this.stream.on('data', (r: DiscoveryResponse) => this.got.push(r));
    this.stream.on('error', (e: grpc.ServiceError) => (this.error = e));
  }

  send(r: Partial<DiscoveryRequest>): void {
    this.stream.write(DiscoveryRequest.fromPartial(r));
  }

  /** The next response of `typeUrl` after the first `after` responses. */
  async next(typeUrl: string, after: number, ms = 5000): Promise<DiscoveryResponse> {
    return waitFor(`a ${typeUrl} response`, async () => {
      if (this.error) throw new Error(`stream ended: ${this.error.code} ${this.error.details}`);
      return this.got.slice(after).find((r) => r.typeUrl === typeUrl);
    }, ms);
  }

  async ended(ms = 5000): Promise<grpc.ServiceError> {
    return waitFor('the stream to end', async () => this.error, ms);
  }

  ack(r: DiscoveryResponse): void {
    this.send({ typeUrl: r.typeUrl, versionInfo: r.versionInfo, responseNonce: r.nonce });
  }

  close(): void {
    this.stream.cancel();
  }
}

describe('xDS admission with dataplane tokens, DataplaneInsight and inspect (real zone agent)', () => {
  let agent: Child | undefined;
  let dataDir: string;
  let url: string;
  let apiPort: number;
  let xdsPort: number;
  let client: AggregatedDiscoveryServiceClient;
  const streams: Ads[] = [];
  const tokens: Record<string, string> = {};

  const launch = async (extraEnv: Record<string, string> = {}) => {
    // Counters are written every 500 ms here (default 10 s, Kuma's), so the test need not wait that long.
    const args = ['--zone', 'adm-zone', '--data-dir', dataDir, '--api-port', String(apiPort), '--xds-host', '127.0.0.1', '--xds-port', String(xdsPort), '--dns-port', '0', '--xds-status-flush-ms', '500'];
    agent = start(process.execPath, [ZONE, ...args], { env: env(extraEnv) });
    await waitFor('zone agent GET /ready', () => getJson(`${url}/ready`), 30_000, agent);
    await waitFor('xds server up', async () => (agent!.output().includes('.xds\tADS (') ? true : undefined), 15_000, agent);
  };

  const issue = async (body: Record<string, unknown>): Promise<string> => {
    // As kumactl asks (no Accept): Kuma's answer, the token alone as text/plain with 200.
    const res = await call(url, 'POST', '/tokens/dataplane', { body, headers: { accept: '*/*' } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    return res.body as string;
  };

  /** Opens a stream for `id`, presenting `token` as call metadata (default) or in node metadata. */
  const open = (id: string, token?: string, via: 'header' | 'node' = 'header', typeUrl = CDS, userAgentName = 'scripted-ads'): Ads => {
    const meta = new grpc.Metadata();
    if (token && via === 'header') meta.set('authorization', `Bearer ${token}`);
    const s = new Ads(client, meta);
    streams.push(s);
    const metadata = token && via === 'node' ? { 'dataplane.token': token } : undefined;
    s.send({ node: Node.fromPartial({ id, userAgentName, metadata }), typeUrl });
    return s;
  };

  const insight = async (name: string, mesh = 'default') => {
    const res = await call(url, 'GET', `/meshes/${mesh}/dataplane-insights/${name}`);
    return res.status === 200 ? (res.body as { subscriptions: Record<string, any>[] }) : undefined;
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'ursa-xds-adm-'));
    apiPort = await freePort();
    xdsPort = await freePort();
    url = `http://127.0.0.1:${apiPort}`;
    await launch();
    for (const mesh of ['default', 'other']) expect((await call(url, 'PUT', `/meshes/${mesh}`, { body: { type: 'Mesh', name: mesh } })).status).toBeLessThan(300);
    const dps = [dataplane('default', 'web-1', 'web', 7001), dataplane('default', 'web-2', 'web', 7002), dataplane('default', 'api-1', 'api', 7003), dataplane('other', 'x-1', 'x', 7004)];
    for (const dp of dps) expect((await call(url, 'PUT', `/meshes/${dp.mesh}/dataplanes/${dp.name}`, { body: dp })).status).toBeLessThan(300);
    tokens.web1 = await issue({ mesh: 'default', name: 'web-1', validFor: '24h' });
    tokens.web2 = await issue({ mesh: 'default', name: 'web-2', validFor: 3600 });
    tokens.meshWide = await issue({ mesh: 'default' });
    tokens.apiOnly = await issue({ mesh: 'default', tags: { 'kuma.io/service': ['api'] } });
    tokens.otherMesh = await issue({ mesh: 'other', name: 'x-1' });
    tokens.ghost = await issue({ mesh: 'default', name: 'ghost' });
    client = new AggregatedDiscoveryServiceClient(`127.0.0.1:${xdsPort}`, grpc.credentials.createInsecure());
  }, 90_000);

  afterAll(async () => {
    for (const s of streams) s.close();
    client?.close();
    await agent?.stop();
    if (dataDir) await removeDirs([dataDir]);
  });

  it('POST /tokens/dataplane names every wrong field, and needs the admin role', async () => {
    const bad = await call(url, 'POST', '/tokens/dataplane', { body: { mesh: 'Not_A_Mesh', name: 7, type: 'gateway', tags: { 'kuma.io/service': [] }, validFor: 'forever' } });
    expect(bad.status).toBe(400);
    expect(bad.body.type).toBe('/std-errors');
    expect(bad.body.invalid_parameters.map((p: { field: string }) => p.field).sort()).toEqual(['mesh', 'name', 'tags["kuma.io/service"]', 'type', 'validFor']);
    const ingressWithMesh = await call(url, 'POST', '/tokens/dataplane', { body: { type: 'ingress', mesh: 'default' } });
    expect(ingressWithMesh.body.invalid_parameters).toEqual([expect.objectContaining({ field: 'mesh', reason: expect.stringMatching(/must be empty for a zone ingress token/) })]);

    const ro = await call(url, 'POST', '/tokens', { body: { name: 'viewer', role: 'read-only' } });
    expect(ro.status).toBe(201);
    const denied = await call(url, 'POST', '/tokens/dataplane', { body: { mesh: 'default' }, token: ro.body.secret });
    expect(denied.status).toBe(403);
    const unauthenticated = await call(url, 'POST', '/tokens/dataplane', { body: { mesh: 'default' }, token: 'ursa_not_a_token' });
    expect(unauthenticated.status).toBe(401);
  });

  it('admits a proxy presenting its token (call or node metadata) and keeps its insight: Online, connect time, ACK/NACK per type', async () => {
    const web1 = open('default.web-1', tokens.web1, 'header', CDS);
    const cds = await web1.next(CDS, 0);
    web1.ack(cds);
    web1.send({ typeUrl: EDS });
    const eds = await web1.next(EDS, 0);
    web1.ack(eds);

    const web2 = open('default.web-2', tokens.web2, 'node', EDS);
    const eds2 = await web2.next(EDS, 0);
    // web-2 rejects its endpoints: a NACK (error_detail), keeping nothing.
    web2.send({ typeUrl: EDS, versionInfo: '', responseNonce: eds2.nonce, errorDetail: { code: 3, message: 'endpoints rejected by test', details: [] } });

    const ins1 = await waitFor('web-1 insight with its ACKs', async () => {
      const i = await insight('web-1');
      const sub = i?.subscriptions.at(-1);
      return sub?.status?.total?.responsesAcknowledged === '2' ? sub : undefined;
    }, 5000, agent);
    expect(ins1.connectTime).toEqual(expect.any(String));
    expect(ins1.disconnectTime).toBeUndefined();
    expect(ins1.controlPlaneInstanceId).toEqual(expect.any(String));
    expect(ins1.status.cds).toEqual({ responsesSent: '1', responsesAcknowledged: '1', responsesRejected: '0' });
    expect(ins1.status.eds).toEqual({ responsesSent: '1', responsesAcknowledged: '1', responsesRejected: '0' });
    expect(ins1.version).toEqual({ dependencies: { 'scripted-ads': 'unknown' } });

    const ins2 = await waitFor('web-2 insight with its NACK', async () => {
      const sub = (await insight('web-2'))?.subscriptions.at(-1);
      return sub?.status?.eds?.responsesRejected === '1' ? sub : undefined;
    }, 5000, agent);
    expect(ins2.status.total).toEqual({ responsesSent: '1', responsesAcknowledged: '0', responsesRejected: '1' });

    // Kuma's overview says Online.
    const overview = await call(url, 'GET', '/meshes/default/dataplanes/_overview?name=web-');
    expect(overview.body.items.map((i: any) => [i.name, i.dataplaneInsight.subscriptions.some((s: any) => !s.disconnectTime)])).toEqual([
      ['web-1', true],
      ['web-2', true],
    ]);

    // Closing web-2's stream marks it Offline promptly (a connect/disconnect is not held back by batching).
    const t0 = Date.now();
    web2.close();
    await waitFor('web-2 offline', async () => ((await insight('web-2'))?.subscriptions.at(-1)?.disconnectTime ? true : undefined), 3000, agent);
    expect(Date.now() - t0).toBeLessThan(1500);
  });

  it('refuses missing, malformed, forged, expired and foreign tokens, unknown Dataplanes and bad requests, with a precise status; an admitted proxy keeps receiving updates', async () => {
    // The bystander: web-1 on a mesh-wide token, watching endpoints.
    const bystander = open('default.web-1', tokens.meshWide, 'header', EDS);
    const first = await bystander.next(EDS, 0);
    bystander.ack(first);

    const [h, p, sig] = tokens.web2!.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const forged = [h, Buffer.from(JSON.stringify({ ...claims, name: 'web-1' })).toString('base64url'), sig].join('.');
    const cases: [string, string, string | undefined, 'header' | 'node', grpc.status, RegExp][] = [
      ['no token', 'default.web-1', undefined, 'header', grpc.status.UNAUTHENTICATED, /a dataplane token is required: send it as gRPC metadata "authorization: Bearer <token>" or as node\.metadata\["dataplane\.token"\]/],
      ['garbage', 'default.web-1', 'not-a-jwt', 'node', grpc.status.UNAUTHENTICATED, /the dataplane token is malformed/],
      ['forged claims', 'default.web-1', forged, 'header', grpc.status.UNAUTHENTICATED, /signature is not valid/],
      ['another Dataplane', 'default.web-1', tokens.web2, 'header', grpc.status.PERMISSION_DENIED, /is for Dataplane "web-2", not "web-1"/],
      ['another mesh', 'default.web-1', tokens.otherMesh, 'node', grpc.status.PERMISSION_DENIED, /is for mesh "other", not "default"/],
      ['tags not allowed', 'default.web-1', tokens.apiOnly, 'header', grpc.status.PERMISSION_DENIED, /tag "kuma\.io\/service" is "web", and the token allows only \["api"\]/],
      ['unregistered Dataplane', 'default.ghost', tokens.ghost, 'header', grpc.status.NOT_FOUND, /no Dataplane "ghost" in mesh "default" in zone adm-zone/],
      ['malformed node id', 'nodot', tokens.web1, 'header', grpc.status.INVALID_ARGUMENT, /node\.id "nodot" is not "<mesh>\.<dataplane-name>"/],
    ];
    for (const [what, id, token, via, code, message] of cases) {
      const err = await open(id, token, via).ended();
      expect({ what, code: err.code, details: err.details }).toEqual({ what, code, details: expect.stringMatching(message) });
    }
    const unknownType = await open('default.web-1', tokens.web1, 'header', 'type.googleapis.com/envoy.config.core.v3.Unknown').ended();
    expect([unknownType.code, unknownType.details]).toEqual([grpc.status.INVALID_ARGUMENT, expect.stringMatching(/is not served by this control plane/)]);

    const raw = new grpc.Client(`127.0.0.1:${xdsPort}`, grpc.credentials.createInsecure());
    const id = (b: Buffer) => b;
    const rawCall = raw.makeBidiStreamRequest('/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources', id, id);
    const rawEnded = new Promise<grpc.ServiceError>((resolve) => rawCall.on('error', resolve));
    rawCall.on('data', () => {});
    rawCall.write(Buffer.from([0x0a, 0x7f, 0x01]));
    const rawErr = await rawEnded;
    raw.close();
    expect([rawErr.code, rawErr.details]).toEqual([grpc.status.INVALID_ARGUMENT, expect.stringMatching(/could not be decoded as a DeltaDiscoveryRequest/)]);

    // A tag-bound token admits the Dataplane whose tags it allows.
    const api = open('default.api-1', tokens.apiOnly, 'header', CDS);
    await api.next(CDS, 0);
    api.close();

    // Refused proxies left no trace; the bystander still gets the next endpoint change.
    expect(await insight('ghost')).toBeUndefined();
    const before = bystander.got.length;
    expect((await call(url, 'PUT', '/meshes/default/dataplanes/web-3', { body: dataplane('default', 'web-3', 'web', 7005) })).status).toBe(201);
    const update = await bystander.next(EDS, before, 3000);
    expect(update.versionInfo).not.toBe(first.versionInfo);
  });

  it('refuses an expired token', async () => {
    const short = await issue({ mesh: 'default', name: 'web-1', validFor: '1s' });
    const err = await waitFor('the token to expire', async () => {
      const s = open('default.web-1', short, 'header', CDS);
      const e = await s.ended(1500).catch(() => undefined);
      s.close();
      return e;
    }, 6000, agent);
    expect(err.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(err.details).toMatch(/the dataplane token expired at 20\d\d-/);
  });

  it('inspect: _config is what the proxy holds (same versions, decoded), 404 in Kuma\'s shape otherwise; _policies lists the matching policies', async () => {
    const s = open('default.web-1', tokens.web1, 'header', CDS);
    const cds = await s.next(CDS, 0);
    const res = await call(url, 'GET', '/meshes/default/dataplanes/web-1/_config');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ mesh: 'default', name: 'web-1', nodeId: 'default.web-1', connected: true });
    // The wildcard CDS version is the version of the whole set the inspect endpoint shows.
    expect(res.body.resources.CDS.version).toBe(cds.versionInfo);
    expect(res.body.resources.CDS.items.length).toBe(cds.resources.length);
    const cluster = res.body.resources.CDS.items[0];
    expect(cluster.resource['@type']).toBe(CDS);
    expect(cluster.resource.name).toBe(cluster.name);
    expect(cluster.version).toMatch(/\S/);
    expect(Object.keys(res.body.resources)).toContain('EDS');

    const notConnected = await call(url, 'GET', '/meshes/default/dataplanes/api-1/_config');
    expect(notConnected.status).toBe(404);
    expect(notConnected.body).toMatchObject({ type: '/std-errors', status: 404, detail: expect.stringMatching(/default\.api-1 has no xDS configuration: it is not connected/) });
    const missing = await call(url, 'GET', '/meshes/default/dataplanes/nobody/_config');
    expect(missing.status).toBe(404);
    expect(missing.body.detail).toBe('Not found');

    const mt = { type: 'MeshTimeout', mesh: 'default', name: 'web-timeouts', spec: { targetRef: { kind: 'MeshService', name: 'web' }, to: [{ targetRef: { kind: 'Mesh' }, default: { connectionTimeout: '3s' } }] } };
    expect((await call(url, 'PUT', '/meshes/default/meshtimeouts/web-timeouts', { body: mt })).status).toBe(201);
    const pol = await call(url, 'GET', '/meshes/default/dataplanes/web-1/_policies');
    expect(pol.status).toBe(200);
    expect(pol.body.dataplane).toEqual({ mesh: 'default', name: 'web-1' });
    expect(pol.body.policies).toContainEqual(expect.objectContaining({ kind: 'MeshTimeout', name: 'web-timeouts' }));
    const apiPol = await call(url, 'GET', '/meshes/default/dataplanes/api-1/_policies');
    expect(apiPol.body.policies).not.toContainEqual(expect.objectContaining({ name: 'web-timeouts' }));
    s.close();
  });

  it('inspect never shows a private key: an mTLS sidecar\'s SDS secrets are redacted', async () => {
    const mesh = { type: 'Mesh', name: 'secure', mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin' }] } };
    expect((await call(url, 'PUT', '/meshes/secure', { body: mesh })).status).toBeLessThan(300);
    expect((await call(url, 'PUT', '/meshes/secure/dataplanes/s-1', { body: dataplane('secure', 's-1', 'sec', 7010) })).status).toBe(201);
    const token = await issue({ mesh: 'secure', name: 's-1' });
    const s = open('secure.s-1', token, 'header', CDS, 'envoy');
    await s.next(CDS, 0);
    const res = await waitFor('SDS in the inspected config', async () => {
      const r = await call(url, 'GET', '/meshes/secure/dataplanes/s-1/_config');
      return r.body?.resources?.SDS ? r : undefined;
    }, 10_000, agent);
    const text = JSON.stringify(res.body);
    expect(text).not.toMatch(/PRIVATE KEY/);
    expect(text).toContain('"privateKey":"[redacted]"');
    expect(res.body.resources.SDS.items.map((i: { resource: Record<string, unknown> }) => i.resource['@type'])).toContain('type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret');
    s.close();
  });

  it('a SIGKILLed agent leaves subscriptions open; the restarted agent closes them before serving, and tokens survive the restart', async () => {
    const s = open('default.web-1', tokens.web1, 'header', CDS);
    await s.next(CDS, 0);
    await waitFor('web-1 online', async () => ((await insight('web-1'))?.subscriptions.some((x) => !x.disconnectTime) ? true : undefined), 3000, agent);
    process.kill(-agent!.proc.pid!, 'SIGKILL');
    await agent!.exited;
    s.close();

    await launch();
    const after = await insight('web-1');
    expect(after!.subscriptions.length).toBeGreaterThan(0);
    expect(after!.subscriptions.filter((x) => !x.disconnectTime)).toEqual([]);
    expect(agent!.output()).toMatch(/\.xds\tmarked \d+ dataplane insight\(s\) offline \(left open by a previous run\)/);

    const again = open('default.web-1', tokens.web1, 'node', CDS);
    await again.next(CDS, 0);
    again.close();
  }, 60_000);

  it('with dataplane auth off (URSA_ZONE_DATAPLANE_AUTH=false) a proxy needs no token, and the agent says so', async () => {
    await agent!.stop();
    await launch({ URSA_ZONE_DATAPLANE_AUTH: 'false' });
    expect(agent!.output()).toMatch(/dataplane auth is OFF/);
    const s = open('default.web-2', undefined, 'header', CDS);
    expect((await s.next(CDS, 0)).resources.length).toBeGreaterThan(0);
    // Admission by node id still holds.
    expect((await open('default.ghost').ended()).code).toBe(grpc.status.NOT_FOUND);
    s.close();
  }, 60_000);
});

describe('zone agent xDS flags', () => {
  it('--xds-host and --dataplane-auth (and their URSA_ZONE_* variables) are parsed and validated', () => {
    const parse = (argv: string[], e: Record<string, string> = {}) => parseZoneConfig(['--zone', 'z', ...argv], e) as { config: { xdsHost: string; dataplaneAuth: boolean } };
    expect(parse([]).config).toMatchObject({ xdsHost: '127.0.0.1', dataplaneAuth: true });
    expect(parse([], { URSA_ZONE_XDS_HOST: '0.0.0.0', URSA_ZONE_DATAPLANE_AUTH: 'false' }).config).toMatchObject({ xdsHost: '0.0.0.0', dataplaneAuth: false });
    expect(parse(['--xds-host', '::1'], { URSA_ZONE_XDS_HOST: '0.0.0.0' }).config.xdsHost).toBe('::1');
    expect(() => parse(['--xds-host', ''])).toThrow(/--xds-host/);
    expect(() => parse(['--dataplane-auth', 'maybe'])).toThrow(/--dataplane-auth.*true or false/);
  });
});
