/**
 * The bootstrap kuma-dp gets, case by case from Kuma's own generator tests (testdata/requests/cases.json,
 * converted from pkg/xds/bootstrap/generator_test.go in kumahq/kuma v2.14.3): each answer is compared with
 * Kuma's golden (testdata/kuma/, copied unchanged) for structure (every key path, clusters by name, the
 * node metadata keys) and, except where a case lists a difference, for values; only the CA differs (ours).
 * Kuma's `hdsConfig` is the one path Ursa leaves out (it serves no health discovery). Ursa's own answers are
 * kept in testdata/golden/ (`UPDATE_GOLDEN=1` rewrites them). Also: bad requests are 422/400/404 naming
 * the field, and the JSON form is Kuma's BootstrapResponse. The HTTPS and ADS path end to end, with the real
 * agent: test/zone-dp-bootstrap.test.ts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Resource } from '@ursa/core';
import { answerBootstrap, hostOf, type BootstrapDeps } from './bootstrap-handler.js';

const dir = new URL('./testdata/', import.meta.url);
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const CA = '-----BEGIN CERTIFICATE-----\nTEST-CA\n-----END CERTIFICATE-----\n';

interface Case {
  name: string;
  kuma: string;
  server: { host: string; port: number; defaultAdminPort: number; adminAddress?: string };
  stored?: Record<string, unknown>;
  request: Record<string, unknown>;
  valueDifferences?: string[];
  structureOnly?: boolean;
  extraMetadata?: string[];
}
const { cases } = JSON.parse(readFileSync(new URL('requests/cases.json', dir), 'utf8')) as { cases: Case[] };

/** A store holding the mesh and, when given, the proxy's resource (REST form → stored form). */
function storeWith(stored: Record<string, unknown> | undefined): BootstrapDeps['store'] {
  const meta = new Set(['type', 'mesh', 'name']);
  const items: Resource[] = [{ kind: 'Mesh', mesh: '', name: 'mesh', labels: {}, spec: {} } as unknown as Resource];
  if (stored) items.push({ kind: stored.type, mesh: stored.mesh ?? '', name: stored.name, labels: {}, spec: Object.fromEntries(Object.entries(stored).filter(([k]) => !meta.has(k))) } as unknown as Resource);
  return { get: async (_t, k) => items.find((r) => r.kind === k.kind && r.name === k.name && (r.mesh === (k.mesh ?? '') || k.kind === 'Mesh')) };
}

const deps = (c: Case, extra: Partial<BootstrapDeps> = {}): BootstrapDeps => ({
  store: storeWith(c.stored),
  tenant: 'local',
  zone: 'zone-1',
  tokens: undefined,
  tls: { caPem: CA, names: { dns: ['localhost'], ips: ['127.0.0.1'] } },
  xdsPort: c.server.port,
  defaultAdminPort: c.server.defaultAdminPort,
  adminAddress: c.server.adminAddress,
  ...extra,
});

/** Every key path with its value; array items by `name` when they have one, else `[]`. */
function paths(v: unknown, at = '', out = new Map<string, unknown>()): Map<string, unknown> {
  if (Array.isArray(v)) {
    if (v.length === 0) out.set(at, '[]');
    for (const item of v) paths(item, `${at}[${item && typeof item === 'object' && 'name' in item ? String((item as { name: unknown }).name) : ''}]`, out);
  } else if (v && typeof v === 'object') {
    const entries = Object.entries(v);
    if (entries.length === 0) out.set(at, '{}');
    for (const [k, x] of entries) paths(x, at === '' ? k : `${at}.${k}`, out);
  } else out.set(at, v);
  return out;
}

const CA_PATHS = /trustedCa\.inlineBytes$|rootCerts\.inlineBytes$/;

describe('bootstrap: Kuma golden cases', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const answer = await answerBootstrap(deps(c), { body: c.request, host: c.server.host, acceptJson: false });
      expect(answer.status, answer.body).toBe(200);
      expect(answer.headers['content-type']).toBe('text/x-yaml');
      expect(answer.headers['kuma-bootstrap-version']).toBe('3');
      const goldenFile = new URL(`golden/${c.name}.golden.yaml`, dir);
      if (UPDATE) writeFileSync(goldenFile, answer.body);
      expect(answer.body).toBe(readFileSync(goldenFile, 'utf8'));

      const ours = paths(parse(answer.body));
      const kuma = paths(parse(readFileSync(new URL(`kuma/${c.kuma}`, dir), 'utf8')));
      for (const k of [...kuma.keys()]) if (k.startsWith('hdsConfig')) kuma.delete(k);
      const extra = new Set((c.extraMetadata ?? []).map((k) => `node.metadata.${k}`));
      const oursKeys = [...ours.keys()].filter((k) => !extra.has(k)).sort();
      expect(oursKeys).toEqual([...kuma.keys()].sort());
      if (c.structureOnly) return;
      const allowed = new Set(c.valueDifferences ?? []);
      for (const [k, v] of kuma) {
        if (CA_PATHS.test(k) || allowed.has(k)) continue;
        expect({ path: k, value: ours.get(k) }).toEqual({ path: k, value: v });
      }
    });
  }

  it('the ingress and egress bootstraps name their proxy type and kuma-dp\'s resource, and have no mesh', async () => {
    for (const name of ['zone-ingress-with-resource', 'zone-egress-with-resource-token-path']) {
      const c = cases.find((x) => x.name === name)!;
      const b = parse((await answerBootstrap(deps(c), { body: c.request, host: 'localhost', acceptJson: false })).body) as { node: { id: string; cluster: string; metadata: Record<string, unknown> } };
      const type = c.request.proxyType as string;
      expect(b.node).toMatchObject({ id: `.${c.request.name as string}`, cluster: type, metadata: { 'dataplane.proxyType': type, 'dataplane.resource': c.request.dataplaneResource } });
    }
  });
});

