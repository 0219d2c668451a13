/**
 * `matchPolicies`: the matching-and-merging engine (`kuma-multizone.md` §9.4, Kuma v2.14
 * `core/matchers/dataplane.go`, `core/rules/{inbound,outbound,merge}`).
 *
 * 1. Keep the policies of the mesh whose kind this engine applies and whose top-level targetRef selects the
 *    proxy (`core/src/policy/select.ts`); a policy selects inbounds (inbound traffic) and the proxy (outbound traffic).
 * 2. Outbound, per destination service: every `to[]` entry aimed at it (`Mesh`, or `MeshService` by name),
 *    sorted by the policy's attributes (top-level kind, Dataplane specificity, origin, role), then the entry's
 *    kind (Mesh < MeshService), then display name reversed; a stable sort keeps entry order within a policy.
 *    Their `default` blocks fold with JSON merge patch; MeshHTTPRoute rules merge by `matches`.
 * 3. Inbound, per port: the policies selecting that inbound, sorted the same way; `from[]` entries aimed at
 *    all clients (`Mesh`) and `rules[]` without `matches` fold into the inbound's conf. MeshTrafficPermission
 *    keeps every entry: who may call is decided per client by the RBAC fragment.
 * 4. Proxy-wide kinds (MeshTrace, a top-level `default` only, Kuma's single-item rules): the `default` of
 *    every policy selecting the proxy, folded in precedence order.
 */
import { createHash } from 'node:crypto';
import { descriptorFor, type TargetRefSpec } from '@ursa/proto';
import { dataplaneOf } from '../../model/dataplane.js';
import { APPLIED_KINDS, type AppliedKind } from './kinds.js';
import { clone, canonicalJson, mergeAll } from './json.js';
import {
  compareAttributes,
  compareDisplayName,
  compareToRef,
  DISPLAY_NAME_LABEL,
  originOf,
  readRef,
  selects,
  type InboundInfo,
  type TargetRef,
} from '@ursa/core';
import type {
  HttpRouteRule,
  InboundPolicies,
  MatchedPolicies,
  MatchedPolicyRef,
  OutboundPolicies,
  PoliciesInspect,
  PolicyContext,
  PolicyResource,
  ProxyWidePolicies,
  RouteOverrides,
  TcpRouteRule,
  TrafficPermissionConf,
  TrafficPermissionFrom,
} from './types.js';

interface Matched {
  readonly resource: PolicyResource;
  readonly top: TargetRef;
  readonly applied: AppliedKind;
  readonly inbounds: ReadonlySet<number>;
  readonly proxy: boolean;
}

/**
 * A policy spec's sections as the engine reads them, the same way for every kind: each kind's spec type
 * fits (`sectionsOf`). `default` blocks stay JSON: they are folded by JSON merge patch, whatever their kind.
 */
interface Sections {
  readonly targetRef?: TargetRefSpec;
  readonly to?: readonly SectionItem[];
  readonly from?: readonly SectionItem[];
  readonly rules?: readonly SectionItem[];
  /** Proxy-wide kinds (MeshTrace). */
  readonly default?: unknown;
}
interface SectionItem {
  readonly targetRef?: TargetRefSpec;
  readonly default?: unknown;
  /** `rules[].matches` (MeshTimeout, MeshRateLimit, MeshHTTPRoute rules). */
  readonly matches?: unknown;
  /** MeshHTTPRoute / MeshTCPRoute `to[].rules`. */
  readonly rules?: readonly { readonly matches?: unknown; readonly default?: unknown }[];
}
const sectionsOf = (r: PolicyResource): Sections => r.spec;

/** One `to`/`from`/`rules` item with the policy it came from. */
interface Entry {
  readonly resource: PolicyResource;
  readonly top: TargetRef;
  readonly ref: TargetRef;
  readonly item: SectionItem;
}

const refOf = (m: { resource: PolicyResource }): MatchedPolicyRef => ({
  kind: m.resource.kind,
  mesh: m.resource.mesh,
  name: m.resource.name,
  origin: originOf(m.resource),
});

/** A `to[].targetRef` aimed at the destination `service` (a `kuma.io/service` name). */
function refAimsAt(ref: TargetRef, service: string): boolean {
  if (ref.kind === 'Mesh') return true;
  // Without MeshService resources a MeshService is named by its `kuma.io/service` (Kuma's legacy naming).
  if (ref.kind === 'MeshService') return (ref.name ?? ref.labels?.[DISPLAY_NAME_LABEL]) === service;
  return false;
}

