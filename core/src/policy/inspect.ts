/**
 * What Kuma's dataplane inspect endpoints compute (Kuma v2.14 `pkg/api-server/inspect_endpoints.go`,
 * `pkg/plugins/policies/core/rules`): the rules each policy kind gives one Dataplane (`_rules`), its proxy-wide
 * policies (`_policies`) and one inbound's policies (`_inbounds/{kri}/_policies`). Pure functions over stored
 * resources, so the global answers them from its own store (and a zone agent could, from its own).
 *
 * Selection and precedence are the policy engine's (`select.ts`): policies are listed lowest precedence first,
 * as Kuma lists origins. Subset rules (`toRules`, `fromRules`) are built for `Mesh` and `MeshService` refs: one
 * rule per service named (that service's entries folded over the `Mesh` ones), then the `Mesh`-only fallback.
 * Policies whose top-level targetRef is a MeshHTTPRoute are left out (Kuma's rule-matches hashes are not built).
 */
import { descriptorFor, type TargetRefSpec } from '@ursa/proto';
import { ZONE_LABEL } from '../kds/mappers.js';
import type { Resource } from '../store/resource-store.js';
import { mergeAll } from './json.js';
import { kumaConf } from './kuma-conf.js';
import { compareAttributes, compareDisplayName, readRef, selects, type InboundInfo, type TargetRef } from './select.js';

type Json = Record<string, unknown>;
const SERVICE_TAG = 'kuma.io/service';

/** An inbound or a zone-proxy listener of the Dataplane, as Kuma's rules name it. */
export interface InspectInbound extends InboundInfo {
  /** Listeners have no tags (Kuma shows `null`). */
  readonly listener: boolean;
}

interface Item {
  readonly targetRef?: TargetRefSpec;
  readonly default?: unknown;
  readonly rules?: unknown;
}
export interface InspectMatch {
  readonly policy: Resource;
  readonly top: TargetRef;
  readonly inbounds: ReadonlySet<number>;
  readonly proxy: boolean;
}

const asArray = (v: unknown): Json[] => (Array.isArray(v) ? (v.filter((x) => typeof x === 'object' && x !== null) as Json[]) : []);

/** Inbounds first, then zone-proxy listeners (Kuma's inbound rules cover both), by port. */
export function inspectInbounds(dp: Resource): InspectInbound[] {
  const networking = (dp.spec.networking ?? {}) as Json;
  const inbounds = asArray(networking.inbound).map((ib) => {
    const tags = (ib.tags ?? {}) as Record<string, string>;
    return { name: typeof ib.name === 'string' ? ib.name : '', port: Number(ib.port ?? 0), service: tags[SERVICE_TAG] ?? '', tags, listener: false };
  });
  const listeners = asArray(networking.listeners).map((l) => ({ name: typeof l.name === 'string' ? l.name : '', port: Number(l.port ?? 0), service: '', tags: {}, listener: true }));
  return [...inbounds, ...listeners];
}

/** Kuma's `GetSectionName()`: the inbound's name, else its port. */
export const sectionOf = (i: InboundInfo): string => (i.name !== '' ? i.name : String(i.port));

