/**
 * The resolver's extra UDP answering processes in a real agent: they start once the live table is in
 * (`--dns-udp-processes`), answer, and die with the agent, even when it is killed with SIGKILL, so none is left
 * behind holding the DNS port.
 */
import { mkdtemp } from 'node:fs/promises';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '@ursa/zone-agent';
import { removeDirs } from '@ursa/test-support/cluster.js';
import { digShort, requireDig } from '@ursa/test-support/dig.js';
import { alive, childrenOf, cleanEnv, freePort, start, waitFor, type Child } from '@ursa/test-support/process.js';

const ZONE = new URL('../zone-agent/bin/zone-agent.js', import.meta.url).pathname;

describe('zone agent DNS over several processes (real process)', () => {
  let upstream: FakeUpstream;
  let dataDir: string;
  let agent: Child | undefined;

  beforeAll(async () => {
    await requireDig();
    upstream = await startFakeUpstream({ 'example.test': '192.0.2.7' });
    dataDir = await mkdtemp(join(tmpdir(), 'ursa-dns-procs-'));
  });
  afterAll(async () => {
    await agent?.stop();
    await upstream?.close();
    if (dataDir) await removeDirs([dataDir]);
  });

  it('starts the extra processes after the live table, and they exit when the agent is killed with SIGKILL', async () => {
    const [apiPort, dnsPort] = [await freePort(), await freePort()];
    agent = start(process.execPath, [ZONE, '--zone', 'procs', '--data-dir', dataDir, '--api-port', String(apiPort), '--dns-port', String(dnsPort), '--xds-port', '0', '--dns-upstream', `127.0.0.1:${upstream.port}`, '--dns-udp-processes', '2'], { env: cleanEnv() });
    const child = agent;
    await waitFor('the extra answering processes', async () => (/UDP answered by 3 processes/.test(child.output()) ? true : undefined), 60_000, child);
    const kids = await childrenOf(child.proc.pid!);
    expect(kids).toHaveLength(2);
    // Answers come (forwarded here: the fake upstream's name), whichever process reads them.
    for (let i = 0; i < 10; i++) expect(await digShort(dnsPort, 'example.test')).toBe('192.0.2.7');

    // The agent alone, not its process group: a crash, which nothing gets to clean up after.
    process.kill(child.proc.pid!, 'SIGKILL');
    await child.exited;
    await waitFor('the extra processes to exit', async () => (kids.every((p) => !alive(p)) ? true : undefined), 5000);
    // Nobody holds the port: a restarted agent can bind it.
    const sock = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(dnsPort, '127.0.0.1', () => resolve());
    });
    sock.close();
    agent = undefined;
  });
});
