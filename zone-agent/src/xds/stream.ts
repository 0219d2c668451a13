/**
 * What the two ADS stream servers (`server-sotw.ts`, `server-delta.ts`) share: admitting the node on the
 * first request, handling requests one at a time in arrival order, nonces, and closing.
 *
 * A stream server owns the protocol state (nonces, ACK/NACK, subscriptions) and never builds resources:
 * those come from the `SnapshotCache`. It talks to the transport through `StreamOut`, so it can be driven
 * by gRPC (`grpc.ts`) or by a test.
 */
import { status } from '@grpc/grpc-js';
import type { Node } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, CLUSTER_TYPE_URL, LISTENER_TYPE_URL, ROUTE_CONFIGURATION_TYPE_URL, SECRET_TYPE_URL } from '@ursa/proto/xds';
import type { Cancel, SnapshotCache } from './cache.js';
import type { EncodedResponse } from './encoded.js';
import { quote, XDS_LIMITS } from './limits.js';
import { asUnavailable, type Logger } from '@ursa/core';

/**
 * Type URLs this control plane serves. A request for any other type ends the stream with
 * INVALID_ARGUMENT naming it: a client asking for a type nobody will ever send would otherwise wait for
 * it forever (Envoy warms a listener until its RDS arrives, a gRPC client fails its RPCs after 15 s).
 */
export const SERVED_TYPE_URLS: ReadonlySet<string> = new Set([CLUSTER_TYPE_URL, CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, LISTENER_TYPE_URL, ROUTE_CONFIGURATION_TYPE_URL, SECRET_TYPE_URL]);

/** Ends a stream with a gRPC status (NOT_FOUND for an unknown node, INVALID_ARGUMENT for a bad request...). */
export class XdsStreamError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
    this.name = 'XdsStreamError';
  }
}

export type Variant = 'sotw' | 'delta';

/** What the transport knows about a stream before its first request: who is calling and how. */
export interface StreamContext {
  /** Unique per stream in this process (a node may hold several streams; each is its own subscription). */
  readonly streamId: string;
  /** The `authorization` call metadata (kuma-dp sends `Bearer <dataplane token>`), if any. */
  readonly authorization?: string;
  /** The peer address, for logs. */
  readonly peer?: string;
}

export interface ResponseEvent {
  readonly nodeId: string;
  readonly streamId: string;
  readonly variant: Variant;
  readonly typeUrl: string;
}

export interface AckEvent {
  readonly nodeId: string;
  readonly streamId: string;
  readonly variant: Variant;
  readonly typeUrl: string;
  readonly nonce: string;
  /** SotW: the version acknowledged (ACK) or the last good one (NACK). Delta: empty. */
  readonly version: string;
}

export interface NackEvent extends AckEvent {
  /** The client's `error_detail.message`. */
  readonly message: string;
}

export interface XdsCallbacks {
  /**
   * Admits the node of a new stream (its first request, the only one sure to carry `node`) and returns the
   * id the cache knows it by. Throws `XdsStreamError` to refuse the stream.
   */
  openStream(node: Node | undefined, variant: Variant, ctx: StreamContext): Promise<string>;
  /** The stream of an admitted node ended (each successful `openStream` gets exactly one). */
  closeStream(nodeId: string, ctx: StreamContext): void;
  /** A response went out (counted per type in the DataplaneInsight). */
  onResponse?(event: ResponseEvent): void;
  onAck?(event: AckEvent): void;
  onNack?(event: NackEvent): void;
}

export interface StreamOut<Res> {
  /** A response; the stream servers send them encoded (`encoded.ts`), shared between streams. */
  send(res: Res | EncodedResponse): void;
  /** Ends the stream with a non-OK status. */
  fail(code: status, message: string): void;
}

export interface StreamOptions {
  /** `control_plane.identifier` in responses. */
  readonly identifier?: string;
  /** Type URLs a request may name (default `SERVED_TYPE_URLS`). */
  readonly servedTypes?: ReadonlySet<string>;
  /** How long a new stream may stay silent before its first request (default `XDS_LIMITS.firstRequestMs`). */
  readonly firstRequestMs?: number;
  readonly log?: Logger;
}

/** Per-stream counters, for tests and status. */
export interface StreamStats {
  responses: number;
  acks: number;
  nacks: number;
  staleNonces: number;
}

export abstract class StreamBase<Req extends { readonly node?: Node | undefined; readonly typeUrl: string }, Res> {
  /** Set once the node is admitted. */
  protected nodeId: string | undefined;
  protected readonly watches = new Map<string, Cancel>();
  readonly stats: StreamStats = { responses: 0, acks: 0, nacks: 0, staleNonces: 0 };
  private queue: Promise<void> = Promise.resolve();
  /** Requests received and not yet handled. */
  private queued = 0;
  private closed = false;
  private nonceSeq = 0;

