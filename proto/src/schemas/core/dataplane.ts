/**
 * Dataplane (`api/mesh/v1alpha1/dataplane.proto`, `kuma-multizone.md` §3.8): `{networking, metrics, probes}`.
 *
 * Rules follow Kuma v2.14's `pkg/core/resources/apis/mesh/dataplane_validator.go`:
 * - `networking` and `networking.address` are required; the address is an IP or a domain name, not a wildcard;
 * - every inbound has a port in range; inbound tags follow Kuma's tag syntax and always include `kuma.io/service`
 *   (Kuma 2.14 also accepts tag-less inbounds, for its `inboundTagsDisabled` MeshService model; Ursa routes,
 *   resolves and counts instances by service tag, so an inbound without one would be registered yet invisible:
 *   refused instead, as Kuma 2.x before MeshService did). Zero inbounds (a pure client, a gateway) is fine;
 * - every outbound has a port and either `kuma.io/service` tags or a `backendRef`, never both;
 * - gateways: a delegated gateway has no inbounds or listeners, a builtin one has no inbounds, outbounds, listeners or
 *   probes; gateway tags carry `kuma.io/service` and only the `tcp` protocol;
 * - the Envoy admin port differs from inbound and outbound ports on loopback / wildcard addresses;
 * - zone-proxy `listeners` have a type, an address and a port, unique names and unique `address:port`s.
 */
import { z } from 'zod';
import { uint32 } from '../common.js';
import {
  addressProblems,
  array,
  bool,
  checkWith,
  envoyAdmin,
  isIP,
  isKnownProtocol,
  isRecord,
  kumaTags,
  lenient,
  metricsBackend,
  obj,
  optionalPort,
  overlapsLoopback,
  protocolHint,
  protoDuration,
  protoDurationSeconds,
  protoEnum,
  read,
  requiredPort,
  SERVICE_TAG,
  str,
  stringList,
  stringMap,
  validateMetricsBackend,
} from './shared.js';

const BACKEND_REF_KINDS = ['MeshExternalService', 'MeshMultiZoneService', 'MeshService'];
const BACKEND_KIND_MESSAGE = `invalid value. Available values are: ${BACKEND_REF_KINDS.join(',')}`;
const IDENTIFIER = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const IDENTIFIER_MESSAGE =
  "invalid characters. A lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DIFFERENT_FROM_ADDRESS = 'serviceAddress and servicePort has to differ from address and port';

const issue = (ctx: z.RefinementCtx, path: PropertyKey[], message: string) => ctx.addIssue({ code: 'custom', path, message });

// --- inbound --------------------------------------------------------------------------------------------------------

const serviceProbe = obj({
  interval: protoDuration().optional(),
  timeout: protoDuration().optional(),
  unhealthyThreshold: uint32().optional(),
  healthyThreshold: uint32().optional(),
  tcp: obj({}).optional(),
}).superRefine((p, ctx) => {
  for (const k of ['interval', 'timeout'] as const) {
    const v = p[k];
    if (typeof v === 'string' && protoDurationSeconds(v) <= 0) issue(ctx, [k], 'must have a positive value');
  }
  for (const k of ['unhealthyThreshold', 'healthyThreshold'] as const) {
    if (p[k] === 0) issue(ctx, [k], 'must have a positive value');
  }
}, lenient);

const inbound = obj({
  port: requiredPort(),
  servicePort: optionalPort().optional(),
  serviceAddress: str().optional(),
  address: str().optional(),
  tags: kumaTags({ protocol: 'known', requireServiceIfAny: true }),
  health: obj({ ready: bool().optional() }).optional(),
  serviceProbe: serviceProbe.optional(),
  state: protoEnum(['Ready', 'NotReady', 'Ignored']).optional(),
  name: str().optional(),
  protocol: str().optional(),
}).superRefine((ib, ctx) => {
  const port = read.num(ib, 'port');
  const servicePort = read.num(ib, 'servicePort');
  const serviceAddress = read.str(ib, 'serviceAddress');
  const address = read.str(ib, 'address');
  const protocol = read.str(ib, 'protocol');
  if (serviceAddress !== '' && !isIP(serviceAddress)) {
    issue(ctx, ['serviceAddress'], 'serviceAddress has to be valid IP address');
  }
  if (address !== '') {
    if (!isIP(address)) issue(ctx, ['address'], 'address has to be valid IP address');
    if (address === serviceAddress && (servicePort === 0 || servicePort === port)) {
      issue(ctx, ['serviceAddress'], DIFFERENT_FROM_ADDRESS);
    }
  }
  if (protocol !== '' && !isKnownProtocol(protocol)) {
    issue(ctx, ['protocol'], `has an invalid value ${JSON.stringify(protocol)}. ${protocolHint()}`);
  }
}, lenient);

