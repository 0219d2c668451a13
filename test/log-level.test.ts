/**
 * `--log-level` on both planes, as real processes: lines look like kuma-cp's (tab-separated time, LEVEL,
 * logger name, message), `warn` hides the info lines a default start writes, `debug` adds debug lines.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
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

/**
 * `--log-format json` on both planes: every line one JSON object (time, level, logger, msg, fields); requests
 * logged at debug with the trace id their error body carries as `instance`; KDS sessions with zone and transport.
 */
describe('--log-format json', () => {
  const children: Child[] = [];
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(children.map((c) => c.stop()));
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  const jsonLines = (out: string) =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  it('global and zone agent: JSON lines; requests with their trace id; zone sessions with zone and transport', async () => {
    const gDir = await mkdtemp(join(tmpdir(), 'ursa-logjson-'));
    dirs.push(gDir);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const global = start(TSX, [GLOBAL, '--port', String(port), '--data-dir', gDir, '--log-format', 'json', '--log-level', 'debug'], { env: cleanEnv() });
    children.push(global);
    await waitFor('GET /', () => getJson(`${url}/`), 60_000, global);

    const missing = await fetch(`${url}/meshes/default/meshtimeouts/nope`);
    expect(missing.status).toBe(404);
    const instance = ((await missing.json()) as { instance: string }).instance;
    expect(instance).toMatch(/^ursa:trace:[0-9a-f]{32}$/);
    const request = await waitFor('the request log line', async () => jsonLines(global.output()).find((l) => l.msg === 'request' && l.traceId === instance), 10_000, global);
    expect(request).toMatchObject({ level: 'debug', logger: 'global.api', method: 'GET', path: '/meshes/default/meshtimeouts/nope', status: 404 });
    expect(typeof request.durationMs).toBe('number');
    expect(Date.parse(request.time as string)).not.toBeNaN();

    expect((await fetch(`${url}/meshes/default`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'Mesh', name: 'default' }) })).status).toBe(201);
    // Kuma's format: the token alone, as text.
    const token = (await (await fetch(`${url}/tokens/zone`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ zone: 'logs' }) })).text()).trim();
    const zDir = await mkdtemp(join(tmpdir(), 'ursa-logjson-zone-'));
    dirs.push(zDir);
    await writeFile(join(zDir, 'token'), token);
    const zonePort = await freePort();
    const zone = start(
      process.execPath,
      [ZONE, '--zone', 'logs', '--global-url', url, '--token-file', join(zDir, 'token'), '--data-dir', zDir, '--api-port', String(zonePort), '--dns-port', '0', '--xds-port', '0', '--transport', 'ws', '--log-format', 'json'],
      { env: cleanEnv() },
    );
    children.push(zone);
    const opened = await waitFor('zone session opened (global)', async () => jsonLines(global.output()).find((l) => l.msg === 'zone session opened'), 60_000, global);
    expect(opened).toMatchObject({ level: 'info', logger: 'global.kds', zone: 'logs', transport: 'ws', tenant: 'default' });
    const connected = await waitFor('connected (zone)', async () => jsonLines(zone.output()).find((l) => String(l.msg).startsWith('connected to')), 60_000, zone);
    expect(connected).toMatchObject({ level: 'info', logger: 'zone-agent[logs].kds', zone: 'logs', transport: 'ws' });
    await zone.stop();
    await global.stop();
    // Every line either plane wrote is one JSON object with the four keys.
    for (const out of [global.output(), zone.output()]) {
      const lines = out.split('\n').filter((l) => l.trim() !== '');
      expect(lines.length).toBeGreaterThan(2);
      for (const l of lines) expect(Object.keys(JSON.parse(l) as object).slice(0, 4)).toEqual(['time', 'level', 'logger', 'msg']);
    }
  }, 180_000);
});