const sortPolicies = (list: { resource: PolicyResource; top: TargetRef }[]) =>
  list.sort((a, b) => compareAttributes(a, b) || compareDisplayName(a, b) || (a.resource.name < b.resource.name ? -1 : 1));

/** Kuma `outbound.Sort`: policy attributes, then destination kind, then display name reversed (stable). */
const sortToEntries = (list: Entry[]) =>
  list.sort((a, b) => compareAttributes(a, b) || compareToRef(a.ref, b.ref) || compareDisplayName(a, b));

/** A policy of an applied kind, read once per policy list (not once per proxy). */
interface Prepared {
  readonly resource: PolicyResource;
  readonly top: TargetRef;
  readonly applied: AppliedKind;
  /** Hash of everything that decides what the policy does, for `outboundKey`. */
  readonly digest: string;
}

/**
 * The generator matches every proxy against the same policy list: parse, filter and order that list once
 * per list object and mesh. Keyed weakly by the array, so a new list (a new rebuild) starts afresh.
 */
const preparedCache = new WeakMap<readonly PolicyResource[], Map<string, Prepared[]>>();
function prepare(policies: readonly PolicyResource[], mesh: string): Prepared[] {
  let byMesh = preparedCache.get(policies);
  if (!byMesh) preparedCache.set(policies, (byMesh = new Map()));
  let list = byMesh.get(mesh);
  if (list) return list;
  list = [];
  // A fixed order, so the stable sorts below never depend on the caller's order.
  const sorted = [...policies].sort((a, b) => (a.kind + '/' + a.name < b.kind + '/' + b.name ? -1 : 1));
  for (const resource of sorted) {
    const applied = APPLIED_KINDS[resource.kind];
    if (!applied || resource.mesh !== mesh || !descriptorFor(resource.kind)?.isPolicy) continue;
    const digest = createHash('sha256').update(canonicalJson([resource.kind, resource.name, resource.labels, resource.spec])).digest('base64url');
    list.push({ resource, top: readRef(sectionsOf(resource).targetRef), applied, digest });
  }
  // Precedence depends on the policies alone, not on the proxy: sort once here.
  sortPolicies(list);
  byMesh.set(mesh, list);
  return list;
}

export function matchPolicies(ctx: PolicyContext): MatchedPolicies {
  const dataplane = dataplaneOf(ctx.dataplane);
  const inbounds = dataplane.inbounds;
  const byKind = new Map<string, Matched[]>();
  const digests = new Map<PolicyResource, string>();
  for (const { resource, top, applied, digest } of prepare(ctx.policies, ctx.mesh)) {
    const sel = selects(resource, top, dataplane, inbounds, ctx.zone);
    if (!sel.proxy && sel.inbounds.length === 0) continue;
    const list = byKind.get(resource.kind) ?? [];
    list.push({ resource, top, applied, inbounds: new Set(sel.inbounds), proxy: sel.proxy });
    byKind.set(resource.kind, list);
    digests.set(resource, digest);
  }

  const inboundCache = new Map<number, { conf: InboundPolicies; used: Record<string, MatchedPolicyRef[]> }>();
  const outboundCache = new Map<string, { conf: OutboundPolicies; used: Record<string, MatchedPolicyRef[]> }>();

  const inbound = (port: number) => {
    let hit = inboundCache.get(port);
    if (!hit) inboundCache.set(port, (hit = computeInbound(byKind, inbounds, port)));
    return hit;
  };
  const outbound = (service: string) => {
    let hit = outboundCache.get(service);
    if (!hit) outboundCache.set(service, (hit = computeOutbound(byKind, service)));
    return hit;
  };

  let wide: ReturnType<typeof computeProxyWide> | undefined;
  const proxyWide = () => (wide ??= computeProxyWide(byKind));

  return {
    outboundKey: outboundKeyOf(byKind, digests, dataplane),
    inbound: (port) => inbound(port).conf,
    outbound: (service) => outbound(service).conf,
    proxyWide: () => proxyWide().conf,
    defaults: (kind) =>
      (byKind.get(kind) ?? []).flatMap((m) => {
        const spec = sectionsOf(m.resource);
        return [...(spec.to ?? []), ...(spec.from ?? []), ...(spec.rules ?? [])].flatMap((i) => (i.default === undefined ? [] : [i.default]));
      }),
    inspect: (services = []) => inspect(ctx, byKind, inbounds, services, inbound, outbound, proxyWide),
  };
}

