/** The zone agent's bundle carries the shared core and its own code, never the global's (issue 11). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildZoneAgent, checkZoneBundle } from './build.js';

describe('zone agent bundle', () => {
  it('holds @ursa/core and the agent, and no global-plane code', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ursa-zone-bundle-'));
    try {
      const meta = await buildZoneAgent(join(dir, 'main.mjs'));
      const inputs = Object.keys(meta.inputs);
      expect(inputs).toContain('core/src/store/resource-store.ts');
      expect(inputs).toContain('zone-agent/src/kds/client.ts');
      expect(inputs.filter((i) => i.startsWith('global-api/'))).toEqual([]);
      expect(checkZoneBundle(meta)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the check names global-only files', () => {
    const meta = { inputs: { 'global-api/src/kds/session.ts': { bytes: 1, imports: [] }, 'core/src/app.ts': { bytes: 1, imports: [] } } };
    expect(checkZoneBundle(meta)).toEqual([`the zone bundle holds global-api/src/kds/session.ts: the global plane's code (KDS server, zone-token routes, entries)`]);
  });
});