// --- outbound -------------------------------------------------------------------------------------------------------

const outbound = obj({
  address: str().optional(),
  port: requiredPort(),
  tags: kumaTags().optional(),
  backendRef: obj({
    kind: str().optional(),
    name: str().optional(),
    port: uint32().optional(),
    labels: stringMap().optional(),
  }).optional(),
}).superRefine((ob, ctx) => {
  const address = read.str(ob, 'address');
  if (address !== '' && !isIP(address)) issue(ctx, ['address'], 'address has to be valid IP address');
  const tags = read.map(ob, 'tags');
  const hasTags = Object.keys(tags).length > 0;
  const ref = read.obj(ob, 'backendRef');
  if (ref) {
    const kind = read.str(ref, 'kind');
    if (!BACKEND_REF_KINDS.includes(kind)) issue(ctx, ['backendRef', 'kind'], BACKEND_KIND_MESSAGE);
    if (read.str(ref, 'name') === '' && Object.keys(read.map(ref, 'labels')).length === 0) {
      issue(ctx, ['backendRef'], "either 'name' or 'labels' should be specified");
    }
    // For MeshExternalService the port comes from its endpoints.
    if (kind !== 'MeshExternalService' && (ref.port === undefined || typeof ref.port === 'number')) {
      checkWith(ctx, requiredPort(), ref.port, ['backendRef', 'port']);
    }
    if (hasTags) issue(ctx, ['backendRef'], 'both backendRef and tags/service cannot be defined');
  } else if (!(SERVICE_TAG in tags) && (ob.tags === undefined || isRecord(ob.tags))) {
    issue(ctx, ['tags'], `mandatory tag ${JSON.stringify(SERVICE_TAG)} is missing`);
  }
}, lenient);

// --- gateway, transparent proxying, listeners -----------------------------------------------------------------------

const GATEWAY_TYPES = ['DELEGATED', 'BUILTIN'] as const;
const gateway = obj({
  tags: kumaTags({ protocol: 'tcp-only' }).optional(),
  type: protoEnum(GATEWAY_TYPES).optional(),
}).superRefine((gw, ctx) => {
  // Kuma requires the service tag only when the gateway has tags at all (2.14's inboundTagsDisabled model).
  const tags = read.map(gw, 'tags');
  if (Object.keys(tags).length > 0 && !(SERVICE_TAG in tags)) {
    issue(ctx, ['tags'], `mandatory tag ${JSON.stringify(SERVICE_TAG)} is missing`);
  }
}, lenient);

const reachableBackendRef = obj({
  kind: str().optional(),
  name: str().optional(),
  namespace: str().optional(),
  port: uint32().optional(),
  labels: stringMap().optional(),
}).superRefine((ref, ctx) => {
  if (!BACKEND_REF_KINDS.includes(read.str(ref, 'kind'))) issue(ctx, ['kind'], BACKEND_KIND_MESSAGE);
  const name = read.str(ref, 'name');
  const namespace = read.str(ref, 'namespace');
  const hasLabels = Object.keys(read.map(ref, 'labels')).length > 0;
  if (name !== '') {
    if (name.length > 253) issue(ctx, ['name'], 'value length must less or equal 253');
    else if (!IDENTIFIER.test(name)) issue(ctx, ['name'], IDENTIFIER_MESSAGE);
  }
  if (name === '' && namespace === '' && !hasLabels) issue(ctx, ['name'], 'name or labels are required');
  if (name === '' && namespace !== '') issue(ctx, ['name'], 'name is required, when namespace is defined');
  if ((name !== '' || namespace !== '') && hasLabels) issue(ctx, ['labels'], 'labels cannot be defined when name is specified');
}, lenient);

