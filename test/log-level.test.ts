/**
 * `--log-level` on both planes, as real processes: lines look like kuma-cp's (tab-separated time, LEVEL,
 * logger name, message), `warn` hides the info lines a default start writes, `debug` adds debug lines.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanEnv, freePort, getJson, start, waitFor, type Child } from '@ursa/test-support/process.js';

const TSX = new URL('../node_modules/.bin/tsx', import.meta.url).pathname;
const GLOBAL = new URL('../global-api/src/node.ts', import.meta.url).pathname;
const ZONE = new URL('../zone-agent/bin/zone-agent.js', import.meta.url).pathname;
const LINE = /^\d{4}-\d{2}-\d{2}T[\d:.]+Z\t(DEBUG|INFO|WARN|ERROR)\t\S+\t/;
const levels = (out: string) => out.split('\n').map((l) => LINE.exec(l)?.[1]).filter((l): l is string => l !== undefined);

describe('--log-level', () => {
  const children: Child[] = [];
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(children.map((c) => c.stop()));
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });
  const dir = async () => {
    const d = await mkdtemp(join(tmpdir(), 'ursa-log-'));
    dirs.push(d);
    return d;
  };

  const global = async (level?: string) => {
    const port = await freePort();
    const child = start(TSX, [GLOBAL, '--port', String(port), '--data-dir', await dir(), ...(level ? ['--log-level', level] : [])], { env: cleanEnv() });
    children.push(child);
    await waitFor('GET /', () => getJson(`http://127.0.0.1:${port}/`), 20_000, child);
    // A request that fails unexpectedly is not needed: start-up alone writes info lines.
    await child.stop();
    return child.output();
  };

  const zone = async (level?: string) => {
    const port = await freePort();
    const args = ['--zone', 'logs', '--data-dir', await dir(), '--api-port', String(port), '--dns-port', '0', '--xds-port', '0', ...(level ? ['--log-level', level] : [])];
    const child = start(process.execPath, [ZONE, ...args], { env: cleanEnv() });
    children.push(child);
    await waitFor('zone /ready', () => getJson(`http://127.0.0.1:${port}/ready`), 20_000, child);
    // The derived views' first passes log at debug once they ran.
    await waitFor('first pass', async () => (child.output().includes('pass done') || level !== 'debug' ? true : undefined), 20_000, child);
    await child.stop();
    return child.output();
  };

  it('global: info by default in Kuma\'s line format; warn hides info', async () => {
    const byDefault = await global();
    expect(levels(byDefault)).toContain('INFO');
    expect(byDefault).toMatch(/\tINFO\tglobal\tUrsa global API listening on http:\/\/127\.0\.0\.1:\d+/);
    const quiet = await global('warn');
    expect(levels(quiet).filter((l) => l === 'INFO' || l === 'DEBUG')).toEqual([]);
    expect(quiet).not.toContain('listening on');
  });

  it('zone agent: debug adds debug lines, warn hides info, a bad level exits 2 naming the flag', async () => {
    const debug = await zone('debug');
    expect(levels(debug)).toContain('DEBUG');
    expect(debug).toMatch(/\tDEBUG\tzone-agent\[logs\]\.(dns|ingress)\t/);
    const byDefault = await zone();
    expect(levels(byDefault)).toContain('INFO');
    expect(levels(byDefault)).not.toContain('DEBUG');
    const quiet = await zone('warn');
    expect(levels(quiet).filter((l) => l === 'INFO' || l === 'DEBUG')).toEqual([]);
    const bad = start(process.execPath, [ZONE, '--zone', 'logs', '--log-level', 'loud'], { env: cleanEnv() });
    expect(await bad.exited).toBe(2);
    expect(bad.output()).toContain('--log-level');
  });
});