describe('bootstrap: bad requests', () => {
  const c = cases.find((x) => x.name === 'default-config')!;
  const ask = (body: unknown, extra: Partial<BootstrapDeps> = {}, host = 'localhost') => answerBootstrap(deps(c, extra), { body, host, acceptJson: false });

  it('names each wrong field with 422', async () => {
    const a = await ask({ mesh: 5, name: '', proxyType: 'gateway', dnsPort: 70000, features: 'x' });
    expect(a.status).toBe(422);
    for (const field of ['mesh: must be a string', 'name: must not be empty', 'proxyType: must be one of dataplane, ingress, egress', 'dnsPort: must be a port number', 'features: must be an array']) expect(a.body).toContain(field);
  });

  it('refuses a dataplane resource that is invalid, of another proxy, or in a mesh that does not exist', async () => {
    const base = { ...c.request };
    const bad = await ask({ ...base, dataplaneResource: 'type: Dataplane\nmesh: mesh\nname: name.namespace\nnetworking:\n  address: 10.0.0.1\n  inbound:\n  - port: 70000\n    tags: {kuma.io/service: web}\n' });
    expect(bad.status).toBe(422);
    expect(bad.body).toContain('dataplaneResource.networking.inbound[0].port');
    const other = await ask({ ...base, dataplaneResource: 'type: Dataplane\nmesh: mesh\nname: someone-else\nnetworking: {address: 10.0.0.1, inbound: [{port: 80, tags: {kuma.io/service: web}}]}\n' });
    expect(other.status).toBe(422);
    expect(other.body).toContain('dataplaneResource.name: must be the proxy\'s name "name.namespace"');
    const kind = await ask({ ...base, dataplaneResource: 'type: ZoneIngress\nname: name.namespace\n' });
    expect(kind.body).toContain('dataplaneResource.type: must be "Dataplane" for proxy type "dataplane"');
    const yaml = await ask({ ...base, dataplaneResource: 'type: [' });
    expect(yaml.status).toBe(422);
    expect(yaml.body).toContain('dataplaneResource: is not valid YAML or JSON');
    const noMesh = await ask({ ...base, mesh: 'nope', dataplaneResource: 'type: Dataplane\nmesh: nope\nname: name.namespace\nnetworking: {address: 10.0.0.1, inbound: [{port: 80, tags: {kuma.io/service: web}}]}\n' });
    expect(noMesh.status).toBe(422);
    expect(noMesh.body).toContain('mesh: mesh "nope" does not exist');
  });

  it('is 404 for a proxy neither sent nor registered, 422 without a token when tokens are required, 400 for a host not in the certificate', async () => {
    const missing = await ask({ ...c.request, name: 'ghost' });
    expect(missing.status).toBe(404);
    expect(missing.body).toContain('no Dataplane "ghost" in mesh "mesh"');
    const tokens = {} as NonNullable<BootstrapDeps['tokens']>;
    const noToken = await ask({ ...c.request, dataplaneToken: undefined }, { tokens });
    expect(noToken.status).toBe(422);
    expect(noToken.body).toContain('dataplaneToken: a dataplane token is required');
    const host = await ask(c.request, {}, 'cp.example.com');
    expect(host.status).toBe(400);
    expect(host.body).toContain('"cp.example.com"');
    expect(host.body).toContain('--xds-tls-hostnames=cp.example.com');
    const notCa = await ask({ ...c.request, caCert: 'not a certificate' });
    expect(notCa.status).toBe(400);
    expect(notCa.body).toContain('caCert: is not a PEM certificate');
  });

  it('answers Kuma\'s BootstrapResponse as JSON when asked', async () => {
    const a = await answerBootstrap(deps(c), { body: c.request, host: 'localhost', acceptJson: true });
    expect(a.headers['content-type']).toBe('application/json');
    const r = JSON.parse(a.body) as { bootstrap: string; kumaSidecarConfiguration: { networking: { address: string }; metrics: { aggregate: unknown[] } } };
    expect(parse(Buffer.from(r.bootstrap, 'base64').toString('utf8'))).toMatchObject({ node: { id: 'mesh.name.namespace', cluster: 'backend' } });
    expect(r.kumaSidecarConfiguration).toEqual({ networking: { corefileTemplate: null, address: '8.8.8.8' }, metrics: { aggregate: [] } });
  });

  it('reads the host kuma-dp dialled from the Host header', () => {
    expect(hostOf('localhost:5678')).toBe('localhost');
    expect(hostOf('[::1]:5678')).toBe('::1');
    expect(hostOf('10.0.0.1')).toBe('10.0.0.1');
  });
});
