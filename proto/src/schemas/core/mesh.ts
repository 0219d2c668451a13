/**
 * Mesh (`api/mesh/v1alpha1/mesh.proto`): `{mtls, tracing, logging, metrics, networking, routing, constraints,
 * skipCreatingInitialPolicies, meshServices}`.
 *
 * Rules from Kuma's `pkg/core/resources/apis/mesh/mesh_validator.go` and the CA managers' `ValidateBackend`:
 * - mTLS: at most one backend, unique names, `enabledBackend` names a backend, `dpCert.rotation.expiration` parses,
 *   `type` is `builtin` or `provided`, a provided CA has `cert` and `key` (unless `skipValidation`);
 * - logging/tracing/metrics: unique backend names, known types, typed `conf`, default/enabled backend exists;
 * - `routing.zoneEgress` needs mTLS enabled;
 * - constraints: every requirement/restriction has at least one tag (selector syntax, `*` allowed).
 */
import { z } from 'zod';
import {
  array,
  bool,
  checkWith,
  isBase64,
  isRecord,
  kumaTags,
  lenient,
  metricsBackend,
  obj,
  protoDuration,
  protoEnum,
  read,
  requiredPort,
  str,
  stringList,
  struct,
  tcpAddressProblem,
  uniqueNames,
  validateMetricsBackend,
} from './shared.js';

// --- mTLS -----------------------------------------------------------------------------------------------------------

/** Kuma's `ParseDuration` for `dpCert.rotation.expiration`: "0" or `<n>(y|w|d|h|m|s|ms)`. */
const CERT_EXPIRATION = /^(0|\d+(y|w|d|h|m|s|ms))$/;

const CA_TYPES = ['builtin', 'provided'] as const;

const caBackend = obj({
  name: str().nullish(), // protojson: null is the empty default, which Kuma reports as 'cannot be empty'
  type: z.enum(CA_TYPES, { error: `must be one of: ${CA_TYPES.join(', ')}` }),
  dpCert: obj({
    rotation: obj({ expiration: str().optional() }).optional(),
    requestTimeout: protoDuration().optional(),
  }).optional(),
  conf: struct().optional(),
  mode: protoEnum(['STRICT', 'PERMISSIVE']).optional(),
  rootChain: obj({ requestTimeout: protoDuration().optional() }).optional(),
}).superRefine((b, ctx) => {
  if (read.str(b, 'name') === '') ctx.addIssue({ code: 'custom', path: ['name'], message: 'cannot be empty' });
}, lenient);

/** `{secret} | {file} | {inline (base64)} | {inlineString}`: exactly one (`pkg/core/datasource/validator.go`). */
const dataSource = obj({
  secret: str().optional(),
  file: str().optional(),
  inline: str().optional(),
  inlineString: str().optional(),
}).superRefine((ds, ctx) => {
  const set = (['secret', 'file', 'inline', 'inlineString'] as const).filter((k) => ds[k] !== undefined && ds[k] !== null);
  if (set.length === 0) {
    ctx.addIssue({ code: 'custom', path: [], message: 'data source has to be chosen. Available sources: secret, file, inline' });
  } else if (set.length > 1) {
    ctx.addIssue({ code: 'custom', path: [], message: `only one data source can be set, got: ${set.join(', ')}` });
  }
  for (const k of ['secret', 'file', 'inline'] as const) {
    if (ds[k] === '') ctx.addIssue({ code: 'custom', path: [k], message: 'cannot be empty' });
  }
  const inline = read.str(ds, 'inline');
  if (inline !== '' && !isBase64(inline)) {
    ctx.addIssue({ code: 'custom', path: ['inline'], message: 'must be a valid base64 string' });
  }
}, lenient);

/** `conf` of a `builtin` CA. Kuma's JSON name is `RSAbits`; the published OpenAPI spells it `rsaBits`. */
const builtinCaConf = obj({
  caCert: obj({
    RSAbits: z.number({ error: 'must be a non-negative integer' }).int().min(0).optional(),
    rsaBits: z.number({ error: 'must be a non-negative integer' }).int().min(0).optional(),
    expiration: str().optional(),
  }).optional(),
});

/** A builtin CA backend's `conf` as stored (the Mesh schema checks it against `builtinCaConf`). */
export type BuiltinCaConf = z.output<typeof builtinCaConf>;

/** `conf` of a `provided` CA; `cert` and `key` are checked only when `skipValidation` is off (as in Kuma). */
const providedCaConf = (validate: boolean) =>
  obj({
    cert: dataSource.optional(),
    key: dataSource.optional(),
  }).superRefine((c, ctx) => {
    if (!validate) return;
    if (!isRecord(c.cert)) ctx.addIssue({ code: 'custom', path: ['cert'], message: 'has to be defined' });
    if (!isRecord(c.key)) ctx.addIssue({ code: 'custom', path: ['key'], message: 'has to be defined' });
  }, lenient);