/** Every policy of the mesh that selects the Dataplane, per kind, lowest precedence first. */
export function matchForInspect(dp: Resource, policies: readonly Resource[]): Map<string, InspectMatch[]> {
  const inbounds = inspectInbounds(dp);
  const zone = dp.labels[ZONE_LABEL] ?? '';
  const matched: InspectMatch[] = [];
  for (const policy of policies) {
    if (policy.mesh !== dp.mesh || !descriptorFor(policy.kind)?.isPolicy) continue;
    const top = readRef(policy.spec.targetRef as TargetRefSpec | undefined);
    if (top.kind === 'MeshHTTPRoute') continue;
    const s = selects(policy, top, dp, inbounds, zone);
    if (!s.proxy && s.inbounds.length === 0) continue;
    matched.push({ policy, top, inbounds: new Set(s.inbounds), proxy: s.proxy });
  }
  matched.sort((a, b) => compareAttributes({ resource: a.policy, top: a.top }, { resource: b.policy, top: b.top }) || compareDisplayName({ resource: a.policy, top: a.top }, { resource: b.policy, top: b.top }) || (a.policy.name < b.policy.name ? -1 : 1));
  const byKind = new Map<string, InspectMatch[]>();
  for (const m of matched) byKind.set(m.policy.kind, [...(byKind.get(m.policy.kind) ?? []), m]);
  return new Map([...byKind].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Kinds with a top-level `default` only (MeshTrace): one conf for the whole proxy. */
export function isProxyWide(kind: string): boolean {
  const p = descriptorFor(kind)?.policy;
  return !!p && !p.hasTo && !p.hasFrom && !p.hasRules;
}

const metaOf = (r: Resource) => ({ labels: r.labels, mesh: r.mesh, name: r.name, type: r.kind });
const itemsOf = (r: Resource, section: 'to' | 'from' | 'rules'): Item[] => asArray(r.spec[section]) as Item[];
/** A `to` item's conf: its `default`, or a route's `rules`. */
const confOf = (item: Item): unknown => (item.default !== undefined ? item.default : item.rules !== undefined ? { rules: item.rules } : {});

/** One inbound's rules: each `rules[]` item (and `from[]` item aimed at `Mesh`) of the policies selecting it, in order. */
export function inboundRuleEntries(list: readonly InspectMatch[], port: number): { policy: Resource; ruleIndex: number; conf: unknown }[] {
  const out: { policy: Resource; ruleIndex: number; conf: unknown }[] = [];
  for (const m of list) {
    if (!m.inbounds.has(port)) continue;
    itemsOf(m.policy, 'rules').forEach((item, ruleIndex) => out.push({ policy: m.policy, ruleIndex, conf: kumaConf(m.policy.kind, item.default ?? {}) }));
    itemsOf(m.policy, 'from').forEach((item, ruleIndex) => {
      if (readRef(item.targetRef).kind === 'Mesh') out.push({ policy: m.policy, ruleIndex, conf: kumaConf(m.policy.kind, item.default ?? {}) });
    });
  }
  return out;
}

interface Entry {
  readonly policy: Resource;
  readonly ref: TargetRef;
  readonly conf: unknown;
}

/** Kuma's subset rules over `Mesh` and `MeshService` entries (lowest precedence first). */
function subsetRules(kind: string, entries: readonly Entry[]): Json[] {
  const usable = entries.filter((e) => e.ref.kind === 'Mesh' || (e.ref.kind === 'MeshService' && e.ref.name !== undefined));
  const services = [...new Set(usable.filter((e) => e.ref.kind === 'MeshService').map((e) => e.ref.name!))];
  const rule = (of: readonly Entry[], matchers: Json[]) => ({
    conf: kumaConf(kind, mergeAll(of.map((e) => e.conf)) ?? {}),
    matchers,
    origin: [...new Set(of.map((e) => e.policy))].map(metaOf),
  });
  const out = services.map((s) => rule(usable.filter((e) => e.ref.kind === 'Mesh' || e.ref.name === s), [{ key: SERVICE_TAG, not: false, value: s }]));
  const mesh = usable.filter((e) => e.ref.kind === 'Mesh');
  if (mesh.length > 0) out.push(rule(mesh, []));
  return out;
}

const inboundView = (i: InspectInbound) => (i.listener ? { port: i.port, tags: null } : { ...(i.name ? { name: i.name } : {}), port: i.port, tags: i.tags });

/** The body of `GET /meshes/{mesh}/dataplanes/{name}/_rules` (Kuma's `InspectRules`). */
export function dataplaneRules(dp: Resource, policies: readonly Resource[]): Json {
  const inbounds = inspectInbounds(dp).sort((a, b) => a.port - b.port);
  const rules: Json[] = [];
  for (const [kind, list] of matchForInspect(dp, policies)) {
    const entry: Json = { type: kind, warnings: [], fromRules: [], inboundRules: [], toRules: [], toResourceRules: [] };
    if (isProxyWide(kind)) {
      entry.proxyRule = { conf: kumaConf(kind, mergeAll(list.map((m) => m.policy.spec.default ?? {})) ?? {}), origin: list.map((m) => metaOf(m.policy)) };
      rules.push(entry);
      continue;
    }
    entry.fromRules = inbounds.flatMap((i) => {
      if (i.listener) return [];
      const from = list.filter((m) => m.inbounds.has(i.port)).flatMap((m) => itemsOf(m.policy, 'from').map((item) => ({ policy: m.policy, ref: readRef(item.targetRef), conf: item.default ?? {} })));
      const r = subsetRules(kind, from);
      return r.length === 0 ? [] : [{ inbound: inboundView(i), rules: r }];
    });
    entry.inboundRules = inbounds.flatMap((i) => {
      const r = inboundRuleEntries(list, i.port).map((e) => ({ conf: [e.conf], origin: [{ resourceMeta: metaOf(e.policy), ruleIndex: e.ruleIndex }] }));
      return r.length === 0 ? [] : [{ inbound: inboundView(i), rules: r }];
    });
    const to = list.filter((m) => m.proxy).flatMap((m) => itemsOf(m.policy, 'to').map((item, ruleIndex) => ({ policy: m.policy, ref: readRef(item.targetRef), conf: confOf(item), ruleIndex })));
    entry.toRules = subsetRules(kind, to);
    const toMesh = to.filter((e) => e.ref.kind === 'Mesh');
    if (toMesh.length > 0) {
      entry.toResourceRules = [
        {
          conf: [kumaConf(kind, mergeAll(toMesh.map((e) => e.conf)) ?? {})],
          origin: toMesh.map((e) => ({ resourceMeta: metaOf(e.policy), ruleIndex: e.ruleIndex })),
          resourceMeta: { labels: {}, mesh: '', name: dp.mesh, type: 'Mesh' },
          resourceSectionName: '',
        },
      ];
    }
    rules.push(entry);
  }
  return { httpMatches: [], resource: { labels: dp.labels, mesh: dp.mesh, name: dp.name, type: 'Dataplane' }, rules };
}
