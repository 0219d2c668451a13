/**
 * The web dashboard at `/gui` (and `/gui/*`), on every plane that runs the shared app. The routes serve a
 * static shell (HTML, one script, one stylesheet) holding no data, so they are mounted before
 * authentication: the page itself calls the JSON API with the same rules as any client (loopback admin, or
 * the bearer token its login form keeps in sessionStorage). The assets are a few tens of kilobytes of text,
 * loaded on the first `/gui` request so that they stay off the zone agent's start-up path (`core/src/gui/`).
 */
import type { Context, Hono } from 'hono';
import type { AppEnv } from '../env.js';
import { PRODUCT, VERSION } from '../../version.js';

export interface GuiOptions {
  /** Which plane serves the page: the global shows zones and tokens, a zone agent its proxies' inspection. */
  readonly mode: 'global' | 'zone';
}

/** The page may load only its own script and stylesheet and talk only to its own origin. */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

export function mountGuiRoutes(app: Hono<AppEnv>, opts: GuiOptions): void {
  const assets = () => import('../../gui/assets.js');
  const send = (c: Context<AppEnv>, body: string, type: string) => c.body(body, 200, { ...SECURITY_HEADERS, 'content-type': type });
  app.get('/gui/assets/app.js', async (c) => send(c, (await assets()).CLIENT_JS, 'text/javascript; charset=utf-8'));
  app.get('/gui/assets/app.css', async (c) => send(c, (await assets()).STYLES, 'text/css; charset=utf-8'));
  const shell = async (c: Context<AppEnv>) =>
    send(c, (await assets()).shellHtml({ base: '/gui', apiUrl: '', mode: opts.mode, product: PRODUCT, version: VERSION }), 'text/html; charset=utf-8');
  app.get('/gui', shell);
  app.get('/gui/*', shell);
}
