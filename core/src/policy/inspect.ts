/**
 * What Kuma's dataplane inspect endpoints compute (Kuma v2.14 `pkg/api-server/inspect_endpoints.go`,
 * `pkg/plugins/policies/core/rules`): the rules each policy kind gives one Dataplane (`_rules`), its proxy-wide
 * policies (`_policies`) and one inbound's policies (`_inbounds/{kri}/_policies`). Pure functions over stored
 * resources, so the global answers them from its own store (and a zone agent could, from its own).
 *
 * Selection and precedence are the policy engine's (`select.ts`): policies are listed lowest precedence first,
 * as Kuma lists origins. `toRules` and `fromRules` are Kuma's subset rules (`subset.ts`); a policy on a
 * MeshHTTPRoute counts once per route rule, tagged with that rule's matches hash, as Kuma's
 * `buildToListWithRoutes` does. Confs are rendered as Kuma shows them (`kuma-conf.ts`).
 */
import { descriptorFor, type TargetRefSpec } from '@ursa/proto';
import { ZONE_LABEL } from '../kds/mappers.js';
import type { Resource } from '../store/resource-store.js';
import { canonicalJson, mergeAll, mergePatch } from './json.js';
import { buildSubsetRules, type Subset, type SubsetItem } from './subset.js';
import { kumaConf } from './kuma-conf.js';
import { compareAttributes, compareDisplayName, readRef, selects, type InboundInfo, type TargetRef } from './select.js';

type Json = Record<string, unknown>;
const SERVICE_TAG = 'kuma.io/service';
/** Kuma's tag for a route rule's matches in subset rules. */
const RULE_MATCHES_HASH = '__rule-matches-hash__';

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
  /** The MeshHTTPRoute a policy's top-level targetRef names. */
  readonly route?: Resource;
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
    // A policy on a MeshHTTPRoute selects what the route selects; on a route that does not exist, nothing.
    const route = top.kind === 'MeshHTTPRoute' ? policies.find((r) => r.kind === 'MeshHTTPRoute' && r.mesh === dp.mesh && r.name === top.name) : undefined;
    if (top.kind === 'MeshHTTPRoute' && !route) continue;
    const selector = route ?? policy;
    const s = selects(selector, route ? readRef(route.spec.targetRef as TargetRefSpec | undefined) : top, dp, inbounds, zone);
    if (!s.proxy && s.inbounds.length === 0) continue;
    matched.push({ policy, top, inbounds: new Set(s.inbounds), proxy: s.proxy, ...(route ? { route } : {}) });
  }
  const rank = (m: InspectMatch) => ({ resource: m.policy, top: m.top });
  matched.sort((a, b) => compareAttributes(rank(a), rank(b)) || compareDisplayName(rank(a), rank(b)) || (a.policy.name < b.policy.name ? -1 : 1));
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

/** A `to`/`from` item as a subset item: Kuma's `asSubset` of its targetRef (other kinds are not subsets). */
function subsetOf(ref: TargetRef): Subset | undefined {
  const tags = (t: Record<string, string> | undefined) => Object.entries(t ?? {}).map(([key, value]) => ({ key, value, not: false }));
  switch (ref.kind) {
    case 'Mesh':
      return [];
    case 'MeshSubset':
      return tags(ref.tags);
    case 'MeshService':
      return [{ key: SERVICE_TAG, value: ref.name ?? '', not: false }];
    case 'MeshServiceSubset':
      return [{ key: SERVICE_TAG, value: ref.name ?? '', not: false }, ...tags(ref.tags)];
    default:
      return undefined;
  }
}

/** Kuma's `merge.Confs`: JSON merge patch, except route rules, which merge by their `matches`. */
function mergeConfs(kind: string, confs: readonly unknown[]): unknown {
  if (kind !== 'MeshHTTPRoute') return mergeAll(confs) ?? {};
  // The more precedent policy's version of a rule wins and its rules come first.
  const byKey = new Map<string, Json>();
  for (const conf of [...confs].reverse()) {
    for (const rule of asArray((conf as Json).rules)) {
      const key = canonicalJson(rule.matches);
      const have = byKey.get(key);
      byKey.set(key, have ? { ...have, default: mergePatch(rule.default, have.default) } : rule);
    }
  }
  return { rules: [...byKey.values()] };
}

function subsetRules(kind: string, items: readonly SubsetItem<Resource>[], withNegations: boolean): Json[] {
  return buildSubsetRules(items, withNegations).map((r) => ({
    conf: kumaConf(kind, mergeConfs(kind, r.confs)),
    matchers: r.subset.map((t) => ({ key: t.key, not: t.not, value: t.value })),
    origin: r.origins.map(metaOf),
  }));
}

/** Kuma's hash of a route rule's `matches`: SHA-256 (base64) of Go's JSON of them, fields in Go's order. */
async function hashMatches(matches: unknown): Promise<string> {
  const ordered = asArray(matches).map((m) => {
    const o: Json = {};
    const path = m.path as Json | undefined;
    if (path) o.path = { value: path.value ?? '', type: path.type ?? '' };
    if (m.method !== undefined) o.method = m.method;
    if (m.queryParams !== undefined) o.queryParams = asArray(m.queryParams).map((q) => ({ type: q.type ?? '', name: q.name ?? '', value: q.value ?? '' }));
    if (m.headers !== undefined) o.headers = asArray(m.headers).map((h) => ({ ...(h.type !== undefined ? { type: h.type } : {}), name: h.name ?? '', ...(h.value !== undefined ? { value: h.value } : {}) }));
    return o;
  });
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(JSON.stringify(ordered))));
  return btoa(String.fromCharCode(...digest));
}

