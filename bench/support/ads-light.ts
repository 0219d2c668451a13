/**
 * A light ADS client for benchmarks: one stream per simulated proxy on raw grpc-js, behaving as a proxy
 * does on the wire (wildcard subscription to CDS, EDS, LDS and RDS, an ACK echoing version and nonce
 * for every response), but never decoding the resources themselves: responses are scanned for their
 * top-level fields only (type, version, nonce, resource names), so thousands of simulated proxies cost the
 * benchmark process little and the figures measure the control plane.
 *
 * By default EDS is a wildcard subscription too. With `namedEds`, the client does what Envoy does: it reads
 * the EDS service names out of each CDS response (two fields of each Cluster, scanned, not decoded) and asks
 * for exactly those ClusterLoadAssignments by name. RDS stays a wildcard.
 */
import * as grpc from '@grpc/grpc-js';
import { Node } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, CLUSTER_TYPE_URL, DeltaDiscoveryRequest, DiscoveryRequest, LISTENER_TYPE_URL, ROUTE_CONFIGURATION_TYPE_URL } from '@ursa/proto/xds';

export const TYPES = [CLUSTER_TYPE_URL, CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, LISTENER_TYPE_URL, ROUTE_CONFIGURATION_TYPE_URL] as const;

/** The top-level fields of a (Delta)DiscoveryResponse. */
export interface Scanned {
  typeUrl: string;
  version: string;
  nonce: string;
  /** Delta: names of the resources sent; SotW: empty. */
  names: string[];
  resources: number;
  removed: number;
  bytes: number;
  /** The resources' bytes (SotW: Any.value; delta: Resource.resource.value), for spot checks. */
  bodies: Buffer[];
}

/** The ClusterLoadAssignment names EDS clusters ask for: `eds_cluster_config.service_name`, else the name. */
export function edsNames(clusters: readonly Buffer[]): string[] {
  const out: string[] = [];
  for (const c of clusters) {
    let name = '';
    let serviceName: string | undefined;
    fields(c, 0, c.length, (f, s, e) => {
      if (f === 1) name = c.toString('utf8', s, e);
      else if (f === 3) {
        serviceName = '';
        fields(c, s, e, (g, x, y) => {
          if (g === 2) serviceName = c.toString('utf8', x, y);
        });
      }
    });
    if (serviceName !== undefined) out.push(serviceName || name);
  }
  return out.sort();
}

// --- a minimal protobuf wire scanner ----------------------------------------------------------------------

function varint(b: Buffer, pos: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (;;) {
    const byte = b[pos++]!;
    v += (byte & 0x7f) * mul;
    if (byte < 0x80) return [v, pos];
    mul *= 128;
  }
}

/** Calls `f(field, start, end)` for each length-delimited field; skips the others. */
function fields(b: Buffer, start: number, end: number, f: (field: number, s: number, e: number) => void): void {
  let pos = start;
  while (pos < end) {
    const [key, p] = varint(b, pos);
    pos = p;
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 2) {
      const [len, q] = varint(b, pos);
      f(field, q, q + len);
      pos = q + len;
    } else if (wire === 0) pos = varint(b, pos)[1];
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
}

function anyValue(b: Buffer, s: number, e: number): Buffer {
  let out: Buffer = Buffer.alloc(0);
  fields(b, s, e, (f, x, y) => {
    if (f === 2) out = b.subarray(x, y);
  });
  return out;
}

export function scanSotw(b: Buffer): Scanned {
  const r: Scanned = { typeUrl: '', version: '', nonce: '', names: [], resources: 0, removed: 0, bytes: b.length, bodies: [] };
  fields(b, 0, b.length, (f, s, e) => {
    if (f === 1) r.version = b.toString('utf8', s, e);
    else if (f === 2) {
      r.resources++;
      r.bodies.push(anyValue(b, s, e));
    } else if (f === 4) r.typeUrl = b.toString('utf8', s, e);
    else if (f === 5) r.nonce = b.toString('utf8', s, e);
  });
  return r;
}

export function scanDelta(b: Buffer): Scanned {
  const r: Scanned = { typeUrl: '', version: '', nonce: '', names: [], resources: 0, removed: 0, bytes: b.length, bodies: [] };
  fields(b, 0, b.length, (f, s, e) => {
    if (f === 1) r.version = b.toString('utf8', s, e);
    else if (f === 2) {
      r.resources++;
      fields(b, s, e, (g, x, y) => {
        if (g === 3) r.names.push(b.toString('utf8', x, y));
        else if (g === 2) r.bodies.push(anyValue(b, x, y));
      });
    } else if (f === 4) r.typeUrl = b.toString('utf8', s, e);
    else if (f === 5) r.nonce = b.toString('utf8', s, e);
    else if (f === 6) r.removed++;
  });
  return r;
}

export type Variant = 'sotw' | 'delta';

