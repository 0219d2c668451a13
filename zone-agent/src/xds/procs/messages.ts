/**
 * The messages between the main process and its xDS serving processes (`children.ts` ⇄ `child.ts`), over the
 * child_process IPC channel with `serialization: 'advanced'` (Buffers travel as bytes).
 */
import type { Node } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import type { StreamContext, Variant } from '../stream.js';
import type { MirrorBatch } from './mirror.js';
import { PUSH_ORDER } from '../snapshot.js';

export type ToChild =
  /** First message: what the child serves with. */
  | { t: 'start'; certPem: string; keyPem: string; bootstrapPath: string; identifier: string; sendBudgetBytes?: number }
  /** A connection (its socket travels as the message's handle), with the bytes the main process read from it. */
  | { t: 'conn'; peeked: Buffer; kind: 'tls' | 'h2' }
  | { t: 'mirror'; batch: MirrorBatch }
  /** The answer to an `open`: the node id, or the status the stream ends with. */
  | { t: 'opened'; req: number; id: string }
  | { t: 'refused'; req: number; code: number; message: string }
  /** Ends every stream and exits. */
  | { t: 'close' };

/** The type URLs counted by index in `events` (what the stream servers serve). */
export const COUNTED_TYPES: readonly string[] = PUSH_ORDER;

/** A NACK, with what the insight and log need: `[streamId, typeUrl, nonce, version, message]`. */
export type NackEvent = readonly [string, string, string, string, string];

export type FromChild =
  | { t: 'ready' }
  | { t: 'open'; req: number; node: Node | undefined; variant: Variant; ctx: StreamContext }
  | { t: 'close-stream'; id: string; ctx: StreamContext }
  /**
   * Since the last batch: responses and ACKs counted per stream and type, `[streamId, type index in
   * COUNTED_TYPES, responses, acks]` repeated (numbers: a fan-out's 2,000 responses and their 2,000 ACKs cost
   * the main process one small array, not 4,000 objects to decode), and the NACKs one by one.
   */
  | { t: 'events'; counts: Uint32Array; nacks: NackEvent[] }
  | { t: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; message: string }
  | { t: 'closed' };
