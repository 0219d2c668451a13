/**
 * The zone agent's command line as a user meets it: the real `zone-agent` binary, run with wrong or missing
 * flags and environment variables, must stop at once with exit code 2 and one line naming what is wrong,
 * before it opens a database or a socket.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, start } from '@ursa/test-support/process.js';

const ZONE = new URL('../zone-agent/bin/zone-agent.js', import.meta.url).pathname;

const CASES: readonly { readonly name: string; readonly args: readonly string[]; readonly env?: Record<string, string>; readonly says: string }[] = [
  { name: 'no zone', args: [], says: '--zone is required' },
  { name: 'an unknown flag', args: ['--zone', 'z', '--bogus'], says: 'unknown flag --bogus' },
  { name: 'a flag without its value', args: ['--zone'], says: 'flag --zone needs a value' },
  { name: 'a zone name that is not a DNS label', args: ['--zone', 'Bad_Name'], says: '--zone: must be a lowercase DNS label' },
  { name: 'a port out of range', args: ['--zone', 'z', '--api-port', '99999'], says: '--api-port: must be a port number' },
  { name: 'a bad port in the environment', args: ['--zone', 'z'], env: { URSA_ZONE_DNS_PORT: 'fifty' }, says: 'URSA_ZONE_DNS_PORT: must be a port number' },
  { name: 'a global URL that is not http(s)', args: ['--zone', 'z', '--global-url', 'ftp://global'], says: '--global-url: must be an http:// or https:// URL' },
  { name: 'a global URL without a token file', args: ['--zone', 'z', '--global-url', 'http://127.0.0.1:1'], says: '--token-file is required with --global-url' },
  { name: 'a token file that does not exist', args: ['--zone', 'z', '--global-url', 'http://127.0.0.1:1', '--token-file', '/nonexistent/ursa-token'], says: '--token-file: cannot read /nonexistent/ursa-token (ENOENT)' },
  { name: 'a VIP range that is not a CIDR', args: ['--zone', 'z', '--vip-cidr', '10.0.0.0/99'], says: '--vip-cidr: must be an IPv4 CIDR' },
  { name: 'an unknown transport', args: ['--zone', 'z', '--transport', 'carrier-pigeon'], says: '--transport: must be one of: ws, poll' },
  { name: 'an unknown log level', args: ['--zone', 'z', '--log-level', 'loud'], says: '--log-level: must be one of' },
  { name: 'a malformed DNS upstream', args: ['--zone', 'z', '--dns-upstream', 'nope:abc'], says: '--dns-upstream: must be host or host:port' },
];

describe('zone-agent command line', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ursa-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each(CASES)('$name: exit 2 with one line naming it', async ({ args, env, says }) => {
    // A data dir of its own, so a wrongly accepted command line could not touch anything shared.
    const child = start(process.execPath, [ZONE, '--data-dir', join(dir, 'data'), ...args], { env: cleanEnv(env) });
    expect(await child.exited).toBe(2);
    const lines = child.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(says);
    expect(lines[0]).toMatch(/^zone-agent: /);
  });

  it('--help lists every flag with its environment variable and exits 0', async () => {
    const child = start(process.execPath, [ZONE, '--help'], { env: cleanEnv() });
    expect(await child.exited).toBe(0);
    for (const flag of ['--global-url', '--zone', '--token-file', '--data-dir', '--api-port', '--dns-port', '--xds-port', '--log-level']) {
      expect(child.output()).toContain(flag);
    }
    expect(child.output()).toContain('URSA_ZONE_');
  });
});
