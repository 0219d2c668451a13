/**
 * HTTP routes for one destination (pure): MeshHTTPRoute rules (matches, weighted backends, filters) in
 * Kuma's order (`meshhttproute/plugin/v1alpha1/listeners.go` `prepareRoutes`: one route per match, stable
 * sort by Gateway-API precedence, a catch-all `/` route appended when no rule has one, a rule without
 * backends goes to the destination itself), each carrying the destination's MeshTimeout and MeshRetry (or
 * the overrides aimed at the route that produced it) and MeshLoadBalancingStrategy hash policies.
 *
 * Path prefixes are emitted as an exact route plus a `/`-terminated prefix route (not
 * `path_separated_prefix`), because proxyless gRPC knows only `path`, `prefix` and `safe_regex`.
 */
import {
  HeaderMatcher,
  RedirectAction,
  RedirectAction_RedirectResponseCode,
  RetryPolicy,
  Route,
  RouteAction,
  RouteAction_HashPolicy,
  RouteMatch,
} from '@ursa/proto/gen/envoy/config/route/v3/route_components.js';
import { HeaderValueOption_HeaderAppendAction, type HeaderValueOption } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import { FractionalPercent_DenominatorType } from '@ursa/proto/gen/envoy/type/v3/percent.js';
import type { BackendRef, HashPolicy, HttpMatch, HttpRouteFilter, LoadBalancingConf, OutboundPolicies, RetryConf, RouteOverrides, TimeoutConf } from '../types.js';
import { decimal, defined, duration } from './convert.js';

/** Name of the cluster for a route backend: a service, optionally narrowed to the instances with `tags`. */
export type ClusterNamer = (backend: { service: string; tags?: Readonly<Record<string, string>> }) => string;

export interface RouteOptions {
  /** The destination's `kuma.io/protocol`; `grpc` picks MeshRetry's `grpc` section, anything else `http`. */
  readonly protocol?: string;
}

interface Expanded {
  match: HttpMatch;
  rule?: OutboundPolicies['httpRules'][number];
}

/** Routes for one virtual host of the destination `out.service`, most specific first. */
export function httpRoutes(out: OutboundPolicies, clusterFor: ClusterNamer, opts: RouteOptions = {}): Route[] {
  const expanded: Expanded[] = out.httpRules.flatMap((rule) => (rule.matches.length > 0 ? rule.matches : [{}]).map((match) => ({ match, rule })));
  expanded.sort((a, b) => compareMatch(a.match, b.match));
  const catchAll = (m: HttpMatch) => m.path?.type === 'PathPrefix' && m.path.value === '/' && !m.method && !m.headers?.length && !m.queryParams?.length;
  if (!expanded.some((e) => catchAll(e.match))) expanded.push({ match: { path: { type: 'PathPrefix', value: '/' } } });
  return expanded.flatMap((e) => {
    const overrides: RouteOverrides = (e.rule && out.byRoute.get(e.rule.origin)) ?? {};
    const policies = {
      timeout: overrides.timeout ?? out.timeout,
      retry: overrides.retry ?? out.retry,
      loadBalancing: overrides.loadBalancing ?? out.loadBalancing,
    };
    return routeMatches(e.match).map((match) => buildRoute(out.service, match, e.rule, policies, clusterFor, opts));
  });
}

// ---- ordering (Kuma `CompareMatch`) -----------------------------------------------------------------------

const PATH_RANK = { Exact: 0, PathPrefix: 1, RegularExpression: 2 } as const;
function compareMatch(a: HttpMatch, b: HttpMatch): number {
  if (a.path && !b.path) return -1;
  if (!a.path && b.path) return 1;
  if (a.path && b.path) {
    if (a.path.type !== b.path.type) return PATH_RANK[a.path.type] - PATH_RANK[b.path.type];
    if (a.path.type !== 'Exact' && a.path.value.length !== b.path.value.length) return b.path.value.length - a.path.value.length;
  }
  if (a.method && !b.method) return -1;
  if (!a.method && b.method) return 1;
  return (b.headers?.length ?? 0) - (a.headers?.length ?? 0) || (b.queryParams?.length ?? 0) - (a.queryParams?.length ?? 0);
}

