/**
 * MeshTrafficPermission → Envoy HTTP RBAC filters for one inbound (pure).
 *
 * Kuma applies MeshTrafficPermission only when the mesh has mTLS, and then a client without an allow is
 * denied (`kuma-multizone.md` §9.3). Clients are known by the SPIFFE id in their certificate,
 * `spiffe://<mesh>/<service>`; other tags by Kuma's `kuma://<tag>/<value>` URI SANs.
 *
 * The classic `rules` form of RBAC is used (not the matcher tree Kuma 2.14 emits) because it is what
 * proxyless gRPC implements (gRFC A41). Two filters:
 * 1. `rules[].default.deny` matches, as a DENY filter (present only when there are any): a deny always wins;
 * 2. an ALLOW filter: a client passes if
 *    - some `from` entry with Allow / AllowWithShadowDeny selects it and no later (more precedent) Deny entry
 *      does — the same result as Kuma folding the client's matching entries in precedence order, last wins;
 *    - or it matches a `rules[].default.allow` / `allowWithShadowDeny` item.
 *    No policy in it means nobody passes.
 * Shadow denies (AllowWithShadowDeny) only log in Kuma; here they allow and log nothing.
 *
 * TCP inbounds get the same two rule sets as network RBAC filters (`inboundNetworkRbacFilters`), put before the
 * tcp_proxy: the principal (the client certificate's SAN) is known once the TLS handshake is done, so the
 * decision is per connection instead of per request. SNI matches work there too (requested_server_name).
 */
import { Permission, Principal, RBAC as RbacRules, RBAC_Action, type Policy } from '@ursa/proto/gen/envoy/config/rbac/v3/rbac.js';
import type { Filter } from '@ursa/proto/gen/envoy/config/listener/v3/listener_components.js';
import { RBAC } from '@ursa/proto/gen/envoy/extensions/filters/http/rbac/v3/rbac.js';
import { RBAC as NetworkRbac } from '@ursa/proto/gen/envoy/extensions/filters/network/rbac/v3/rbac.js';
import type { HttpFilter } from '@ursa/proto/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import { packAny } from '../../hash.js';
import { NETWORK_RBAC_TYPE_URL, RBAC_TYPE_URL } from '../../type-urls.js';
import type { InboundPolicies, SpiffeMatch, TrafficPermissionFrom } from '../types.js';

export const RBAC_FILTER_NAME = 'envoy.filters.http.rbac';
export const NETWORK_RBAC_FILTER_NAME = 'envoy.filters.network.rbac';
const SERVICE_TAG = 'kuma.io/service';

export interface RbacOptions {
  readonly mesh: string;
  /** The mesh has mTLS on: without it MeshTrafficPermission does not apply and no filter is returned. */
  readonly mtls: boolean;
}

const exactSan = (value: string): Principal =>
  Principal.fromPartial({ identifier: { $case: 'authenticated', value: { principalName: { matchPattern: { $case: 'exact', value } } } } });
const anyPrincipal = (): Principal => Principal.fromPartial({ identifier: { $case: 'any', value: true } });
const and = (ids: Principal[]): Principal => (ids.length === 1 ? ids[0]! : Principal.fromPartial({ identifier: { $case: 'andIds', value: { ids } } }));
const or = (ids: Principal[]): Principal => (ids.length === 1 ? ids[0]! : Principal.fromPartial({ identifier: { $case: 'orIds', value: { ids } } }));
const not = (id: Principal): Principal => Principal.fromPartial({ identifier: { $case: 'notId', value: id } });
const anyPermission = (): Permission => Permission.fromPartial({ rule: { $case: 'any', value: true } });

/** The clients a `from[].targetRef` selects, as a principal. */
function selectorPrincipal(mesh: string, ref: TrafficPermissionFrom['targetRef']): Principal {
  const tags: Record<string, string> = { ...(ref.tags ?? {}) };
  if ((ref.kind === 'MeshService' || ref.kind === 'MeshServiceSubset') && ref.name) tags[SERVICE_TAG] = ref.name;
  const ids = Object.keys(tags)
    .sort()
    .map((k) => (k === SERVICE_TAG ? exactSan(`spiffe://${mesh}/${tags[k]}`) : exactSan(`kuma://${k}/${tags[k]}`)));
  return ids.length === 0 ? anyPrincipal() : and(ids);
}

