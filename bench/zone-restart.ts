/**
 * Restart benchmark: how long a zone agent (the bundle, `zone-agent/dist/main.mjs`, as `bin/zone-agent.js`
 * runs it) takes from spawn to its first `.mesh` DNS answer and to its first zone API answer, restarted on
 * the same data directory while its global is down (the case `test/zone-outage.test.ts` budgets at 2 s).
 * Prints each restart and the median and worst of each, and the CPU the agent used until both answered.
 *
 * Run: `npx tsx zone-agent/build.ts && npx tsx bench/zone-restart.ts` (env BENCH_RESTARTS, default 10;
 * BENCH_AGENT, another build's `bin/zone-agent.js` to compare with). Under load: start
 * `nice -n 19 yes > /dev/null` twice first. CPU is the agent's (user + system, all threads) when it
 * answered: on a shared host it says more than the wall times.
 */
import { createSocket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as dnsPacket from 'dns-packet';
import { query } from '@ursa/zone-agent';
import { call } from '@ursa/test-support/api.js';
import type { AgentSetup } from '@ursa/test-support/cluster.js';
import { cleanEnv, freePort, getJson, groupGone, start, waitFor } from '@ursa/test-support/process.js';
import { firstUdpAnswer } from '@ursa/test-support/dns-probe.js';

const RESTARTS = Number(process.env.BENCH_RESTARTS ?? 10);
const ZONE = 'restart-zone';
const AGENT = process.env.BENCH_AGENT ?? new URL('../zone-agent/bin/zone-agent.js', import.meta.url).pathname;

/** As `spawnZoneAgent` (test/support/cluster.ts) does, with `AGENT`. */
function spawnAgent(s: AgentSetup) {
  const spawnedAt = Date.now();
  const child = start(
    process.execPath,
    [
      AGENT,
      ...['--zone', ZONE, '--global-url', s.globalUrl, '--token-file', s.tokenFile, '--data-dir', s.dataDir],
      ...['--api-port', String(s.apiPort), '--dns-port', String(s.dnsPort), '--xds-port', String(s.xdsPort)],
      ...['--dns-upstream', '127.0.0.1:9', '--transport', 'ws', '--reconnect-max-ms', '1000'],
    ],
    { env: cleanEnv() },
  );
  return { child, spawnedAt };
}

/**
 * Asks `name` every 50 ms (each query its own id) until `done` settles; returns the slowest answer's time
 * (a query still unanswered at the end counts with its age): how long DNS stalls while the agent loads the
 * rest of itself and opens its database.
 */
async function worstLatencyUntil(port: number, name: string, done: Promise<unknown>): Promise<number> {
  const sock = createSocket('udp4');
  const sent = new Map<number, number>();
  let worst = 0;
  let id = 0;
  sock.on('error', () => {});
  sock.on('message', (msg) => {
    const at = sent.get(msg.readUInt16BE(0));
    if (at === undefined) return;
    sent.delete(msg.readUInt16BE(0));
    worst = Math.max(worst, performance.now() - at);
  });
  const tick = setInterval(() => {
    id = (id + 1) & 0xffff;
    sent.set(id, performance.now());
    sock.send(query(name, 'A', { id }), port, '127.0.0.1');
  }, 50);
  await done.catch(() => {});
  clearInterval(tick);
  await new Promise((r) => setTimeout(r, 200));
  for (const at of sent.values()) worst = Math.max(worst, performance.now() - 200 - at);
  sock.close();
  return Math.round(worst);
}

/** One UDP query; the first A record's address, or undefined (no answer within 300 ms, or no record). */
function resolveOnce(port: number, name: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const sock = createSocket('udp4');
    const done = (ip: string | undefined) => {
      clearTimeout(timer);
      sock.close();
      resolve(ip);
    };
    const timer = setTimeout(() => done(undefined), 300);
    sock.on('error', () => {});
    sock.on('message', (m) => {
      const a = dnsPacket.decode(m).answers?.find((x) => x.type === 'A');
      done(a?.type === 'A' ? a.data : undefined);
    });
    sock.send(query(name), port, '127.0.0.1');
  });
}

