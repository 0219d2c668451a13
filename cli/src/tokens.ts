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

export async function zoneToken(client: Client, zone: string, validFor?: string): Promise<string> {
  const body = { zone, ...(validFor ? { validFor: parseDuration(validFor) } : {}) };
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
