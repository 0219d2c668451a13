/**
 * Helpers shared by the legacy ("flat") Kuma resource schemas: proto-JSON scalar shapes (enums, timestamps,
 * durations, uint64 counters), Kuma's tag rules (`ValidateTags` / `ValidateSelector` in
 * `pkg/core/resources/apis/mesh/validators.go`), address checks, and the xDS/KDS subscription shapes stored
 * in insights. Messages follow Kuma v2.14's validators where Kuma has one.
 */
import { z } from 'zod';
import { isRecord, uint32 } from '../common.js';

export { isRecord };

// ---------------------------------------------------------------------------------------------------------------------
// Objects and generic scalars
// ---------------------------------------------------------------------------------------------------------------------

/**
 * `z.strictObject` with Kuma-flavoured messages: a missing required object is "must be defined", a value of
 * the wrong type "must be an object". Unknown keys are reported per key by `zodViolations` (validate.ts).
 */
export function obj<S extends z.ZodRawShape>(shape: S) {
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'invalid_type' ? (iss.input === undefined ? 'must be defined' : 'must be an object') : undefined),
  });
}


/**
 * Reads a value that may have failed parts of its schema the way Go reads a proto: a missing or mistyped field reads
 * as its zero value. Refinements use it so that cross-field rules still run, and report everything at once as Kuma
 * does, when some unrelated field is wrong.
 */
export const read = {
  obj: (v: unknown, k: string): Record<string, unknown> | undefined => {
    const x = isRecord(v) ? v[k] : undefined;
    return isRecord(x) ? x : undefined;
  },
  str: (v: unknown, k: string): string => {
    const x = isRecord(v) ? v[k] : undefined;
    return typeof x === 'string' ? x : '';
  },
  num: (v: unknown, k: string): number => {
    const x = isRecord(v) ? v[k] : undefined;
    return typeof x === 'number' ? x : 0;
  },
  bool: (v: unknown, k: string): boolean => isRecord(v) && v[k] === true,
  /** A repeated message field; non-object elements read as empty messages so that indexes are kept. */
  list: (v: unknown, k: string): Record<string, unknown>[] => {
    const x = isRecord(v) ? v[k] : undefined;
    return Array.isArray(x) ? x.map((e) => (isRecord(e) ? e : {})) : [];
  },
  /** A map<string, string> field; non-string values are dropped. */
  map: (v: unknown, k: string): Record<string, string> => {
    const x = isRecord(v) ? v[k] : undefined;
    if (!isRecord(x)) return {};
    return Object.fromEntries(Object.entries(x).filter((e): e is [string, string] => typeof e[1] === 'string'));
  },
  /** A proto enum field (already normalised to its name when valid); numbers map through `names`. */
  enumName: (v: unknown, k: string, names: readonly string[]): string => {
    const x = isRecord(v) ? v[k] : undefined;
    if (typeof x === 'number') return names[x] ?? '';
    return typeof x === 'string' ? x : (names[0] ?? '');
  },
};

/** Refinement option: run even when children failed, as long as the value is an object (use with `read`). */
export const lenient = { when: (payload: { value: unknown }) => isRecord(payload.value) };

export const bool = () => z.boolean({ error: 'must be a boolean' });
export const str = () => z.string({ error: 'must be a string' });
export const stringList = () => z.array(str(), { error: 'must be an array of strings' });
export const array = <T extends z.ZodType>(item: T) => z.array(item, { error: 'must be an array' });
/** A plain string → string map (labels, dependency versions): no Kuma tag rules. */
export const stringMap = () =>
  z.record(z.string(), z.string({ error: 'values must be strings' }), { error: 'must be an object of string values' });
/** `google.protobuf.Struct`: any JSON object. */
export const struct = () => z.record(z.string(), z.unknown(), { error: 'must be an object' });

export const PORT_RANGE = 'port must be in the range [1, 65535]';

/** A port Kuma always validates (`ValidatePort`): missing or 0 is "port must be in the range [1, 65535]". */
export const requiredPort = () =>
  z
    .number({ error: (iss) => (iss.input === undefined ? PORT_RANGE : 'must be an integer port') })
    .int({ error: 'must be an integer port' })
    .min(1, { error: PORT_RANGE })
    .max(65535, { error: PORT_RANGE });

/** A uint32 port where proto3's 0 means "unset" (Kuma validates the range only when non-zero). */
export const optionalPort = () =>
  z
    .number({ error: 'must be an integer port' })
    .int({ error: 'must be an integer port' })
    .min(0, { error: PORT_RANGE })
    .max(65535, { error: PORT_RANGE });