// ---- matches ----------------------------------------------------------------------------------------------

function headerMatcher(h: NonNullable<HttpMatch['headers']>[number]): HeaderMatcher {
  const value = h.value ?? '';
  switch (h.type ?? 'Exact') {
    case 'Present':
      return HeaderMatcher.fromPartial({ name: h.name, headerMatchSpecifier: { $case: 'presentMatch', value: true } });
    case 'Absent':
      return HeaderMatcher.fromPartial({ name: h.name, headerMatchSpecifier: { $case: 'presentMatch', value: true }, invertMatch: true });
    case 'RegularExpression':
      return HeaderMatcher.fromPartial({ name: h.name, headerMatchSpecifier: { $case: 'stringMatch', value: { matchPattern: { $case: 'safeRegex', value: { regex: value } } } } });
    case 'Prefix':
      return HeaderMatcher.fromPartial({ name: h.name, headerMatchSpecifier: { $case: 'stringMatch', value: { matchPattern: { $case: 'prefix', value } } } });
    default:
      return HeaderMatcher.fromPartial({ name: h.name, headerMatchSpecifier: { $case: 'stringMatch', value: { matchPattern: { $case: 'exact', value } } } });
  }
}

/** One Kuma match as Envoy RouteMatches (a path prefix needs two). */
function routeMatches(m: HttpMatch): RouteMatch[] {
  const headers = [...(m.method ? [headerMatcher({ name: ':method', value: m.method })] : []), ...(m.headers ?? []).map(headerMatcher)];
  const queryParameters = (m.queryParams ?? []).map((q) => ({
    name: q.name,
    queryParameterMatchSpecifier: {
      $case: 'stringMatch' as const,
      value: { matchPattern: q.type === 'RegularExpression' ? { $case: 'safeRegex' as const, value: { regex: q.value } } : { $case: 'exact' as const, value: q.value } },
    },
  }));
  const base = { headers, queryParameters };
  const p = m.path ?? { type: 'PathPrefix' as const, value: '/' };
  if (p.type === 'Exact') return [RouteMatch.fromPartial({ ...base, pathSpecifier: { $case: 'path', value: p.value } })];
  if (p.type === 'RegularExpression') return [RouteMatch.fromPartial({ ...base, pathSpecifier: { $case: 'safeRegex', value: { regex: p.value } } })];
  if (p.value === '/') return [RouteMatch.fromPartial({ ...base, pathSpecifier: { $case: 'prefix', value: '/' } })];
  return [
    RouteMatch.fromPartial({ ...base, pathSpecifier: { $case: 'path', value: p.value } }),
    RouteMatch.fromPartial({ ...base, pathSpecifier: { $case: 'prefix', value: `${p.value}/` } }),
  ];
}

// ---- actions ----------------------------------------------------------------------------------------------

/** The service a backendRef names, or `undefined` for kinds Ursa cannot resolve yet (external, multi-zone). */
export function backendTarget(ref: BackendRef): { service: string; tags?: Record<string, string> } | undefined {
  if (!ref.name) return undefined;
  if (ref.kind === 'MeshService') return { service: ref.name };
  if (ref.kind === 'MeshServiceSubset') return ref.tags ? { service: ref.name, tags: ref.tags } : { service: ref.name };
  return undefined;
}