  constructor(
    protected readonly cache: SnapshotCache,
    protected readonly callbacks: XdsCallbacks,
    protected readonly out: StreamOut<Res>,
    protected readonly opts: StreamOptions,
    private readonly variant: Variant,
    protected readonly ctx: StreamContext,
  ) {
    // Envoy, kuma-dp and gRPC clients send their first request at once; a stream that never does would
    // hold a slot and its HTTP/2 state for as long as the connection lives.
    const ms = opts.firstRequestMs ?? XDS_LIMITS.firstRequestMs;
    this.silence = setTimeout(() => this.failWith(new XdsStreamError(status.DEADLINE_EXCEEDED, `xds: no ${this.requestType} within ${ms} ms of opening the stream`)), ms);
    this.silence.unref?.();
  }

  /** Ends a stream whose first request does not come (cleared by the first request or the end). */
  private silence: ReturnType<typeof setTimeout> | undefined;

  /**
   * Queues a request; requests are handled one at a time, in order. A request over a bound (`limits.ts`)
   * ends the stream at once, without waiting for the requests before it (admission may be reading a token).
   */
  receive(req: Req): void {
    if (this.closed) return;
    clearTimeout(this.silence);
    const problem = this.check(req);
    if (problem !== undefined) return this.failWith(new XdsStreamError(status.INVALID_ARGUMENT, `xds: invalid ${this.requestType}: ${problem}`));
    if (++this.queued > XDS_LIMITS.queuedRequests) {
      return this.failWith(new XdsStreamError(status.RESOURCE_EXHAUSTED, `xds: more than ${XDS_LIMITS.queuedRequests} requests waiting on this stream: wait for responses before sending more`));
    }
    this.queue = this.queue
      .then(() => {
        this.queued--;
        return this.step(req);
      })
      .catch((err: unknown) => this.failWith(err));
  }

  /** The stream ended (client gone, server stopping): cancels watches and releases the node. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.silence);
    for (const cancel of this.watches.values()) cancel();
    this.watches.clear();
    if (this.nodeId !== undefined) this.callbacks.closeStream(this.nodeId, this.ctx);
  }

  /** Ends the stream with a status (a request the transport could not even decode, say). */
  reject(code: status, message: string): void {
    this.queue = this.queue.then(() => this.failWith(new XdsStreamError(code, message)));
  }

  protected abstract process(req: Req, nodeId: string): void;

  /** What is wrong with a request's fields (`limits.ts`), if anything; checked before it is queued. */
  protected abstract check(req: Req): string | undefined;

  private get requestType(): string {
    return this.variant === 'sotw' ? 'DiscoveryRequest' : 'DeltaDiscoveryRequest';
  }

  /** Counts a response for the node's insight; call once per response sent. */
  protected responded(typeUrl: string): void {
    this.stats.responses++;
    if (this.nodeId !== undefined) this.callbacks.onResponse?.({ nodeId: this.nodeId, streamId: this.ctx.streamId, variant: this.variant, typeUrl });
  }

  protected nextNonce(): string {
    return String(++this.nonceSeq);
  }

  /** Replaces the open watch of a type (cancelling the previous one); `open` may answer synchronously. */
  protected rewatch(typeUrl: string, open: (answered: () => void) => Cancel): void {
    this.watches.get(typeUrl)?.();
    this.watches.delete(typeUrl);
    let done = false;
    const cancel = open(() => {
      done = true;
      this.watches.delete(typeUrl);
    });
    if (!done) this.watches.set(typeUrl, cancel);
  }

  protected get isClosed(): boolean {
    return this.closed;
  }

  private async step(req: Req): Promise<void> {
    if (this.closed) return;
    if (this.nodeId === undefined) {
      const id = await this.callbacks.openStream(req.node, this.variant, this.ctx);
      if (this.closed) {
        this.callbacks.closeStream(id, this.ctx);
        return;
      }
      this.nodeId = id;
    }
    if (!req.typeUrl) throw new XdsStreamError(status.INVALID_ARGUMENT, 'type_url is required on every request of an aggregated (ADS) stream');
    const served = this.opts.servedTypes ?? SERVED_TYPE_URLS;
    if (!served.has(req.typeUrl)) {
      throw new XdsStreamError(status.INVALID_ARGUMENT, `type_url ${quote(req.typeUrl)} is not served by this control plane (it serves ${[...served].join(', ')})`);
    }
    this.process(req, this.nodeId);
  }

  /**
   * The status for an error that is not the client's: its text (a database error, a stack) stays in the log
   * and the proxy gets a status it can act on. A lost database is UNAVAILABLE (Envoy retries the stream).
   */
  private unexpected(err: unknown): XdsStreamError {
    if (asUnavailable(err)) return new XdsStreamError(status.UNAVAILABLE, 'xds: the zone control plane cannot read its state right now; retry');
    return new XdsStreamError(status.INTERNAL, `xds: internal error on stream ${this.ctx.streamId}; the zone agent's log has the details`);
  }

  private failWith(err: unknown): void {
    if (this.closed) return;
    const e = err instanceof XdsStreamError ? err : this.unexpected(err);
    if (!(err instanceof XdsStreamError)) this.opts.log?.warn(`stream ${this.ctx.streamId} of ${this.nodeId ?? 'an unadmitted node'} failed: ${err instanceof Error ? err.message : String(err)}`);
    this.out.fail(e.code, e.message);
    this.close();
  }
}
