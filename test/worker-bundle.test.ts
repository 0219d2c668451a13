/**
 * `npm run check:worker-bundle`: the Worker as `wrangler deploy` would bundle it (`--dry-run`, offline) holds
 * no Node-only module. The negative cases bundle a throwaway entry in a temporary directory (real source is
 * never touched) and prove the detector names what slipped in and who imported it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkMetafile } from '@ursa/global-api';

const ROOT = new URL('../', import.meta.url).pathname;
const TSX = `${ROOT}node_modules/.bin/tsx`;
const CHECK = `${ROOT}global-api/src/worker/check-bundle.ts`;

function run(cmd: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) =>
    execFile(cmd, args, { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, output: `${stdout}${stderr}` }),
    ),
  );
}

describe('Worker bundle check', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ursa-bundle-neg-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A Worker config beside a throwaway entry, with the real Worker's compatibility settings. */
  async function throwaway(name: string, source: string): Promise<string> {
    await writeFile(join(dir, `${name}.ts`), source);
    const config = join(dir, `${name}.jsonc`);
    await writeFile(config, JSON.stringify({ name: `neg-${name}`, main: `${name}.ts`, compatibility_date: '2026-04-20', compatibility_flags: ['nodejs_compat', 'enable_request_signal'] }));
    return config;
  }

  it('npm run check:worker-bundle passes on the real Worker and lists what it leaves to the runtime', async () => {
    const r = await run('npm', ['run', '--silent', 'check:worker-bundle']);
    expect(r.output).toMatch(/worker bundle OK: \d+ KiB, runtime modules: /);
    expect(r.code, r.output).toBe(0);
    // postgres.js over cloudflare:sockets; nothing else is needed.
    expect(r.output).toContain('cloudflare:sockets');
    expect(r.output).not.toMatch(/node:(fs|child_process|os|http)\b/);
  }, 60_000);

  it('fails on an entry importing node:fs and node:child_process, naming the importer', async () => {
    const config = await throwaway(
      'fs',
      `import { readFileSync } from 'node:fs';\nimport { execSync } from 'child_process';\nexport default { fetch: () => new Response(String(readFileSync) + String(execSync)) };\n`,
    );
    const r = await run(TSX, [CHECK, '--config', config]);
    expect(r.code, r.output).toBe(1);
    expect(r.output).toContain('worker bundle check FAILED');
    expect(r.output).toMatch(/imports node:fs, which a Worker must not use \(imported by .*fs\.ts\)/);
    // The bare name is the same module.
    expect(r.output).toMatch(/imports node:child_process, which a Worker must not use/);
  }, 60_000);

  it('fails on Node-only code of the repository that bundles into stubs: the migrator, PGlite, ws, the zone agent', async () => {
    const config = await throwaway(
      'repo',
      [
        `import { migrate } from '${ROOT}core/src/store/migrate.ts';`,
        `import { openPglite } from '${ROOT}core/src/store/pglite.ts';`,
        `import { KdsClient } from '${ROOT}zone-agent/src/kds/client.ts';`,
        `export default { fetch: () => new Response(String(migrate) + String(openPglite) + String(KdsClient)) };`,
        '',
      ].join('\n'),
    );
    const r = await run(TSX, [CHECK, '--config', config]);
    expect(r.code, r.output).toBe(1);
    expect(r.output).toContain("drizzle's migrator");
    expect(r.output).toContain('PGlite (embedded Postgres, Node only)');
    // ws resolves to its browser stub under workerd's conditions: no node: import would show it.
    expect(r.output).toMatch(/bundles node_modules\/ws\/browser\.js: ws .* \(imported by zone-agent\/src\/kds\/transport-ws\.ts\)/);
    // Named once per rule: the first zone-agent file the bundle reached (the KDS client's modules).
    expect(r.output).toMatch(/bundles zone-agent\/src\/kds\/[a-z-]+\.ts: zone-agent code/);
    expect(r.output).toMatch(/bundles core\/src\/store\/migrate\.ts/);
  }, 60_000);

  it('a build error fails the check too', async () => {
    const config = await throwaway('broken', `import { nothing } from './does-not-exist.js';\nexport default { fetch: () => new Response(String(nothing)) };\n`);
    const r = await run(TSX, [CHECK, '--config', config]);
    expect(r.code).toBe(1);
    expect(r.output).toContain('wrangler could not build the Worker');
  }, 60_000);

  it('checkMetafile: allow-listed runtime modules and cloudflare:* pass; others fail, bare names included', () => {
    const meta = (imports: string[]) => ({
      inputs: { 'src/worker.ts': { bytes: 10, imports: imports.map((path) => ({ path, kind: 'import-statement', external: true })) } },
      outputs: { '../dist/worker.js': { bytes: 10, imports: [] } },
    });
    expect(checkMetafile(meta(['node:buffer', 'node:events', 'node:stream', 'node:async_hooks', 'cloudflare:sockets', 'cloudflare:workers', '<runtime>']), `${ROOT}global-api`)).toMatchObject({ ok: true, violations: [] });
    const bad = checkMetafile(meta(['fs', 'node:worker_threads', 'node:buffer']), `${ROOT}global-api`);
    expect(bad.ok).toBe(false);
    expect(bad.violations).toEqual([
      'imports node:fs, which a Worker must not use (imported by global-api/src/worker.ts)',
      'imports node:worker_threads, which a Worker must not use (imported by global-api/src/worker.ts)',
    ]);
  });
});