/**
 * A proto enum in protojson: its name, or its number (normalised to the name).
 * `names` are listed in proto number order.
 */
export function protoEnum<const T extends readonly [string, ...string[]]>(names: T, shown: readonly string[] = names) {
  const message = `must be one of: ${shown.join(', ')}`;
  return z
    .union([z.string(), z.number()], { error: message })
    .refine((v) => (typeof v === 'string' ? names.includes(v) : Number.isInteger(v) && v >= 0 && v < names.length), {
      error: message,
    })
    .transform((v) => (typeof v === 'number' ? names[v] : v) as T[number]);
}

/** `google.protobuf.Timestamp` in protojson: an RFC 3339 date-time string. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;
export const timestamp = () =>
  z
    .string({ error: 'must be an RFC 3339 timestamp string' })
    .refine((v) => RFC3339.test(v) && !Number.isNaN(Date.parse(v)), { error: 'must be an RFC 3339 timestamp string' });

/** `google.protobuf.Duration` in protojson: seconds with an `s` suffix, e.g. "10s", "0.5s". */
const PROTO_DURATION = /^-?\d+(\.\d{1,9})?s$/;
export const protoDuration = () =>
  z
    .string({ error: 'must be a duration string like "10s"' })
    .regex(PROTO_DURATION, { error: 'must be a duration string like "10s"' });

export function protoDurationSeconds(v: string): number {
  return Number(v.slice(0, -1));
}

/** uint64 counters: protojson renders them as decimal strings ("22"); plain numbers are accepted too. */
export const uint64 = () =>
  z
    .union([z.string(), z.number()], { error: 'must be a non-negative integer (number or decimal string)' })
    .refine((v) => (typeof v === 'string' ? /^[0-9]+$/.test(v) : Number.isSafeInteger(v) && v >= 0), {
      error: 'must be a non-negative integer (number or decimal string)',
    });

/** Standard or URL-safe base64, padded or not (what Go's jsonpb accepts for `bytes`). */
export function isBase64(v: string): boolean {
  const s = v.replace(/=+$/, '');
  if (v.length - s.length > 2) return false;
  if (!/^[A-Za-z0-9+/]*$/.test(s) && !/^[A-Za-z0-9_-]*$/.test(s)) return false;
  if (s.length % 4 === 1) return false;
  return v.length === s.length || v.length % 4 === 0;
}

/**
 * Runs `schema` on `value` from inside a refinement and reports its issues under `path`
 * (used for `conf` blocks whose shape depends on a sibling `type`). Unknown keys stay `unrecognized_keys`
 * issues so that `zodViolations` names each of them.
 */
export function checkWith(ctx: z.RefinementCtx, schema: z.ZodType, value: unknown, path: readonly PropertyKey[], inputPath: readonly PropertyKey[] = path): void {
  const parsed = schema.safeParse(value);
  if (parsed.success) return;
  for (const issue of parsed.error.issues) {
    const at = [...path, ...issue.path];
    // Unknown keys are named where they sit in the body (`conf`, not Kuma's `config`): a write drops them there.
    if (issue.code === 'unrecognized_keys') ctx.addIssue({ code: 'unrecognized_keys', keys: issue.keys, path: [...inputPath, ...issue.path] });
    else ctx.addIssue({ code: 'custom', message: issue.message, path: at });
  }
}

/** Adds Kuma's "name is already used" violation for duplicate `name`s in `parent[key]`; returns the names. */
export function uniqueNames(ctx: z.RefinementCtx, parent: unknown, key: string): Set<string> {
  const used = new Set<string>();
  read.list(parent, key).forEach((item, i) => {
    const name = read.str(item, 'name');
    if (used.has(name)) {
      ctx.addIssue({ code: 'custom', path: [key, i, 'name'], message: `${JSON.stringify(name)} name is already used for another backend` });
    }
    used.add(name);
  });
  return used;
}

// ---------------------------------------------------------------------------------------------------------------------
// Tags (Kuma `ValidateTags` / `ValidateSelector`)
// ---------------------------------------------------------------------------------------------------------------------

export const SERVICE_TAG = 'kuma.io/service';
export const PROTOCOL_TAG = 'kuma.io/protocol';

const TAG_NAME = /^[a-zA-Z0-9.\-_:/]*$/;
const TAG_VALUE = /^[a-zA-Z0-9.\-_:]*$/;
const SELECTOR_VALUE = /^([a-zA-Z0-9.\-_:/]*|\*)$/;

