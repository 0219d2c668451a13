/**
 * How the zone's KDS session reaches the global, whatever carries it. A connection is a duplex of frames with
 * the semantics of the WebSocket stream, which the long-poll adapter reproduces over its requests:
 * - zone -> global: `send` Delta (inventory, one batch in flight), Ack (of a global Delta), Heartbeat;
 * - global -> zone, through the sink, in order: one Welcome first, then Deltas numbered 1, 2, ... (the next
 *   batch only once every Delta delivered so far was acknowledged), Acks of the zone's Deltas (same seq),
 *   Heartbeats, and Error frames;
 * - it ends once, with a reason (`SessionEnded`) or the error that broke it, through `sink.end`.
 * The session loop (`sync-session.ts`) owns everything else: handshake, apply, acks, heartbeats, silence.
 */
import type { Frame, Hello } from '@ursa/proto/gen/kds.js';

/**
 * Why a session ended, as the zone logs it (`session ended: <message>`) and reports it in its next Hello;
 * `code`: the KDS error code when the global ended it with an Error frame.
 */
export class SessionEnded extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** Where a connection delivers what comes from the global. */
export interface FrameSink {
  /** A frame from the global, in order. */
  frame(frame: Frame): void;
  /** The connection ended (only the first call counts): a `SessionEnded`, or the error that ended it. */
  end(err: Error): void;
  /** Bytes that crossed the wire, for the client's status. */
  bytes(direction: 'in' | 'out', n: number): void;
  /**
   * Resolves once the session handled every frame delivered so far (or ended). Request/response transports
   * wait for it before asking for more, as a stream's sender waits for Acks.
   */
  drained(): Promise<void>;
}

export interface KdsConnection {
  /** Zone -> global, in order. Never throws: a failed send ends the connection through the sink. */
  send(frame: Frame): void;
  /** Ends the connection from this side; resolves once its requests have settled. */
  close(reason: string): Promise<void>;
  /**
   * How long the global may stay silent on this connection while the zone waits, when longer than three
   * heartbeats (long-poll: a poll is answered only when its wait ends).
   */
  readonly quietMs?: number;
}

export interface KdsTransport {
  readonly name: 'ws' | 'poll';
  /**
   * Starts connecting at once and says Hello; everything that happens afterwards reaches `sink`. `hello` is
   * called for every Hello sent (long-poll sends one per request, each with the zone's current cursors).
   */
  open(hello: () => Promise<Hello>, sink: FrameSink): KdsConnection;
}
