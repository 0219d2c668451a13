/**
 * A policy conf as Kuma's inspect endpoints show it: Kuma decodes each stored spec into its Go types, so its
 * answers carry the schema defaults Go fills in (a Zipkin backend's `traceId128bit`, `apiVersion`,
 * `sharedSpanContext`; an access-log format's `omitEmptyValues`; a route backend's `weight`) and durations printed by Go's
 * `time.Duration.String` (`60s` → `1m0s`). Ursa stores specs as sent; this reads them Kuma's way.
 */
import { isRecord } from '@ursa/proto';

/** Keys whose string values are Go durations in Kuma's policy types. */
const DURATION_KEY = /(timeout|duration|interval|period|ttl|delay)$/i;
const DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;
const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's `time.Duration.String` of a duration text; the text unchanged when it is not one. */
export function goDuration(text: string): string {
  if (!DURATION.test(text)) return text;
  let ns = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ns += Number(m[1]) * UNIT_NS[m[2]!]!;
  ns = Math.round(ns);
  if (ns === 0) return '0s';
  if (ns < 1e9) {
    const [unit, size] = ns < 1e3 ? ['ns', 1] : ns < 1e6 ? ['µs', 1e3] : ['ms', 1e6];
    return `${trim(ns / (size as number))}${unit}`;
  }
  const h = Math.floor(ns / 3600e9);
  const m = Math.floor((ns % 3600e9) / 60e9);
  const s = (ns % 60e9) / 1e9;
  return `${h > 0 ? `${h}h` : ''}${h > 0 || m > 0 ? `${m}m` : ''}${trim(s)}s`;
}
const trim = (n: number) => String(Number(n.toFixed(9)));

function walk(v: unknown, key: string, kind: string): unknown {
  if (Array.isArray(v)) return v.map((x) => walk(x, key, kind));
  if (typeof v === 'string') return DURATION_KEY.test(key) ? goDuration(v) : v;
  if (!isRecord(v)) return v;
  const out: Record<string, unknown> = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k, kind)]));
  if (kind === 'MeshTrace' && key === 'zipkin') return { traceId128bit: false, apiVersion: 'httpJson', sharedSpanContext: true, ...out };
  if ((kind === 'MeshHTTPRoute' || kind === 'MeshTCPRoute') && key === 'backendRefs') return { weight: 1, ...out };
  if (kind === 'MeshAccessLog' && key === 'format') return { omitEmptyValues: false, ...out };
  return out;
}

/** `conf` of a policy of `kind`, as Kuma's inspect answers show it (a copy). */
export const kumaConf = (kind: string, conf: unknown): unknown => walk(conf, '', kind);