/**
 * Hash of the proxy-level matches (kind, name, labels, spec) in precedence order. MeshAccessLog and MeshTrace
 * write the proxy's own address and service into its outbound listeners (Kuma's `%KUMA_SOURCE_*%`, the
 * tracer's service name): with either matched, the key also holds them, so no other proxy shares those.
 */
function outboundKeyOf(byKind: ReadonlyMap<string, Matched[]>, digests: ReadonlyMap<PolicyResource, string>, dp: { address: string; inbounds: readonly InboundInfo[] }): string {
  const h = createHash('sha256');
  if (byKind.has('MeshAccessLog') || byKind.has('MeshTrace')) h.update(`${dp.address}\u0000${dp.inbounds[0]?.service ?? ''}\n`);
  for (const kind of [...byKind.keys()].sort()) {
    for (const m of byKind.get(kind)!) if (m.proxy) h.update(digests.get(m.resource)!).update('\n');
  }
  return h.digest('base64url').slice(0, 22);
}

// ---- inbound ------------------------------------------------------------------------------------------------

function computeInbound(byKind: ReadonlyMap<string, Matched[]>, inbounds: readonly InboundInfo[], port: number) {
  const info = inbounds.find((i) => i.port === port);
  const conf: Record<string, unknown> = { port, service: info?.service ?? '' };
  const used: Record<string, MatchedPolicyRef[]> = {};
  if (!info) return { conf: conf as unknown as InboundPolicies, used };
  for (const [kind, list] of byKind) {
    const first = list[0]!;
    const field = first.applied.inbound;
    const sections = descriptorFor(kind)?.policy;
    if (!field || !sections || (!sections.hasFrom && !sections.hasRules)) continue;
    const selecting = list.filter((m) => m.inbounds.has(port));
    const merged = first.applied.merge === 'permissions' ? permissions(selecting) : inboundDefaults(selecting, sections);
    if (merged === undefined) continue;
    conf[field] = merged.conf;
    used[kind] = dedupe(merged.contributors.map(refOf));
  }
  return { conf: conf as unknown as InboundPolicies, used };
}

/** Inbound conf for all clients: `from` entries aimed at `Mesh` and `rules` without matches, in precedence order. */
function inboundDefaults(selecting: readonly Matched[], sections: { readonly hasFrom: boolean; readonly hasRules: boolean }) {
  const from: Entry[] = [];
  const rules: Entry[] = [];
  for (const m of selecting) {
    const spec = sectionsOf(m.resource);
    if (sections.hasFrom) for (const item of spec.from ?? []) from.push({ ...m, ref: readRef(item.targetRef), item });
    if (sections.hasRules) for (const item of spec.rules ?? []) rules.push({ ...m, ref: { kind: 'Mesh' }, item });
  }
  const all = [...from.filter((e) => e.ref.kind === 'Mesh'), ...rules.filter((e) => !Array.isArray(e.item.matches) || e.item.matches.length === 0)];
  // Entries of one policy stay together; policies are already in precedence order.
  const order = new Map<PolicyResource, number>();
  for (const e of [...from, ...rules]) if (!order.has(e.resource)) order.set(e.resource, order.size);
  const sorted = all.map((e, i) => ({ e, i })).sort((a, b) => order.get(a.e.resource)! - order.get(b.e.resource)! || a.i - b.i).map((x) => x.e);
  const conf = mergeAll<unknown>(sorted.map((e) => e.item.default));
  return conf === undefined ? undefined : { conf, contributors: sorted };
}

