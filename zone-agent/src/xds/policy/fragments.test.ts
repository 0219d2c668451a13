import { describe, expect, it } from 'vitest';
import { type Policy, type Principal, RBAC_Action } from '@ursa/proto/gen/envoy/config/rbac/v3/rbac.js';
import { ClusterLoadAssignment } from '@ursa/proto/gen/envoy/config/endpoint/v3/endpoint.js';
import { RBAC } from '@ursa/proto/gen/envoy/extensions/filters/http/rbac/v3/rbac.js';
import { RBAC as NetworkRbac } from '@ursa/proto/gen/envoy/extensions/filters/network/rbac/v3/rbac.js';
import type { HttpFilter } from '@ursa/proto/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import { applyLocality, httpRoutes, inboundNetworkRbacFilters, inboundRbacFilters, localityPlan, matchPolicies, type PolicyResource } from './index.js';
import { dataplane, policy } from './testing.js';

const web = dataplane('web-1', ['web:8080:http']);
const matched = (policies: PolicyResource[]) => matchPolicies({ mesh: 'default', zone: 'zone-1', dataplane: web, policies });

// ---- RBAC: an evaluator of the (small) part of Envoy's RBAC the engine emits, to state outcomes per client.

function principalMatches(p: Principal, sans: readonly string[]): boolean {
  const id = p.identifier;
  switch (id?.$case) {
    case 'any':
      return id.value;
    case 'authenticated': {
      const m = id.value.principalName?.matchPattern;
      return sans.some((s) => (m?.$case === 'exact' ? s === m.value : m?.$case === 'prefix' ? s.startsWith(m.value) : false));
    }
    case 'andIds':
      return id.value.ids.every((x) => principalMatches(x, sans));
    case 'orIds':
      return id.value.ids.some((x) => principalMatches(x, sans));
    case 'notId':
      return !principalMatches(id.value, sans);
    default:
      throw new Error(`evaluator does not know ${id?.$case}`);
  }
}
const policyMatches = (p: Policy, sans: readonly string[]) =>
  p.permissions.every((perm) => perm.rule?.$case === 'any') && p.principals.some((pr) => principalMatches(pr, sans));

/** Does a client with these URI SANs get through the filter chain? */
function allowed(filters: HttpFilter[], sans: readonly string[]): boolean {
  return passes(
    filters.map((f) => RBAC.decode((f.configType?.$case === 'typedConfig' ? f.configType.value : undefined)!.value).rules!),
    sans,
  );
}

function passes(chain: { action: RBAC_Action; policies: Record<string, Policy> }[], sans: readonly string[]): boolean {
  for (const rules of chain) {
    const hit = Object.values(rules.policies).some((p) => policyMatches(p, sans));
    if (rules.action === RBAC_Action.ALLOW && !hit) return false;
    if (rules.action === RBAC_Action.DENY && hit) return false;
  }
  return true;
}
const client = (service: string, tags: Record<string, string> = {}) => [`spiffe://default/${service}`, ...Object.entries(tags).map(([k, v]) => `kuma://${k}/${v}`)];