/**
 * Kuma `buildToListWithRoutes`: a policy on a MeshHTTPRoute stands, for each rule of the route, for its `to`
 * items aimed at that route's destination and the rule's matches hash.
 */
async function routeItems(policy: Resource, route: Resource): Promise<{ ref: TargetRef; conf: unknown }[]> {
  const out: { ref: TargetRef; conf: unknown }[] = [];
  for (const to of asArray(route.spec.to)) {
    const dest = readRef(to.targetRef as TargetRefSpec | undefined);
    for (const rule of asArray(to.rules)) {
      const hash = await hashMatches(rule.matches);
      for (const item of itemsOf(policy, 'to')) {
        const ref: TargetRef = dest.kind === 'Mesh' || dest.kind === 'MeshSubset' ? { kind: 'MeshSubset', tags: { [RULE_MATCHES_HASH]: hash } } : { kind: 'MeshServiceSubset', name: dest.name, tags: { [RULE_MATCHES_HASH]: hash } };
        out.push({ ref, conf: item.default ?? {} });
      }
    }
  }
  return out;
}

const inboundView = (i: InspectInbound) => (i.listener ? { port: i.port, tags: null } : { ...(i.name ? { name: i.name } : {}), port: i.port, tags: i.tags });

/**
 * The body of `GET /meshes/{mesh}/dataplanes/{name}/_rules` (Kuma's `InspectRules`). Kuma shows the legacy
 * `toRules` only when the mesh is not in MeshService `Exclusive` mode, and skips a kind that yields no rule.
 */
export async function dataplaneRules(dp: Resource, policies: readonly Resource[], meshServicesExclusive: boolean): Promise<Json> {
  const inbounds = inspectInbounds(dp).sort((a, b) => a.port - b.port);
  const rules: Json[] = [];
  const httpMatches = new Map<string, unknown>();
  for (const [kind, list] of matchForInspect(dp, policies)) {
    const entry: Json = { type: kind, warnings: [], fromRules: [], inboundRules: [], toRules: [], toResourceRules: [] };
    if (isProxyWide(kind)) {
      entry.proxyRule = { conf: kumaConf(kind, mergeAll(list.map((m) => m.policy.spec.default ?? {})) ?? {}), origin: list.map((m) => metaOf(m.policy)) };
      rules.push(entry);
      continue;
    }
    let anyFromInbound = false;
    entry.fromRules = inbounds.flatMap((i) => {
      if (i.listener) return [];
      const selecting = list.filter((m) => m.inbounds.has(i.port));
      if (selecting.length > 0) anyFromInbound = true;
      const items = selecting.flatMap((m) =>
        itemsOf(m.policy, 'from').flatMap((item) => {
          const subset = subsetOf(readRef(item.targetRef));
          return subset ? [{ subset, conf: item.default ?? {}, origin: m.policy }] : [];
        }),
      );
      const r = subsetRules(kind, items, true);
      return r.length === 0 ? [] : [{ inbound: inboundView(i), rules: r }];
    });
    entry.inboundRules = inbounds.flatMap((i) => {
      const r = inboundRuleEntries(list, i.port).map((e) => ({ conf: [e.conf], origin: [{ resourceMeta: metaOf(e.policy), ruleIndex: e.ruleIndex }] }));
      return r.length === 0 ? [] : [{ inbound: inboundView(i), rules: r }];
    });
    const toItems: SubsetItem<Resource>[] = [];
    for (const m of list.filter((x) => x.proxy)) {
      const items = itemsOf(m.policy, 'to');
      // Kuma leaves out a policy with a `to` aimed at a MeshHTTPRoute (the older way to target a route).
      if (items.some((item) => readRef(item.targetRef).kind === 'MeshHTTPRoute')) continue;
      const refs = m.route ? await routeItems(m.policy, m.route) : items.map((item) => ({ ref: readRef(item.targetRef), conf: confOf(item) }));
      for (const { ref, conf } of refs) {
        const subset = subsetOf(ref);
        if (subset) toItems.push({ subset, conf, origin: m.policy });
      }
    }
    const toRules = subsetRules(kind, toItems, false);
    if (kind === 'MeshHTTPRoute') {
      for (const r of toRules) for (const rule of asArray((r.conf as Json).rules)) httpMatches.set(await hashMatches(rule.matches), rule.matches);
    }
    if (!meshServicesExclusive) entry.toRules = toRules;
    const toMesh = list
      .filter((m) => m.proxy && !m.route)
      .flatMap((m) => itemsOf(m.policy, 'to').flatMap((item, ruleIndex) => (readRef(item.targetRef).kind === 'Mesh' ? [{ policy: m.policy, conf: confOf(item), ruleIndex }] : [])));
    if (toMesh.length > 0) {
      entry.toResourceRules = [
        {
          conf: [kumaConf(kind, mergeConfs(kind, toMesh.map((e) => e.conf)))],
          origin: toMesh.map((e) => ({ resourceMeta: metaOf(e.policy), ruleIndex: e.ruleIndex })),
          resourceMeta: { labels: {}, mesh: '', name: dp.mesh, type: 'Mesh' },
          resourceSectionName: '',
        },
      ];
    }
    if (toRules.length === 0 && toMesh.length === 0 && !anyFromInbound) continue;
    rules.push(entry);
  }
  return {
    httpMatches: [...httpMatches].sort(([a], [b]) => (a < b ? -1 : 1)).map(([hash, match]) => ({ hash, match: kumaConf('MeshHTTPRoute', match) })),
    resource: { labels: dp.labels, mesh: dp.mesh, name: dp.name, type: 'Dataplane' },
    rules,
  };
}