/** MeshTrafficPermission: every `from` entry (client selector and action) and every `rules` list, in precedence order. */
function permissions(selecting: readonly Matched[]): { conf: TrafficPermissionConf; contributors: Matched[] } | undefined {
  const conf: TrafficPermissionConf = { from: [] };
  const fromContributors: Matched[] = [];
  const rulesContributors: Matched[] = [];
  let lists: Required<NonNullable<TrafficPermissionConf['rules']>> | undefined;
  for (const m of selecting) {
    if (m.resource.kind !== 'MeshTrafficPermission') continue;
    for (const item of m.resource.spec.from ?? []) {
      fromContributors.push(m);
      const ref = readRef(item.targetRef);
      const targetRef: TrafficPermissionFrom['targetRef'] = { kind: ref.kind };
      if (ref.name !== undefined) targetRef.name = ref.name;
      if (ref.tags) targetRef.tags = ref.tags;
      conf.from.push({ targetRef, action: item.default.action });
    }
    for (const item of m.resource.spec.rules ?? []) {
      rulesContributors.push(m);
      lists ??= { allow: [], deny: [], allowWithShadowDeny: [] };
      for (const key of ['allow', 'deny', 'allowWithShadowDeny'] as const) lists[key].push(...clone(item.default[key] ?? []));
    }
  }
  if (fromContributors.length === 0 && rulesContributors.length === 0) return undefined;
  if (lists) conf.rules = lists;
  return { conf, contributors: [...fromContributors, ...rulesContributors] };
}

// ---- proxy-wide ---------------------------------------------------------------------------------------------

function computeProxyWide(byKind: ReadonlyMap<string, Matched[]>) {
  const conf: Record<string, unknown> = {};
  const used: Record<string, MatchedPolicyRef[]> = {};
  for (const [kind, list] of byKind) {
    const field = list[0]!.applied.proxyWide;
    if (!field) continue;
    // Already in precedence order (lowest first).
    const selecting = list.filter((m) => m.proxy || m.inbounds.size > 0);
    const merged = mergeAll<unknown>(selecting.map((m) => sectionsOf(m.resource).default ?? {}));
    if (merged === undefined) continue;
    conf[field] = merged;
    used[kind] = dedupe(selecting.map(refOf));
  }
  return { conf: conf as ProxyWidePolicies, used };
}

// ---- outbound -----------------------------------------------------------------------------------------------

function computeOutbound(byKind: ReadonlyMap<string, Matched[]>, service: string) {
  const conf: Record<string, unknown> = { service, httpRules: [] };
  const byRoute = new Map<string, Record<string, unknown>>();
  const used: Record<string, MatchedPolicyRef[]> = {};
  for (const [kind, list] of byKind) {
    const first = list[0]!;
    const field = first.applied.outbound;
    if (!field || !descriptorFor(kind)?.policy?.hasTo) continue;
    const toService: Entry[] = [];
    const toRoute: Entry[] = [];
    for (const m of list) {
      if (!m.proxy) continue;
      for (const item of sectionsOf(m.resource).to ?? []) {
        const ref = readRef(item.targetRef);
        if (ref.kind === 'MeshHTTPRoute' && first.applied.byRoute) toRoute.push({ ...m, ref, item });
        else if (refAimsAt(ref, service)) toService.push({ ...m, ref, item });
      }
    }
    sortToEntries(toService);
    sortToEntries(toRoute);
    let merged: unknown;
    switch (first.applied.merge) {
      case 'http-rules':
        merged = mergeHttpRules(toService);
        if ((merged as HttpRouteRule[]).length === 0) merged = undefined;
        break;
      case 'tcp-rule':
        merged = mergeTcpRule(toService);
        break;
      default:
        merged = mergeAll(toService.map((e) => e.item.default ?? {}));
    }
    if (merged !== undefined) conf[field] = merged;
    // Route-aimed entries override the destination's conf for that route (Kuma falls back to the
    // destination's rules for a route without its own).
    for (const e of toRoute) {
      const route = e.ref.name ?? e.ref.labels?.[DISPLAY_NAME_LABEL];
      if (!route) continue;
      const overrides = byRoute.get(route) ?? {};
      const key = first.applied.byRoute!;
      overrides[key] = mergeAll([overrides[key] ?? conf[field] ?? {}, e.item.default ?? {}]);
      byRoute.set(route, overrides);
    }
    const contributors = [...toService, ...toRoute];
    if (contributors.length > 0) used[kind] = dedupe(contributors.map(refOf));
  }
  conf.byRoute = byRoute as ReadonlyMap<string, RouteOverrides>;
  return { conf: conf as unknown as OutboundPolicies, used };
}

/**
 * MeshHTTPRoute (Kuma `PolicyDefault{Rules mergeValuesByKey}` + `Transform`): each entry's rules are
 * reversed and appended in precedence order; a rule whose `matches` equal an earlier one's absorbs it (its
 * `default` merged over the earlier one) and takes the later position; the list is reversed at the end.
 * Net effect: the most precedent policy's rules come first, in their written order.
 */
