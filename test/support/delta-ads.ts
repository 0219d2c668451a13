/**
 * A scripted incremental (delta) ADS client that introduces itself as Envoy does: ACKs everything and keeps
 * the latest version of every resource per type.
 */
import * as grpc from '@grpc/grpc-js';
import type { Node } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import { type AggregatedDiscoveryServiceClient, DeltaDiscoveryRequest, type DeltaDiscoveryResponse } from '@ursa/proto/xds';

export class DeltaClient {
  readonly resources = new Map<string, Map<string, { version: string; value: Buffer }>>();
  error: grpc.ServiceError | undefined;
  /** Responses received so far (a proxy the server should leave alone must see this stay put). */
  responses = 0;
  /** What each response carried, in order: a failing absence check names what arrived. */
  readonly log: { typeUrl: string; names: string[]; removed: string[] }[] = [];
  private readonly stream: grpc.ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;
  /** Only the first request of a stream carries the node. */
  private started = false;

  constructor(
    client: AggregatedDiscoveryServiceClient,
    private readonly node: Node,
    token: string,
  ) {
    const meta = new grpc.Metadata();
    meta.set('authorization', `Bearer ${token}`);
    this.stream = client.deltaAggregatedResources(meta);
    this.stream.on('error', (e: grpc.ServiceError) => (this.error = e));
    this.stream.on('data', (r: DeltaDiscoveryResponse) => {
      this.responses++;
      this.log.push({ typeUrl: r.typeUrl, names: r.resources.map((x) => x.name), removed: r.removedResources });
      let m = this.resources.get(r.typeUrl);
      if (!m) this.resources.set(r.typeUrl, (m = new Map()));
      for (const x of r.resources) m.set(x.name, { version: x.version, value: Buffer.from(x.resource!.value) });
      for (const name of r.removedResources) m.delete(name);
      this.stream.write(DeltaDiscoveryRequest.fromPartial({ typeUrl: r.typeUrl, responseNonce: r.nonce }));
    });
  }

  subscribe(typeUrl: string, names: string[] = []): void {
    const first = !this.started;
    this.started = true;
    this.stream.write(DeltaDiscoveryRequest.fromPartial({ node: first ? this.node : undefined, typeUrl, resourceNamesSubscribe: names }));
  }

  get(typeUrl: string): Map<string, { version: string; value: Buffer }> {
    return this.resources.get(typeUrl) ?? new Map();
  }

  close(): void {
    this.stream.cancel();
  }
}
