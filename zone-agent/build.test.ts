/** The zone agent's bundle carries the shared core and its own code, never the global's (issue 11); its start-up path stays small. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildZoneAgent, checkStartPath, checkZoneBundle } from './build.js';

describe('zone agent bundle', () => {
  it('holds @ursa/core and the agent, no global-plane code, and a start-up path without the database or the API', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ursa-zone-bundle-'));
    try {
      const meta = await buildZoneAgent(dir);
      const inputs = Object.keys(meta.inputs);
      expect(inputs).toContain('core/src/store/resource-store.ts');
      expect(inputs).toContain('zone-agent/src/kds/client.ts');
      expect(inputs.filter((i) => i.startsWith('global-api/'))).toEqual([]);
      expect(checkZoneBundle(meta)).toEqual([]);
      expect(checkStartPath(meta)).toEqual([]);
      // The entry and the chunks behind its dynamic imports (loaded after the resolver answers).
      expect(Object.keys(meta.outputs).filter((o) => o.endsWith('/main.mjs') || o.endsWith('/dns-worker.mjs') || o.endsWith('/dns-udp-child.mjs') || o.endsWith('/xds-child.mjs'))).toHaveLength(4);
      expect(Object.keys(meta.outputs).some((o) => /\/chunks\/agent-[A-Z0-9]+\.mjs$/.test(o))).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('the check names global-only files', () => {
    const meta = { inputs: { 'global-api/src/kds/session.ts': { bytes: 1, imports: [] }, 'core/src/app.ts': { bytes: 1, imports: [] } } };
    expect(checkZoneBundle(meta)).toEqual([`the zone bundle holds global-api/src/kds/session.ts: the global plane's code (KDS server, zone-token routes, entries)`]);
  });

  it('the start-up check names a third-party module reached by static imports, not one behind a dynamic import', () => {
    const out = (imports: { path: string; kind: 'import-statement' | 'dynamic-import'; external?: boolean }[]) => ({ bytes: 1, inputs: {}, imports, exports: [], entryPoint: undefined });
    const meta = {
      outputs: {
        'dist/main.mjs': out([
          { path: 'dist/chunks/a.mjs', kind: 'import-statement' },
          { path: 'node:dgram', kind: 'import-statement', external: true },
          { path: 'dns-packet', kind: 'import-statement', external: true },
          { path: 'dist/chunks/agent.mjs', kind: 'dynamic-import' },
        ]),
        'dist/chunks/a.mjs': out([{ path: 'zod', kind: 'import-statement', external: true }]),
        'dist/chunks/agent.mjs': out([{ path: '@electric-sql/pglite', kind: 'import-statement', external: true }]),
        'dist/dns-worker.mjs': out([{ path: 'dist/chunks/b.mjs', kind: 'import-statement' }]),
        'dist/chunks/b.mjs': out([{ path: 'hono', kind: 'import-statement', external: true }]),
      },
    };
    expect(checkStartPath(meta)).toEqual([
      'the start-up path (dist/chunks/a.mjs) loads zod: import it dynamically, after the resolver answers',
      'the start-up path (dist/chunks/b.mjs) loads hono: import it dynamically, after the resolver answers',
    ]);
    expect(checkStartPath({ outputs: { 'dist/main.mjs': out([]) } })).toEqual(['the build has no dns-worker.mjs']);
  });
});
