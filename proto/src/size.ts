/**
 * Sizes of parsed documents, in bytes of their JSON text (UTF-8): what the store keeps (jsonb), what KDS
 * sends (`spec_json`) and what a REST read returns. Measured on the parsed value, never on the text a
 * client sent: YAML aliases make a small text a huge value (one anchor referenced 60 times is stored 60
 * times), and a character count is not a byte count ("€" is 3 bytes).
 */

/**
 * The largest resource (kind, mesh, name, labels and spec as JSON) any boundary accepts: the REST API of
 * both planes, the store's write path, and inventory a zone sends over KDS. It is well below the KDS frame
 * limit (16 MiB, `MAX_FRAME_BYTES` in @ursa/core), so any accepted resource always fits in one KDS frame
 * with room to spare; Kubernetes, where Kuma keeps its resources, stops at about 1.5 MiB per object.
 */
export const MAX_RESOURCE_BYTES = 1024 * 1024;

const utf8 = new TextEncoder();

/**
 * The UTF-8 byte length of `JSON.stringify(value)`, or a number above `budget` as soon as it is certain
 * to exceed it. The work done is bounded by `budget`, not by the size of the value: a value built from
 * shared references (YAML aliases) is abandoned after at most `budget` bytes' worth of walking.
 * Iterative, so deep nesting cannot overflow the stack. Arrays and objects nested more than `maxDepth`
 * levels are counted as empty: callers pass a depth past which the value is refused anyway (validation
 * refuses specs nested deeper than MAX_SPEC_DEPTH, and says so), which also turns a cycle (a YAML alias
 * inside its own anchor) into that precise refusal instead of an endless size.
 */
export function jsonByteLength(value: unknown, budget = Number.MAX_SAFE_INTEGER, maxDepth = Number.MAX_SAFE_INTEGER): number {
  let total = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    total += ownBytes(v, budget - total, depth, maxDepth, stack);
    if (total > budget) return total;
  }
  return total;
}

/**
 * Bytes of `v` itself; for arrays and objects, their brackets, separators and keys, with the children
 * pushed onto `stack` to be measured in turn.
 */
function ownBytes(v: unknown, left: number, depth: number, maxDepth: number, stack: [unknown, number][]): number {
  switch (typeof v) {
    case 'string':
      return stringBytes(v, left);
    case 'number':
      return Number.isFinite(v) ? String(v).length : 4; // JSON.stringify turns NaN and ±Infinity into null
    case 'boolean':
      return v ? 4 : 5;
    case 'bigint':
      return v.toString().length;
    case 'undefined':
    case 'function':
    case 'symbol':
      return 4; // null in an array; never reached for object properties (skipped below)
  }
  if (v === null) return 4;
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return utf8.encode(JSON.stringify(v) ?? 'null').byteLength; // a Date
  if (depth >= maxDepth) return 2;
  if (Array.isArray(v)) {
    // Brackets and commas first: an array of a million empty arrays is over any budget before one is pushed.
    const own = 2 + Math.max(0, v.length - 1);
    if (own > left) return own;
    for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], depth + 1]);
    return own;
  }
  let own = 2;
  let members = 0;
  for (const k in v as object) {
    if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
    const item = (v as Record<string, unknown>)[k];
    if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
    own += stringBytes(k, left - own) + 1 + (members > 0 ? 1 : 0); // "key": and a comma before all but the first
    members += 1;
    if (own > left) return own;
    stack.push([item, depth + 1]);
  }
  return own;
}

/** Bytes of `s` as a JSON string literal (quotes and escapes included), or more than `left` when that is certain. */
function stringBytes(s: string, left: number): number {
  // Every UTF-16 unit is at least one byte: a string longer than the budget is over it without a scan.
  if (s.length + 2 > left) return s.length + 2;
  let n = 2;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += c === 0x22 || c === 0x5c ? 2 : c >= 0x20 ? 1 : c === 0x08 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d ? 2 : 6;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4; // a surrogate pair is one 4-byte character
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) n += 6; // a lone surrogate is escaped (\udXXX)
    else n += 3;
  }
  return n;
}