const transparentProxying = obj({
  redirectPortInbound: optionalPort().optional(),
  redirectPortOutbound: optionalPort().optional(),
  directAccessServices: stringList().optional(),
  reachableServices: stringList().optional(),
  ipFamilyMode: protoEnum(['UnSpecified', 'DualStack', 'IPv4', 'IPv6']).optional(),
  reachableBackends: obj({ refs: array(reachableBackendRef).optional() }).optional(),
});

const LISTENER_TYPES = ['Unspecified', 'ZoneIngress', 'ZoneEgress'] as const;
const listener = obj({
  type: protoEnum(LISTENER_TYPES, ['ZoneIngress', 'ZoneEgress']).optional(),
  address: str().optional(),
  port: requiredPort(),
  name: str().optional(),
  state: protoEnum(['Ready', 'NotReady']).optional(),
});

// --- networking -----------------------------------------------------------------------------------------------------

const networkingAddress = z
  .string({ error: (iss) => (iss.input === undefined ? "address can't be empty" : 'must be a string') })
  .superRefine((address, ctx) => {
    for (const message of addressProblems(address)) issue(ctx, [], message);
  });

const networkingShape = obj({
  address: networkingAddress,
  advertisedAddress: str().optional(),
  inbound: array(inbound).optional(),
  outbound: array(outbound).optional(),
  gateway: gateway.optional(),
  transparentProxying: transparentProxying.optional(),
  admin: envoyAdmin().optional(),
  listeners: array(listener).optional(),
});

/** `networking` as Kuma's Go code sees it: proto zero values for anything missing or malformed. */
interface NetworkingView {
  address: string;
  admin: { port: number } | undefined;
  gateway: { type: string } | undefined;
  inbound: { port: number; servicePort: number; address: string; serviceAddress: string; name: string }[];
  outbound: { port: number; address: string }[];
  listeners: { type: string; address: string; port: number; name: string }[];
}

function networkingView(n: unknown): NetworkingView {
  const admin = read.obj(n, 'admin');
  const gw = read.obj(n, 'gateway');
  return {
    address: read.str(n, 'address'),
    admin: admin && { port: read.num(admin, 'port') },
    gateway: gw && { type: read.enumName(gw, 'type', GATEWAY_TYPES) },
    inbound: read.list(n, 'inbound').map((ib) => ({
      port: read.num(ib, 'port'),
      servicePort: read.num(ib, 'servicePort'),
      address: read.str(ib, 'address'),
      serviceAddress: read.str(ib, 'serviceAddress'),
      name: read.str(ib, 'name'),
    })),
    outbound: read.list(n, 'outbound').map((ob) => ({ port: read.num(ob, 'port'), address: read.str(ob, 'address') })),
    listeners: read.list(n, 'listeners').map((l) => ({
      type: read.enumName(l, 'type', LISTENER_TYPES),
      address: read.str(l, 'address'),
      port: read.num(l, 'port'),
      name: read.str(l, 'name'),
    })),
  };
}

function validateAdminPort(n: NetworkingView, ctx: z.RefinementCtx): void {
  if (!n.admin) return;
  const adminPort = n.admin.port;
  const clashesWithInbound = n.inbound.some((ib) => {
    const dataplaneIP = ib.address || n.address;
    const workloadIP = ib.serviceAddress || dataplaneIP;
    const workloadPort = ib.servicePort || ib.port;
    return (ib.port === adminPort && overlapsLoopback(dataplaneIP)) || (workloadPort === adminPort && overlapsLoopback(workloadIP));
  });
  if (clashesWithInbound) issue(ctx, ['admin', 'port'], 'must differ from inbound');
  const clashesWithOutbound = n.outbound.some((ob) => ob.port === adminPort && overlapsLoopback(ob.address || '127.0.0.1'));
  if (clashesWithOutbound) issue(ctx, ['admin', 'port'], 'must differ from outbound');
}

