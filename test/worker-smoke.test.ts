/** The same app served by workerd through `wrangler dev`: a real Workers runtime, started as a child. */
import { readFile } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { getJson } from '@ursa/test-support/process.js';
import { startWorkerd, type Workerd } from '@ursa/test-support/workerd.js';

const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

describe('global plane in workerd', () => {
  let workerd: Workerd | undefined;
  afterAll(async () => workerd?.stop());

  it('answers GET / with the product name and version', async () => {
    workerd = await startWorkerd();
    const index = (await getJson(`${workerd.url}/`)) as Record<string, string>;
    expect(index).toMatchObject({ product: 'Ursa', version: pkg.version, hostname: 'workerd' });
    expect(index.instanceId).toMatch(/^workerd-[0-9a-f]{4}$/);
  });

  it('serves the dashboard: its shell on any /gui path, and its script', async () => {
    workerd ??= await startWorkerd();
    const shell = await fetch(`${workerd.url}/gui/zones`);
    expect(shell.status).toBe(200);
    expect(shell.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await shell.text()).toContain('<script src="/gui/assets/app.js" defer></script>');
    const script = await fetch(`${workerd.url}/gui/assets/app.js`);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await script.text()).toContain("getElementById('ursa-config')");
  });
});
