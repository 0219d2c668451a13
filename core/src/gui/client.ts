/**
 * The dashboard's script, sent as `/gui/assets/app.js`. Plain ES2017 in a string (no build step, nothing
 * bundled for the browser): it reads the JSON API of the plane that served it and renders each page with
 * DOM calls only: every resource name, tag and YAML text reaches the page as a text node, never as markup,
 * so user data cannot inject HTML or script. Links are built from fixed paths and `encodeURIComponent`.
 *
 * Live: the current page re-reads its API data every POLL_MS (1.5 s) and swaps its content only when the
 * rendering changed. Polling rather than the KDS change feed: the feed is the zones' protocol (zone tokens,
 * WebSocket or long-poll per tenant), not a browser API, and a poll costs one small API read per page.
 *
 * Auth: the same as any API client. With no token the calls go without one (loopback admin answers them);
 * a 401 shows the login form, which keeps the token in sessionStorage and sends it as a bearer token.
 *
 * Keep this file free of backticks and dollar-brace sequences: it lives inside a template literal.
 */
export const CLIENT_JS = String.raw`(function () {
'use strict';
var cfg = JSON.parse(document.getElementById('ursa-config').textContent);
var BASE = cfg.base, API = cfg.apiUrl, GLOBAL = cfg.mode === 'global';
var POLL_MS = 1500, TOKEN_KEY = 'ursa.token', PAGE = '?size=1000';
var main = document.getElementById('content');

// ---- DOM helpers: text only, never innerHTML ----
function el(tag, attrs) {
  var e = document.createElement(tag);
  if (attrs) Object.keys(attrs).forEach(function (k) {
    var v = attrs[k];
    if (v === undefined || v === null || v === false) return;
    if (k === 'class') e.className = v;
    else if (k.indexOf('on') === 0) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  });
  for (var i = 2; i < arguments.length; i++) add(e, arguments[i]);
  return e;
}
function add(e, c) {
  if (c === undefined || c === null || c === false) return;
  if (Array.isArray(c)) { c.forEach(function (x) { add(e, x); }); return; }
  e.appendChild(typeof c === 'object' && c.nodeType ? c : document.createTextNode(String(c)));
}
function enc(s) { return encodeURIComponent(s); }
function link(path, text) { return el('a', { href: BASE + path }, text); }
function table(heads, rows, empty) {
  if (rows.length === 0) return el('p', { class: 'muted' }, empty || 'None.');
  return el('table', null, el('thead', null, el('tr', null, heads.map(function (h) { return el('th', null, h); }))),
    el('tbody', null, rows.map(function (r) { return el('tr', null, r.map(function (c) { return el('td', null, c); })); })));
}
function badge(state) { return el('span', { class: 'badge ' + state.toLowerCase().replace(/ .*/, '') }, state); }
function card(label, value, href) { var body = [el('div', { class: 'n' }, value), el('div', { class: 'l' }, label)]; return href ? el('a', { class: 'card', href: BASE + href }, body) : el('div', { class: 'card' }, body); }
function tags(obj) { return Object.keys(obj || {}).sort().map(function (k) { return el('span', { class: 'tag' }, k + '=' + obj[k]); }); }
function kv(pairs) { var d = el('dl', { class: 'kv' }); pairs.forEach(function (p) { add(d, [el('dt', null, p[0]), el('dd', null, p[1] === undefined || p[1] === '' ? '-' : p[1])]); }); return d; }
function ago(t) {
  if (!t) return '-';
  var s = Math.max(0, Math.round((Date.now() - Date.parse(t)) / 1000));
  var txt = s < 60 ? s + 's' : s < 3600 ? Math.floor(s / 60) + 'm' : s < 86400 ? Math.floor(s / 3600) + 'h' : Math.floor(s / 86400) + 'd';
  return el('span', { title: t }, txt + ' ago');
}

// ---- YAML (what kumactl get -o yaml prints), from JSON ----
var PLAIN = /^[A-Za-z_\/][A-Za-z0-9_.\/-]*$/;
var RESERVED = /^(true|false|yes|no|on|off|null|y|n|~)$/i;
function scalar(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return PLAIN.test(v) && !RESERVED.test(v) ? v : JSON.stringify(v);
  return String(v);
}
function yaml(v, indent) {
  indent = indent || '';
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return v.map(function (x) {
      var inner = yaml(x, indent + '  ');
      return indent + '- ' + (x !== null && typeof x === 'object' && (Array.isArray(x) ? x.length : Object.keys(x).length) ? inner.replace(/^\s+/, '') : inner);
    }).join('\n');
  }
  if (v !== null && typeof v === 'object') {
    var keys = Object.keys(v);
    if (keys.length === 0) return '{}';
    return keys.map(function (k) {
      var x = v[k], key = indent + scalar(k) + ':';
      if (x !== null && typeof x === 'object' && (Array.isArray(x) ? x.length : Object.keys(x).length)) return key + '\n' + yaml(x, Array.isArray(x) ? indent : indent + '  ');
      return key + ' ' + yaml(x, indent + '  ');
    }).join('\n');
  }
  return scalar(v);
}
function yamlBlock(v) { return el('pre', { class: 'yaml' }, yaml(v) + '\n'); }

// ---- API ----
function token() { try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; } }
function api(path) {
  var headers = { accept: 'application/json' };
  if (token()) headers.authorization = 'Bearer ' + token();
  return fetch(API + path, { headers: headers, cache: 'no-store' }).catch(function (e) {
    var err = new Error('cannot reach the control plane (' + e.message + ')');
    err.status = 0;
    throw err;
  }).then(function (res) {
    return res.text().then(function (text) {
      var body = null;
      try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
      if (res.ok) return body;
      var err = new Error((body && (body.detail || body.title)) || ('HTTP ' + res.status));
      err.status = res.status;
      throw err;
    });
  });
}
// A list page reads the first 1000 (the API's largest page); more() says when there are more than that.
function items(path) { return api(path + PAGE).then(function (b) { var list = b.items || []; list.total = b.total; return list; }); }
function more(list, what) { return list.total > list.length ? el('p', { class: 'muted' }, 'Read the first ' + list.length + ' of ' + list.total + ' ' + (what || 'items') + '.') : null; }
function all(obj) {
  var keys = Object.keys(obj);
  return Promise.all(keys.map(function (k) { return obj[k]; })).then(function (vals) { var o = {}; keys.forEach(function (k, i) { o[k] = vals[i]; }); return o; });
}

// ---- Kuma's status rules (kuma-gui 2.14) ----
function isOpen(s) { return s && s.connectTime && !s.disconnectTime; }
function subs(insight) { return (insight && insight.subscriptions) || []; }
function last(a) { return a.length ? a[a.length - 1] : undefined; }
function zoneStatus(z) { if (z.zone && z.zone.enabled === false) return 'Disabled'; return subs(z.zoneInsight).some(isOpen) ? 'Online' : 'Offline'; }
function proxyStatus(insight) { return subs(insight).some(isOpen) ? 'Online' : 'Offline'; }
function zoneOf(r) { return (r.labels && r.labels['kuma.io/zone']) || ''; }
function displayName(r) { return (r.labels && r.labels['kuma.io/display-name']) || r.name; }
function servicesOf(dp) {
  var net = (dp.dataplane && dp.dataplane.networking) || {}, out = [];
  (net.inbound || []).forEach(function (i) { var s = i.tags && i.tags['kuma.io/service']; if (s && out.indexOf(s) < 0) out.push(s); });
  if (net.gateway && net.gateway.tags && net.gateway.tags['kuma.io/service']) out.push(net.gateway.tags['kuma.io/service']);
  return out;
}

// ---- pages: load(params, state) -> data; view(data, params, state) -> nodes ----
var pages = [];
function page(pattern, nav, def) { def.re = new RegExp('^' + pattern.replace(/:[a-z]+/g, '([^/]+)') + '/?$'); def.pattern = pattern; def.nav = nav; pages.push(def); }

page('', 'Overview', { title: 'Overview',
  load: function () { return api('/global-insight'); },
  view: function (g) {
    var z = g.zones, d = g.dataplanes.standard, s = g.services.internal;
    return [el('h1', null, 'Overview'), el('div', { class: 'cards' },
      GLOBAL ? card('Zones online', z.controlPlanes.online + ' / ' + z.controlPlanes.total, '/zones') : null,
      GLOBAL ? card('Zones offline', String(z.controlPlanes.total - z.controlPlanes.online), '/zones') : null,
      card('Zone ingresses online', z.zoneIngresses.online + ' / ' + z.zoneIngresses.total, '/zoneingresses'),
      card('Zone egresses online', z.zoneEgresses.online + ' / ' + z.zoneEgresses.total, '/zoneegresses'),
      card('Meshes', String(g.meshes.total), '/meshes'),
      card('Services', String(g.services.total), '/services'),
      card('Dataplanes online', d.online + ' / ' + d.total, '/dataplanes'),
      card('Policies', String(g.policies.total), '/policies'))];
  } });

page('/zones', GLOBAL ? 'Zones' : null, { title: 'Zones',
  // The tenant's latest revision (from /global-insight) beside each zone's applied one: how far behind it is.
  load: function () { return all({ zones: items('/zones/_overview'), insight: api('/global-insight') }); },
  view: function (d) {
    var zones = d.zones, latest = d.insight && d.insight.revision;
    return [el('h1', null, 'Zones'), table(['Name', 'Status', 'Last connected', 'Last seen', 'Version', 'Applied / latest revision', 'Subscriptions', 'Last error'], zones.map(function (z) {
      var ss = subs(z.zoneInsight), s = last(ss) || {}, st = s.zoneState || {};
      return [link('/zones/' + enc(z.name), z.name), badge(zoneStatus(z)), ago(s.connectTime), ago((s.status && s.status.lastUpdateTime) || st.reportedTime),
        (s.version && s.version.kumaCp && s.version.kumaCp.version) || '-', (st.appliedRevision || '-') + ' / ' + (latest === undefined ? '-' : latest), String(ss.length), st.lastError || ''];
    }), 'No zone has connected yet.'), more(zones)];
  } });

page('/zones/:name', null, { title: 'Zone',
  load: function (p) { return all({ zone: api('/zones/' + enc(p[0]) + '/_overview'), ingresses: items('/zoneingresses/_overview'), egresses: items('/zoneegresses/_overview') }); },
  view: function (d) {
    var z = d.zone, ss = subs(z.zoneInsight), s = last(ss) || {}, st = s.zoneState || {}, conf = {};
    try { conf = JSON.parse(s.config || '{}'); } catch (e) { conf = {}; }
    var mine = function (r) { return zoneOf(r) === z.name || (r.zoneIngress && r.zoneIngress.zone === z.name) || (r.zoneEgress && r.zoneEgress.zone === z.name); };
    return [el('h1', null, 'Zone ', z.name, ' ', badge(zoneStatus(z))),
      kv([['Enabled', String(!(z.zone && z.zone.enabled === false))], ['Version', s.version && s.version.kumaCp && s.version.kumaCp.version],
        ['Applied revision', st.appliedRevision], ['Last reported', st.reportedTime ? ago(st.reportedTime) : undefined], ['Last error', st.lastError],
        ['Transport', conf.transport], ['Zone API port', conf.apiPort], ['Created', z.creationTime]]),
      el('h2', null, 'Subscriptions'),
      table(['Id', 'Global instance', 'Zone instance', 'Connected', 'Disconnected', 'Sent', 'Acked', 'Rejected', 'Applied revision'], ss.slice().reverse().map(function (x) {
        var t = (x.status && x.status.total) || {};
        return [x.id, x.globalInstanceId, x.zoneInstanceId, ago(x.connectTime), x.disconnectTime ? ago(x.disconnectTime) : badge('Online'), t.responsesSent || '0', t.responsesAcknowledged || '0', t.responsesRejected || '0', (x.zoneState && x.zoneState.appliedRevision) || '-'];
      })),
      el('h2', null, 'Zone ingresses'), proxyTable(d.ingresses.filter(mine), 'zoneIngress'),
      el('h2', null, 'Zone egresses'), proxyTable(d.egresses.filter(mine), 'zoneEgress')];
  } });

function proxyTable(list, field) {
  return table(['Name', 'Zone', 'Status', 'Address', 'Advertised', 'Available services'], list.map(function (r) {
    var o = r[field] || {}, n = o.networking || {};
    return [displayName(r), o.zone || zoneOf(r) || '-', badge(proxyStatus(r[field + 'Insight'])), n.address ? n.address + ':' + n.port : '-',
      n.advertisedAddress ? n.advertisedAddress + ':' + n.advertisedPort : '-',
      (o.availableServices || []).map(function (a) { return el('div', null, (a.mesh || '') + ' ', tags(a.tags), ' x' + (a.instances || 0)); })];
  }), 'None.');
}
page('/zoneingresses', 'Zone ingresses', { title: 'Zone ingresses',
  load: function () { return items('/zoneingresses/_overview'); },
  view: function (list) { return [el('h1', null, 'Zone ingresses'), proxyTable(list, 'zoneIngress'), more(list)]; } });
page('/zoneegresses', 'Zone egresses', { title: 'Zone egresses',
  load: function () { return items('/zoneegresses/_overview'); },
  view: function (list) { return [el('h1', null, 'Zone egresses'), proxyTable(list, 'zoneEgress'), more(list)]; } });

page('/meshes', 'Meshes', { title: 'Meshes',
  load: function () { return all({ meshes: items('/meshes'), dps: items('/dataplanes/_overview') }); },
  view: function (d) {
    return [el('h1', null, 'Meshes'), table(['Name', 'mTLS backend', 'Dataplanes online', 'Services', 'Created'], d.meshes.map(function (m) {
      var mine = d.dps.filter(function (x) { return x.mesh === m.name; }), svc = {};
      mine.forEach(function (x) { servicesOf(x).forEach(function (s) { svc[s] = 1; }); });
      var online = mine.filter(function (x) { return proxyStatus(x.dataplaneInsight) === 'Online'; }).length;
      return [link('/meshes/' + enc(m.name), m.name), (m.mtls && m.mtls.enabledBackend) || 'off', online + ' / ' + mine.length, String(Object.keys(svc).length), ago(m.creationTime)];
    }), 'No mesh yet.'), more(d.meshes, 'meshes'), more(d.dps, 'dataplanes')];
  } });
page('/meshes/:mesh', null, { title: 'Mesh',
  load: function (p) { return api('/meshes/' + enc(p[0])); },
  view: function (m) { return [el('h1', null, 'Mesh ', m.name), el('p', null, link('/dataplanes?mesh=' + enc(m.name), 'Dataplanes'), ' · ', link('/policies?mesh=' + enc(m.name), 'Policies')), yamlBlock(m)]; } });

function meshFilter(list) { var m = new URLSearchParams(location.search).get('mesh'); return m ? list.filter(function (x) { return x.mesh === m; }) : list; }
page('/services', 'Services', { title: 'Services',
  load: function () { return items('/dataplanes/_overview'); },
  view: function (dps) {
    var by = {};
    meshFilter(dps).forEach(function (dp) {
      var on = proxyStatus(dp.dataplaneInsight) === 'Online';
      servicesOf(dp).forEach(function (s) {
        var k = dp.mesh + '/' + s, e = by[k] || (by[k] = { mesh: dp.mesh, name: s, total: 0, online: 0, zones: {} });
        e.total++; if (on) e.online++; if (zoneOf(dp)) e.zones[zoneOf(dp)] = 1;
      });
    });
    var rows = Object.keys(by).sort().map(function (k) {
      var e = by[k], st = e.online === e.total ? 'Online' : e.online === 0 ? 'Offline' : 'Partially degraded';
      return [e.name, e.mesh, badge(st), e.online + ' / ' + e.total, Object.keys(e.zones).sort().join(', ') || '-'];
    });
    return [el('h1', null, 'Services'), el('p', { class: 'muted' }, 'From the dataplanes\u2019 kuma.io/service tags (Kuma\u2019s ServiceInsight).'), table(['Service', 'Mesh', 'Status', 'Dataplanes online', 'Zones'], rows, 'No service yet.'), more(dps, 'dataplanes')];
  } });

page('/dataplanes', 'Dataplanes', { title: 'Dataplanes',
  load: function () { return items('/dataplanes/_overview'); },
  view: function (dps) {
    return [el('h1', null, 'Dataplanes'), table(['Name', 'Mesh', 'Zone', 'Status', 'Address', 'Services', 'Envoy', 'Last connected'], meshFilter(dps).map(function (dp) {
      var s = last(subs(dp.dataplaneInsight)) || {}, v = s.version || {};
      return [link('/meshes/' + enc(dp.mesh) + '/dataplanes/' + enc(dp.name), displayName(dp)), dp.mesh, zoneOf(dp) || '-', badge(proxyStatus(dp.dataplaneInsight)),
        (dp.dataplane && dp.dataplane.networking && dp.dataplane.networking.address) || '-', servicesOf(dp).join(', '), (v.envoy && v.envoy.version) || '-', ago(s.connectTime)];
    }), 'No dataplane yet.'), more(dps)];
  } });

page('/meshes/:mesh/dataplanes/:name', null, { title: 'Dataplane',
  load: function (p, state) {
    var base = '/meshes/' + enc(p[0]) + '/dataplanes/' + enc(p[1]);
    return all({ dp: api(base + '/_overview'), inspect: state.inspect ? api(base + '/' + state.inspect) : null });
  },
  view: function (d, p, state) {
    var dp = d.dp, zone = zoneOf(dp), out = [el('h1', null, 'Dataplane ', displayName(dp), ' ', badge(proxyStatus(dp.dataplaneInsight))),
      kv([['Mesh', dp.mesh], ['Zone', zone], ['Name', dp.name], ['Services', servicesOf(dp).join(', ')]])];
    if (GLOBAL) {
      out.push(el('p', { class: 'muted' }, 'Its xDS config and matched policies are served by its zone agent' + (zone ? ' (zone ' + zone + ')' : '') + ': open /gui/meshes/' + dp.mesh + '/dataplanes/' + displayName(dp) + ' on that zone\u2019s API.'));
    } else {
      out.push(el('p', { class: 'toolbar' },
        el('button', { type: 'button', onclick: function () { state.inspect = state.inspect === '_policies' ? null : '_policies'; refresh(); } }, 'Matched policies'),
        el('button', { type: 'button', onclick: function () { state.inspect = state.inspect === '_config' ? null : '_config'; refresh(); } }, 'xDS config')));
      if (d.inspect) out.push(el('h2', null, state.inspect === '_config' ? 'xDS config' : 'Matched policies'), yamlBlock(d.inspect));
    }
    out.push(el('h2', null, 'Dataplane'), yamlBlock(dp.dataplane), el('h2', null, 'Insight'), yamlBlock(dp.dataplaneInsight));
    return out;
  } });

page('/policies', 'Policies', { title: 'Policies',
  toolbar: function (state) {
    return el('div', { class: 'toolbar' }, el('input', { type: 'search', id: 'policy-search', placeholder: 'Find a policy by name', value: state.q || '', oninput: function (e) { state.q = e.target.value; refresh(); } }));
  },
  load: function (p, state) {
    return all({ types: api('/policies'), insight: api('/global-insight') }).then(function (d) {
      var q = (state.q || '').trim(), present = d.types.policies.filter(function (t) { return (d.insight.resources[t.name] || {}).total > 0; });
      if (!q) return { types: d.types.policies, insight: d.insight, found: null };
      return Promise.all(present.map(function (t) { return api('/' + t.path + '?size=100&name=' + enc(q)).then(function (b) { return b.items.map(function (i) { return { type: t, item: i }; }); }); }))
        .then(function (lists) { return { types: d.types.policies, insight: d.insight, found: [].concat.apply([], lists) }; });
    });
  },
  view: function (d) {
    var meshQ = new URLSearchParams(location.search).get('mesh');
    if (d.found) return [el('h1', null, 'Policies matching'), table(['Name', 'Type', 'Mesh', 'Modified'], d.found.filter(function (f) { return !meshQ || f.item.mesh === meshQ; }).map(function (f) {
      return [link('/meshes/' + enc(f.item.mesh) + '/policies/' + enc(f.type.path) + '/' + enc(f.item.name), f.item.name), f.type.name, f.item.mesh, ago(f.item.modificationTime)];
    }), 'No policy matches.')];
    return [el('h1', null, 'Policies'), table(['Type', 'Name', 'Count', 'Direction'], d.types.map(function (t) {
      var n = (d.insight.resources[t.name] || {}).total || 0;
      return [link('/policies/' + enc(t.path) + (meshQ ? '?mesh=' + enc(meshQ) : ''), t.name), t.pluralDisplayName, String(n), [t.isInbound ? 'inbound' : '', t.isOutbound ? 'outbound' : ''].filter(Boolean).join(', ')];
    }))];
  } });

page('/policies/:path', null, { title: 'Policies',
  load: function (p) { return items('/' + p[0]); },
  view: function (list, p) {
    return [el('h1', null, decodeURIComponent(p[0])), table(['Name', 'Mesh', 'Origin', 'Zone', 'Modified'], meshFilter(list).map(function (r) {
      return [link('/meshes/' + enc(r.mesh) + '/policies/' + p[0] + '/' + enc(r.name), r.name), r.mesh, (r.labels && r.labels['kuma.io/origin']) || '-', zoneOf(r) || '-', ago(r.modificationTime)];
    }), 'None of this type.'), more(list)];
  } });

// A policy, its YAML and the proxies its top-level targetRef selects (its affected proxies, first 100).
page('/meshes/:mesh/policies/:path/:name', null, { title: 'Policy',
  load: function (p) {
    var base = '/meshes/' + enc(p[0]) + '/' + enc(p[1]) + '/' + enc(p[2]);
    return all({ policy: api(base), affected: api(base + '/_resources/dataplanes?size=100') });
  },
  view: function (d, p) {
    var r = d.policy, a = d.affected;
    return [el('h1', null, r.type + ' ', r.name), kv([['Mesh', r.mesh], ['Modified', ago(r.modificationTime)], ['Affected proxies', String(a.total)]]), yamlBlock(r),
      el('h2', null, 'Affected proxies'), table(['Dataplane', 'Zone'], a.items.map(function (dp) {
        // On the global a synced proxy's name carries a hash; the zone's name is its display name.
        var shown = (dp.labels && dp.labels['kuma.io/display-name']) || dp.name;
        return [link('/meshes/' + enc(dp.mesh) + '/dataplanes/' + enc(dp.name), shown), (dp.labels && dp.labels['kuma.io/zone']) || '-'];
      }), 'No proxy is selected by this policy.'), a.total > a.items.length ? el('p', null, 'and ' + (a.total - a.items.length) + ' more') : null];
  } });

page('/tokens', GLOBAL ? 'Tokens' : null, { title: 'API tokens',
  load: function () { return api('/tokens'); },
  view: function (b) {
    return [el('h1', null, 'API tokens'), table(['Name', 'Id', 'Role', 'Created', 'Expires', 'Revoked'], b.items.map(function (t) {
      return [t.name, t.id, t.role, t.creationTime || t.createdAt || '-', t.expirationTime || t.expiresAt || 'never', t.revocationTime || t.revokedAt || '-'];
    }), 'No token.')];
  } });

page('/login', null, { title: 'Sign in', login: true });

// ---- shell: nav, login, polling ----
var path = location.pathname.indexOf(BASE) === 0 ? location.pathname.slice(BASE.length) : '';
var current = null, params = [], state = {}, timer = null, seq = 0;
pages.some(function (p) { var m = p.re.exec(path); if (m) { current = p; params = m.slice(1).map(decodeURIComponent); } return !!m; });
document.title = (current ? current.title : 'Not found') + ' \u00b7 Ursa';

var nav = document.getElementById('nav');
pages.forEach(function (p) {
  if (!p.nav) return;
  add(nav, el('a', { href: BASE + p.pattern, class: p === current ? 'on' : null }, p.nav));
});
var who = document.getElementById('who');
add(who, token() ? [cfg.mode + ' \u00b7 token', el('button', { type: 'button', onclick: function () { sessionStorage.removeItem(TOKEN_KEY); location.reload(); } }, 'Sign out')]
  : [cfg.mode, ' \u00b7 ', el('a', { href: BASE + '/login' }, 'Sign in with a token')]);

function setLive(text, bad) { var l = document.getElementById('live'); l.textContent = text; l.className = bad ? 'live err' : 'live'; }
function swap(nodes) {
  var next = el('div', null, nodes);
  if (next.innerHTML !== main.innerHTML) main.replaceChildren.apply(main, Array.prototype.slice.call(next.childNodes));
}
function loginForm(why) {
  var input = el('input', { type: 'password', id: 'token', autocomplete: 'off', placeholder: 'ursa_...' });
  return [el('h1', null, 'Sign in'), why ? el('p', { class: 'error' }, why) : null,
    el('form', { class: 'login', onsubmit: function (e) {
      e.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, input.value.trim());
      location.href = current && current.login ? BASE : location.href;
    } }, el('label', { for: 'token' }, 'API token (sent as a bearer token; kept in this tab only)'), input, el('button', { type: 'submit' }, 'Sign in'))];
}
var toolbar = null;
function refresh() {
  if (timer) clearTimeout(timer);
  var mine = ++seq;
  current.load(params, state).then(function (data) {
    if (mine !== seq) return;
    swap(current.view(data, params, state));
    setLive('live \u00b7 ' + new Date().toLocaleTimeString());
    timer = setTimeout(refresh, POLL_MS);
  }).catch(function (err) {
    if (mine !== seq) return;
    // A failed API call is expected (shown on the page); a failure of this script is a bug: say so loudly.
    if (err.status === undefined) console.error(err);
    if (err.status === 401) { setLive('signed out', true); if (toolbar) toolbar.remove(); main.replaceChildren.apply(main, loginForm(err.message)); return; }
    setLive('error \u00b7 ' + new Date().toLocaleTimeString(), true);
    swap([el('h1', null, current.title), el('p', { class: 'error' }, err.message)]);
    timer = setTimeout(refresh, POLL_MS * 2);
  });
}
if (!current) { main.replaceChildren(el('h1', null, 'Not found'), el('p', null, link('', 'Back to the overview'))); setLive(''); }
else if (current.login) { main.replaceChildren.apply(main, loginForm('')); setLive(''); }
else {
  if (current.toolbar) { toolbar = current.toolbar(state); main.parentNode.insertBefore(toolbar, main); }
  refresh();
}
})();
`;
