/**
 * The ADS gRPC server: `envoy.service.discovery.v3.AggregatedDiscoveryService` on a grpc-js `Server`, both
 * RPCs (`StreamAggregatedResources`, `DeltaAggregatedResources`), each stream handed to its protocol
 * server (`server-sotw.ts`, `server-delta.ts`). This file only wires transport to protocol.
 *
 * Flow control: a stream has at most one response in flight per type (the next one waits for the ACK), so
 * what `write` buffers stays bounded; reads never wait on writes.
 */
import { Server, ServerCredentials, status, type ServerDuplexStream } from '@grpc/grpc-js';
import {
  AggregatedDiscoveryServiceService,
  type DeltaDiscoveryRequest,
  type DeltaDiscoveryResponse,
  type DiscoveryRequest,
  type DiscoveryResponse,
} from '../../../proto/src/xds-types.js';
import type { SnapshotCache } from './cache.js';
import { DeltaStream } from './server-delta.js';
import { SotwStream } from './server-sotw.js';
import type { StreamBase, StreamOptions, StreamOut, XdsCallbacks } from './stream.js';

export interface AdsServerOptions extends StreamOptions {
  readonly host: string;
  /** 0: any free port. */
  readonly port: number;
  readonly cache: SnapshotCache;
  readonly callbacks: XdsCallbacks;
  /** Largest request accepted (default 4 MiB, gRPC's default). */
  readonly maxReceiveBytes?: number;
}

export interface AdsServer {
  readonly port: number;
  /** Open streams. */
  streams(): number;
  /** Ends every stream (UNAVAILABLE, so clients reconnect elsewhere) and stops listening. */
  close(): Promise<void>;
}

export async function startAdsServer(opts: AdsServerOptions): Promise<AdsServer> {
  const server = new Server({
    'grpc.max_receive_message_length': opts.maxReceiveBytes ?? 4 * 1024 * 1024,
    // Streams live long; let dead peers go.
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
  });
  const open = new Set<{ readonly close: () => void; readonly fail: (code: status, message: string) => void }>();

  const serve = <Req, Res>(call: ServerDuplexStream<Req, Res>, make: (out: StreamOut<Res>) => StreamBase<Req & { typeUrl: string }, Res>) => {
    let ended = false;
    const out: StreamOut<Res> = {
      send: (res) => {
        if (!ended) call.write(res);
      },
      fail: (code, message) => {
        if (ended) return;
        ended = true;
        call.emit('error', { code, details: message });
      },
    };
    const stream = make(out);
    const entry = { close: () => stream.close(), fail: out.fail };
    open.add(entry);
    const done = () => {
      open.delete(entry);
      stream.close();
    };
    call.on('data', (req: Req & { typeUrl: string }) => stream.receive(req));
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

  server.addService(AggregatedDiscoveryServiceService, {
    streamAggregatedResources: (call: ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>) =>
      serve(call, (out) => new SotwStream(opts.cache, opts.callbacks, out, opts)),
    deltaAggregatedResources: (call: ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>) =>
      serve(call, (out) => new DeltaStream(opts.cache, opts.callbacks, out, opts)),
  });

  const address = opts.host.includes(':') && !opts.host.startsWith('[') ? `[${opts.host}]:${opts.port}` : `${opts.host}:${opts.port}`;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  ).catch((err: unknown) => {
    server.forceShutdown();
    throw err;
  });

  return {
    port,
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
