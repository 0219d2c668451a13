/** The dashboard's stylesheet: plain CSS, no framework, readable in light and dark schemes. */
export const STYLES = String.raw`
:root { color-scheme: light dark; --fg: #1d2330; --muted: #667085; --bg: #fff; --panel: #f6f7f9; --line: #e3e6ea; --accent: #2f5bd3; --ok: #127a3e; --bad: #b42318; --warn: #9a6700; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e8ec; --muted: #98a2b3; --bg: #12151b; --panel: #1b2029; --line: #2b3240; --accent: #7aa2ff; --ok: #4cc38a; --bad: #ff6b5e; --warn: #e3b341; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); text-decoration: none; } a:hover { text-decoration: underline; }
.top { display: flex; align-items: center; gap: 18px; padding: 10px 20px; border-bottom: 1px solid var(--line); background: var(--panel); position: sticky; top: 0; flex-wrap: wrap; }
.brand { font-weight: 700; font-size: 16px; color: var(--fg); }
#nav { display: flex; gap: 14px; flex-wrap: wrap; flex: 1; }
#nav a.on { font-weight: 600; color: var(--fg); }
.live { font-size: 12px; color: var(--muted); } .live.err { color: var(--bad); }
#who { font-size: 12px; color: var(--muted); } #who button { margin-left: 6px; }
main { padding: 18px 20px 40px; max-width: 1400px; }
h1 { font-size: 20px; margin: 0 0 14px; } h2 { font-size: 16px; margin: 22px 0 8px; }
.muted { color: var(--muted); }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; background: var(--panel); color: var(--fg); display: block; }
.card .n { font-size: 26px; font-weight: 650; } .card .l { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; text-transform: uppercase; letter-spacing: .03em; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 600; border: 1px solid currentColor; }
.badge.online { color: var(--ok); } .badge.offline { color: var(--bad); } .badge.disabled, .badge.degraded { color: var(--warn); }
pre.yaml { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px; overflow: auto; font: 12.5px/1.5 ui-monospace, SFMono-Regular, Menlo, monospace; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; } dl.kv dt { color: var(--muted); } dl.kv dd { margin: 0; }
.tag { font: 12px ui-monospace, monospace; background: var(--panel); border: 1px solid var(--line); border-radius: 4px; padding: 0 4px; margin-right: 4px; white-space: nowrap; }
.error { color: var(--bad); border: 1px solid var(--bad); border-radius: 8px; padding: 10px 12px; }
form.login { max-width: 520px; display: grid; gap: 10px; } input[type=text], input[type=password], input[type=search] { width: 100%; padding: 7px 9px; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); color: var(--fg); font: inherit; }
button { font: inherit; padding: 6px 12px; border-radius: 6px; border: 1px solid var(--line); background: var(--panel); color: var(--fg); cursor: pointer; }
.toolbar { display: flex; gap: 10px; align-items: center; margin-bottom: 12px; } .toolbar input { max-width: 340px; }
`;