/** Protocols Kuma parses (`core_meta.ParseProtocol`, case-insensitive) and the ones it advertises. */
const KNOWN_PROTOCOLS = ['http', 'http2', 'tcp', 'tls', 'grpc', 'kafka', 'mysql'];
export const SUPPORTED_PROTOCOLS = ['grpc', 'http', 'http2', 'kafka', 'tcp'];
export const isKnownProtocol = (p: string) => KNOWN_PROTOCOLS.includes(p.toLowerCase());
export const protocolHint = () => `Allowed values: ${SUPPORTED_PROTOCOLS.join(', ')}`;

export interface TagOptions {
  /** `kuma.io/service` must be present (`mandatory tag "kuma.io/service" is missing`). */
  requireService?: boolean;
  /**
   * Dataplane inbounds: `kuma.io/service` must be one of the tags (Kuma's `tag has to exist` when other tags are
   * set; `mandatory tag "kuma.io/service" is missing` when there are none at all).
   */
  requireServiceIfAny?: boolean;
  /** `must have at least one tag`. */
  requireAtLeastOne?: boolean;
  /** Selector values (`*` and slashes allowed) instead of tag values. */
  selector?: boolean;
  /** Rule for the `kuma.io/protocol` tag: any known protocol (inbounds) or tcp only (gateways). */
  protocol?: 'known' | 'tcp-only';
}

/** A Kuma tag map with the rules of `ValidateTags`; keys are checked in sorted order, like Kuma. */
export function kumaTags(opts: TagOptions = {}) {
  return z
    .record(z.string(), z.string({ error: 'tag values must be strings' }), {
      error: (iss) =>
        iss.input === undefined && (opts.requireService || opts.requireServiceIfAny)
          ? `mandatory tag ${JSON.stringify(SERVICE_TAG)} is missing`
          : 'must be an object of string tags',
    })
    .superRefine((tags, ctx) => {
      const keys = Object.keys(tags).sort();
      if (opts.requireAtLeastOne && keys.length === 0) {
        ctx.addIssue({ code: 'custom', path: [], message: 'must have at least one tag' });
      }
      const protocol = tags[PROTOCOL_TAG];
      if (protocol !== undefined && opts.protocol === 'known' && !isKnownProtocol(protocol)) {
        ctx.addIssue({
          code: 'custom',
          path: [PROTOCOL_TAG],
          message: `tag ${JSON.stringify(PROTOCOL_TAG)} has an invalid value ${JSON.stringify(protocol)}. ${protocolHint()}`,
        });
      }
      if (protocol !== undefined && opts.protocol === 'tcp-only' && protocol.toLowerCase() !== 'tcp') {
        ctx.addIssue({
          code: 'custom',
          path: [PROTOCOL_TAG],
          message: `other values than tcp are not allowed, provided value ${JSON.stringify(protocol)}`,
        });
      }
      for (const key of keys) {
        const value = tags[key] ?? '';
        if (key === '') ctx.addIssue({ code: 'custom', path: [], message: 'tag name must be non-empty' });
        if (!TAG_NAME.test(key)) {
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: 'tag name must consist of alphanumeric characters, dots, dashes, slashes and underscores',
          });
        }
        if (value === '') ctx.addIssue({ code: 'custom', path: [key], message: 'tag value must be non-empty' });
        if (opts.selector && !SELECTOR_VALUE.test(value)) {
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: 'tag value must consist of alphanumeric characters, dots, dashes, slashes and underscores or be "*"',
          });
        } else if (!opts.selector && !TAG_VALUE.test(value)) {
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: 'tag value must consist of alphanumeric characters, dots, dashes and underscores',
          });
        }
      }
      if (opts.requireService && !(SERVICE_TAG in tags)) {
        ctx.addIssue({ code: 'custom', path: [], message: `mandatory tag ${JSON.stringify(SERVICE_TAG)} is missing` });
      }
      if (opts.requireServiceIfAny && keys.length > 0 && !(SERVICE_TAG in tags)) {
        ctx.addIssue({ code: 'custom', path: [SERVICE_TAG], message: 'tag has to exist' });
      }
      if (opts.requireServiceIfAny && keys.length === 0) {
        ctx.addIssue({ code: 'custom', path: [], message: `mandatory tag ${JSON.stringify(SERVICE_TAG)} is missing` });
      }
    });
}

// ---------------------------------------------------------------------------------------------------------------------
// Addresses (Go's net.ParseIP and govalidator.IsDNSName)
// ---------------------------------------------------------------------------------------------------------------------

