/**
 * The ADS gRPC server: `envoy.service.discovery.v3.AggregatedDiscoveryService` on a grpc-js `Server`, both
 * RPCs (`StreamAggregatedResources`, `DeltaAggregatedResources`), each stream handed to its protocol
 * server (`server-sotw.ts`, `server-delta.ts`). This file only wires transport to protocol.
 *
 * Flow control: a stream has at most one response in flight per type (the next one waits for the ACK), so
 * what `write` buffers stays bounded; reads never wait on writes.
 */
import type { Duplex } from 'node:stream';
import { Server, ServerCredentials, status, type ServerDuplexStream } from '@grpc/grpc-js';
import { AggregatedDiscoveryServiceService, type DeltaDiscoveryRequest, type DeltaDiscoveryResponse, type DiscoveryRequest, type DiscoveryResponse } from '@ursa/proto/xds';
import type { SnapshotCache } from './cache.js';
import { EncodedResponse } from './encoded.js';
import { SendBudget } from './send-budget.js';
import { cut, XDS_LIMITS } from './limits.js';
import { DeltaStream } from './server-delta.js';
import { SotwStream } from './server-sotw.js';
import type { StreamBase, StreamContext, StreamOptions, StreamOut, XdsCallbacks } from './stream.js';

/**
 * A request grpc-js could not decode. grpc-js would end such a stream with INTERNAL ("Error deserializing
 * request"), which reads like our bug; we decode ourselves and end it with INVALID_ARGUMENT instead.
 */
class Malformed {
  constructor(readonly message: string) {}
}

/**
 * The ADS service definition with request decoding that never throws (see `Malformed`), and responses
 * that arrive encoded (`encoded.ts`: one encoding shared by every stream with the same answer) written as
 * they are.
 */
const ADS_SERVICE = Object.fromEntries(
  Object.entries(AggregatedDiscoveryServiceService).map(([name, def]) => [
    name,
    {
      ...def,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return def.requestDeserialize(bytes);
        } catch (err) {
          return new Malformed(err instanceof Error ? err.message : String(err));
        }
      },
      responseSerialize: (value: unknown) => (value instanceof EncodedResponse ? value.bytes : (def.responseSerialize as (v: unknown) => Buffer)(value)),
    },
  ]),
) as unknown as typeof AggregatedDiscoveryServiceService;

/**
 * Lets a stream's call write an `EncodedResponse`'s gRPC frame as it is. grpc-js frames every message by
 * copying the serializer's bytes into a new buffer (`serializeMessage`, grpc-js 1.14); a response built in
 * its frame (`withNonce`) skips that copy. Applied to the call object grpc-js gives this stream; where its
 * internals differ (another grpc-js, interceptors), the serializer's bytes are framed by grpc-js as before.
 */
function writeFramesAsTheyAre(call: ServerDuplexStream<unknown, unknown>): void {
  const inner = (call as unknown as { call?: { serializeMessage?: (value: unknown) => Buffer } }).call;
  const original = inner?.serializeMessage;
  if (typeof original !== 'function') return;
  inner!.serializeMessage = (value: unknown) => (value instanceof EncodedResponse ? value.framed : original.call(inner, value));
}

/** Enough for hundreds of whole configurations in flight; bounds what a cold start buffers. */
const SEND_BUDGET_BYTES = 64 * 2 ** 20;

export interface AdsServerOptions extends StreamOptions {
  readonly host: string;
  /** 0: any free port. */
  readonly port: number;
  /**
   * False: listen nowhere; connections arrive through `inject` (the dp-server, `dp-server/listener.ts`,
   * owns the port and hands HTTP/2 connections over, TLS already terminated). Default true.
   */
  readonly bind?: boolean;
  readonly cache: SnapshotCache;
  readonly callbacks: XdsCallbacks;
  /** Response bytes written and not yet flushed, over all streams, before further responses wait (`send-budget.ts`; default 64 MiB). */
  readonly sendBudgetBytes?: number;
  /** Largest request accepted (default `XDS_LIMITS.maxRequestBytes`, 4 MiB, gRPC's default): larger ones end the stream with RESOURCE_EXHAUSTED. */
  readonly maxReceiveBytes?: number;
}

