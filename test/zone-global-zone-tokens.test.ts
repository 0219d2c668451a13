/**
 * Zone tokens the global issues, verified by a federated zone (issue 16), with real processes: a global (on
 * PGlite, or on PostgreSQL when DATABASE_URL is set) and a zone agent connected to it over KDS. The operator
 * runs `kumactl generate zone-token --zone=z1 --scope ingress` against the global (`POST /tokens/zone`), and
 * a kuma-dp-like client bootstraps a ZoneIngress on the zone with it (HTTPS `POST /bootstrap`, then ADS over
 * TLS), as Kuma's seeds do. The zone verifies it with the ES256 public key the global publishes as the
 * GlobalSecret `zone-token-signing-public-key-<kid>`, which reaches it over KDS (never the private key). A
 * token for another zone, without the scope, expired, revoked, or signed with a key the zone does not know is
 * refused naming why; after a key rotation the new key's tokens work, and after retirement the old ones stop.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { newEs256Secret, signJwt } from '@ursa/core';
import { Node } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import { AggregatedDiscoveryServiceClient, DiscoveryRequest, LISTENER_TYPE_URL, type DiscoveryResponse } from '@ursa/proto/xds';
import { call } from '@ursa/test-support/api.js';
import { scratchDatabase } from '@ursa/test-support/backends.js';
import { removeDirs, startGlobal, startZoneAgent, type GlobalProc, type ZoneProc } from '@ursa/test-support/cluster.js';
import { freePort, waitFor } from '@ursa/test-support/process.js';

const ZONE_BIN = new URL('../zone-agent/bin/zone-agent.js', import.meta.url).pathname;
const SYNC_MS = 30_000;

interface Answer {
  status: number;
  body: string;
}

/** kuma-dp's bootstrap call: HTTPS on the xDS port, verified with the zone's dp-server CA. */
function bootstrap(port: number, ca: string, body: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', servername: 'localhost', port, path: '/bootstrap', method: 'POST', ca, headers: { 'content-type': 'application/json' } }, (res) => {
      let b = '';
      res.on('data', (c) => (b += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

const zoneProxy = (kind: 'ingress' | 'egress', name: string, token: string) => ({
  mesh: '',
  name,
  proxyType: kind,
  version: { kumaDp: { version: '2.14.3', gitTag: 'v2.14.3', gitCommit: 'x', buildDate: '2026-01-01T00:00:00Z' }, envoy: { version: '1.36.2', build: 'x', kumaDpCompatible: true } },
  workdir: '/tmp/kuma-dp',
  dataplaneToken: token,
  dataplaneResource:
    kind === 'ingress'
      ? `type: ZoneIngress\nname: ${name}\nnetworking:\n  address: 127.0.0.1\n  port: 10001\n  advertisedAddress: 127.0.0.1\n  advertisedPort: 10001\n`
      : `type: ZoneEgress\nname: ${name}\nnetworking:\n  address: 127.0.0.1\n  port: 10002\n`,
});

/** Envoy's ADS stream from a bootstrap answer: its node and `authorization` metadata; resolves with the first LDS answer or the error. */
function ads(client: AggregatedDiscoveryServiceClient, yaml: string, authorization?: string): { first: Promise<DiscoveryResponse | grpc.ServiceError>; close: () => void } {
  const b = parse(yaml);
  const node = Node.fromPartial({ id: b.node.id, cluster: b.node.cluster, metadata: b.node.metadata, userAgentName: 'envoy' });
  const meta = new grpc.Metadata();
  meta.set('authorization', authorization ?? b.dynamicResources.adsConfig.grpcServices[0].initialMetadata.find((m: { key: string }) => m.key === 'authorization').value);
  const stream = client.streamAggregatedResources(meta);
  const first = new Promise<DiscoveryResponse | grpc.ServiceError>((resolve) => {
    stream.on('data', resolve);
    stream.on('error', resolve);
  });
  stream.write(DiscoveryRequest.fromPartial({ node, typeUrl: LISTENER_TYPE_URL }));
  return { first, close: () => stream.cancel() };
}

/** The header of a compact JWT (its signing key id). */
const kidOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()).kid as string;

describe('zone tokens issued by the global, verified on a federated zone (real global + zone agent)', () => {
  let global: GlobalProc;
  let zone: ZoneProc;
  let drop: (() => Promise<void>) | undefined;
  let xdsPort: number;
  let ca: string;
  let client: AggregatedDiscoveryServiceClient;
  const closers: (() => void)[] = [];

  /** `POST /tokens/zone` on the global, as kumactl (plain text), or with Ursa's JSON (its id). */
  const issue = async (body: Record<string, unknown>) => {
    const r = await call(global.url, 'POST', '/tokens/zone', { body, headers: { accept: 'application/json' } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body as { id: string; token: string };
  };
  /** The public key GlobalSecret of `kid` as the zone holds it (undefined until it has synced). */
  const zonePublicKey = async (kid: string) => {
    const r = await call(zone.url, 'GET', `/global-secrets/zone-token-signing-public-key-${kid}`);
    return r.status === 200 ? Buffer.from(r.body.data as string, 'base64').toString('utf8') : undefined;
  };

  beforeAll(async () => {
    let databaseUrl: string | undefined;
    if (process.env.DATABASE_URL) ({ url: databaseUrl, drop } = await scratchDatabase(process.env.DATABASE_URL, 'ursa_ztok'));
    global = await startGlobal({ databaseUrl });
    const cp = await call(global.url, 'POST', '/tokens/zone', { body: { zone: 'z1', scope: ['cp'], validFor: '1h' }, headers: { accept: '*/*' } });
    expect(cp.status).toBe(200);
    xdsPort = await freePort();
    zone = await startZoneAgent({ name: 'z1', globalUrl: global.url, token: cp.body as string, transport: 'ws', xdsPort });
    await waitFor('dp-server up', async () => (zone.child.output().includes('dp-server on 127.0.0.1') ? true : undefined), 15_000, zone.child);
    ca = (await promisify(execFile)(process.execPath, [ZONE_BIN, 'ca-cert', '--data-dir', zone.dataDir])).stdout;
    client = new AggregatedDiscoveryServiceClient(`localhost:${xdsPort}`, grpc.credentials.createSsl(Buffer.from(ca)));
  }, 120_000);

  afterAll(async () => {
    for (const c of closers) c();
    client?.close();
    await zone?.stop();
    await global?.stop();
    await removeDirs([global?.dataDir, zone?.dataDir].filter(Boolean) as string[]);
    await drop?.();
  });

  it('an ingress token for z1 registers a ZoneIngress on z1, which is served its config; the zone got only the public key', async () => {
    const { token } = await issue({ zone: 'z1', scope: ['ingress'], validFor: '1h' });
    const kid = kidOf(token);
    const pem = await waitFor('the public key on the zone', () => zonePublicKey(kid), SYNC_MS);
    expect(pem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(pem).not.toContain('PRIVATE');

    const answer = await bootstrap(xdsPort, ca, zoneProxy('ingress', 'zi-1', token));
    expect(answer.status, answer.body).toBe(200);
    const stream = ads(client, answer.body);
    closers.push(stream.close);
    const first = await stream.first;
    expect('typeUrl' in first ? first.typeUrl : `error ${(first as grpc.ServiceError).details}`).toBe(LISTENER_TYPE_URL);
    const zi = await call(zone.url, 'GET', '/zoneingresses/zi-1');
    expect(zi.status).toBe(200);
    expect(zi.body.labels).toMatchObject({ 'kuma.io/zone': 'z1' });
    // ...and, being zone-owned, it reaches the global.
    await waitFor('zi-1 on the global', async () => ((await call(global.url, 'GET', '/zoneingresses?filter[labels.kuma.io/zone]=z1')).body.items as unknown[]).length === 1 || undefined, SYNC_MS);
  });

  it('an egress token registers a ZoneEgress', async () => {
    const { token } = await issue({ zone: 'z1', scope: ['egress'] });
    const answer = await bootstrap(xdsPort, ca, zoneProxy('egress', 'ze-1', token));
    expect(answer.status, answer.body).toBe(200);
    const stream = ads(client, answer.body);
    closers.push(stream.close);
    expect('typeUrl' in (await stream.first)).toBe(true);
    expect((await call(zone.url, 'GET', '/zoneegresses/ze-1')).status).toBe(200);
  });

  it('refuses a token for another zone, without the scope, expired, revoked, or signed by an unknown key, saying why', async () => {
    const other = await issue({ zone: 'z2', scope: ['ingress'] });
    const refused = await bootstrap(xdsPort, ca, zoneProxy('ingress', 'zi-2', other.token));
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('the zone token is for zone "z2", not "z1"');
    // The ADS stream checks it too (a proxy whose bootstrap was made with another token).
    const good = await issue({ zone: 'z1', scope: ['ingress'] });
    const boot = await bootstrap(xdsPort, ca, zoneProxy('ingress', 'zi-2', good.token));
    const wrongZone = ads(client, boot.body, other.token);
    closers.push(wrongZone.close);
    const err = (await wrongZone.first) as grpc.ServiceError;
    expect(err.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(err.details).toContain('is for zone "z2"');

    const cpOnly = await issue({ zone: 'z1', scope: ['cp'] });
    const noScope = await bootstrap(xdsPort, ca, zoneProxy('ingress', 'zi-2', cpOnly.token));
    expect(noScope.status).toBe(403);
    expect(noScope.body).toContain('do not include "ingress"');

    const shortLived = await issue({ zone: 'z1', scope: ['ingress'], validFor: '1s' });
    const expired = await waitFor('the 1s token to be refused as expired', async () => {
      const r = await bootstrap(xdsPort, ca, zoneProxy('ingress', 'zi-2', shortLived.token));
      return r.status === 401 ? r : undefined;
    }, 15_000);
    expect(expired.body).toContain('the zone token expired at');

    const revoked = await issue({ zone: 'z1', scope: ['ingress'] });
    expect((await bootstrap(xdsPort, ca, zoneProxy('ingress', 'zi-2', revoked.token))).status).toBe(200);
    expect((await call(global.url, 'DELETE', `/tokens/zone/${revoked.id}`)).status).toBe(200);
    const afterRevoke = await waitFor('the revocation to reach the zone', async () => {
      const r = await bootstrap(xdsPort, ca, zoneProxy('ingress', 'zi-2', revoked.token));
      return r.status === 401 ? r : undefined;
    }, SYNC_MS);
    expect(afterRevoke.body).toContain('the zone token was revoked');

    // A token an attacker signed with their own ES256 key, naming a kid the zone has never seen.
    const forged = await signJwt({ kid: 'es-forged', secret: await newEs256Secret() }, { iss: 'ursa', scope: 'zone', scopes: ['ingress'], zone: 'z1', tenant: 'default', jti: 'x', exp: Math.floor(Date.now() / 1000) + 3600 });
    const unknown = await bootstrap(xdsPort, ca, zoneProxy('ingress', 'zi-2', forged));
    expect(unknown.status).toBe(401);
    expect(unknown.body).toContain('signing key "es-forged" is not known in this zone');
    // The same forgery under a kid the zone knows fails the signature check.
    const stolenKid = await signJwt({ kid: kidOf(good.token), secret: await newEs256Secret() }, { iss: 'ursa', scope: 'zone', scopes: ['ingress'], zone: 'z1', jti: 'y', exp: Math.floor(Date.now() / 1000) + 3600 });
    const badSig = await bootstrap(xdsPort, ca, zoneProxy('ingress', 'zi-2', stolenKid));
    expect(badSig.status).toBe(401);
    expect(badSig.body).toContain('signature is not valid');
  }, 90_000);

  it('after a key rotation the new key\'s tokens work on the zone; after retirement the old key\'s stop', async () => {
    const old = await issue({ zone: 'z1', scope: ['ingress'] });
    const rotated = await call(global.url, 'POST', '/tokens/zone/signing-keys/rotate');
    expect(rotated.status).toBe(201);
    const fresh = await issue({ zone: 'z1', scope: ['ingress'] });
    expect(kidOf(fresh.token)).toBe(rotated.body.signingKey);
    expect(kidOf(fresh.token)).not.toBe(kidOf(old.token));
    const works = await waitFor('the new key to reach the zone', async () => {
      const r = await bootstrap(xdsPort, ca, zoneProxy('ingress', 'zi-3', fresh.token));
      return r.status === 200 ? r : undefined;
    }, SYNC_MS);
    const stream = ads(client, works.body);
    closers.push(stream.close);
    expect('typeUrl' in (await stream.first)).toBe(true);
    // The old key stays active until retired.
    expect((await bootstrap(xdsPort, ca, zoneProxy('ingress', 'zi-4', old.token))).status).toBe(200);

    // Retiring ends every session whose token the old key signed, the zone's own KDS session included (the
    // keeper checks each heartbeat). So, as Kuma's docs ask, the operator first gives the zone a cp token
    // signed with the new key (the agent re-reads --token-file on every reconnect); without it the zone could
    // be cut off before the deletion of the old public key reached it, and would keep accepting old tokens.
    const cp = await issue({ zone: 'z1', scope: ['cp'] });
    expect(kidOf(cp.token)).toBe(rotated.body.signingKey);
    await writeFile(zone.tokenFile, cp.token);
    expect((await call(global.url, 'POST', '/tokens/zone/signing-keys/retire')).status).toBe(200);
    const gone = await waitFor('the retired key to leave the zone', async () => {
      const r = await bootstrap(xdsPort, ca, zoneProxy('ingress', 'zi-4', old.token));
      return r.status === 401 ? r : undefined;
    }, SYNC_MS);
    expect(gone.body).toContain('is not known in this zone');
    expect((await bootstrap(xdsPort, ca, zoneProxy('ingress', 'zi-4', fresh.token))).status).toBe(200);
  }, 90_000);
});
