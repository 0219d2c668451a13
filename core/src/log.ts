/**
 * Logs as kuma-cp writes them (zap's console encoder): one line per event, tab-separated
 * `ISO-8601 time  LEVEL  logger.name  message  {json fields}`, so operators who grep or ship Kuma's logs read
 * ours the same way; or, with `--log-format json`, one JSON object per line (`time`, `level`, `logger`, `msg`,
 * then the event's fields) for log shippers. `--log-level` picks the least severe level written (`off` writes
 * nothing). No Node module here: the Worker logs through the same code (its `console` goes to the Workers log).
 */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'off'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['console', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
type EventLevel = Exclude<LogLevel, 'off'>;

export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger for a component: `kds` under `zone-agent` logs as `zone-agent.kds`. */
  child(name: string): Logger;
  /** Whether `level` is written (to skip building expensive messages). */
  enabled(level: EventLevel): boolean;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, off: 4 };

export interface LoggerOptions {
  readonly level: LogLevel;
  readonly name: string;
  /** `console` (kuma-cp's tab-separated lines, the default) or `json` (one object per line). */
  readonly format?: LogFormat;
  /** Where lines go; by default info and debug to `console.log`, warn and error to `console.error`. */
  readonly write?: (level: EventLevel, line: string) => void;
  readonly now?: () => Date;
}

const defaultWrite = (level: EventLevel, line: string) => (level === 'warn' || level === 'error' ? console.error(line) : console.log(line));

export function createLogger(opts: LoggerOptions): Logger {
  const write = opts.write ?? defaultWrite;
  const now = opts.now ?? (() => new Date());
  const min = RANK[opts.level];
  const format = opts.format === 'json' ? formatJsonLine : formatLine;
  const make = (name: string): Logger => {
    const emit = (level: EventLevel) => (message: string, fields?: LogFields) => {
      if (RANK[level] < min) return;
      write(level, format(now(), level, name, message, fields));
    };
    return {
      debug: emit('debug'),
      info: emit('info'),
      warn: emit('warn'),
      error: emit('error'),
      child: (child) => make(name ? `${name}.${child}` : child),
      enabled: (level) => RANK[level] >= min,
    };
  };
  return make(opts.name);
}

/** A logger that writes nothing (tests, libraries used without one). */
export const silentLogger: Logger = createLogger({ level: 'off', name: '' });

export function formatLine(at: Date, level: EventLevel, name: string, message: string, fields?: LogFields): string {
  // One event per line: a message with a newline (a stack, a peer's text) must not forge a second event.
  const parts = [at.toISOString(), level.toUpperCase(), name, message.replace(/[\r\n]+/g, ' ')];
  if (fields && Object.keys(fields).length > 0) parts.push(safeJson(fields));
  return parts.join('\t');
}

/** The keys every JSON line starts with; an event field of the same name is written as `field.<name>`. */
const JSON_KEYS = new Set(['time', 'level', 'logger', 'msg']);

export function formatJsonLine(at: Date, level: EventLevel, name: string, message: string, fields?: LogFields): string {
  const head = { time: at.toISOString(), level, logger: name, msg: message };
  if (!fields) return safeJson(head);
  const rest = Object.fromEntries(Object.entries(fields).map(([k, v]) => [JSON_KEYS.has(k) ? `field.${k}` : k, v]));
  // JSON.stringify escapes newlines inside strings: one event stays one line.
  return safeJson({ ...head, ...rest }, head);
}

function safeJson(fields: LogFields, fallback?: LogFields): string {
  const replacer = (_k: string, v: unknown) => (v instanceof Error ? v.message : typeof v === 'bigint' ? v.toString() : v);
  try {
    return JSON.stringify(fields, replacer);
  } catch {
    return fallback ? JSON.stringify({ ...fallback, fields: 'unserialisable' }) : '{"fields":"unserialisable"}';
  }
}

/** The message of anything thrown, for a log line. */
export const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** A logger that appends each formatted line to `lines` (tests read what an operator would see). */
export const memoryLogger = (lines: string[], level: LogLevel = 'debug'): Logger => createLogger({ level, name: 'test', write: (_level, line) => lines.push(line) });
