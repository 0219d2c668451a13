/**
 * `inspect`: kumactl's operator tables, read from the overview endpoints (objects merged with their insights)
 * that Kuma's kumactl reads, plus what Ursa knows more of: for each zone the global revision it has applied and
 * how many revisions it is behind the global's change feed (`/global-insight`'s `revision`).
 */
import { RESOURCES } from '@ursa/proto';
import { type Client, listAll } from './client.js';
import { UsageError } from './errors.js';
import { ago, document, type Format, table } from './output.js';

type Item = Record<string, unknown>;
const obj = (v: unknown): Item => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Item) : {});
const arr = (v: unknown): Item[] => (Array.isArray(v) ? (v as Item[]) : []);
const num = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : 0);

interface Subscription {
  connectTime?: string;
  disconnectTime?: string;
  status?: { lastUpdateTime?: string; total?: { responsesSent?: unknown; responsesRejected?: unknown } };
}

/** What kumactl shows of an insight's subscriptions: online while the newest one is open, totals over all. */
function subscriptionColumns(insight: unknown) {
  const subs = arr(obj(insight).subscriptions) as Subscription[];
  const last = subs.at(-1);
  const online = last !== undefined && !last.disconnectTime;
  return {
    online,
    lastConnected: ago(last?.connectTime),
    lastUpdated: ago(last?.status?.lastUpdateTime),
    updates: subs.reduce((n, s) => n + num(s.status?.total?.responsesSent), 0),
    errors: subs.reduce((n, s) => n + num(s.status?.total?.responsesRejected), 0),
    last: last as Item | undefined,
  };
}

export const INSPECT_TARGETS = ['zones', 'meshes', 'services', 'dataplanes', 'zoneingresses', 'zoneegresses'] as const;
export type InspectTarget = (typeof INSPECT_TARGETS)[number];

export function inspectTarget(v: string): InspectTarget {
  const t = v.toLowerCase().replace(/-/g, '');
  const hit = INSPECT_TARGETS.find((x) => x === t || x === `${t}s` || x === `${t}es`);
  if (!hit) throw new UsageError(`inspect: unknown target "${v}" (one of: ${INSPECT_TARGETS.join(', ')}, or "dataplane NAME")`);
  return hit;
}

export async function inspect(client: Client, target: InspectTarget, opts: { mesh: string; output: Format }): Promise<string> {
  const [headers, rows, raw] = await INSPECTORS[target](client, opts.mesh);
  if (opts.output !== 'table') return document({ total: raw.length, items: raw }, opts.output);
  return rows.length === 0 ? 'No resources found.' : table(headers, rows);
}

type Inspector = (client: Client, mesh: string) => Promise<[string[], unknown[][], unknown[]]>;

/** Zone ingresses and egresses: the same columns over their `_overview` (`key`: the resource, `insight`: its insight). */
async function zoneProxies(client: Client, path: string, key: string, insight: string): ReturnType<Inspector> {
  const items = await listAll(client, path);
  const rows = items.map((z) => {
    const s = subscriptionColumns(z[insight]);
    return [z.name, obj(z[key]).zone, s.online ? 'Online' : 'Offline', s.lastConnected, s.lastUpdated, s.updates, s.errors];
  });
  return [['NAME', 'ZONE', 'STATUS', 'LAST CONNECTED AGO', 'LAST UPDATED AGO', 'TOTAL UPDATES', 'TOTAL ERRORS'], rows, items];
}