function buildRoute(
  service: string,
  match: RouteMatch,
  rule: OutboundPolicies['httpRules'][number] | undefined,
  policies: { timeout?: TimeoutConf; retry?: RetryConf; loadBalancing?: LoadBalancingConf },
  clusterFor: ClusterNamer,
  opts: RouteOptions,
): Route {
  const filters = rule?.default.filters ?? [];
  const route = Route.fromPartial({ name: rule ? `${rule.origin}` : '', match });
  applyHeaderFilters(route, filters);
  const redirect = filters.find((f) => f.type === 'RequestRedirect');
  if (redirect) {
    route.action = { $case: 'redirect', value: redirectAction(redirect, match) };
    return route;
  }
  const refs = rule?.default.backendRefs ?? [];
  const resolved = refs.flatMap((r) => {
    const t = backendTarget(r);
    return t ? [{ name: clusterFor(t), weight: r.weight ?? 1 }] : [];
  });
  if (refs.length > 0 && resolved.length === 0) {
    // Gateway API: a rule whose backends all fail to resolve answers 500.
    route.action = { $case: 'directResponse', value: { status: 500, body: undefined } };
    return route;
  }
  const action = RouteAction.fromPartial({});
  if (resolved.length === 0) action.clusterSpecifier = { $case: 'cluster', value: clusterFor({ service }) };
  else if (resolved.length === 1) action.clusterSpecifier = { $case: 'cluster', value: resolved[0]!.name };
  else action.clusterSpecifier = { $case: 'weightedClusters', value: { clusters: resolved.map((r) => ({ name: r.name, weight: r.weight, clusterHeader: '', requestHeadersToAdd: [], requestHeadersToRemove: [], responseHeadersToAdd: [], responseHeadersToRemove: [], typedPerFilterConfig: {} })), runtimeKeyPrefix: '' } };
  applyRewrite(action, filters, match);
  applyMirror(action, filters, clusterFor);
  applyTimeouts(action, policies.timeout);
  const retry = retryPolicy(policies.retry, opts.protocol === 'grpc');
  if (retry) action.retryPolicy = retry;
  action.hashPolicy = hashPolicies(policies.loadBalancing);
  route.action = { $case: 'route', value: action };
  return route;
}

function headerOptions(list: { name: string; value: string }[] | undefined, append: HeaderValueOption_HeaderAppendAction): HeaderValueOption[] {
  // Kuma splits comma-separated values into one header each.
  return (list ?? []).flatMap((h) =>
    h.value.split(',').map((value) => ({ header: { key: h.name, value, rawValue: Buffer.alloc(0) }, appendAction: append, keepEmptyValue: false, append: undefined })),
  );
}

function applyHeaderFilters(route: Route, filters: readonly HttpRouteFilter[]): void {
  for (const f of filters) {
    const isRequest = f.type === 'RequestHeaderModifier';
    if (!isRequest && f.type !== 'ResponseHeaderModifier') continue;
    const m = isRequest ? f.requestHeaderModifier : f.responseHeaderModifier;
    if (!m) continue;
    const add = [
      ...headerOptions(m.set, HeaderValueOption_HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD),
      ...headerOptions(m.add, HeaderValueOption_HeaderAppendAction.APPEND_IF_EXISTS_OR_ADD),
    ];
    if (isRequest) {
      route.requestHeadersToAdd.push(...add);
      route.requestHeadersToRemove.push(...(m.remove ?? []));
    } else {
      route.responseHeadersToAdd.push(...add);
      route.responseHeadersToRemove.push(...(m.remove ?? []));
    }
  }
}

const REDIRECT_CODES: Record<number, RedirectAction_RedirectResponseCode> = {
  301: RedirectAction_RedirectResponseCode.MOVED_PERMANENTLY,
  302: RedirectAction_RedirectResponseCode.FOUND,
  303: RedirectAction_RedirectResponseCode.SEE_OTHER,
  307: RedirectAction_RedirectResponseCode.TEMPORARY_REDIRECT,
  308: RedirectAction_RedirectResponseCode.PERMANENT_REDIRECT,
};

/**
 * A prefix replacement on the `<prefix>/` half of a split prefix match: Envoy replaces the matched text,
 * slash included, so the replacement must end with one too ("/old/x" -> "/new/x", not "/newx").
 */
function prefixReplacement(target: string, match: RouteMatch): string {
  const onSlashRoute = match.pathSpecifier?.$case === 'prefix' && match.pathSpecifier.value.endsWith('/') && match.pathSpecifier.value !== '/';
  return onSlashRoute && !target.endsWith('/') ? `${target}/` : target;
}

