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
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Requests from loopback without a token act as admin of the default tenant (Kuma's localhost admin). */
  readonly loopbackAdmin: boolean;
  /** Bearer token for the operator routes (`/_operator/*`). */
  readonly operatorToken: string | undefined;
  /** Create Kuma's default policies with every new Mesh. */
  readonly meshDefaults: boolean;
}

interface OptionSpec {
  readonly key: keyof GlobalConfig;
  readonly flag: string;
  readonly env: readonly string[];
  readonly default?: string;
  readonly secret?: boolean;
  readonly help: string;
  /** Returns the value, or a string message when it is not acceptable. */
  readonly parse: (raw: string) => unknown | { error: string };
}

const bad = (error: string) => ({ error });
const bool = (v: string) => (['true', '1', 'yes'].includes(v) ? true : ['false', '0', 'no'].includes(v) ? false : bad('must be true or false'));

export const OPTIONS: readonly OptionSpec[] = [
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
  { key: 'defaultTenant', flag: '--default-tenant', env: ['URSA_DEFAULT_TENANT'], default: 'default', help: 'tenant served to requests that name none', parse: (v) => (/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(v) ? v : bad('must be a lowercase DNS label')) },
  {
    key: 'logLevel',
    flag: '--log-level',
    env: ['URSA_LOG_LEVEL'],
    default: 'info',
    help: 'debug | info | warn | error',
    parse: (v) => (['debug', 'info', 'warn', 'error'].includes(v) ? v : bad('must be one of: debug, info, warn, error')),
  },
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
  { key: 'meshDefaults', flag: '--mesh-defaults', env: ['URSA_MESH_DEFAULTS'], default: 'true', help: "create Kuma's default policies with every new Mesh", parse: bool },
];

export class ConfigError extends Error {}

export type ParseResult = { help: true } | { help: false; config: GlobalConfig };

/** Parses argv (without node and script) and env; throws ConfigError naming the flag or variable. */
export function parseConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParseResult {
  const raw = new Map<string, { value: string; source: string }>();
  for (const o of OPTIONS) {
    const fromEnv = o.env.find((name) => env[name] !== undefined && env[name] !== '');
    if (fromEnv) raw.set(o.key, { value: env[fromEnv]!, source: fromEnv });
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return { help: true };
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const opt = OPTIONS.find((o) => o.flag === flag);
    if (!opt) throw new ConfigError(`unknown flag ${flag} (see --help)`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new ConfigError(`flag ${flag} needs a value`);
    raw.set(opt.key, { value, source: flag });
  }
  const out: Record<string, unknown> = {};
  for (const o of OPTIONS) {
    const r = raw.get(o.key) ?? (o.default !== undefined ? { value: o.default, source: 'default' } : undefined);
    if (!r) continue;
    const parsed = o.parse(r.value);
    if (parsed && typeof parsed === 'object' && 'error' in parsed) {
      throw new ConfigError(`${r.source === 'default' ? o.flag : r.source}: ${(parsed as { error: string }).error}`);
    }
    out[o.key] = parsed;
  }
  const dataDir = out.dataDir as string;
  out.dataDir = isAbsolute(dataDir) ? dataDir : resolve(dataDir);
  return { help: false, config: Object.freeze(out) as unknown as GlobalConfig };
}

export function helpText(): string {
  const lines = OPTIONS.map((o) => `  ${o.flag.padEnd(18)} ${o.env.join(', ').padEnd(34)} ${o.help}${o.default ? ` (default ${o.default})` : ''}`);
  return ['Usage: npm start -- [flags]   (or: tsx global-api/src/node.ts [flags])', '', 'Flags and environment variables:', ...lines].join('\n');
}

/** The configuration as served by `/config`, secrets masked. */
export function maskedConfig(config: GlobalConfig): Record<string, unknown> {
  return Object.fromEntries(OPTIONS.map((o) => [o.key, o.secret && config[o.key] !== undefined ? maskSecret(String(config[o.key])) : (config[o.key] ?? null)]));
}

/** One line per option for the start-up log, with secrets masked (URL passwords, whole values otherwise). */
export function describeConfig(config: GlobalConfig): string {
  return OPTIONS.map((o) => {
    const v = config[o.key];
    if (v === undefined) return `${o.key}=(unset)`;
    return `${o.key}=${o.secret ? maskSecret(String(v)) : String(v)}`;
  }).join(' ');
}

export function maskSecret(value: string): string {
  try {
    const u = new URL(value);
    if (u.password) u.password = '****';
    return u.toString();
  } catch {
    return '****';
  }
}
