/** `generate zone-token|dataplane-token` and `tokens list|revoke` (the tenant's API tokens). */
import type { Client, List } from './client.js';
import { UsageError } from './errors.js';
import { document, type Format, table } from './output.js';

/** Go durations as kumactl takes `--valid-for` (`24h`, `90m`, `8760h`), in whole seconds. */
export function parseDuration(v: string): number {
  if (!/^(\d+(\.\d+)?(h|m|s))+$/.test(v)) throw new UsageError(`--valid-for: "${v}" is not a duration (e.g. 24h, 90m, 30s)`);
  const unit: Record<string, number> = { h: 3600, m: 60, s: 1 };
  let total = 0;
  for (const [, n, , u] of v.matchAll(/(\d+(\.\d+)?)(h|m|s)/g)) total += Number(n) * unit[u!]!;
  if (Math.floor(total) <= 0) throw new UsageError('--valid-for: must be at least 1s');
  return Math.floor(total);
}

const SCOPES = ['cp', 'ingress', 'egress'];

/** kumactl's `generate zone-token --scope cp|ingress|egress` (repeatable; none means all three). */
export async function zoneToken(client: Client, zone: string, validFor?: string, scopes: readonly string[] = []): Promise<string> {
  for (const s of scopes) if (!SCOPES.includes(s)) throw new UsageError(`--scope: "${s}" is not one of ${SCOPES.join(', ')}`);
  const body = { zone, ...(scopes.length > 0 ? { scope: [...new Set(scopes)] } : {}), ...(validFor ? { validFor: parseDuration(validFor) } : {}) };
  const res = await client.request<{ token: string }>('POST', '/tokens/zone', body);
  return res.body.token;
}

export async function dataplaneToken(client: Client, opts: { mesh: string; name?: string; type?: string; tags: readonly string[]; validFor?: string }): Promise<string> {
  const tags: Record<string, string[]> = {};
  for (const t of opts.tags) {
    const eq = t.indexOf('=');
    if (eq <= 0) throw new UsageError(`--tag: "${t}" is not KEY=VALUE`);
    (tags[t.slice(0, eq)] ??= []).push(t.slice(eq + 1));
  }
  const body = {
    ...(opts.type === 'ingress' ? { type: 'ingress' } : { mesh: opts.mesh }),
    ...(opts.name ? { name: opts.name } : {}),
    ...(Object.keys(tags).length > 0 ? { tags } : {}),
    ...(opts.validFor ? { validFor: parseDuration(opts.validFor) } : {}),
  };
  const res = await client.request<string>('POST', '/tokens/dataplane', body, { text: true });
  return res.body.trim();
}

interface ApiToken {
  id: string;
  name: string;
  role: string;
  creationTime: string;
  expirationTime: string | null;
  revocationTime: string | null;
}

export async function listTokens(client: Client, output: Format): Promise<string> {
  const list = await client.get<List<ApiToken>>('/tokens');
  if (output !== 'table') return document(list, output);
  return table(
    ['ID', 'NAME', 'ROLE', 'CREATED', 'EXPIRES', 'STATUS'],
    list.items.map((t) => [t.id, t.name, t.role, t.creationTime, t.expirationTime ?? 'never', t.revocationTime ? 'revoked' : t.expirationTime && Date.parse(t.expirationTime) < Date.now() ? 'expired' : 'active']),
  );
}

export async function revokeToken(client: Client, id: string): Promise<string> {
  await client.request('DELETE', `/tokens/${encodeURIComponent(id)}`);
  return `revoked token ${id}`;
}

const ROLES = ['admin', 'editor', 'read-only'];

/** `tokens create`: a new API token of this tenant; its secret is shown once. */
export async function createToken(client: Client, opts: { name: string; role: string; validFor?: string }, output: Format): Promise<string> {
  if (!ROLES.includes(opts.role)) throw new UsageError(`--role: "${opts.role}" is not one of ${ROLES.join(', ')}`);
  const body = { name: opts.name, role: opts.role, ...(opts.validFor ? { validFor: parseDuration(opts.validFor) } : {}) };
  const res = await client.request<ApiToken & { secret: string }>('POST', '/tokens', body);
  if (output !== 'table') return document(res.body, output);
  return `${res.body.secret}\n(token ${res.body.id}, role ${res.body.role}; the secret is shown only once)`;
}

interface Tenant {
  name: string;
  revision: number;
  creationTime: string;
}

/** `tenants list` (operator token): the tenants of a hosted global. */
export async function listTenants(client: Client, output: Format): Promise<string> {
  const list = await client.get<List<Tenant>>('/_operator/tenants');
  if (output !== 'table') return document(list, output);
  return table(['NAME', 'REVISION', 'CREATED'], list.items.map((t) => [t.name, String(t.revision), t.creationTime]));
}

/** `tenants create NAME` (operator token): a tenant and its initial admin token, whose secret is shown once. */
export async function createTenant(client: Client, name: string, output: Format): Promise<string> {
  const res = await client.request<{ tenant: string; token: ApiToken; secret: string }>('POST', '/_operator/tenants', { name });
  if (output !== 'table') return document(res.body, output);
  return `${res.body.secret}\n(tenant ${res.body.tenant} created; this is its initial admin token, shown only once)`;
}