describe('inboundRbacFilters (MeshTrafficPermission)', () => {
  const filters = (policies: PolicyResource[], mtls = true) => inboundRbacFilters(matched(policies).inbound(8080), { mesh: 'default', mtls });
  const mtp = (name: string, spec: Record<string, unknown>) => policy('MeshTrafficPermission', name, spec);
  const from = (targetRef: Record<string, unknown>, action: string) => ({ targetRef, default: { action } });

  it('with mTLS and no policy, denies everyone; without mTLS, does not apply', () => {
    expect(allowed(filters([]), client('frontend'))).toBe(false);
    expect(filters([], false)).toEqual([]);
    expect(filters([mtp('deny-all', { from: [from({ kind: 'Mesh' }, 'Deny')] })], false)).toEqual([]);
  });

  it('the most precedent matching entry decides for each client', () => {
    const f = filters([
      mtp('allow-all', { from: [from({ kind: 'Mesh' }, 'Allow')] }),
      mtp('web-rules', {
        targetRef: { kind: 'MeshService', name: 'web' },
        from: [from({ kind: 'MeshSubset', tags: { env: 'dev' } }, 'Deny'), from({ kind: 'MeshServiceSubset', name: 'ci', tags: { env: 'dev' } }, 'Allow')],
      }),
    ]);
    expect(allowed(f, client('frontend'))).toBe(true);
    expect(allowed(f, client('frontend', { env: 'dev' }))).toBe(false);
    // Allowed again by the later, more precedent entry of the same policy.
    expect(allowed(f, client('ci', { env: 'dev' }))).toBe(true);
  });

  it('a deny in a more precedent policy overrides an allow in a less precedent one, not the reverse', () => {
    const denyByService = filters([
      mtp('allow-all', { from: [from({ kind: 'Mesh' }, 'Allow')] }),
      mtp('deny-frontend', { targetRef: { kind: 'MeshService', name: 'web' }, from: [from({ kind: 'MeshService', name: 'frontend' }, 'Deny')] }),
    ]);
    expect(allowed(denyByService, client('frontend'))).toBe(false);
    expect(allowed(denyByService, client('backend'))).toBe(true);
    const denyMeshWide = filters([
      mtp('deny-all', { from: [from({ kind: 'Mesh' }, 'Deny')] }),
      mtp('allow-frontend', { targetRef: { kind: 'MeshService', name: 'web' }, from: [from({ kind: 'MeshService', name: 'frontend' }, 'Allow')] }),
    ]);
    expect(allowed(denyMeshWide, client('frontend'))).toBe(true);
    expect(allowed(denyMeshWide, client('backend'))).toBe(false);
  });

  it('rules: a deny always wins, an allow admits, anything else is denied', () => {
    const f = filters([
      mtp('rules', {
        rules: [
          {
            default: {
              allow: [{ spiffeID: { type: 'Prefix', value: 'spiffe://default/front' } }],
              deny: [{ spiffeID: { type: 'Exact', value: 'spiffe://default/frontend-legacy' } }],
            },
          },
        ],
      }),
    ]);
    expect(f.map((x) => x.name)).toEqual(['envoy.filters.http.rbac.deny', 'envoy.filters.http.rbac']);
    expect(allowed(f, client('frontend'))).toBe(true);
    expect(allowed(f, client('frontend-legacy'))).toBe(false);
    expect(allowed(f, client('backend'))).toBe(false);
  });

  it('TCP inbounds get network RBAC filters that decide every client the same way', () => {
    const sets: PolicyResource[][] = [
      [],
      [mtp('allow-all', { from: [from({ kind: 'Mesh' }, 'Allow')] }), mtp('deny-frontend', { targetRef: { kind: 'MeshService', name: 'web' }, from: [from({ kind: 'MeshService', name: 'frontend' }, 'Deny')] })],
      [mtp('rules', { rules: [{ default: { allow: [{ spiffeID: { type: 'Prefix', value: 'spiffe://default/front' } }], deny: [{ spiffeID: { type: 'Exact', value: 'spiffe://default/frontend-legacy' } }] } }] })],
    ];
    const clients = [client('frontend'), client('frontend-legacy'), client('backend'), client('frontend', { env: 'dev' })];
    for (const policies of sets) {
      const conf = matched(policies).inbound(8080);
      const network = inboundNetworkRbacFilters(conf, { mesh: 'default', mtls: true, statPrefix: 'inbound_8080.' });
      const decoded = network.map((f) => NetworkRbac.decode((f.configType?.$case === 'typedConfig' ? f.configType.value : undefined)!.value));
      expect(decoded.every((d) => d.statPrefix.startsWith('inbound_8080.'))).toBe(true);
      const http = inboundRbacFilters(conf, { mesh: 'default', mtls: true });
      expect(network.map((f) => f.name)).toEqual(http.map((f) => f.name.replace('filters.http.rbac', 'filters.network.rbac')));
      for (const c of clients) expect(passes(decoded.map((d) => d.rules!), c)).toBe(allowed(http, c));
    }
    // Without mTLS, MeshTrafficPermission does not apply to TCP either.
    expect(inboundNetworkRbacFilters(matched(sets[1]!).inbound(8080), { mesh: 'default', mtls: false, statPrefix: 'x.' })).toEqual([]);
  });
});

// ---- locality ---------------------------------------------------------------------------------------------

