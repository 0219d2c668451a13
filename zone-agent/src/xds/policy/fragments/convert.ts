/** Conversions from policy JSON (Go duration text, int-or-string decimals) to protobuf values. */
import { decimalValue, parseDurationMs } from '@ursa/proto';
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
