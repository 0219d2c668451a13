/** Conversions from policy JSON (Go duration text, int-or-string decimals, percentages, bandwidths, addresses) to protobuf values. */
import { decimalValue, parseDurationMs } from '@ursa/proto';
import { FractionalPercent_DenominatorType, type FractionalPercent } from '@ursa/proto/gen/envoy/type/v3/percent.js';
import type { Duration } from '@ursa/proto/gen/google/protobuf/duration.js';

/** "1m30s" → `{seconds: 90, nanos: 0}`; `undefined` for absent or unparsable text (validation rejects those). */
export function duration(text: string | undefined): Duration | undefined {
  if (text === undefined) return undefined;
  const ms = parseDurationMs(text);
  if (ms === undefined) return undefined;
  const totalNanos = Math.round(ms * 1e6);
  return { seconds: Math.floor(totalNanos / 1e9), nanos: totalNanos % 1e9 };
}

/** Kuma int-or-string decimal ("99.9" or 50) → number. */
export function decimal(v: number | string | undefined): number | undefined {
  return v === undefined ? undefined : decimalValue(v);
}

/** Drop `undefined` fields, so a partial message keeps ts-proto defaults for what a policy did not set. */
export function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * A percentage (0-100, Kuma decimal) as Envoy's FractionalPercent, as Kuma's `ConvertPercentage` picks the
 * denominator: whole numbers per hundred, two decimals per ten thousand, anything else per million (the
 * float arithmetic is the same as Go's, so 33.3 comes out per million, like Kuma's goldens).
 */
export function fractionalPercent(v: number | string): FractionalPercent {
  const value = decimal(v) ?? 0;
  if (Math.floor(value) === value) return { numerator: value, denominator: FractionalPercent_DenominatorType.HUNDRED };
  const hundredTimes = 100 * value;
  if (Math.floor(hundredTimes) === hundredTimes) return { numerator: hundredTimes, denominator: FractionalPercent_DenominatorType.TEN_THOUSAND };
  return { numerator: Math.round(10_000 * value), denominator: FractionalPercent_DenominatorType.MILLION };
}

/** "111Mbps" → 111000 (kbps), Kuma's `ConvertBandwidthToKbps`; the schema allows only kbps, Mbps, Gbps. */
export function bandwidthKbps(text: string): number {
  const m = /^(\d*)\s?([GMk]+bps)$/.exec(text);
  if (!m) return 0;
  const factor = m[2] === 'Gbps' ? 1_000_000 : m[2] === 'Mbps' ? 1000 : 1;
  return factor * Number(m[1] || 0);
}

/**
 * `host:port` (an OTLP endpoint, a collector URL's authority) split as Kuma does, with `defaultPort` when
 * it has none. Brackets of an IPv6 literal are dropped.
 */
export function hostPort(text: string, defaultPort: number): { host: string; port: number } {
  const authority = text.replace(/^[A-Za-z][A-Za-z0-9+.-]*:\/\//, '').replace(/[/?#].*$/, '');
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(authority) ?? /^([^:]+)(?::(\d+))?$/.exec(authority);
  if (!m) return { host: authority, port: defaultPort };
  return { host: m[1]!, port: m[2] ? Number(m[2]) : defaultPort };
}
