/**
 * Kuma conformance: Kuma v2.14.3's own test data replayed against Ursa's global API over a real socket and a
 * real database (`test/fixtures/kuma-v2.14.3/`, loaded by `test/support/kuma-testdata.ts`).
 *
 * - API-server cases (`pkg/api-server/testdata`): each case runs in a fresh tenant (Kuma clears its store per
 *   case); its seed is written to the store as a zone or a user would have left it; each action is sent as
 *   Kuma's test sends it (JSON body, no auth beyond the tenant's admin token) and must give the golden status
 *   and body, compared as JSON after Kuma's own normalisation (timestamps zeroed, address templated), with
 *   the zone-mode computed labels of Kuma's test server read as a global computes them (`asGlobal`). The one
 *   field not compared is an error's `instance`: Ursa fills it with the request's trace id (Kuma's test server
 *   runs without tracing and leaves it out).
 * - Validator cases (every policy kind Ursa stores, and Mesh): Kuma's valid specs must be created (201); its
 *   invalid ones refused with 400 and exactly Kuma's violations (field path and message; compared as a set,
 *   since Kuma's order follows its Go code's walk and no client relies on it).
 *
 * Cases that do not apply are listed with their reason in `not-applicable.json` (summarised in the fixtures
 * README): types Ursa does not model, zone-only writes, stored ServiceInsights, zone-generated `_config`; a reason
 * starting "pending" marks an endpoint not served yet (none now). The rate is printed; the suite fails when it
 * drops below MIN_RATE.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { descriptorFor, dropUnknownFields } from '@ursa/proto';
import { call, startApi, type ApiServer } from '@ursa/test-support/api.js';
import { backends } from '@ursa/test-support/backends.js';
import { apiCases, baseEndpointCases, normalizeBody, notApplicable, validatorCases, type ApiCase, type ValidatorCase } from '@ursa/test-support/kuma-testdata.js';

/** The share of applicable cases that must stay identical: what this suite reached. */
const MIN_RATE = 0.959;

const OPERATOR = 'operator-token-for-tests';
const META = new Set(['type', 'name', 'mesh', 'labels', 'creationTime', 'modificationTime', 'kri']);

interface Outcome {
  readonly id: string;
  readonly ok: boolean;
  readonly why?: string;
}

/**
 * A Kuma universal-format resource as a store draft: meta fields apart, the rest (or `spec`) is the spec.
 * Fields Kuma's decoder would have dropped while reading the seed are dropped (one case's outbound carries a
 * stray `kuma.io/service`).
 */
function draft(doc: Record<string, unknown>) {
  const desc = descriptorFor(String(doc.type));
  if (!desc) throw new Error(`seed of unknown type ${String(doc.type)}`);
  const rest = Object.fromEntries(Object.entries(doc).filter(([k]) => !META.has(k)));
  const spec = desc.shape === 'spec' ? ((doc.spec ?? {}) as Record<string, unknown>) : rest;
  return { kind: desc.kind, mesh: desc.scope === 'mesh' ? String(doc.mesh) : '', name: String(doc.name), labels: (doc.labels ?? {}) as Record<string, string>, spec: dropUnknownFields(desc, spec).spec };
}

/** Kuma's golden and Ursa's answer as comparable JSON (or text when not JSON). */
function comparable(text: string | undefined): unknown {
  if (text === undefined || text.trim() === '') return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === 'object' && 'type' in v && (v as { type: unknown }).type === '/std-errors') {
      const e = v as Record<string, unknown>;
      delete e.instance;
      // `source` (body/query/path/header) is Ursa's addition to each invalid parameter; Kuma's has none.
      if (Array.isArray(e.invalid_parameters)) for (const p of e.invalid_parameters as Record<string, unknown>[]) delete p.source;
    }
    return v;
  } catch {
    return text;
  }
}

/**
 * Kuma's test server runs as zone `default`, so the resources it writes carry the zone-mode computed labels
 * `kuma.io/origin: zone`, `kuma.io/zone: default`, `kuma.io/env: universal`; a global computes only
 * `kuma.io/mesh` (Kuma `pkg/core/resources/labels/compute.go`). Goldens are read as a global would answer.
 */
function asGlobal(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(asGlobal);
  if (!v || typeof v !== 'object') return v;
  const out = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, asGlobal(x)]));
  const labels = out.labels as Record<string, string> | undefined;
  if (labels && labels['kuma.io/origin'] === 'zone' && labels['kuma.io/zone'] === 'default') {
    const rest = Object.fromEntries(Object.entries(labels).filter(([k]) => !['kuma.io/origin', 'kuma.io/zone', 'kuma.io/env'].includes(k)));
    if (Object.keys(rest).length > 0) out.labels = rest;
    else delete out.labels;
    // The KRI names the zone from that label: a global's has an empty zone segment.
    if (typeof out.kri === 'string') out.kri = out.kri.replace(/^(kri_[a-z]+_[^_]*)_default_/, '$1__');
  }
  return out;
}

const deepEqual = (a: unknown, b: unknown) => JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => [k, sortKeys(x)]));
  return v;
}

