/**
 * Command-line options described once: each has a flag, environment variables, a default, whether it is
 * secret, help text and a parser. Parsing (flags win over the environment), `--help` and the masked
 * start-up print all come from the description. Used by the global's Node entry and by the zone agent.
 */
import { isDnsLabel } from './text.js';

export interface OptionSpec<K extends string = string> {
  readonly key: K;
  readonly flag: string;
  readonly env: readonly string[];
  readonly default?: string;
  readonly secret?: boolean;
  readonly help: string;
  /** Values the flag can take without an argument (`--standalone`), if any. */
  readonly bare?: string;
  /** Returns the value, or `{ error }` when it is not acceptable. */
  readonly parse: (raw: string) => unknown;
}

export class ConfigError extends Error {}

export const bad = (error: string) => ({ error });
export const intIn = (v: string, min: number, max: number) =>
  /^[0-9]+$/.test(v) && +v >= min && +v <= max ? +v : bad(`must be a whole number between ${min} and ${max}`);
export const port = (v: string) => (/^[0-9]+$/.test(v) && +v >= 0 && +v <= 65535 ? +v : bad('must be a port number between 0 and 65535'));
export const bool = (v: string) => (['true', '1', 'yes'].includes(v) ? true : ['false', '0', 'no'].includes(v) ? false : bad('must be true or false'));
export const nonEmpty = (v: string) => (v ? v : bad('must not be empty'));
export const dnsLabel = (v: string) => (isDnsLabel(v) ? v : bad('must be a lowercase DNS label'));
export const oneOf =
  (...values: string[]) =>
  (v: string) =>
    values.includes(v) ? v : bad(`must be one of: ${values.join(', ')}`);

export type Parsed<T> = { help: true } | { help: false; config: T };

/** Parses argv (without node and script) and env; throws ConfigError naming the flag or variable. */
export function parseOptions<T>(options: readonly OptionSpec[], argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Parsed<T> {
  const raw = new Map<string, { value: string; source: string }>();
  for (const o of options) {
    const fromEnv = o.env.find((name) => env[name] !== undefined && env[name] !== '');
    if (fromEnv) raw.set(o.key, { value: env[fromEnv]!, source: fromEnv });
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return { help: true };
    const eq = arg.indexOf('=');
    const [flag, inline] = eq >= 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
    const opt = options.find((o) => o.flag === flag);
    if (!opt) throw new ConfigError(`unknown flag ${flag} (see --help)`);
    let value = inline;
    if (value === undefined) {
      const next = argv[i + 1];
      if (opt.bare !== undefined && (next === undefined || next.startsWith('--'))) value = opt.bare;
      else value = argv[++i];
    }
    if (value === undefined) throw new ConfigError(`flag ${flag} needs a value`);
    raw.set(opt.key, { value, source: flag });
  }
  const out: Record<string, unknown> = {};
  for (const o of options) {
    const r = raw.get(o.key) ?? (o.default !== undefined ? { value: o.default, source: 'default' } : undefined);
    if (!r) continue;
    const parsed = o.parse(r.value);
    if (parsed && typeof parsed === 'object' && 'error' in parsed) {
      throw new ConfigError(`${r.source === 'default' ? o.flag : r.source}: ${(parsed as { error: string }).error}`);
    }
    out[o.key] = parsed;
  }
  return { help: false, config: out as T };
}

export function helpText(usage: string, options: readonly OptionSpec[]): string {
  const lines = options.map((o) => `  ${o.flag.padEnd(20)} ${o.env.join(', ').padEnd(34)} ${o.help}${o.default ? ` (default ${o.default})` : ''}`);
  return [`Usage: ${usage}`, '', 'Flags and environment variables:', ...lines].join('\n');
}

/** `key=value` pairs for the start-up log, secrets masked. */
export function describeOptions(options: readonly OptionSpec[], config: Record<string, unknown>): string {
  return options
    .map((o) => {
      const v = config[o.key];
      if (v === undefined) return `${o.key}=(unset)`;
      return `${o.key}=${o.secret ? maskSecret(String(v)) : String(v)}`;
    })
    .join(' ');
}

/** The configuration as an object, secrets masked. */
export function maskedOptions(options: readonly OptionSpec[], config: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(options.map((o) => [o.key, o.secret && config[o.key] !== undefined ? maskSecret(String(config[o.key])) : (config[o.key] ?? null)]));
}

/** URL passwords become `****`; any other secret is masked whole. */
export function maskSecret(value: string): string {
  try {
    const u = new URL(value);
    if (u.password) {
      u.password = '****';
      return u.toString();
    }
  } catch {
    /* not a URL */
  }
  return '****';
}

/** `https://a.example, http://localhost:5681` -> its origins; each must be scheme://host[:port] (or `*`). */
export function originList(v: string): readonly string[] | { error: string } {
  const out: string[] = [];
  for (const o of v.split(',').map((x) => x.trim()).filter(Boolean)) {
    if (o === '*') {
      out.push(o);
      continue;
    }
    let origin: string | undefined;
    try {
      origin = new URL(o).origin;
    } catch {
      /* not a URL */
    }
    if (!origin || origin === 'null' || origin !== o.replace(/\/$/, '')) return bad(`${JSON.stringify(o)} is not an origin (scheme://host[:port], no path)`);
    out.push(origin);
  }
  return out;
}
