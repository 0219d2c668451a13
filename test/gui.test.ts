/**
 * The web dashboard (`/gui`) in headless Chromium (Debian's, driven by playwright-core), against real
 * processes: a global (Node entry, PGlite, or a scratch PostgreSQL database when DATABASE_URL is set) and a
 * zone agent with dataplanes in two meshes and a zone ingress. Each page must show its data without a
 * console error; the zones page must turn a killed zone Offline without a reload; a policy must be findable
 * by name and its YAML and affected proxies readable, with user data shown as text, never as markup.
 *
 * `URSA_SCREENSHOTS=1` also writes the main pages to docs/screenshots/*.png (the README's pictures).
 */
import { mkdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { parse as parseYaml } from 'yaml';
import { call } from '@ursa/test-support/api.js';
import { scratchDatabase } from '@ursa/test-support/backends.js';
import { meshTimeoutBody } from '@ursa/test-support/fixtures.js';
import { removeDirs, startGlobal, startZoneAgent, type GlobalProc, type ZoneProc } from '@ursa/test-support/cluster.js';
import { eventually } from '@ursa/test-support/zone.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SHOTS = process.env.URSA_SCREENSHOTS === '1' ? new URL('../docs/screenshots/', import.meta.url).pathname : undefined;
/** Text a page needs to show: a poll is 1.5 s, a page load well under that; generous for a loaded VM. */
const SHOW_MS = 15_000;
const XSS = '<img src=x onerror="window.__xss=1">';

const dataplane = (mesh: string, name: string, service: string, address: string) => ({
  type: 'Dataplane',
  mesh,
  name,
  networking: { address, inbound: [{ port: 8080, tags: { 'kuma.io/service': service, version: 'v1' } }] },
});
const accessLog = {
  type: 'MeshAccessLog',
  mesh: 'default',
  name: 'audit-log',
  spec: { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { backends: [{ type: 'File', file: { path: '/tmp/audit.log', format: { type: 'Plain', plain: XSS } } }] } }] },
};