export interface LightProxyOptions {
  readonly client: grpc.Client;
  readonly variant: Variant;
  readonly nodeId: string;
  readonly token: string;
  readonly userAgentName: string;
  /** Subscribe to EDS by the names the clusters give, as Envoy does (default: wildcard). */
  readonly namedEds?: boolean;
  /** Every response, as it arrives (before the ACK is sent). */
  readonly onResponse: (proxy: LightProxy, r: Scanned) => void;
  readonly onEnd: (proxy: LightProxy, err: grpc.ServiceError | undefined) => void;
}

const SOTW_PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';
const DELTA_PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources';

export class LightProxy {
  /** Per type: responses received. */
  readonly received = new Map<string, number>();
  private readonly call: grpc.ClientDuplexStream<Buffer, Buffer>;
  /** Named EDS: the names last asked for (joined), so a CDS update that keeps them asks nothing new. */
  private edsKey: string | undefined;
  private edsVersion = '';
  private edsNonce = '';

  constructor(readonly opts: LightProxyOptions) {
    const meta = new grpc.Metadata();
    meta.set('authorization', `Bearer ${opts.token}`);
    const id = (b: Buffer) => b;
    const scan = opts.variant === 'sotw' ? scanSotw : scanDelta;
    this.call = opts.client.makeBidiStreamRequest(opts.variant === 'sotw' ? SOTW_PATH : DELTA_PATH, id, id, meta);
    this.call.on('data', (b: Buffer) => {
      const r = scan(b);
      this.received.set(r.typeUrl, (this.received.get(r.typeUrl) ?? 0) + 1);
      opts.onResponse(this, r);
      this.ack(r);
      if (opts.namedEds && r.typeUrl === CLUSTER_TYPE_URL) this.askEds(edsNames(r.bodies));
    });
    let ended = false;
    const end = (err: grpc.ServiceError | undefined) => {
      if (ended) return;
      ended = true;
      opts.onEnd(this, err);
    };
    this.call.on('error', end);
    this.call.on('end', () => end(undefined));
    const node = Node.fromPartial({ id: opts.nodeId, userAgentName: opts.userAgentName });
    TYPES.forEach((typeUrl, i) => {
      if (opts.namedEds && typeUrl === CLUSTER_LOAD_ASSIGNMENT_TYPE_URL) return;
      const first = i === 0 ? { node } : {};
      this.write(opts.variant === 'sotw' ? DiscoveryRequest.encode(DiscoveryRequest.fromPartial({ ...first, typeUrl })).finish() : DeltaDiscoveryRequest.encode(DeltaDiscoveryRequest.fromPartial({ ...first, typeUrl })).finish());
    });
  }

  /** Named EDS: how many ClusterLoadAssignments it asked for. */
  get edsNamesAsked(): number {
    return this.edsKey ? this.edsKey.split('\n').length : 0;
  }

  /**
   * Has a response of every type it expects. SotW answers a wildcard even when a type is empty; delta
   * answers only with something to send, so a delta client cannot wait for a type it may never get (RDS
   * when every route is inline): it is configured with clusters, endpoints and listeners.
   */
  get configured(): boolean {
    const expected = this.opts.variant === 'sotw' ? TYPES : TYPES.filter((t) => t !== ROUTE_CONFIGURATION_TYPE_URL);
    return expected.every((t) => (this.received.get(t) ?? 0) > 0);
  }

  close(): void {
    this.call.cancel();
  }

  private askEds(names: string[]): void {
    const key = names.join('\n');
    if (key === this.edsKey || (this.opts.variant === 'delta' && names.length === 0)) return;
    const before = new Set(this.edsKey ? this.edsKey.split('\n') : []);
    this.edsKey = key;
    if (this.opts.variant === 'sotw') {
      this.write(DiscoveryRequest.encode(DiscoveryRequest.fromPartial({ typeUrl: CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, resourceNames: names, versionInfo: this.edsVersion, responseNonce: this.edsNonce })).finish());
    } else {
      const now = new Set(names);
      this.write(
        DeltaDiscoveryRequest.encode(
          DeltaDiscoveryRequest.fromPartial({ typeUrl: CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, resourceNamesSubscribe: names.filter((n) => !before.has(n)), resourceNamesUnsubscribe: [...before].filter((n) => !now.has(n)) }),
        ).finish(),
      );
    }
  }

  private ack(r: Scanned): void {
    if (r.typeUrl === CLUSTER_LOAD_ASSIGNMENT_TYPE_URL) {
      this.edsVersion = r.version;
      this.edsNonce = r.nonce;
    }
    const names = this.opts.namedEds && r.typeUrl === CLUSTER_LOAD_ASSIGNMENT_TYPE_URL && this.edsKey ? this.edsKey.split('\n') : [];
    this.write(
      this.opts.variant === 'sotw'
        ? DiscoveryRequest.encode(DiscoveryRequest.fromPartial({ typeUrl: r.typeUrl, resourceNames: names, versionInfo: r.version, responseNonce: r.nonce })).finish()
        : DeltaDiscoveryRequest.encode(DeltaDiscoveryRequest.fromPartial({ typeUrl: r.typeUrl, responseNonce: r.nonce })).finish(),
    );
  }

  private write(bytes: Uint8Array): void {
    this.call.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }
}
