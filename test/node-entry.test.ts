/** `npm start`'s entry as a real process: embedded Postgres by default, PostgreSQL with DATABASE_URL. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanEnv, freePort, getJson, start, waitFor, type Child } from '@ursa/test-support/process.js';

const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
const TSX = new URL('../node_modules/.bin/tsx', import.meta.url).pathname;
const ENTRY = new URL('../global-api/src/node.ts', import.meta.url).pathname;

describe('global plane Node entry', () => {
  const children: Child[] = [];
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(children.map((c) => c.stop()));
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it('serves GET / within 10 s on embedded Postgres, data under the data directory, and survives a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ursa-node-'));
    dirs.push(dir);
    const port = await freePort();
    const began = Date.now();
    const child = start(TSX, [ENTRY, '--port', String(port), '--data-dir', dir], { env: cleanEnv() });
    children.push(child);
    const index = (await waitFor('GET /', () => getJson(`http://127.0.0.1:${port}/`), 10_000, child)) as Record<string, string>;
    expect(Date.now() - began).toBeLessThan(10_000);
    expect(index).toMatchObject({ product: 'Ursa', version: pkg.version, basedOnKuma: '2.14.3' });
    expect(index.instanceId).toMatch(/-[0-9a-f]{4}$/);
    expect(child.output()).toContain(`dataDir=${dir}`);
    expect(child.output()).toContain('store: pglite');
    await child.stop();
    expect(child.proc.exitCode ?? child.proc.signalCode).not.toBeNull();

    // A second start reopens the same data directory (migrations already applied).
    const again = start(TSX, [ENTRY, '--port', String(port), '--data-dir', dir], { env: cleanEnv() });
    children.push(again);
    await waitFor('GET / after restart', () => getJson(`http://127.0.0.1:${port}/`), 10_000, again);
    await again.stop();
  });

  it('a wrong flag or value exits 2 with a message naming it', async () => {
    const unknown = start(TSX, [ENTRY, '--prot', '1'], { env: cleanEnv() });
    expect(await unknown.exited).toBe(2);
    expect(unknown.output()).toContain('unknown flag --prot');
    const badPort = start(TSX, [ENTRY], { env: cleanEnv({ URSA_PORT: 'http' }) });
    expect(await badPort.exited).toBe(2);
    expect(badPort.output()).toContain('URSA_PORT: must be a port number');
  });

  if (process.env.DATABASE_URL) {
    it('runs on PostgreSQL when DATABASE_URL is set, printing the URL with its password masked', async () => {
      const url = new URL(process.env.DATABASE_URL!);
      url.password = 'hunter2'; // trust auth ignores it; the log must not show it
      const port = await freePort();
      const child = start(TSX, [ENTRY, '--port', String(port)], { env: cleanEnv({ DATABASE_URL: url.toString() }) });
      children.push(child);
      await waitFor('GET / on postgres', () => getJson(`http://127.0.0.1:${port}/`), 10_000, child);
      expect(child.output()).toContain('store: postgres');
      expect(child.output()).not.toContain('hunter2');
      expect(child.output()).toContain(':****@');
      await child.stop();
    });
  }
});
