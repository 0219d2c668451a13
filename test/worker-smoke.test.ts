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
});