export interface AdsServer {
  /** The bound port (0 when `bind` was false). */
  readonly port: number;
  /** Serves one HTTP/2 connection accepted elsewhere (plaintext, or a TLS socket already decrypted). */
  inject(connection: Duplex): void;
  /** Open streams. */
  streams(): number;
  /** Ends every stream (UNAVAILABLE, so clients reconnect elsewhere) and stops listening. */
  close(): Promise<void>;
}

export async function startAdsServer(opts: AdsServerOptions): Promise<AdsServer> {
  const server = new Server({
    'grpc.max_receive_message_length': opts.maxReceiveBytes ?? XDS_LIMITS.maxRequestBytes,
    // Streams live long; let dead peers go.
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
  });
  const budget = new SendBudget(opts.sendBudgetBytes ?? SEND_BUDGET_BYTES);
  const open = new Set<{ readonly close: () => void; readonly fail: (code: status, message: string) => void }>();
  let streamSeq = 0;

  const serve = <Req, Res>(call: ServerDuplexStream<Req, Res>, requestType: string, make: (out: StreamOut<Res>, ctx: StreamContext) => StreamBase<Req & { typeUrl: string }, Res>) => {
    let ended = false;
    writeFramesAsTheyAre(call as ServerDuplexStream<unknown, unknown>);
    /** Releases of this stream's writes not yet flushed (called when it ends: their bytes never will be). */
    const unflushed = new Set<() => void>();
    const out: StreamOut<Res> = {
      send: (res) => {
        if (ended) return;
        budget.submit(res instanceof EncodedResponse ? res.bytes.length : 0, (flushed) => {
          if (ended) return flushed();
          unflushed.add(flushed);
          call.write(res as Res, () => {
            unflushed.delete(flushed);
            flushed();
          });
        });
      },
      fail: (code, message) => {
        if (ended) return;
        ended = true;
        // The status travels in HTTP/2 trailers: a long one never reaches the client, whose stream then
        // hangs without a status. Messages quote short prefixes already (`limits.ts`); this is the backstop.
        call.emit('error', { code, details: cut(message, XDS_LIMITS.statusMessage) });
      },
    };
    const auth = call.metadata.get('authorization')[0];
    const ctx: StreamContext = { streamId: String(++streamSeq), authorization: typeof auth === 'string' ? auth : auth?.toString('utf8'), peer: call.getPeer() };
    const stream = make(out, ctx);
    const entry = { close: () => stream.close(), fail: out.fail };
    open.add(entry);
    const done = () => {
      for (const release of [...unflushed]) release();
      unflushed.clear();
      open.delete(entry);
      stream.close();
    };
    call.on('data', (req: (Req & { typeUrl: string }) | Malformed) => {
      if (req instanceof Malformed) stream.reject(status.INVALID_ARGUMENT, `xds: a request could not be decoded as a ${requestType}: ${req.message}`);
      else stream.receive(req);
    });
    call.on('end', () => {
      done();
      if (!ended) {
        ended = true;
        call.end();
      }
    });
    call.on('cancelled', done);
    call.on('close', done);
    call.on('error', done);
  };

  server.addService(ADS_SERVICE, {
    streamAggregatedResources: (call: ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>) =>
      serve(call, 'DiscoveryRequest', (out, ctx) => new SotwStream(opts.cache, opts.callbacks, out, opts, ctx)),
    deltaAggregatedResources: (call: ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>) =>
      serve(call, 'DeltaDiscoveryRequest', (out, ctx) => new DeltaStream(opts.cache, opts.callbacks, out, opts, ctx)),
  });

  // Injected connections are decrypted already (or plaintext): grpc-js serves them as insecure HTTP/2.
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  const address = opts.host.includes(':') && !opts.host.startsWith('[') ? `[${opts.host}]:${opts.port}` : `${opts.host}:${opts.port}`;
  const port =
    opts.bind === false
      ? 0
      : await new Promise<number>((resolve, reject) =>
          server.bindAsync(address, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
        ).catch((err: unknown) => {
          server.forceShutdown();
          throw err;
        });

  return {
    port,
    inject: (connection) => injector.injectConnection(connection),
    streams: () => open.size,
    close: async () => {
      for (const { close, fail } of [...open]) {
        fail(status.UNAVAILABLE, 'xds: the control plane is shutting down');
        close();
      }
      open.clear();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