const mtls = obj({
  enabledBackend: str().optional(),
  backends: array(caBackend).optional(),
  skipValidation: bool().optional(),
}).superRefine((m, ctx) => {
  const backends = read.list(m, 'backends');
  if (backends.length > 1) ctx.addIssue({ code: 'custom', path: ['backends'], message: 'cannot have more than 1 backends' });
  const names = uniqueNames(ctx, m, 'backends');
  const enabledBackend = read.str(m, 'enabledBackend');
  if (enabledBackend !== '' && !names.has(enabledBackend)) {
    ctx.addIssue({ code: 'custom', path: ['enabledBackend'], message: 'has to be set to one of the backends in the mesh' });
  }
  backends.forEach((b, i) => {
    const dpCert = read.obj(b, 'dpCert');
    // Kuma names this field without the backend's index, in lower case (mesh_validator.go).
    if (dpCert && !CERT_EXPIRATION.test(read.str(read.obj(dpCert, 'rotation'), 'expiration'))) {
      ctx.addIssue({ code: 'custom', path: ['dpcert', 'rotation', 'expiration'], message: 'has to be a valid format' });
    }
    const type = read.str(b, 'type');
    if (type !== 'builtin' && type !== 'provided') return;
    const schema = type === 'builtin' ? builtinCaConf : providedCaConf(!read.bool(m, 'skipValidation'));
    checkWith(ctx, schema, read.obj(b, 'conf') ?? {}, ['backends', i, 'conf']);
  });
}, lenient);

// --- logging --------------------------------------------------------------------------------------------------------

const LOGGING_TYPES = ['tcp', 'file'];

const fileLoggingConf = obj({ path: str().nullish() }).superRefine((c, ctx) => {
  if (read.str(c, 'path') === '') ctx.addIssue({ code: 'custom', path: ['path'], message: 'cannot be empty' });
}, lenient);

const tcpLoggingConf = obj({ address: str().nullish() }).superRefine((c, ctx) => {
  const problem = tcpAddressProblem(read.str(c, 'address'));
  if (problem) ctx.addIssue({ code: 'custom', path: ['address'], message: problem });
}, lenient);

const loggingBackend = obj({
  name: str().nullish(), // protojson: null is the empty default, which Kuma reports as 'cannot be empty'
  format: str().optional(),
  type: str().optional(),
  conf: struct().optional(),
}).superRefine((b, ctx) => {
  if (read.str(b, 'name') === '') ctx.addIssue({ code: 'custom', path: ['name'], message: 'cannot be empty' });
  const type = read.str(b, 'type');
  const conf = read.obj(b, 'conf') ?? {};
  // Kuma's field paths call a logging or tracing backend's `conf` `config` (mesh_validator.go).
  if (type === 'file') checkWith(ctx, fileLoggingConf, conf, ['config'], ['conf']);
  else if (type === 'tcp') checkWith(ctx, tcpLoggingConf, conf, ['config'], ['conf']);
  else {
    ctx.addIssue({
      code: 'custom',
      path: ['type'],
      message: `unknown backend type. Available backends: ${LOGGING_TYPES.map((t) => JSON.stringify(t)).join(', ')}`,
    });
  }
}, lenient);

const logging = obj({
  defaultBackend: str().optional(),
  backends: array(loggingBackend).optional(),
}).superRefine((l, ctx) => {
  const names = uniqueNames(ctx, l, 'backends');
  const defaultBackend = read.str(l, 'defaultBackend');
  if (defaultBackend !== '' && !names.has(defaultBackend)) {
    ctx.addIssue({ code: 'custom', path: ['defaultBackend'], message: 'has to be set to one of the logging backend in mesh' });
  }
}, lenient);

// --- tracing --------------------------------------------------------------------------------------------------------

const ZIPKIN_API_VERSIONS = ['httpJsonV1', 'httpJson', 'httpProto'];

const zipkinConf = obj({
  url: str().optional(),
  traceId128bit: bool().optional(),
  apiVersion: str().optional(),
  sharedSpanContext: bool().optional(),
}).superRefine((c, ctx) => {
  const apiVersion = read.str(c, 'apiVersion');
  if (apiVersion !== '' && !ZIPKIN_API_VERSIONS.includes(apiVersion)) {
    ctx.addIssue({ code: 'custom', path: ['apiVersion'], message: `has invalid value. Allowed values: ${ZIPKIN_API_VERSIONS.join(', ')}` });
  }
  const url = read.str(c, 'url');
  if (url === '') {
    ctx.addIssue({ code: 'custom', path: ['url'], message: 'cannot be empty' });
    return;
  }
  const problem = zipkinUrlProblem(url);
  if (problem) ctx.addIssue({ code: 'custom', path: ['url'], message: problem });
}, lenient);