describe('web dashboard in headless Chromium', () => {
  let global: GlobalProc;
  let zone: ZoneProc;
  let browser: Browser;
  let drop: (() => Promise<void>) | undefined;
  let tenantToken: string;

  beforeAll(async () => {
    let databaseUrl: string | undefined;
    if (process.env.DATABASE_URL) ({ url: databaseUrl, drop } = await scratchDatabase(process.env.DATABASE_URL, 'ursa_gui'));
    const [g, b] = await Promise.all([startGlobal({ databaseUrl }), chromium.launch({ executablePath: CHROMIUM, args: ARGS })]);
    global = g;
    browser = b;
    for (const mesh of ['default', 'payments']) expect((await call(global.url, 'PUT', `/meshes/${mesh}`, { body: { type: 'Mesh', name: mesh } })).status).toBe(201);
    expect((await call(global.url, 'PUT', '/meshes/default/meshtimeouts/slow-api', { body: meshTimeoutBody('slow-api', '30s') })).status).toBe(201);
    expect((await call(global.url, 'PUT', '/meshes/default/meshaccesslogs/audit-log', { body: accessLog })).status).toBe(201);
    expect((await call(global.url, 'POST', '/tokens', { body: { name: 'ci-reader', role: 'read-only' } })).status).toBe(201);
    tenantToken = (await call(global.url, 'POST', '/_operator/tenants', { body: { name: 'acme' } })).body.secret as string;

    const token = (await call(global.url, 'POST', '/tokens/zone', { body: { zone: 'zone-1', validFor: 3600 } })).body.token as string;
    zone = await startZoneAgent({ name: 'zone-1', globalUrl: global.url, token, transport: 'ws' });
    for (const mesh of ['default', 'payments']) await eventually(`zone-1 has mesh ${mesh}`, async () => (await call(zone.url, 'GET', `/meshes/${mesh}`)).status === 200, 30_000);
    for (const [mesh, name, service, address] of [
      ['default', 'web-1', 'web', '10.0.0.1'],
      ['default', 'api-1', 'api', '10.0.0.2'],
      ['payments', 'ledger-1', 'ledger', '10.0.1.1'],
    ] as const) {
      expect((await call(zone.url, 'PUT', `/meshes/${mesh}/dataplanes/${name}`, { body: dataplane(mesh, name, service, address) })).status).toBe(201);
    }
    const ingress = { type: 'ZoneIngress', name: 'ingress-1', networking: { address: '10.0.9.1', advertisedAddress: '192.0.2.9', port: 10001, advertisedPort: 10001 } };
    expect((await call(zone.url, 'PUT', '/zoneingresses/ingress-1', { body: ingress })).status).toBe(201);
    await eventually('the global has the zone\'s dataplanes and ingress', async () => (await call(global.url, 'GET', '/dataplanes')).body.total === 3 && (await call(global.url, 'GET', '/zoneingresses')).body.total === 1, 30_000);
    if (SHOTS) await mkdir(SHOTS, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await zone?.stop();
    await global?.stop();
    await removeDirs([global?.dataDir, zone?.dataDir].filter(Boolean) as string[]);
    await drop?.();
  });

  /** A fresh page recording console errors and uncaught exceptions. */
  async function open(base: string, path: string): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(base + path);
    return { page, errors };
  }
  const shows = (page: Page, text: string | RegExp) => page.getByText(text).first().waitFor({ timeout: SHOW_MS });
  const rowOf = (page: Page, name: string) => page.locator('tr', { has: page.getByText(name, { exact: true }) });

  it('every page shows its data, without a console error', async () => {
    const pages: [path: string, shot: string | undefined, check: (p: Page) => Promise<void>][] = [
      ['/gui', 'overview', async (p) => {
        await expect.poll(() => p.locator('.card', { hasText: 'Zones online' }).locator('.n').textContent(), { timeout: SHOW_MS }).toBe('1 / 1');
        expect(await p.locator('.card', { hasText: 'Meshes' }).locator('.n').textContent()).toBe('2');
        expect(await p.locator('.card', { hasText: 'Dataplanes online' }).locator('.n').textContent()).toBe('0 / 3');
        expect(await p.locator('.card', { hasText: 'Services' }).locator('.n').textContent()).toBe('3');
      }],
      ['/gui/zones', 'zones', async (p) => {
        await shows(p, 'zone-1');
        await expect.poll(() => rowOf(p, 'zone-1').locator('.badge').textContent(), { timeout: SHOW_MS }).toBe('Online');
      }],
      ['/gui/zones/zone-1', 'zone', async (p) => {
        await shows(p, 'Subscriptions');
        await shows(p, 'ingress-1');
        // The session's row names the global instance that holds it.
        await shows(p, (await call(global.url, 'GET', '/')).body.instanceId as string);
      }],
      ['/gui/zoneingresses', 'zone-ingresses', async (p) => {
        await shows(p, '192.0.2.9:10001');
      }],
      ['/gui/zoneegresses', undefined, async (p) => {
        await shows(p, 'Zone egresses');
        await shows(p, 'None.');
      }],
      ['/gui/meshes', 'meshes', async (p) => {
        await shows(p, 'payments');
        expect(await rowOf(p, 'payments').locator('td').nth(2).textContent()).toBe('0 / 1');
      }],
      ['/gui/meshes/payments', undefined, async (p) => {
        await shows(p, /name: payments/);
      }],
      ['/gui/services', 'services', async (p) => {
        for (const s of ['web', 'api', 'ledger']) await shows(p, new RegExp(`^${s}$`));
        expect(await rowOf(p, 'ledger').locator('td').nth(1).textContent()).toBe('payments');
      }],
      ['/gui/dataplanes', 'dataplanes', async (p) => {
        await shows(p, 'web-1');
        expect(await rowOf(p, 'ledger-1').locator('td').nth(2).textContent()).toBe('zone-1');
        await p.getByRole('link', { name: 'web-1' }).click();
        await shows(p, /kuma\.io\/service: web/);
      }],
      ['/gui/policies', 'policies', async (p) => {
        await shows(p, 'Mesh Timeouts');
        // Ours and the defaults of both meshes: what the API counts.
        const total = (await call(global.url, 'GET', '/meshtimeouts')).body.total as number;
        expect(total).toBeGreaterThanOrEqual(1);
        expect(await rowOf(p, 'MeshTimeout').locator('td').nth(2).textContent()).toBe(String(total));
      }],
      ['/gui/policies/meshtimeouts', undefined, async (p) => {
        await shows(p, 'slow-api');
      }],
      ['/gui/tokens', 'tokens', async (p) => {
        await shows(p, 'ci-reader');
        expect(await rowOf(p, 'ci-reader').locator('td').nth(2).textContent()).toBe('read-only');
      }],
    ];
    for (const [path, shot, check] of pages) {
      const { page, errors } = await open(global.url, path);
      try {
        await check(page);
        if (SHOTS && shot) await page.screenshot({ path: `${SHOTS}${shot}.png`, fullPage: true });
        expect(errors, `console errors on ${path}`).toEqual([]);
      } finally {
        await page.close();
      }
    }
  }, 90_000);

  it('a policy is found by name and its YAML read; user data is text, not markup', async () => {
    const { page, errors } = await open(global.url, '/gui/policies');
    try {
      await page.locator('#policy-search').fill('audit');
      await page.getByRole('link', { name: 'audit-log' }).click({ timeout: SHOW_MS });
      await shows(page, 'MeshAccessLog audit-log');
      const yaml = (await page.locator('pre.yaml').textContent()) ?? '';
      expect(yaml).toContain('type: MeshAccessLog');
      expect(yaml).toContain('path: /tmp/audit.log');
      expect(yaml).toContain(JSON.stringify(XSS));
      // The YAML is the API's resource, exactly: what kumactl get -o yaml would print, read back.
      expect(parseYaml(yaml)).toEqual((await call(global.url, 'GET', '/meshes/default/meshaccesslogs/audit-log')).body);
      // Its affected proxies: a Mesh-wide policy selects both of mesh default's dataplanes (not payments' ledger-1).
      await shows(page, 'Affected proxies');
      await shows(page, 'api-1');
      const affected = await page.locator('td a').allTextContents();
      expect(affected).toEqual(['api-1', 'web-1']);
      expect(await rowOf(page, 'web-1').locator('td').nth(1).textContent()).toBe('zone-1');
      if (SHOTS) await page.screenshot({ path: `${SHOTS}policy.png`, fullPage: true });
      expect(await page.locator('pre.yaml img').count()).toBe(0);
      expect(await page.evaluate(() => (globalThis as { __xss?: number }).__xss)).toBeUndefined();
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 30_000);

  it('the zone agent serves the dashboard too, with a dataplane\'s matched policies', async () => {
    for (const [path, text] of [['/gui', 'Dataplanes online'], ['/gui/zoneingresses', '192.0.2.9:10001'], ['/gui/dataplanes', 'ledger-1'], ['/gui/policies/meshtimeouts', 'slow-api']] as const) {
      const { page, errors } = await open(zone.url, path);
      try {
        await shows(page, text);
        expect(errors, `console errors on the zone's ${path}`).toEqual([]);
      } finally {
        await page.close();
      }
    }
    const { page, errors } = await open(zone.url, '/gui/meshes/default/dataplanes/web-1');
    try {
      await shows(page, 'Dataplane web-1');
      await page.getByRole('button', { name: 'Matched policies' }).click();
      await shows(page, /slow-api/);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 30_000);

  it('a token login shows the token\'s tenant', async () => {
    const { page } = await open(global.url, '/gui/login');
    try {
      await page.locator('#token').fill(tenantToken);
      await page.getByRole('button', { name: 'Sign in' }).click();
      // acme is a fresh tenant: nothing of the default tenant shows through.
      await expect.poll(() => page.locator('.card', { hasText: 'Meshes' }).locator('.n').textContent(), { timeout: SHOW_MS }).toBe('0');
      await shows(page, 'Sign out');
      await page.locator('#token').waitFor({ state: 'detached' });
      // A token that does not work brings the form back, saying why.
      await page.evaluate("sessionStorage.setItem('ursa.token', 'ursa_bogus')");
      await page.goto(`${global.url}/gui/zones`);
      await shows(page, 'the token is invalid, expired or revoked');
      expect(await page.locator('#token').count()).toBe(1);
    } finally {
      await page.close();
    }
  }, 30_000);

  it('pages follow changes without a reload: a new mesh, then the zone going Offline', async () => {
    const overview = await open(global.url, '/gui');
    try {
      const meshes = () => overview.page.locator('.card', { hasText: 'Meshes' }).locator('.n').textContent();
      await expect.poll(meshes, { timeout: SHOW_MS }).toBe('2');
      expect((await call(global.url, 'PUT', '/meshes/live', { body: { type: 'Mesh', name: 'live' } })).status).toBe(201);
      await expect.poll(meshes, { timeout: SHOW_MS }).toBe('3');
      expect(overview.errors).toEqual([]);
    } finally {
      await overview.page.close();
    }
    const { page, errors } = await open(global.url, '/gui/zones');
    try {
      const status = () => rowOf(page, 'zone-1').locator('.badge').textContent();
      await expect.poll(status, { timeout: SHOW_MS }).toBe('Online');
      const marker = await page.evaluate(() => ((globalThis as unknown as { __same: number }).__same = 1));
      zone.kill();
      // The global's lease is 2 s in these tests (startGlobal); then the next poll shows it.
      await expect.poll(status, { timeout: 20_000 }).toBe('Offline');
      // The same document all along: no navigation happened.
      expect(await page.evaluate(() => (globalThis as unknown as { __same?: number }).__same)).toBe(marker);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  }, 40_000);
});
