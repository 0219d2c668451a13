/**
 * The zone agent's `.mesh` resolver end to end: a real standalone agent process answering the real `dig`
 * (bind9-dnsutils), a tiny local upstream for forwarded names, VIPs stable across a restart (also with the
 * global unreachable), and a barrage of random and mutated packets over UDP and TCP that must leave it
 * answering correctly; and, with a global and two zones, a remote zone's ingress services in DNS.
 */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query, startFakeUpstream, udpExchange, type FakeUpstream } from '@ursa/zone-agent';
import { call } from '@ursa/test-support/api.js';
import { removeDirs, startGlobal, startZoneAgent, type GlobalProc, type ZoneProc } from '@ursa/test-support/cluster.js';
import { dig, requireDig } from '@ursa/test-support/dig.js';
import { cleanEnv, freePort, getJson, start, waitFor, type Child } from '@ursa/test-support/process.js';

const TSX = new URL('../node_modules/.bin/tsx', import.meta.url).pathname;
const ZONE = new URL('../zone-agent/bin/zone-agent.js', import.meta.url).pathname;

interface Agent {
  readonly child: Child;
  readonly url: string;
  readonly dnsPort: number;
  /** Milliseconds from spawn to GET /ready, and to the first correct DNS answer (when waited for). */
  readonly readyMs: number;
  stop(): Promise<void>;
}

async function startAgent(dataDir: string, upstreamPort: number, extra: string[] = []): Promise<Agent> {
  const [apiPort, dnsPort] = [await freePort(), await freePort()];
  const t0 = Date.now();
  const child = start(
    process.execPath,
    [ZONE, '--zone', 'dns-zone', '--data-dir', dataDir, '--api-port', String(apiPort), '--dns-port', String(dnsPort), '--dns-upstream', `127.0.0.1:${upstreamPort}`, '--reconnect-max-ms', '1000', ...extra],
    { env: cleanEnv() },
  );
  const url = `http://127.0.0.1:${apiPort}`;
  await waitFor('zone agent GET /ready', () => getJson(`${url}/ready`), 30_000, child);
  return { child, url, dnsPort, readyMs: Date.now() - t0, stop: () => child.stop() };
}

const status = (out: string) => /status: ([A-Z]+)/.exec(out)?.[1];

const dataplane = (name: string, services: string[]) => ({
  type: 'Dataplane',
  mesh: 'default',
  name,
  networking: { address: '10.0.0.9', inbound: services.map((s, i) => ({ port: 8080 + i, tags: { 'kuma.io/service': s } })) },
});

