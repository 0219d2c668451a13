/**
 * The dashboard's three files: the HTML shell, its stylesheet and its script (`client.ts`). The shell carries
 * only the page's configuration (as Kuma's GUI gets its `kuma-config` in the HTML), as inert JSON with `<`
 * escaped so that no value can close the script element. Loaded lazily by `http/routes/gui.ts`.
 */
export { CLIENT_JS } from './client.js';
export { STYLES } from './styles.js';

export interface ShellConfig {
  /** Where the dashboard lives (`/gui`). */
  readonly base: string;
  /** Prefix of API paths; empty: the same origin that served the page. */
  readonly apiUrl: string;
  readonly mode: 'global' | 'zone';
  readonly product: string;
  readonly version: string;
}

/** JSON safe inside `<script type="application/json">`: no `<`, `>`, `&` or line separators left raw. */
export function inertJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function shellHtml(cfg: ShellConfig): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ursa</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${cfg.base}/assets/app.css">
<script type="application/json" id="ursa-config">${inertJson(cfg)}</script>
<script src="${cfg.base}/assets/app.js" defer></script>
</head>
<body>
<header class="top"><a class="brand" href="${cfg.base}">Ursa</a><nav id="nav"></nav><span id="live" class="live">connecting…</span><span id="who"></span></header>
<main id="main"><div id="content"><p class="muted">Loading…</p></div></main>
<noscript><p>The dashboard needs JavaScript; the same data is served by the JSON API (see the README).</p></noscript>
</body>
</html>
`;
}