/** Parses an IPv4 or IPv6 literal the way Go's `net.ParseIP` does; IPv4 comes back IPv4-mapped (16 bytes). */
export function parseIP(s: string): number[] | undefined {
  const v4 = parseIPv4(s);
  if (v4) return [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4];
  return parseIPv6(s);
}

function parseIPv4(s: string): number[] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map((p) => (p.length > 1 && p.startsWith('0') ? NaN : Number(p)));
  return parts.every((n) => n >= 0 && n <= 255) ? parts : undefined;
}

function parseIPv6(s: string): number[] | undefined {
  if (!s.includes(':')) return undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const toGroups = (part: string, allowV4Tail: boolean): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const pieces = part.split(':');
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i] ?? '';
      if (allowV4Tail && i === pieces.length - 1 && piece.includes('.')) {
        const v4 = parseIPv4(piece);
        if (!v4) return undefined;
        out.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
      } else if (/^[0-9a-fA-F]{1,4}$/.test(piece)) {
        out.push(parseInt(piece, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  let groups: number[];
  if (halves.length === 2) {
    const head = toGroups(halves[0] ?? '', false);
    const tail = toGroups(halves[1] ?? '', true);
    if (!head || !tail || head.length + tail.length > 7) return undefined;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    const all = toGroups(s, true);
    if (!all || all.length !== 8) return undefined;
    groups = all;
  }
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

export const isIP = (s: string) => parseIP(s) !== undefined;

const DNS_NAME = /^([a-zA-Z0-9_][a-zA-Z0-9_-]{0,62})(\.[a-zA-Z0-9_][a-zA-Z0-9_-]{0,62})*[._]?$/;
/** govalidator.IsDNSName. */
export function isDNSName(s: string): boolean {
  if (s === '' || s.replace(/\./g, '').length > 255) return false;
  return !isIP(s) && DNS_NAME.test(s);
}

/**
 * Kuma's `overlap(127.0.0.1, addr)`: true when `addr` is the IPv4 loopback or a wildcard address, i.e. when a
 * listener on it would clash with Envoy's admin listener on 127.0.0.1.
 */
export function overlapsLoopback(addr: string | undefined): boolean {
  const ip = parseIP(addr ?? '');
  if (!ip) return false;
  const mapped = ip.slice(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff;
  if (ip.every((b) => b === 0)) return true;
  if (mapped && ip.slice(12).every((b) => b === 0)) return true;
  return mapped && ip[12] === 127 && ip[13] === 0 && ip[14] === 0 && ip[15] === 1;
}

/** Kuma's `validateAddress`: violations for a proxy's `address` (all of them, as Kuma reports them). */
export function addressProblems(address: string | undefined): string[] {
  if (address === undefined || address === '') return ["address can't be empty"];
  const problems: string[] = [];
  if (address === '0.0.0.0' || address === '::') problems.push('must not be 0.0.0.0 or ::');
  if (!isIP(address) && !isDNSName(address)) problems.push('address has to be valid IP address or domain name');
  return problems;
}

/** `EnvoyAdmin {port}`; Kuma does not range-check it (0 means the default). */
export const envoyAdmin = () => obj({ port: optionalPort().optional() });

// ---------------------------------------------------------------------------------------------------------------------
// Insights: xDS DiscoverySubscription (Dataplane, ZoneIngress, ZoneEgress insights)
// ---------------------------------------------------------------------------------------------------------------------

export const discoveryServiceStats = () =>
  obj({
    responsesSent: uint64().optional(),
    responsesAcknowledged: uint64().optional(),
    responsesRejected: uint64().optional(),
  });

/** `DiscoverySubscription` (`api/mesh/v1alpha1/dataplane_insight.proto`). */
export const discoverySubscription = () =>
  obj({
    id: str().optional(),
    controlPlaneInstanceId: str().optional(),
    connectTime: timestamp().optional(),
    disconnectTime: timestamp().optional(),
    status: obj({
      lastUpdateTime: timestamp().optional(),
      total: discoveryServiceStats().optional(),
      cds: discoveryServiceStats().optional(),
      eds: discoveryServiceStats().optional(),
      lds: discoveryServiceStats().optional(),
      rds: discoveryServiceStats().optional(),
    }).optional(),
    version: obj({
      kumaDp: obj({
        version: str().optional(),
        gitTag: str().optional(),
        gitCommit: str().optional(),
        buildDate: str().optional(),
        kumaCpCompatible: bool().optional(),
      }).optional(),
      envoy: obj({
        version: str().optional(),
        build: str().optional(),
        kumaDpCompatible: bool().optional(),
      }).optional(),
      dependencies: stringMap().optional(),
    }).optional(),
    generation: uint32().optional(),
  });

/** `{subscriptions, metadata}`: the whole of ZoneIngressInsight and ZoneEgressInsight. */
export const zoneProxyInsight = () =>
  obj({
    subscriptions: array(discoverySubscription()).optional(),
    metadata: struct().optional(),
  });

// ---------------------------------------------------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------------------------------------------------

/** Secret / GlobalSecret `data` (a `google.protobuf.BytesValue`): required, non-empty, valid base64. */
export const secretData = () =>
  z
    .string({ error: (iss) => (iss.input === undefined ? 'must be defined' : 'must be a base64 string') })
    .min(1, { error: 'cannot be empty' })
    .refine(isBase64, { error: 'must be a valid base64 string' });

// ---------------------------------------------------------------------------------------------------------------------
// Metrics backends (Mesh `metrics.backends[]` and Dataplane `metrics`)
// ---------------------------------------------------------------------------------------------------------------------

const PROMETHEUS_TLS_MODES = ['activeMTLSBackend', 'providedTLS', 'disabled'] as const;

/** `PrometheusMetricsBackendConfig` (`api/mesh/v1alpha1/metrics.proto`), checked as Kuma's `validatePrometheusConfig`. */
export const prometheusConfig = obj({
  port: optionalPort().optional(),
  path: str().optional(),
  tags: stringMap().optional(),
  skipMTLS: bool().optional(),
  aggregate: array(
    obj({
      name: str().optional(),
      port: optionalPort().optional(),
      path: str().optional(),
      enabled: bool().optional(),
      address: str().optional(),
    }),
  ).optional(),
  envoy: obj({
    filterRegex: str().optional(),
    usedOnly: bool().optional(),
  }).optional(),
  tls: obj({
    mode: protoEnum(PROMETHEUS_TLS_MODES).optional(),
  }).optional(),
}).superRefine((cfg, ctx) => {
  const tls = read.obj(cfg, 'tls');
  if (typeof cfg.skipMTLS === 'boolean' && tls !== undefined) {
    const mode = read.enumName(tls, 'mode', PROMETHEUS_TLS_MODES);
    const equal = (!cfg.skipMTLS && mode === 'activeMTLSBackend') || (cfg.skipMTLS && mode === 'disabled');
    if (!equal) {
      ctx.addIssue({ code: 'custom', path: [], message: 'skipMTLS and tls configuration cannot be defined together' });
      return;
    }
  }
  const filterRegex = read.str(read.obj(cfg, 'envoy'), 'filterRegex');
  if (filterRegex) {
    try {
      new RegExp(filterRegex);
    } catch (err) {
      ctx.addIssue({
        code: 'custom',
        path: ['envoy', 'filterRegex'],
        message: `provided regexp isn't correct: ${err instanceof Error ? err.message : String(err)}`,
      });
      return;
    }
  }
  const used = new Set<string>();
  read.list(cfg, 'aggregate').forEach((a, i) => {
    const name = read.str(a, 'name');
    if (used.has(name)) {
      ctx.addIssue({ code: 'custom', path: ['aggregate', i, 'name'], message: `duplicate entry: ${name}, values have to be unique` });
    }
    used.add(name);
  });
}, lenient);

/** `MetricsBackend {name, type, conf}`: only `prometheus` exists; its `conf` is a `PrometheusMetricsBackendConfig`. */
export const metricsBackend = () =>
  obj({
    name: str().optional(),
    type: str().optional(),
    conf: struct().optional(),
  });

/** Kuma's `validateMetricsBackend` for the (possibly invalid) `MetricsBackend` at `path`. */
export function validateMetricsBackend(ctx: z.RefinementCtx, backend: unknown, path: readonly PropertyKey[]): void {
  if (read.str(backend, 'type') !== 'prometheus') {
    ctx.addIssue({ code: 'custom', path: [...path, 'type'], message: 'unknown backend type. Available backends: "prometheus"' });
    return;
  }
  checkWith(ctx, prometheusConfig, read.obj(backend, 'conf') ?? {}, [...path, 'conf']);
}

/** A `host:port` address as Go's `net.SplitHostPort` reads it (TCP access-log backends). */
export function tcpAddressProblem(address: string): string | undefined {
  if (address === '') return 'cannot be empty';
  const m = /^\[([^\]]*)\]:([^:]*)$/.exec(address) ?? /^([^:[\]]*):([^:[\]]*)$/.exec(address);
  if (!m || !m[1] || !m[2]) return 'has to be in format of HOST:PORT';
  return undefined;
}