const INSPECTORS: Record<InspectTarget, Inspector> = {
  async zones(client) {
    const [items, insight] = await Promise.all([listAll(client, '/zones/_overview'), client.get<Item>('/global-insight')]);
    const revision = typeof insight.revision === 'number' ? insight.revision : undefined;
    const rows = items.map((z) => {
      const s = subscriptionColumns(z.zoneInsight);
      const enabled = obj(z.zone).enabled !== false;
      const state = obj(s.last?.zoneState);
      const applied = state.appliedRevision === undefined ? undefined : num(state.appliedRevision);
      let backend: unknown;
      try {
        backend = obj(obj(JSON.parse(String(s.last?.config ?? '{}'))).store).type;
      } catch {
        backend = undefined;
      }
      return [
        z.name,
        !enabled ? 'Disabled' : s.online ? 'Online' : 'Offline',
        s.lastConnected,
        s.lastUpdated,
        s.updates,
        s.errors,
        obj(obj(s.last?.version).kumaCp).version,
        backend,
        applied,
        applied !== undefined && revision !== undefined ? Math.max(0, revision - applied) : undefined,
      ];
    });
    return [['NAME', 'STATUS', 'LAST CONNECTED AGO', 'LAST UPDATED AGO', 'TOTAL UPDATES', 'TOTAL ERRORS', 'ZONE-CP VERSION', 'BACKEND', 'APPLIED REVISION', 'REVISIONS BEHIND'], rows, items];
  },

  zoneingresses: (client) => zoneProxies(client, '/zoneingresses/_overview', 'zoneIngress', 'zoneIngressInsight'),

  zoneegresses: (client) => zoneProxies(client, '/zoneegresses/_overview', 'zoneEgress', 'zoneEgressInsight'),

  async dataplanes(client, mesh) {
    const items = await listAll(client, `/meshes/${encodeURIComponent(mesh)}/dataplanes/_overview`);
    const rows = items.map((dp) => {
      const s = subscriptionColumns(dp.dataplaneInsight);
      const version = obj(s.last?.version);
      return [dp.mesh, dp.name, tagsOf(dp.dataplane).join(','), s.online ? 'Online' : 'Offline', s.lastConnected, s.lastUpdated, s.updates, s.errors, obj(version.kumaDp).version, obj(version.envoy).version];
    });
    return [['MESH', 'NAME', 'TAGS', 'STATUS', 'LAST CONNECTED AGO', 'LAST UPDATED AGO', 'TOTAL UPDATES', 'TOTAL ERRORS', 'KUMA-DP VERSION', 'ENVOY VERSION'], rows, items];
  },

  /** Services as Kuma's ServiceInsight counts them: the `kuma.io/service` tags of inbounds, proxies online of total. */
  async services(client, mesh) {
    const items = await listAll(client, `/meshes/${encodeURIComponent(mesh)}/dataplanes/_overview`);
    const services = new Map<string, { online: number; total: number }>();
    for (const dp of items) {
      const online = subscriptionColumns(dp.dataplaneInsight).online;
      const names = new Set(arr(obj(obj(dp.dataplane).networking).inbound).map((i) => obj(i.tags)['kuma.io/service']).filter((s): s is string => typeof s === 'string'));
      for (const name of names) {
        const s = services.get(name) ?? { online: 0, total: 0 };
        s.total++;
        if (online) s.online++;
        services.set(name, s);
      }
    }
    const sorted = [...services.entries()].sort(([a], [b]) => a.localeCompare(b));
    const rows = sorted.map(([name, s]) => [mesh, name, s.online === s.total ? 'online' : s.online === 0 ? 'offline' : 'partially_degraded', `${s.online}/${s.total}`]);
    return [['MESH', 'SERVICE', 'STATUS', 'DATAPLANES'], rows, sorted.map(([name, s]) => ({ mesh, name, dataplanes: s }))];
  },

  async meshes(client) {
    const meshes = await listAll(client, '/meshes');
    const policyTypes = RESOURCES.filter((d) => d.isPolicy);
    const rows = await Promise.all(
      meshes.map(async (m) => {
        const base = `/meshes/${encodeURIComponent(String(m.name))}`;
        const [dps, policyTotals] = await Promise.all([
          listAll(client, `${base}/dataplanes/_overview`),
          Promise.all(policyTypes.map((d) => client.get<{ total?: number }>(`${base}/${d.path}?size=1`).then((l) => l.total ?? 0))),
        ]);
        const online = dps.filter((dp) => subscriptionColumns(dp.dataplaneInsight).online).length;
        const backends = arr(obj(m.mtls).backends);
        const mtls = obj(m.mtls).enabledBackend ? `${String(obj(m.mtls).enabledBackend)}${backends.length ? `/${String(backends.find((b) => b.name === obj(m.mtls).enabledBackend)?.type ?? '')}` : ''}` : 'off';
        return [m.name, mtls, `${online}/${dps.length}`, policyTotals.reduce((a, b) => a + b, 0), ago(m.creationTime).replace(/ ago$/, '')];
      }),
    );
    return [['NAME', 'MTLS', 'DPs ONLINE/TOTAL', 'POLICIES', 'AGE'], rows, meshes];
  },
};

function tagsOf(dataplane: unknown): string[] {
  const tags = new Set<string>();
  for (const i of arr(obj(obj(dataplane).networking).inbound)) for (const [k, v] of Object.entries(obj(i.tags))) tags.add(`${k}=${String(v)}`);
  return [...tags].sort();
}

/** `inspect dataplane NAME --type config|policies`: the zone agent's inspect endpoints. */
export async function inspectDataplane(client: Client, name: string, opts: { mesh: string; type: string; output: Format }): Promise<string> {
  if (opts.type !== 'config' && opts.type !== 'policies') throw new UsageError('--type: must be one of: config, policies');
  const body = await client.get(`/meshes/${encodeURIComponent(opts.mesh)}/dataplanes/${encodeURIComponent(name)}/_${opts.type}`);
  return document(body, opts.output === 'table' ? (opts.type === 'config' ? 'json' : 'yaml') : opts.output);
}
