/**
 * One change, packed and encoded once for every session that sends it. When a change wakes 10,000 sessions
 * of a tenant, they all read the same page of the shared feed (`FeedCache`: the same Change objects) from the
 * same cursor, and nearly all of them decide the same about each change (sent, or a removal: `visibleTo`).
 * Those sessions share one packing of the page: the wire resources, the frames and each frame's protobuf
 * bytes without its `seq`, the one field that differs per session. A session's frame is then its `seq`
 * written in front of the shared bytes (`deltaFrameBytes`), which is exactly what `encodeFrame` gives.
 *
 * Pages are remembered per first Change object, so pages of another feed (another store, a database read
 * of a cursor the cache no longer holds) never share; the key names every change's revision and decision,
 * so two pages share only when they are the same frames.
 */
import { Delta } from '@ursa/proto/gen/kds.js';
import { encodeFrame } from '@ursa/core';

/** A frame of a shared page: the Delta without `seq`, and its encoding. */
export interface SharedFrame {
  readonly delta: Omit<Delta, 'seq'>;
  readonly body: Uint8Array;
}

export interface SharedPage {
  readonly frames: readonly SharedFrame[];
  /** The revision of the last change packed. */
  readonly consumed: number;
  /** The batch was full before the page ended: the next batch continues after `consumed`. */
  readonly cut: boolean;
  /** Upserts sent per kind (the session's counters). */
  readonly sentByKind: ReadonlyMap<string, number>;
}

/** Packings of the pages starting at a Change, by page key; a change has only a few (cursors, decisions). */
const pages = new WeakMap<object, Map<string, SharedPage>>();
/** Packings kept per first change: enough for the cursors sessions are at, bounded for a pathological mix. */
const MAX_PER_CHANGE = 16;

export function sharedPage(first: object, key: string, pack: () => SharedPage): SharedPage {
  let byKey = pages.get(first);
  if (!byKey) pages.set(first, (byKey = new Map()));
  let page = byKey.get(key);
  if (!page) {
    page = pack();
    if (byKey.size >= MAX_PER_CHANGE) byKey.delete(byKey.keys().next().value!);
    byKey.set(key, page);
  }
  return page;
}

/**
 * Where a Delta handed to a session (`withSeq`) keeps its shared bytes: a symbol, which protobuf encoders
 * and JSON ignore (a WeakMap entry per session per change would be 10,000 ephemerons for the GC).
 */
const BODY = Symbol('shared delta body');
type SharedDelta = Delta & { [BODY]?: Uint8Array };

/** The encoding of `d` without `seq` (the shared part of its frame). */
export function encodeBody(d: Omit<Delta, 'seq'>): Uint8Array {
  return Delta.encode({ ...d, seq: 0 }).finish();
}

/** A session's Delta of a shared frame; its frame bytes are the shared ones plus `seq`. */
export function withSeq(frame: SharedFrame, seq: number): Delta {
  const d: SharedDelta = { seq, ...frame.delta, [BODY]: frame.body };
  return d;
}

/** The bytes of Frame{delta: d}: the shared body behind its `seq` when `d` came from `withSeq`, else encoded. */
export function deltaFrameBytes(d: Delta): Uint8Array {
  const body = (d as SharedDelta)[BODY];
  if (!body || d.seq < 1 || !Number.isSafeInteger(d.seq)) return encodeFrame({ body: { $case: 'delta', value: d } });
  // Frame field 3 (delta, length-delimited) holding Delta field 1 (seq, varint) and then the shared fields,
  // in field order as protobuf encoders write them.
  const seqLen = varintLength(d.seq);
  const inner = 1 + seqLen + body.byteLength;
  const out = new Uint8Array(1 + varintLength(inner) + inner);
  out[0] = 0x1a;
  let pos = writeVarint(out, 1, inner);
  out[pos++] = 0x08;
  pos = writeVarint(out, pos, d.seq);
  out.set(body, pos);
  return out;
}

function varintLength(n: number): number {
  let len = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

function writeVarint(out: Uint8Array, pos: number, n: number): number {
  while (n >= 128) {
    out[pos++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  out[pos++] = n;
  return pos;
}