function validateListeners(n: NetworkingView, ctx: z.RefinementCtx): void {
  const names = new Set<string>(n.inbound.map((ib) => ib.name || String(ib.port)));
  const seen = new Map<string, string>();
  n.listeners.forEach((l, i) => {
    const at = ['listeners', i];
    if (l.type !== 'ZoneIngress' && l.type !== 'ZoneEgress') issue(ctx, [...at, 'type'], 'type must be ZoneIngress or ZoneEgress');
    for (const message of addressProblems(l.address)) issue(ctx, [...at, 'address'], message);
    if (l.name !== '') {
      if (names.has(l.name)) issue(ctx, [...at, 'name'], `name ${JSON.stringify(l.name)} must be unique across inbounds and listeners`);
      names.add(l.name);
    }
    const key = `${l.address}:${l.port}`;
    const previous = seen.get(key);
    if (previous === undefined) seen.set(key, l.type);
    else if (previous === l.type) issue(ctx, at, `address:port ${key} is already used by another listener`);
    else issue(ctx, at, `address:port ${key} is used by listeners of different types`);
    if (n.inbound.some((ib) => `${ib.address || n.address}:${ib.port}` === key)) {
      issue(ctx, at, `address:port ${key} collides with an inbound listener`);
    }
  });
}

const networking = networkingShape.superRefine((raw, ctx) => {
  const n = networkingView(raw);
  validateAdminPort(n, ctx);
  n.inbound.forEach((ib, i) => {
    if (ib.serviceAddress !== '' && ib.serviceAddress === n.address && (ib.servicePort === 0 || ib.servicePort === ib.port)) {
      issue(ctx, ['inbound', i, 'serviceAddress'], DIFFERENT_FROM_ADDRESS);
    }
  });
  const hasInbound = n.inbound.length > 0;
  const hasListeners = n.listeners.length > 0;
  if (n.gateway?.type === 'BUILTIN') {
    if (hasInbound) issue(ctx, ['inbound'], 'inbound cannot be defined for builtin gateways');
    if (n.outbound.length > 0) issue(ctx, ['outbound'], 'outbound cannot be defined for builtin gateways');
    if (hasListeners) issue(ctx, ['listeners'], 'listeners cannot be defined for builtin gateways');
  } else if (n.gateway) {
    if (hasInbound) issue(ctx, ['inbound'], 'inbound cannot be defined for delegated gateways');
    if (hasListeners) issue(ctx, ['listeners'], 'listeners cannot be defined for delegated gateways');
  } else {
    validateListeners(n, ctx);
  }
}, lenient);

// --- probes and the whole spec --------------------------------------------------------------------------------------

/** Go's `url.ParseRequestURI`: an absolute path or an absolute URI. */
const isRequestURI = (p: string) => (p.startsWith('/') || /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(p)) && !/[\s\u0000-\u001f\u007f]/.test(p);
const urlPath = () => str().optional();

const probes = obj({
  port: requiredPort(),
  endpoints: array(
    obj({
      inboundPort: requiredPort(),
      inboundPath: urlPath(),
      path: urlPath(),
    }).superRefine((e, ctx) => {
      if (!isRequestURI(read.str(e, 'inboundPath'))) issue(ctx, ['inboundPath'], 'should be a valid URL Path');
      if (!isRequestURI(read.str(e, 'path'))) issue(ctx, ['path'], 'should be a valid URL Path');
    }, lenient),
  ).optional(),
});

export const dataplaneSpec = obj({
  networking,
  metrics: metricsBackend().optional(),
  probes: probes.optional(),
}).superRefine((dp, ctx) => {
  const gw = read.obj(read.obj(dp, 'networking'), 'gateway');
  if (gw && read.enumName(gw, 'type', GATEWAY_TYPES) === 'BUILTIN') {
    if (isRecord(dp.probes)) issue(ctx, ['probes'], 'probes cannot be defined for builtin gateways');
  } else if (!gw && isRecord(dp.metrics)) {
    validateMetricsBackend(ctx, dp.metrics, ['metrics']);
  }
}, lenient);
