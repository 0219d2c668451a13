/**
 * What Kuma's token endpoints (`POST /tokens/zone`, `POST /tokens/dataplane`) take and give, shared by the
 * global and the zone agent: `validFor` as a Go duration (what kumactl and Kuma's docs send), and the token
 * itself as a `text/plain` 200 body (what kumactl reads: it fails on any other status). Ursa's JSON answer
 * (token id, expiry) stays available to clients that ask for it with `Accept: application/json`.
 */
import type { Context } from 'hono';

const UNIT_SECONDS: Record<string, number> = { ns: 1e-9, us: 1e-6, 'µs': 1e-6, 'μs': 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
const GO_DURATION = /^[+-]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+$/;

/**
 * Go's `time.ParseDuration` ("24h", "1h30m", "1.5h", "300ms", "720h"), in seconds; a number is taken as
 * whole seconds (Ursa's extension). Undefined when it is neither. Sub-second remainders are dropped.
 */
export function parseGoDuration(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) ? v : undefined;
  if (typeof v !== 'string') return undefined;
  if (v === '0') return 0; // Go accepts a bare zero
  if (!GO_DURATION.test(v)) return undefined;
  let total = 0;
  for (const [, n, , , u] of v.matchAll(/(\d+(\.\d*)?|\.\d+)()(ns|us|µs|μs|ms|s|m|h)/g)) total += Number(n) * UNIT_SECONDS[u!]!;
  return Math.floor(v.startsWith('-') ? -total : total);
}

/**
 * The reason for a bad `validFor`, phrased as Kuma's (`is invalid: time: invalid duration "x"`) plus the
 * range Ursa allows; undefined when `seconds` is fine.
 */
export function validForProblem(raw: unknown, seconds: number | undefined, maxSeconds: number): string | undefined {
  if (seconds === undefined) {
    const shown = typeof raw === 'string' ? JSON.stringify(raw) : String(JSON.stringify(raw) ?? raw);
    return `is invalid: time: invalid duration ${shown} (a Go duration such as "24h", "30m" or "1h30m", or whole seconds)`;
  }
  if (seconds <= 0 || seconds > maxSeconds) return `must be between 1s and ${maxSeconds / 3600}h`;
  return undefined;
}

/**
 * True when the client asked for JSON rather than the plain-text token: its `Accept` names
 * `application/json` and not `text/plain` (kumactl and curl send none or `*\/*`; axios sends both, and
 * gets Kuma's plain text).
 */
export function wantsJson(c: Context): boolean {
  const accept = (c.req.header('accept') ?? '').toLowerCase();
  return accept.includes('application/json') && !accept.includes('text/plain');
}

/** Kuma's answer: the token alone, `text/plain`, 200. */
export function plainToken(c: Context, token: string): Response {
  return c.body(token, 200, { 'content-type': 'text/plain; charset=utf-8' });
}