function redirectAction(f: HttpRouteFilter, match: RouteMatch): RedirectAction {
  const r = f.requestRedirect ?? {};
  return RedirectAction.fromPartial({
    ...(r.scheme ? { schemeRewriteSpecifier: { $case: 'schemeRedirect' as const, value: r.scheme } } : {}),
    hostRedirect: r.hostname ?? '',
    portRedirect: r.port ?? 0,
    responseCode: REDIRECT_CODES[r.statusCode ?? 302] ?? RedirectAction_RedirectResponseCode.FOUND,
    ...(r.path?.type === 'ReplaceFullPath'
      ? { pathRewriteSpecifier: { $case: 'pathRedirect' as const, value: r.path.replaceFullPath ?? '/' } }
      : r.path?.type === 'ReplacePrefixMatch'
        ? { pathRewriteSpecifier: { $case: 'prefixRewrite' as const, value: prefixReplacement(r.path.replacePrefixMatch ?? '/', match) } }
        : {}),
  });
}

function applyRewrite(action: RouteAction, filters: readonly HttpRouteFilter[], match: RouteMatch): void {
  const f = filters.find((x) => x.type === 'URLRewrite');
  if (!f) return;
  const r = f.urlRewrite ?? {};
  if (r.hostname) action.hostRewriteSpecifier = { $case: 'hostRewriteLiteral', value: r.hostname };
  if (r.path?.type === 'ReplaceFullPath') {
    action.regexRewrite = { pattern: { regex: '.*' }, substitution: r.path.replaceFullPath ?? '/' };
  } else if (r.path?.type === 'ReplacePrefixMatch') {
    action.prefixRewrite = prefixReplacement(r.path.replacePrefixMatch ?? '/', match);
  }
}

function applyMirror(action: RouteAction, filters: readonly HttpRouteFilter[], clusterFor: ClusterNamer): void {
  for (const f of filters) {
    if (f.type !== 'RequestMirror') continue;
    const m = f.requestMirror;
    const target = m?.backendRef && backendTarget(m.backendRef);
    if (!target) continue;
    const pct = decimal(m?.percentage);
    action.requestMirrorPolicies.push({
      cluster: clusterFor(target),
      clusterHeader: '',
      disableShadowHostSuffixAppend: false,
      traceSampled: undefined,
      runtimeFraction:
        pct === undefined ? undefined : { runtimeKey: '', defaultValue: { numerator: Math.round(pct * 10000), denominator: FractionalPercent_DenominatorType.MILLION } },
    });
  }
}

function applyTimeouts(action: RouteAction, t: TimeoutConf | undefined): void {
  if (!t?.http) return;
  const timeout = duration(t.http.requestTimeout);
  if (timeout) action.timeout = timeout;
  const idle = duration(t.http.streamIdleTimeout);
  if (idle) action.idleTimeout = idle;
  // gRPC clients honour only this one (gRFC A31), Envoy applies it too.
  const maxStream = duration(t.http.maxStreamDuration);
  if (maxStream) action.maxStreamDuration = { maxStreamDuration: maxStream, grpcTimeoutHeaderMax: undefined, grpcTimeoutHeaderOffset: undefined };
}

const HTTP_RETRY_ON_DEFAULT = 'gateway-error,connect-failure,refused-stream';
const GRPC_RETRY_ON_DEFAULT = 'cancelled,connect-failure,gateway-error,refused-stream,reset,resource-exhausted,unavailable';
const HTTP_RETRY_ON: Record<string, string> = {
  '5xx': '5xx',
  GatewayError: 'gateway-error',
  Reset: 'reset',
  Retriable4xx: 'retriable-4xx',
  ConnectFailure: 'connect-failure',
  EnvoyRatelimited: 'envoy-ratelimited',
  RefusedStream: 'refused-stream',
  Http3PostConnectFailure: 'http3-post-connect-failure',
};
const GRPC_RETRY_ON: Record<string, string> = {
  Canceled: 'cancelled',
  DeadlineExceeded: 'deadline-exceeded',
  Internal: 'internal',
  ResourceExhausted: 'resource-exhausted',
  Unavailable: 'unavailable',
};