function cpuTimeMs(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return NaN;
  }
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)]} ms, worst ${s[s.length - 1]} ms`;
};

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'ursa-bench-restart-'));
  try {
    const tokenFile = join(dataDir, 'token');
    await writeFile(tokenFile, 'no-global-to-check-it');
    // A global that is down: nothing listens on this port.
    const setup: AgentSetup = { dataDir, tokenFile, globalUrl: `http://127.0.0.1:${await freePort()}`, apiPort: await freePort(), dnsPort: await freePort(), xdsPort: await freePort() };
    const url = `http://127.0.0.1:${setup.apiPort}`;

    // State to restart from: a mesh and two services, written through a standalone agent (the global is down).
    const standalone = start(process.execPath, [AGENT, '--zone', ZONE, '--data-dir', dataDir, '--api-port', String(setup.apiPort), '--dns-port', String(setup.dnsPort), '--xds-port', '0', '--dns-upstream', '127.0.0.1:9'], { env: cleanEnv() });
    await waitFor('standalone agent', () => getJson(`${url}/ready`), 300_000, standalone);
    await call(url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default' } });
    for (const [name, service] of [['backend-1', 'backend'], ['web-1', 'web']] as const) {
      const res = await call(url, 'PUT', `/meshes/default/dataplanes/${name}`, { body: { type: 'Dataplane', mesh: 'default', name, networking: { address: '10.0.0.9', inbound: [{ port: 8080, tags: { 'kuma.io/service': service } }] } } });
      if (res.status !== 201) throw new Error(`PUT dataplane: ${res.status} ${JSON.stringify(res.body)}`);
    }
    const ip = await waitFor('backend.mesh in DNS', () => resolveOnce(setup.dnsPort, 'backend.mesh'), 10_000, standalone);
    await standalone.stop();
    await groupGone(standalone);

    const rows: { dnsMs: number; apiMs: number; dnsCpuMs: number; apiCpuMs: number; stallMs: number }[] = [];
    for (let i = 0; i < RESTARTS; i++) {
      const load = loadavg().map((l) => l.toFixed(1)).join(' ');
      const { child, spawnedAt } = spawnAgent(setup);
      const ready = waitFor('/ready', () => getJson(`${url}/ready`), 120_000, child);
      const [[dnsMs, dnsCpuMs, stallMs], [apiMs, apiCpuMs]] = await Promise.all([
        firstUdpAnswer(setup.dnsPort, 'backend.mesh', ip, 120_000).then(async (t) => [t - spawnedAt, cpuTimeMs(child.proc.pid!), await worstLatencyUntil(setup.dnsPort, 'backend.mesh', ready)]),
        waitFor('API', async () => {
          const res = await fetch(`${url}/meshes/default/dataplanes?size=100`).catch(() => undefined);
          if (!res?.ok) return undefined;
          return ((await res.json()) as { total: number }).total === 2 ? [Date.now() - spawnedAt, cpuTimeMs(child.proc.pid!)] : undefined;
        }, 120_000, child),
      ]);
      await ready;
      rows.push({ dnsMs: dnsMs!, apiMs: apiMs!, dnsCpuMs: dnsCpuMs!, apiCpuMs: apiCpuMs!, stallMs: stallMs! });
      console.log(`restart ${i + 1}: first DNS answer ${dnsMs} ms (agent CPU ${dnsCpuMs} ms), first API answer ${apiMs} ms (agent CPU ${apiCpuMs} ms), slowest DNS answer until ready ${stallMs} ms; load ${load}`);
      await child.stop();
      await groupGone(child);
    }
    console.log(`${AGENT}: DNS ${stats(rows.map((r) => r.dnsMs))} (CPU ${stats(rows.map((r) => r.dnsCpuMs))}); API ${stats(rows.map((r) => r.apiMs))} (CPU ${stats(rows.map((r) => r.apiCpuMs))}); slowest DNS answer until ready: ${stats(rows.map((r) => r.stallMs))}`);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