/** One inbound `Match` as an RBAC policy: the SPIFFE id is a principal, the SNI a permission. */
function matchPolicy(m: SpiffeMatch): Policy {
  const principal = !m.spiffeID
    ? anyPrincipal()
    : m.spiffeID.type === 'Prefix'
      ? Principal.fromPartial({ identifier: { $case: 'authenticated', value: { principalName: { matchPattern: { $case: 'prefix', value: m.spiffeID.value } } } } })
      : exactSan(m.spiffeID.value);
  const permission = m.sni
    ? Permission.fromPartial({ rule: { $case: 'requestedServerName', value: { matchPattern: { $case: 'exact', value: m.sni.value } } } })
    : anyPermission();
  return { permissions: [permission], principals: [principal], condition: undefined, checkedCondition: undefined };
}

interface RuleSet {
  readonly suffix: '' | '.deny';
  readonly action: RBAC_Action;
  readonly policies: Record<string, Policy>;
}

function filter(name: string, action: RBAC_Action, policies: Record<string, Policy>): HttpFilter {
  const config = RBAC.fromPartial({ rules: RbacRules.fromPartial({ action, policies }) });
  return { name, isOptional: false, disabled: false, configType: { $case: 'typedConfig', value: packAny(RBAC_TYPE_URL, RBAC, config) } };
}

/** RBAC HTTP filters for an inbound, to put before the router filter in this order; `[]` when MTP does not apply. */
export function inboundRbacFilters(inbound: InboundPolicies, opts: RbacOptions): HttpFilter[] {
  return ruleSets(inbound, opts).map((r) => filter(`${RBAC_FILTER_NAME}${r.suffix}`, r.action, r.policies));
}

/** The same decisions as network RBAC filters for a TCP inbound, to put before tcp_proxy; `[]` when MTP does not apply. */
export function inboundNetworkRbacFilters(inbound: InboundPolicies, opts: RbacOptions & { readonly statPrefix: string }): Filter[] {
  return ruleSets(inbound, opts).map((r) => {
    const config = NetworkRbac.fromPartial({ rules: RbacRules.fromPartial({ action: r.action, policies: r.policies }), statPrefix: `${opts.statPrefix}${r.suffix}` });
    return { name: `${NETWORK_RBAC_FILTER_NAME}${r.suffix}`, configType: { $case: 'typedConfig', value: packAny(NETWORK_RBAC_TYPE_URL, NetworkRbac, config) } };
  });
}

/** The deny rule set (when any) and then the allow rule set of an inbound's MeshTrafficPermission. */
function ruleSets(inbound: InboundPolicies, opts: RbacOptions): RuleSet[] {
  if (!opts.mtls) return [];
  const mtp = inbound.trafficPermission;
  const out: RuleSet[] = [];
  const deny = mtp?.rules?.deny ?? [];
  if (deny.length > 0) {
    out.push({ suffix: '.deny', action: RBAC_Action.DENY, policies: Object.fromEntries(deny.map((m, i) => [`deny-${i}`, matchPolicy(m)])) });
  }
  const allow: Record<string, Policy> = {};
  const from = mtp?.from ?? [];
  from.forEach((entry, i) => {
    if (entry.action === 'Deny') return;
    const laterDenies = from.slice(i + 1).filter((e) => e.action === 'Deny').map((e) => selectorPrincipal(opts.mesh, e.targetRef));
    const who = selectorPrincipal(opts.mesh, entry.targetRef);
    const except = laterDenies.length === 0 ? undefined : not(or(laterDenies));
    const principal = !except ? who : who.identifier?.$case === 'any' ? except : and([who, except]);
    allow[`from-${i}`] = { permissions: [anyPermission()], principals: [principal], condition: undefined, checkedCondition: undefined };
  });
  [...(mtp?.rules?.allow ?? []), ...(mtp?.rules?.allowWithShadowDeny ?? [])].forEach((m, i) => {
    allow[`allow-${i}`] = matchPolicy(m);
  });
  out.push({ suffix: '', action: RBAC_Action.ALLOW, policies: allow });
  return out;
}