describe.each(backends().map((b) => [b.name, b] as const))('Kuma v2.14.3 conformance on %s', (backendName, backend) => {
  let api: ApiServer;
  const outcomes: Outcome[] = [];
  let tenants = 0;

  /** A fresh tenant and its admin token: an empty store for one case. */
  async function tenant(): Promise<{ name: string; token: string }> {
    const name = `kuma-${++tenants}`;
    const r = await call(api.url, 'POST', '/_operator/tenants', { token: OPERATOR, body: { name } });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return { name, token: r.body.secret as string };
  }

  beforeAll(async () => {
    api = await startApi(backend);
  }, 60_000);

  afterAll(async () => {
    await api?.close();
    const na = notApplicable();
    const pending = na.filter((n) => n.reason.startsWith('pending'));
    const ok = outcomes.filter((o) => o.ok).length;
    const count = (list: typeof na) => list.reduce((s, n) => s + n.actions, 0);
    console.log(
      `kuma conformance (${backendName}): ${ok}/${outcomes.length} applicable identical (${((100 * ok) / outcomes.length).toFixed(1)}%), ` +
        `${count(na) - count(pending)} not applicable, ${count(pending)} pending (inspect endpoints not served yet)`,
    );
    for (const o of outcomes.filter((x) => !x.ok)) console.log(`  mismatch ${o.id}: ${o.why}`);
  });

  async function runApiCase(c: ApiCase): Promise<void> {
    const t = await tenant();
    try {
      for (const doc of c.seed) await api.resources.create(t.name, draft(doc));
    } catch (err) {
      // Ursa's store refuses the state Kuma's case starts from: each of its actions is a mismatch.
      for (const [i, a] of c.actions.entries()) outcomes.push({ id: `${c.id}#${i} ${a.method} ${a.path}`, ok: false, why: `seed refused: ${String(err)}` });
      return;
    }
    const address = api.url.replace(/^http:\/\//, '');
    for (const [i, a] of c.actions.entries()) {
      const id = `${c.id}#${i} ${a.method} ${a.path}`;
      // A KRI in the URL names the zone of Kuma's test server; a global names its own resources with none.
      const path = a.path.startsWith('/_kri/') ? a.path.replace(/^(\/_kri\/kri_[a-z]+_[^_]*)_default_/, '$1__') : a.path;
      const res = await fetch(`${api.url}${path}`, {
        method: a.method,
        headers: { authorization: `Bearer ${t.token}`, ...(a.request ? { 'content-type': 'application/json' } : {}) },
        body: a.request,
      });
      const got = normalizeBody(await res.text(), address);
      const want = a.golden === undefined ? undefined : normalizeBody(a.golden, '{{address}}');
      const bodyOk = deepEqual(comparable(got), asGlobal(comparable(want)));
      const ok = res.status === a.status && bodyOk;
      outcomes.push({ id, ok, why: ok ? undefined : `status ${res.status} (want ${a.status}); body ${bodyOk ? 'same' : `${got.slice(0, 400)} (want ${(want ?? '').replace(/\s+/g, ' ').slice(0, 400)})`}` });
    }
  }

  it('API-server cases', async () => {
    for (const c of [...apiCases(), ...baseEndpointCases()]) await runApiCase(c);
  }, 180_000);

  async function runValidatorCase(c: ValidatorCase, index: number, t: { token: string }): Promise<void> {
    const doc = (parse(c.yaml) ?? {}) as Record<string, unknown>;
    const name = `case-${index}`;
    let path: string;
    let body: Record<string, unknown>;
    if (c.kind === 'Mesh') {
      path = `/meshes/${name}`;
      body = { ...doc, type: 'Mesh', name };
    } else {
      const desc = descriptorFor(c.kind)!;
      // Kuma's validator tests give the spec alone, or (ErrorCase) a whole resource with the spec inline.
      const spec = 'type' in doc ? Object.fromEntries(Object.entries(doc).filter(([k]) => !META.has(k))) : doc;
      path = `/meshes/default/${desc.path}/${name}`;
      body = { type: c.kind, mesh: 'default', name, spec };
    }
    const r = await call(api.url, 'PUT', path, { token: t.token, body });
    const id = `${c.kind}: ${c.name}`;
    if (c.valid) {
      outcomes.push({ id, ok: r.status === 201, why: `status ${r.status} (want 201) ${JSON.stringify(r.body?.invalid_parameters ?? r.body)}` });
      return;
    }
    const got = ((r.body?.invalid_parameters ?? []) as { field: string; reason: string }[]).map((p) => `${p.field}: ${p.reason}`).sort();
    const want = c.violations.map((v) => `${v.field}: ${v.message}`).sort();
    const ok = r.status === 400 && JSON.stringify(got) === JSON.stringify(want);
    outcomes.push({ id, ok, why: `status ${r.status} (want 400); got ${JSON.stringify(got)} want ${JSON.stringify(want)}` });
  }

  it('validator cases', async () => {
    const t = await tenant();
    expect((await call(api.url, 'PUT', '/meshes/default', { token: t.token, body: { type: 'Mesh', name: 'default' } })).status).toBe(201);
    for (const [i, c] of validatorCases().entries()) await runValidatorCase(c, i, t);
  }, 180_000);

  it(`at least ${MIN_RATE * 100}% of applicable cases are identical`, () => {
    const ok = outcomes.filter((o) => o.ok).length;
    expect(outcomes.length).toBeGreaterThan(0);
    expect(ok / outcomes.length).toBeGreaterThanOrEqual(MIN_RATE);
  });
});
