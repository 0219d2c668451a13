/**
 * The Worker's configuration, from its bindings (wrangler.jsonc `vars`, `--var` in `wrangler dev`, and the
 * secret `URSA_OPERATOR_TOKEN`). Described like the Node entry's options (`options.ts`), so values are
 * checked the same way and a bad one names its variable. No Node module here: it runs in workerd.
 */
import { bool, ConfigError, originList, LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel, oneOf, dnsLabel, intIn, maskedOptions, parseOptions, type OptionSpec } from '@ursa/core';

export interface WorkerSettings {
  readonly defaultTenant: string;
  readonly operatorToken: string | undefined;
  readonly meshDefaults: boolean;
  /** Heartbeat interval given to zones; a long-poll also renews the zone's lease this often. */
  readonly kdsHeartbeatMs: number;
  /** A zone stays Online this long after its last renewal. */
  readonly zoneLeaseMs: number;
  /** How often a waiting long-poll looks at its tenant's revision (Hyperdrive cannot LISTEN). */
  readonly kdsPollIntervalMs: number;
  /** KDS hubs (Durable Objects) per tenant; a zone's hub is picked by a hash of its name (worker/hub-shards.ts). */
  readonly kdsHubShards: number;
  /** Least severe level written to the Workers log. */
  readonly logLevel: LogLevel;
  /** Browser origins allowed to call the API (CORS); empty: none. */
  readonly corsOrigins: readonly string[];
  readonly logFormat: LogFormat;
}

/** `flag` is unused by a Worker (no command line); the variable names are what errors and docs show. */
const OPTIONS: readonly OptionSpec<keyof WorkerSettings>[] = [
  { key: 'defaultTenant', flag: 'DEFAULT_TENANT', env: ['DEFAULT_TENANT'], default: 'default', help: 'tenant served to requests that name none', parse: dnsLabel },
  {
    key: 'operatorToken',
    flag: 'URSA_OPERATOR_TOKEN',
    env: ['URSA_OPERATOR_TOKEN'],
    secret: true,
    help: 'bearer token for /_operator/* (a secret: wrangler secret put URSA_OPERATOR_TOKEN)',
    parse: (v) => (v.length >= 16 ? v : { error: 'must be at least 16 characters' }),
  },
  { key: 'meshDefaults', flag: 'MESH_DEFAULTS', env: ['MESH_DEFAULTS'], default: 'true', help: "create Kuma's default policies with every new Mesh", parse: bool },
  { key: 'corsOrigins', flag: 'CORS_ORIGINS', env: ['CORS_ORIGINS'], default: '', help: 'comma-separated browser origins allowed to call the API (CORS); empty: none', parse: originList },
  { key: 'logFormat', flag: 'LOG_FORMAT', env: ['LOG_FORMAT'], default: 'console', help: 'console | json', parse: oneOf(...LOG_FORMATS) },
  { key: 'logLevel', flag: 'LOG_LEVEL', env: ['LOG_LEVEL'], default: 'info', help: 'debug | info | warn | error | off', parse: oneOf(...LOG_LEVELS) },
  { key: 'kdsHeartbeatMs', flag: 'KDS_HEARTBEAT_MS', env: ['KDS_HEARTBEAT_MS'], default: '5000', help: 'KDS heartbeat interval in ms', parse: (v) => intIn(v, 100, 60_000) },
  { key: 'zoneLeaseMs', flag: 'ZONE_LEASE_MS', env: ['ZONE_LEASE_MS'], default: '15000', help: 'how long a zone stays Online after its last renewal, in ms', parse: (v) => intIn(v, 300, 300_000) },
  {
    key: 'kdsPollIntervalMs',
    flag: 'KDS_POLL_INTERVAL_MS',
    env: ['KDS_POLL_INTERVAL_MS'],
    default: '500',
    help: "how often a waiting long-poll reads its tenant's revision, in ms",
    parse: (v) => intIn(v, 50, 10_000),
  },
  {
    key: 'kdsHubShards',
    flag: 'KDS_HUB_SHARDS',
    env: ['KDS_HUB_SHARDS'],
    default: '1',
    help: "KDS hubs (Durable Objects) per tenant: more than one when a tenant's zones outgrow one object",
    parse: (v) => intIn(v, 1, 64),
  },
];

/** Reads the settings from the Worker's env; throws ConfigError naming the variable. */
export function workerSettings(env: Readonly<Record<string, unknown>>): WorkerSettings {
  // vars may be JSON values in wrangler.jsonc (a number stays a number): read them as text, like --var.
  const text: Record<string, string | undefined> = {};
  for (const o of OPTIONS) {
    const v = env[o.env[0]!];
    if (v !== undefined && v !== null && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) text[o.env[0]!] = String(v);
  }
  const parsed = parseOptions<WorkerSettings>(OPTIONS, [], text);
  if (parsed.help) throw new ConfigError('unreachable: no command line');
  return parsed.config;
}

/** The settings as served by `/config`, the operator token masked. */
export function maskedSettings(settings: WorkerSettings): Record<string, unknown> {
  return { runtime: 'workerd', ...maskedOptions(OPTIONS, settings as unknown as Record<string, unknown>) };
}
