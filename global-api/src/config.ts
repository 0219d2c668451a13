/**
 * Configuration of the Node entry, from flags and `URSA_*` environment variables (flags win). Each option
 * is described once; parsing, `--help` and the start-up print all come from that description.
 * Node only: the Worker reads its configuration from bindings.
 */
import { isAbsolute, resolve } from 'node:path';

export interface GlobalConfig {
  readonly host: string;
  readonly port: number;
  /** Where embedded Postgres keeps its files when no database URL is given. */
  readonly dataDir: string;
  /** PostgreSQL connection string; when set, PGlite is not used. */
  readonly databaseUrl: string | undefined;
  readonly defaultTenant: string;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  /** Requests from loopback without a token act as admin of the default tenant (Kuma's localhost admin). */
  readonly loopbackAdmin: boolean;
  /** Bearer token for the operator routes (`/_operator/*`). */
  readonly operatorToken: string | undefined;
  /** Create Kuma's default policies with every new Mesh. */
  readonly meshDefaults: boolean;
  /** KDS heartbeat interval; a silent peer is dropped after 3 missed heartbeats. */
  readonly kdsHeartbeatMs: number;
  /** A zone is Online while its lease, renewed on every heartbeat, has not run out. */
  readonly zoneLeaseMs: number;
  /** Browser origins allowed to call the API (CORS); empty: none. */
  readonly corsOrigins: readonly string[];
}

import { bad, bool, originList, LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel, oneOf, describeOptions, dnsLabel, helpText as optionsHelp, intIn, maskedOptions, parseOptions, type OptionSpec, type Parsed } from '@ursa/core';

export { ConfigError, maskSecret } from '@ursa/core';

export const OPTIONS: readonly OptionSpec<keyof GlobalConfig>[] = [
  { key: 'host', flag: '--host', env: ['URSA_HOST'], default: '127.0.0.1', help: 'address the HTTP API listens on', parse: (v) => (v ? v : bad('must not be empty')) },
  {
    key: 'port',
    flag: '--port',
    env: ['URSA_PORT'],
    default: '5681',
    help: 'HTTP API port',
    parse: (v) => (/^[0-9]+$/.test(v) && +v >= 0 && +v <= 65535 ? +v : bad('must be a port number between 0 and 65535')),
  },
  { key: 'dataDir', flag: '--data-dir', env: ['URSA_DATA_DIR'], default: './.ursa', help: 'data directory of embedded Postgres', parse: (v) => (v ? v : bad('must not be empty')) },
  {
    key: 'databaseUrl',
    flag: '--database-url',
    env: ['URSA_DATABASE_URL', 'DATABASE_URL'],
    secret: true,
    help: 'PostgreSQL URL (postgres://...); embedded Postgres when unset',
    parse: (v) => (/^postgres(ql)?:\/\//.test(v) ? v : bad('must be a postgres:// or postgresql:// URL')),
  },
  { key: 'defaultTenant', flag: '--default-tenant', env: ['URSA_DEFAULT_TENANT'], default: 'default', help: 'tenant served to requests that name none', parse: dnsLabel },
  {
    key: 'logLevel',
    flag: '--log-level',
    env: ['URSA_LOG_LEVEL'],
    default: 'info',
    help: 'debug | info | warn | error | off (least severe level written)',
    parse: (v) => ((LOG_LEVELS as readonly string[]).includes(v) ? v : bad(`must be one of: ${LOG_LEVELS.join(', ')}`)),
  },
  { key: 'logFormat', flag: '--log-format', env: ['URSA_LOG_FORMAT'], default: 'console', help: "console (kuma-cp's tab-separated lines) | json (one object per line)", parse: oneOf(...LOG_FORMATS) },
  {
    key: 'loopbackAdmin',
    flag: '--loopback-admin',
    env: ['URSA_LOOPBACK_ADMIN'],
    default: 'true',
    help: 'requests from 127.0.0.1/::1 without a token act as admin of the default tenant (turn off behind a proxy)',
    parse: bool,
  },
  {
    key: 'operatorToken',
    flag: '--operator-token',
    env: ['URSA_OPERATOR_TOKEN'],
    secret: true,
    help: 'bearer token for /_operator/* (tenant management); unset: loopback admin only',
    parse: (v) => (v.length >= 16 ? v : bad('must be at least 16 characters')),
  },
  { key: 'kdsHeartbeatMs', flag: '--kds-heartbeat-ms', env: ['URSA_KDS_HEARTBEAT_MS'], default: '5000', help: 'KDS heartbeat interval in ms', parse: (v) => intIn(v, 100, 60_000) },
  { key: 'zoneLeaseMs', flag: '--zone-lease-ms', env: ['URSA_ZONE_LEASE_MS'], default: '15000', help: 'how long a zone stays Online after its last heartbeat, in ms', parse: (v) => intIn(v, 300, 300_000) },
  {
    key: 'corsOrigins',
    flag: '--cors-origins',
    env: ['URSA_CORS_ORIGINS'],
    default: '',
    help: 'comma-separated browser origins allowed to call the API (CORS), e.g. https://gui.example.com; empty: none',
    parse: originList,
  },
  { key: 'meshDefaults', flag: '--mesh-defaults', env: ['URSA_MESH_DEFAULTS'], default: 'true', help: "create Kuma's default policies with every new Mesh", parse: bool },
];

export type ParseResult = Parsed<GlobalConfig>;


/** Parses argv (without node and script) and env; throws ConfigError naming the flag or variable. */
export function parseConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParseResult {
  const r = parseOptions<Record<string, unknown>>(OPTIONS, argv, env);
  if (r.help) return r;
  const dataDir = r.config.dataDir as string;
  return { help: false, config: Object.freeze({ ...r.config, dataDir: isAbsolute(dataDir) ? dataDir : resolve(dataDir) }) as unknown as GlobalConfig };
}

export function helpText(): string {
  return optionsHelp('npm start -- [flags]   (or: tsx global-api/src/node.ts [flags])', OPTIONS);
}

/** The configuration as served by `/config`, secrets masked. */
export function maskedConfig(config: GlobalConfig): Record<string, unknown> {
  return maskedOptions(OPTIONS, config as unknown as Record<string, unknown>);
}

/** One line for the start-up log, with secrets masked (URL passwords, whole values otherwise). */
export function describeConfig(config: GlobalConfig): string {
  return describeOptions(OPTIONS, config as unknown as Record<string, unknown>);
}