describe('zone agent DNS resolver (real process, real dig)', () => {
  let upstream: FakeUpstream;
  let agent: Agent | undefined;
  let dataDir: string;
  let vips: Record<string, string> = {};

  beforeAll(async () => {
    await requireDig();
    upstream = await startFakeUpstream({ 'example.test': '192.0.2.7' });
    dataDir = await mkdtemp(join(tmpdir(), 'ursa-dns-'));
    agent = await startAgent(dataDir, upstream.port);
  }, 60_000);

  afterAll(async () => {
    await agent?.stop();
    await upstream?.close();
    if (dataDir) await removeDirs([dataDir]);
  });

  it('answers A for local services and their dotted form, over UDP and TCP', async () => {
    const a = agent!;
    expect((await call(a.url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default' } })).status).toBeLessThan(300);
    // Standalone: the agent accepts global-owned types (a policy) locally, as Kuma's standalone mode does.
    const timeout = { type: 'MeshTimeout', mesh: 'default', name: 'local-timeout', spec: { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { connectionTimeout: '2s' } }] } };
    expect((await call(a.url, 'PUT', '/meshes/default/meshtimeouts/local-timeout', { body: timeout })).status).toBe(201);
    expect((await call(a.url, 'GET', '/meshes/default/meshtimeouts/local-timeout')).body.spec.to[0].default.connectionTimeout).toBe('2s');
    // A standalone zone issues zone tokens only for its own zone proxies; listing and key management stay the
    // global's (a retire here would also void dataplane-token keys).
    const other = await call(a.url, 'POST', '/tokens/zone', { body: { zone: 'x' } });
    expect(other.status).toBe(400);
    expect(other.body.invalid_parameters).toEqual([expect.objectContaining({ field: 'zone' })]);
    for (const [method, path] of [['GET', '/tokens/zone'], ['POST', '/tokens/zone/signing-keys/retire']] as const) {
      const r = await call(a.url, method, path, { body: method === 'POST' ? { zone: 'x' } : undefined });
      expect(r.status, `${method} ${path}`).toBe(400);
      expect(r.body.detail ?? r.body.title).toMatch(/issued by the global control plane/);
    }
    const services = ['backend', 'backend_kuma-demo_svc_8080', 'web'];
    const t0 = Date.now();
    expect((await call(a.url, 'PUT', '/meshes/default/dataplanes/dp-1', { body: dataplane('dp-1', services.slice(0, 2)) })).status).toBeLessThan(300);
    expect((await call(a.url, 'PUT', '/meshes/default/dataplanes/dp-2', { body: dataplane('dp-2', services.slice(2)) })).status).toBeLessThan(300);
    await waitFor('web.mesh in DNS', async () => ((await dig(a.dnsPort, 'web.mesh', '+short')) || undefined), 5000);
    const visibleAfter = Date.now() - t0;
    console.log(`[zone-dns] a new Dataplane's service answered ${visibleAfter} ms after its PUT`);
    expect(visibleAfter).toBeLessThan(2000);

    for (const s of services) vips[s] = await dig(a.dnsPort, `${s}.mesh`, '+short');
    expect(Object.values(vips).every((ip) => /^2(4\d|5[0-5])\.\d+\.\d+\.\d+$/.test(ip))).toBe(true);
    expect(new Set(Object.values(vips)).size).toBe(3);

    const full = await dig(a.dnsPort, 'backend.mesh');
    expect(status(full)).toBe('NOERROR');
    expect(full).toMatch(/flags: qr aa rd ra/);
    expect(full).toMatch(new RegExp(`backend\\.mesh\\.\\s+30\\s+IN\\s+A\\s+${vips.backend!.replaceAll('.', '\\.')}`));

    expect(await dig(a.dnsPort, 'backend.mesh', '+short', '+tcp')).toBe(vips.backend);
    expect(await dig(a.dnsPort, 'backend.kuma-demo.svc.8080.mesh', '+short')).toBe(vips['backend_kuma-demo_svc_8080']);
    expect(await dig(a.dnsPort, 'BACKEND.Kuma-Demo.svc.8080.MESH', '+short', '+tcp')).toBe(vips['backend_kuma-demo_svc_8080']);
  });

  it('answers AAAA with the IPv4-mapped VIP', async () => {
    expect(await dig(agent!.dnsPort, 'web.mesh', 'AAAA', '+short')).toBe(`::ffff:${vips.web}`);
    expect(await dig(agent!.dnsPort, 'web.mesh', 'AAAA', '+short', '+tcp')).toBe(`::ffff:${vips.web}`);
  });

  it('forwards unknown .mesh names and other names to the upstream', async () => {
    const unknown = await dig(agent!.dnsPort, 'nothing-here.mesh');
    expect(status(unknown)).toBe('NXDOMAIN');
    expect(await dig(agent!.dnsPort, 'example.test', '+short')).toBe('192.0.2.7');
    expect(await dig(agent!.dnsPort, 'example.test', '+short', '+tcp')).toBe('192.0.2.7');
    expect(upstream.seen).toEqual(expect.arrayContaining(['nothing-here.mesh', 'example.test']));
  });

  it('drops a removed service from DNS (its VIP stays reserved)', async () => {
    const a = agent!;
    expect((await call(a.url, 'DELETE', '/meshes/default/dataplanes/dp-2')).status).toBeLessThan(300);
    await waitFor('web.mesh gone', async () => (status(await dig(a.dnsPort, 'web.mesh')) === 'NXDOMAIN' ? true : undefined), 5000);
    expect((await call(a.url, 'PUT', '/meshes/default/dataplanes/dp-3', { body: dataplane('dp-3', ['newcomer']) })).status).toBeLessThan(300);
    const ip = await waitFor('newcomer.mesh', async () => (await dig(a.dnsPort, 'newcomer.mesh', '+short')) || undefined, 5000);
    expect(ip).not.toBe(vips.web);
    vips.newcomer = ip;
    delete vips.web;
  });

  it('keeps VIPs across a restart, answering at once even with the global unreachable', async () => {
    await agent!.stop();
    agent = undefined;
    const tokenFile = join(dataDir, 'token');
    await writeFile(tokenFile, 'not-a-real-token');
    const deadGlobal = `http://127.0.0.1:${await freePort()}`;
    const t0 = Date.now();
    agent = await startAgent(dataDir, upstream.port, ['--global-url', deadGlobal, '--token-file', tokenFile]);
    const a = agent;
    const answered = await waitFor('backend.mesh after restart', async () => (await dig(a.dnsPort, 'backend.mesh', '+short', '+time=1')) || undefined, 10_000);
    const answeredMs = Date.now() - t0;
    console.log(`[zone-dns] restarted agent: /ready after ${a.readyMs} ms, DNS answered after ${answeredMs} ms (from spawn)`);
    expect(answeredMs - a.readyMs).toBeLessThan(2000);
    expect(answered).toBe(vips.backend);
    for (const [s, ip] of Object.entries(vips)) expect(await dig(a.dnsPort, `${s}.mesh`, '+short')).toBe(ip);
  });

  it('survives thousands of random and mutated packets over UDP and TCP', async () => {
    const a = agent!;
    const seeds = [query('backend.mesh'), query('backend.kuma-demo.svc.8080.mesh', 'AAAA', { edns: true }), query('example.test', 'MX'), query('nothing.mesh', 'TXT')];
    const mutate = (i: number): Buffer => {
      if (i % 3 === 0) return randomBytes(Math.floor(Math.random() * 700));
      const b = Buffer.from(seeds[i % seeds.length]!);
      const edits = 1 + Math.floor(Math.random() * 6);
      for (let k = 0; k < edits; k++) b[Math.floor(Math.random() * b.length)] = Math.floor(Math.random() * 256);
      return Math.random() < 0.3 ? b.subarray(0, Math.floor(Math.random() * b.length)) : b;
    };
    const N = 5000;
    const t0 = Date.now();
    // UDP: from one socket, in bursts (answers, if any, are ignored).
    const sock = createSocket('udp4');
    sock.on('message', () => {});
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    for (let i = 0; i < N; i++) {
      sock.send(mutate(i), a.dnsPort, '127.0.0.1');
      if (i % 200 === 199) await new Promise((r) => setTimeout(r, 5));
    }
    // TCP: framed garbage on several connections, and unframed garbage (a bogus length, then a hang-up).
    const tcpBarrage = (framed: boolean) =>
      new Promise<void>((resolve) => {
        const c = connect({ host: '127.0.0.1', port: a.dnsPort });
        c.on('error', () => resolve());
        c.on('close', () => resolve());
        c.on('data', () => {});
        c.on('connect', () => {
          const parts: Buffer[] = [];
          for (let i = 0; i < N / 10; i++) {
            const m = mutate(i);
            if (framed) {
              const len = Buffer.alloc(2);
              len.writeUInt16BE(m.length);
              parts.push(len);
            }
            parts.push(m);
          }
          c.end(Buffer.concat(parts));
          setTimeout(() => c.destroy(), 3000);
        });
      });
    await Promise.all([...Array.from({ length: 5 }, () => tcpBarrage(true)), ...Array.from({ length: 3 }, () => tcpBarrage(false))]);
    await new Promise<void>((r) => sock.close(() => r()));
    console.log(`[zone-dns] sent ${N} UDP and ${(N / 10) * 8} TCP fuzz packets in ${Date.now() - t0} ms`);

    expect(a.child.proc.exitCode).toBeNull();
    const r = await udpExchange(a.dnsPort, query('backend.mesh'));
    expect(r).toBeDefined();
    expect(await dig(a.dnsPort, 'backend.mesh', '+short')).toBe(vips.backend);
    expect(await dig(a.dnsPort, 'backend.kuma-demo.svc.8080.mesh', '+short', '+tcp')).toBe(vips['backend_kuma-demo_svc_8080']);
    expect(await dig(a.dnsPort, 'example.test', '+short')).toBe('192.0.2.7');
    expect(a.child.output()).not.toMatch(/uncaught|unhandled/i);
  });
});

describe('zone agent DNS resolver, multi-zone (real processes)', () => {
  let global: GlobalProc;
  const zones: Record<string, ZoneProc> = {};

  beforeAll(async () => {
    await requireDig();
    global = await startGlobal();
    await call(global.url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default' } });
    await Promise.all(
      ['zone-a', 'zone-b'].map(async (name) => {
        const token = (await call(global.url, 'POST', '/tokens/zone', { body: { zone: name, validFor: 3600 } })).body.token as string;
        zones[name] = await startZoneAgent({ name, globalUrl: global.url, token, transport: 'ws' });
      }),
    );
  }, 90_000);

  afterAll(async () => {
    await Promise.all(Object.values(zones).map((z) => z.stop()));
    await global?.stop();
    await removeDirs([global?.dataDir, ...Object.values(zones).map((z) => z.dataDir)].filter(Boolean) as string[]);
  });

  it('answers for local services and for the services of other zones\' ingresses', async () => {
    const [a, b] = [zones['zone-a']!, zones['zone-b']!];
    for (const z of [a, b]) await waitFor(`${z.name} has mesh default`, async () => ((await call(z.url, 'GET', '/meshes/default')).status === 200 ? true : undefined), 20_000);
    expect((await call(a.url, 'PUT', '/meshes/default/dataplanes/api-1', { body: dataplane('api-1', ['local-api']) })).status).toBe(201);
    expect((await call(b.url, 'PUT', '/meshes/default/dataplanes/web-1', { body: dataplane('web-1', ['remote-web_ns_svc_80']) })).status).toBe(201);
    const ingress = {
      type: 'ZoneIngress',
      name: 'ingress',
      networking: { address: '10.0.0.1', advertisedAddress: '192.0.2.10', port: 10001, advertisedPort: 10001 },
      availableServices: [{ mesh: 'default', instances: 1, tags: { 'kuma.io/service': 'remote-web_ns_svc_80' } }],
    };
    expect((await call(b.url, 'PUT', '/zoneingresses/ingress', { body: ingress })).status).toBe(201);

    const ipOf = async (z: ZoneProc, name: string) => waitFor(`${name} in ${z.name}'s DNS`, async () => (await dig(z.dnsPort, name, '+short')) || undefined, 20_000);
    const remote = await ipOf(a, 'remote-web_ns_svc_80.mesh');
    expect(await dig(a.dnsPort, 'remote-web.ns.svc.80.mesh', '+short')).toBe(remote);
    expect(await ipOf(a, 'local-api.mesh')).toMatch(/^24\d\./);
    // zone-b resolves the same service from its own Dataplane (VIPs are per zone).
    expect(await ipOf(b, 'remote-web.ns.svc.80.mesh')).toMatch(/^24\d\./);
    // Unknown names are not invented: they go to the upstream (offline here: SERVFAIL).
    expect(status(await dig(a.dnsPort, 'nothing.mesh', '+time=3'))).toMatch(/SERVFAIL|NXDOMAIN/);
  });
});