/** Go's `url.ParseRequestURI` followed by `uri.Port() == ""`. */
function zipkinUrlProblem(url: string): string | undefined {
  if (url.startsWith('/')) return 'port has to be explicitly specified';
  const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)(?::([^/?#]*))?/.exec(url);
  if (!m || /\s/.test(url)) return 'invalid URL';
  if (!m[2] || !/^[0-9]+$/.test(m[2])) return 'port has to be explicitly specified';
  return undefined;
}

const datadogConf = obj({
  address: str().optional(),
  port: z.number({ error: 'must be an integer port' }).optional(),
  splitService: bool().optional(),
}).superRefine((c, ctx) => {
  if (read.str(c, 'address') === '') ctx.addIssue({ code: 'custom', path: ['address'], message: 'cannot be empty' });
  if (c.port === undefined || typeof c.port === 'number') checkWith(ctx, requiredPort(), c.port, ['port']);
}, lenient);

const TRACING_TYPES = ['zipkin', 'datadog'];

const tracingBackend = obj({
  name: str().nullish(), // protojson: null is the empty default, which Kuma reports as 'cannot be empty'
  sampling: z.number({ error: 'must be a number' }).optional(),
  type: str().optional(),
  conf: struct().optional(),
}).superRefine((b, ctx) => {
  if (read.str(b, 'name') === '') ctx.addIssue({ code: 'custom', path: ['name'], message: 'cannot be empty' });
  const sampling = read.num(b, 'sampling');
  if (sampling < 0 || sampling > 100) {
    ctx.addIssue({ code: 'custom', path: ['sampling'], message: 'has to be in [0.0 - 100.0] range' });
  }
  const type = read.str(b, 'type');
  const conf = read.obj(b, 'conf') ?? {};
  if (type === 'zipkin') checkWith(ctx, zipkinConf, conf, ['config'], ['conf']);
  else if (type === 'datadog') checkWith(ctx, datadogConf, conf, ['config'], ['conf']);
  else {
    ctx.addIssue({
      code: 'custom',
      path: ['type'],
      message: `unknown backend type. Available backends: ${TRACING_TYPES.map((t) => JSON.stringify(t)).join(', ')}`,
    });
  }
}, lenient);

const tracing = obj({
  defaultBackend: str().optional(),
  backends: array(tracingBackend).optional(),
}).superRefine((t, ctx) => {
  const names = uniqueNames(ctx, t, 'backends');
  const defaultBackend = read.str(t, 'defaultBackend');
  if (defaultBackend !== '' && !names.has(defaultBackend)) {
    ctx.addIssue({ code: 'custom', path: ['defaultBackend'], message: 'has to be set to one of the tracing backend in mesh' });
  }
}, lenient);

// --- metrics --------------------------------------------------------------------------------------------------------

const metrics = obj({
  enabledBackend: str().optional(),
  backends: array(metricsBackend()).optional(),
}).superRefine((m, ctx) => {
  const names = uniqueNames(ctx, m, 'backends');
  read.list(m, 'backends').forEach((b, i) => validateMetricsBackend(ctx, b, ['backends', i]));
  const enabledBackend = read.str(m, 'enabledBackend');
  if (enabledBackend !== '' && !names.has(enabledBackend)) {
    ctx.addIssue({ code: 'custom', path: ['enabledBackend'], message: 'has to be set to one of the backends in the mesh' });
  }
}, lenient);

// --- the rest -------------------------------------------------------------------------------------------------------

const constraintRules = () =>
  array(
    obj({ tags: kumaTags({ selector: true, requireAtLeastOne: true }).optional() }).superRefine((r, ctx) => {
      if (r.tags === undefined) ctx.addIssue({ code: 'custom', path: ['tags'], message: 'must have at least one tag' });
    }),
  );

export const meshSpec = obj({
  mtls: mtls.optional(),
  tracing: tracing.optional(),
  logging: logging.optional(),
  metrics: metrics.optional(),
  networking: obj({
    outbound: obj({ passthrough: bool().optional() }).optional(),
  }).optional(),
  routing: obj({
    localityAwareLoadBalancing: bool().optional(),
    zoneEgress: bool().optional(),
    defaultForbidMeshExternalServiceAccess: bool().optional(),
  }).optional(),
  constraints: obj({
    dataplaneProxy: obj({
      requirements: constraintRules().optional(),
      restrictions: constraintRules().optional(),
    }).optional(),
  }).optional(),
  skipCreatingInitialPolicies: stringList().optional(),
  meshServices: obj({
    mode: protoEnum(['Disabled', 'Everywhere', 'ReachableBackends', 'Exclusive']).optional(),
  }).optional(),
}).superRefine((mesh, ctx) => {
  if (read.bool(read.obj(mesh, 'routing'), 'zoneEgress') && read.str(read.obj(mesh, 'mtls'), 'enabledBackend') === '') {
    ctx.addIssue({ code: 'custom', path: ['mtls'], message: 'has to be set when zoneEgress enabled' });
  }
}, lenient);
