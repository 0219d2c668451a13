/** The same app served by workerd through `wrangler dev`: a real Workers runtime, started as a child. */
import { readFile } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, getJson, start, waitFor, type Child } from './support/process.js';

const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
const WRANGLER = new URL('../node_modules/.bin/wrangler', import.meta.url).pathname;
const CONFIG = new URL('../global-api/wrangler.jsonc', import.meta.url).pathname;

describe('global plane in workerd', () => {
  let child: Child | undefined;
  afterAll(async () => child?.stop());

  it('answers GET / with the product name and version', async () => {
    const [port, inspector] = [await freePort(), await freePort()];
    child = start(
      WRANGLER,
      ['dev', '--config', CONFIG, '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspector), '--show-interactive-dev-session=false'],
      { env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', CI: '1' } },
    );
    const index = (await waitFor('workerd GET /', () => getJson(`http://127.0.0.1:${port}/`), 45_000, child)) as Record<string, string>;
    expect(index).toMatchObject({ product: 'Ursa', version: pkg.version, hostname: 'workerd' });
    expect(index.instanceId).toMatch(/^workerd-[0-9a-f]{4}$/);
  });
});
