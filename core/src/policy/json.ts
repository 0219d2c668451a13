/**
 * JSON helpers and RFC 7396 merge (`kuma-multizone.md` §9.4) for policy `default` blocks: free-form JSON as
 * far as the engine is concerned (each kind's schema checked it; merging does not depend on its shape).
 */
import { isRecord } from '@ursa/proto';

/** A deep copy of JSON data (policy specs are plain JSON). */
export const clone = <T>(v: T): T => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T));

/**
 * JSON Merge Patch (RFC 7396) of `patch` onto `target`: objects merge key by key, `null` deletes, anything
 * else (lists included) replaces. Kuma's exception: fields named `append…` are concatenated instead.
 * Inputs are never modified; the result shares untouched subtrees with them, so treat it as read-only.
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return patch;
  const out: Record<string, unknown> = isRecord(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (k.startsWith('append') && Array.isArray(v)) out[k] = [...(Array.isArray(out[k]) ? (out[k] as unknown[]) : []), ...v];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Fold `confs` (lowest precedence first) with `mergePatch`; `undefined` for none. Read-only result. */
export function mergeAll<T>(confs: readonly unknown[]): T | undefined {
  if (confs.length === 0) return undefined;
  let acc: unknown = mergePatch(undefined, confs[0]);
  for (const c of confs.slice(1)) acc = mergePatch(acc, c);
  return acc as T;
}

/** Canonical JSON (sorted keys): equal data gives equal text, for keys such as MeshHTTPRoute `matches`. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (isRecord(v)) {
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}
