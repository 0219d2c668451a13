/**
 * The messages between the main process and its xDS serving processes (`children.ts` ⇄ `child.ts`), over the
 * child_process IPC channel with `serialization: 'advanced'` (Buffers travel as bytes).
 */
import type { Node } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import type { StreamContext, Variant } from '../stream.js';
import type { MirrorBatch } from './mirror.js';

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

/** `[kind, nodeId, streamId, variant, typeUrl, nonce, version, message]` (the last three for ACK/NACK). */
export type StreamEvent = readonly ['response' | 'ack' | 'nack', string, string, Variant, string, string?, string?, string?];

export type FromChild =
  | { t: 'ready' }
  | { t: 'open'; req: number; node: Node | undefined; variant: Variant; ctx: StreamContext }
  | { t: 'close-stream'; id: string; ctx: StreamContext }
  /** Responses, ACKs and NACKs since the last batch, in order. */
  | { t: 'events'; events: StreamEvent[] }
  | { t: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; message: string }
  | { t: 'closed' };