describe('localityPlan / applyLocality (MeshLoadBalancingStrategy)', () => {
  const cla = () =>
    ClusterLoadAssignment.fromPartial({
      clusterName: 'backend',
      endpoints: ['zone-2', 'zone-1', 'zone-3', 'zone-4'].map((zone) => ({ locality: { zone }, priority: 0, loadBalancingWeight: 1 })),
    });
  const lb = (conf: Record<string, unknown>) =>
    matched([policy('MeshLoadBalancingStrategy', 'lb', { to: [{ targetRef: { kind: 'MeshService', name: 'backend' }, default: conf }] })]).outbound('backend');
  const priorities = (out: ReturnType<typeof lb>) =>
    Object.fromEntries(applyLocality(cla(), localityPlan(out, 'zone-1')).endpoints.map((l) => [l.locality!.zone, l.priority]));

  it('without a policy, or disabled, every zone stays at priority 0', () => {
    expect(priorities(matched([]).outbound('backend'))).toEqual({ 'zone-1': 0, 'zone-2': 0, 'zone-3': 0, 'zone-4': 0 });
    expect(priorities(lb({ localityAwareness: { disabled: true } }))).toEqual({ 'zone-1': 0, 'zone-2': 0, 'zone-3': 0, 'zone-4': 0 });
    expect(localityPlan(lb({ localityAwareness: { disabled: true } }), 'zone-1').localityAware).toBe(false);
  });

  it('locality awareness alone puts the local zone first and every other zone behind it', () => {
    expect(priorities(lb({ loadBalancer: { type: 'RoundRobin' } }))).toEqual({ 'zone-1': 0, 'zone-2': 1, 'zone-3': 1, 'zone-4': 1 });
    expect(priorities(lb({ localityAwareness: {} }))).toEqual({ 'zone-1': 0, 'zone-2': 1, 'zone-3': 1, 'zone-4': 1 });
  });

  it('failover rules order the other zones and drop the ones no rule admits; priorities stay dense', () => {
    const out = lb({
      localityAwareness: {
        crossZone: {
          failover: [
            { from: { zones: ['zone-9'] }, to: { type: 'Any' } },
            { to: { type: 'Only', zones: ['zone-3'] } },
            { to: { type: 'None' } },
            { to: { type: 'AnyExcept', zones: ['zone-4'] } },
          ],
        },
      },
    });
    // Rule 0 is for another zone; zone-3 by rule 1 (priority 2), zone-2 by rule 3 (priority 4): renumbered 1 and 2.
    expect(priorities(out)).toEqual({ 'zone-1': 0, 'zone-2': 2, 'zone-3': 1 });
    expect(priorities(lb({ localityAwareness: { crossZone: {} } }))).toEqual({ 'zone-1': 0 });
  });
});

// ---- routes -----------------------------------------------------------------------------------------------

describe('httpRoutes', () => {
  const route = (rules: unknown[]) => policy('MeshHTTPRoute', 'r', { to: [{ targetRef: { kind: 'MeshService', name: 'backend' }, rules }] });
  const names = (b: { service: string }) => `c-${b.service}`;

  it('answers 500 for a rule whose backends cannot be resolved, and keeps one catch-all', () => {
    const routes = httpRoutes(
      matched([route([{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], default: { backendRefs: [{ kind: 'MeshExternalService', name: 'ext' }] } }])]).outbound('backend'),
      names,
    );
    expect(routes).toHaveLength(1);
    expect(routes[0]!.action).toEqual({ $case: 'directResponse', value: { status: 500, body: undefined } });
  });

  it('a MeshRetry aimed at a route replaces the destination retry on that route only; numRetries 0 turns retries off', () => {
    const out = matched([
      route([{ matches: [{ path: { type: 'Exact', value: '/pay' } }], default: {} }]),
      policy('MeshRetry', 'all', { to: [{ targetRef: { kind: 'Mesh' }, default: { http: { numRetries: 3 } } }] }),
      policy('MeshRetry', 'none-on-r', { to: [{ targetRef: { kind: 'MeshHTTPRoute', name: 'r' }, default: { http: { numRetries: 0 } } }] }),
    ]).outbound('backend');
    const routes = httpRoutes(out, names);
    const retries = routes.map((r) => [r.match?.pathSpecifier?.value, r.action?.$case === 'route' ? r.action.value.retryPolicy?.numRetries : 'none']);
    expect(retries).toEqual([
      ['/pay', undefined],
      ['/', 3],
    ]);
    expect(routes.map((r) => (r.action?.$case === 'route' ? r.action.value.clusterSpecifier : undefined))).toEqual([
      { $case: 'cluster', value: 'c-backend' },
      { $case: 'cluster', value: 'c-backend' },
    ]);
  });
});