function mergeHttpRules(entries: Entry[]): HttpRouteRule[] {
  interface Acc {
    key: string;
    matches: unknown;
    defaults: unknown[];
    origin: string;
    skip: boolean;
  }
  const acc: Acc[] = [];
  for (const e of entries) {
    const rules = (e.item.rules ?? []).slice().reverse();
    for (const rule of rules) {
      const key = canonicalJson(rule.matches ?? []);
      let defaults: unknown[] = [rule.default ?? {}];
      for (const a of acc) {
        if (a.skip || a.key !== key) continue;
        defaults = [...a.defaults, ...defaults];
        a.skip = true;
      }
      acc.push({ key, matches: rule.matches ?? [], defaults, origin: e.resource.name, skip: false });
    }
  }
  return acc
    .filter((a) => !a.skip)
    .map((a) => ({ matches: clone(a.matches), default: mergeAll(a.defaults) ?? {}, origin: a.origin }) as HttpRouteRule)
    .reverse();
}

/** MeshTCPRoute: at most one rule per entry; later (more precedent) defaults replace the backend list. */
function mergeTcpRule(entries: Entry[]): TcpRouteRule | undefined {
  const withRule = entries.filter((e) => (e.item.rules ?? []).length > 0);
  if (withRule.length === 0) return undefined;
  const merged = mergeAll<TcpRouteRule['default']>(withRule.map((e) => e.item.rules?.[0]?.default ?? {}));
  return { default: merged ?? { backendRefs: [] }, origin: withRule[withRule.length - 1]!.resource.name };
}

function dedupe(refs: MatchedPolicyRef[]): MatchedPolicyRef[] {
  const seen = new Set<string>();
  return refs.filter((r) => {
    const k = `${r.kind}/${r.name}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

// ---- inspect ------------------------------------------------------------------------------------------------

function inspect(
  ctx: PolicyContext,
  byKind: ReadonlyMap<string, Matched[]>,
  inbounds: readonly InboundInfo[],
  services: readonly string[],
  inbound: (port: number) => { conf: InboundPolicies; used: Record<string, MatchedPolicyRef[]> },
  outbound: (service: string) => { conf: OutboundPolicies; used: Record<string, MatchedPolicyRef[]> },
  proxyWide: () => { conf: ProxyWidePolicies; used: Record<string, MatchedPolicyRef[]> },
): PoliciesInspect {
  const policies = [...byKind.keys()].sort().flatMap((kind) => byKind.get(kind)!.map((m) => ({ ...refOf(m), topLevel: clone(m.top) })));
  const section = (
    conf: Record<string, unknown>,
    used: Record<string, MatchedPolicyRef[]>,
    field: (a: AppliedKind) => string | undefined,
  ): Record<string, { matched: MatchedPolicyRef[]; conf: unknown; byRoute?: Record<string, unknown> }> =>
    Object.fromEntries(
      Object.keys(used)
        .sort()
        .map((kind) => {
          const f = field(APPLIED_KINDS[kind]!);
          return [kind, { matched: used[kind]!, conf: f ? toJson(conf[f]) : undefined }];
        }),
    );
  return {
    dataplane: { mesh: ctx.mesh, name: ctx.dataplane.name },
    policies,
    inbounds: inbounds.map((i) => {
      const r = inbound(i.port);
      return { port: i.port, service: i.service, policies: section(r.conf as never, r.used, (a) => a.inbound) };
    }),
    outbounds: [...new Set(services)].sort().map((service) => {
      const r = outbound(service);
      const policies = section(r.conf as never, r.used, (a) => a.outbound);
      if (r.conf.byRoute.size > 0) {
        for (const [kind, entry] of Object.entries(policies)) {
          const key = APPLIED_KINDS[kind]!.byRoute;
          if (!key) continue;
          const routes = Object.fromEntries([...r.conf.byRoute].filter(([, o]) => o[key] !== undefined).map(([route, o]) => [route, toJson(o[key])]));
          if (Object.keys(routes).length > 0) entry.byRoute = routes;
        }
      }
      return { service, policies };
    }),
    ...(() => {
      const r = proxyWide();
      return Object.keys(r.used).length === 0 ? {} : { proxy: { policies: section(r.conf as never, r.used, (a) => a.proxyWide) } };
    })(),
  };
}

const toJson = (v: unknown): unknown => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));