/** MeshRetry → RetryPolicy (Kuma `meshretry/plugin/xds/configurer.go`); `numRetries: 0` means no retries. */
export function retryPolicy(conf: RetryConf | undefined, grpc: boolean): RetryPolicy | undefined {
  const c = grpc ? conf?.grpc : conf?.http;
  if (!c || c.numRetries === 0) return undefined;
  const policy = RetryPolicy.fromPartial({
    retryOn: grpc ? GRPC_RETRY_ON_DEFAULT : HTTP_RETRY_ON_DEFAULT,
    ...defined({ numRetries: c.numRetries, perTryTimeout: duration(c.perTryTimeout) }),
  });
  if (c.backOff) {
    policy.retryBackOff = {
      baseInterval: duration(c.backOff.baseInterval) ?? (grpc ? duration('25ms') : undefined),
      maxInterval: duration(c.backOff.maxInterval),
    };
  }
  const items = c.retryOn ?? [];
  if (grpc) {
    const on = items.map((i) => GRPC_RETRY_ON[i]).filter((x): x is string => x !== undefined);
    if (on.length > 0) policy.retryOn = on.join(',');
    return policy;
  }
  const on = items.map((i) => HTTP_RETRY_ON[i]).filter((x): x is string => x !== undefined);
  const codes = items.filter((i) => /^\d{3}$/.test(i)).map(Number);
  const methods = items.filter((i) => i.startsWith('HttpMethod')).map((i) => i.slice('HttpMethod'.length).toUpperCase());
  if (on.length > 0) policy.retryOn = on.join(',');
  if (codes.length > 0) {
    policy.retriableStatusCodes = codes;
    if (!policy.retryOn.split(',').includes('retriable-status-codes')) policy.retryOn += ',retriable-status-codes';
  }
  policy.retriableRequestHeaders = [
    ...methods.map((m) => headerMatcher({ name: ':method', value: m })),
    ...((c.retriableRequestHeaders as HttpMatch['headers']) ?? []).map(headerMatcher),
  ];
  policy.retriableHeaders = ((c.retriableResponseHeaders as HttpMatch['headers']) ?? []).map(headerMatcher);
  return policy;
}

/** MeshLoadBalancingStrategy hash policies (root level, else the ring hash / maglev ones). */
function hashPolicies(lb: LoadBalancingConf | undefined): RouteAction_HashPolicy[] {
  const list: HashPolicy[] = lb?.hashPolicies ?? (lb?.loadBalancer?.type === 'RingHash' ? lb.loadBalancer.ringHash?.hashPolicies : lb?.loadBalancer?.type === 'Maglev' ? lb.loadBalancer.maglev?.hashPolicies : undefined) ?? [];
  return list.flatMap((p): RouteAction_HashPolicy[] => {
    const base = { terminal: p.terminal ?? false };
    switch (p.type) {
      case 'Header':
        return p.header ? [RouteAction_HashPolicy.fromPartial({ ...base, policySpecifier: { $case: 'header', value: { headerName: p.header.name } } })] : [];
      case 'Cookie':
        return p.cookie
          ? [RouteAction_HashPolicy.fromPartial({ ...base, policySpecifier: { $case: 'cookie', value: { name: p.cookie.name, path: p.cookie.path ?? '', ttl: duration(p.cookie.ttl) } } })]
          : [];
      case 'Connection':
      case 'SourceIP':
        return [RouteAction_HashPolicy.fromPartial({ ...base, policySpecifier: { $case: 'connectionProperties', value: { sourceIp: p.connection?.sourceIP ?? p.type === 'SourceIP' } } })];
      case 'QueryParameter':
        return p.queryParameter ? [RouteAction_HashPolicy.fromPartial({ ...base, policySpecifier: { $case: 'queryParameter', value: { name: p.queryParameter.name } } })] : [];
      case 'FilterState':
        return p.filterState ? [RouteAction_HashPolicy.fromPartial({ ...base, policySpecifier: { $case: 'filterState', value: { key: p.filterState.key } } })] : [];
      default:
        return [];
    }
  });
}
