/**
 * State-of-the-world ADS (`StreamAggregatedResources`), one instance per stream.
 *
 * Per type URL it keeps the subscription, the last nonce and the version last sent:
 * - every response carries a fresh nonce and the version of exactly what it holds (`cache.ts`);
 * - a request whose `response_nonce` is not the last one sent for its type is stale and ignored entirely
 *   (the client will answer the latest response); before any response, any nonce is accepted;
 * - ACK = a request echoing the last nonce without `error_detail`; NACK = one with `error_detail`: it is
 *   recorded and reported, and nothing is resent: the client keeps its last good config, and the next
 *   response goes out only when the config changes again (a fix);
 * - after an ACK or NACK the next watch waits for a version different from the one sent, so an ACK
 *   never triggers a resend; a request that widens the subscription changes the version of what it asks
 *   for, so the newly requested resources are sent at once, even if unchanged;
 * - LDS and CDS responses always carry the full set (absence means deletion); EDS, RDS and SDS responses
 *   carry only the resources that changed since the last response the client holds (absence means nothing
 *   for them), so one endpoint change sends one ClusterLoadAssignment, not all of them; after a NACK or a
 *   change of names the next response is full again;
 * - empty `resource_names` on the first request of a type (or `*`) is a wildcard (Envoy's LDS/CDS); once
 *   explicit names were used, empty means unsubscribed from everything (no watch);
 * - on a new stream, a wildcard request carrying a version the server would send again gets nothing
 *   (it is the same content: versions are content hashes); named subscriptions always get a first response.
 */
import { CLUSTER_TYPE_URL, LISTENER_TYPE_URL, type DiscoveryRequest, type DiscoveryResponse } from '@ursa/proto/xds';
import { namesKey, type SotwWatchResponse } from './cache.js';
import { sharedBody, withNonce } from './encoded.js';
import { shortType, type TypeSet } from './snapshot.js';
import { checkSotwRequest, cut, XDS_LIMITS } from './limits.js';

/** Types whose every SotW response must hold the whole set (xDS: absence from LDS/CDS is deletion). */
const FULL_STATE_TYPES: ReadonlySet<string> = new Set([LISTENER_TYPE_URL, CLUSTER_TYPE_URL]);
import { StreamBase, type StreamContext, type StreamOut, type StreamOptions, type XdsCallbacks } from './stream.js';
import type { SnapshotCache } from './cache.js';

interface TypeState {
  /** `'*'`, or the explicit names. */
  names: ReadonlySet<string> | '*';
  /** Explicit names were used on this stream (an empty list then means "nothing"). */
  explicit: boolean;
  /** Nonce of the last response of this type. */
  nonce: string | undefined;
  /** Version of the last response of this type. */
  sentVersion: string | undefined;
  ackedVersion: string | undefined;
  lastNack: { readonly version: string; readonly nonce: string; readonly message: string } | undefined;
  /** The set of the last response while the client holds it (partial-update types only; see top). */
  base: TypeSet | undefined;
  /** `namesKey(names)` of an explicit subscription, computed when the names change. */
  namesKey: string | undefined;
}

export class SotwStream extends StreamBase<DiscoveryRequest, DiscoveryResponse> {
  private readonly types = new Map<string, TypeState>();

  constructor(cache: SnapshotCache, callbacks: XdsCallbacks, out: StreamOut<DiscoveryResponse>, opts: StreamOptions = {}, ctx: StreamContext = { streamId: 'sotw' }) {
    super(cache, callbacks, out, opts, 'sotw', ctx);
  }

  /** Protocol state of a type, for tests and status. */
  state(typeUrl: string): Readonly<TypeState> | undefined {
    return this.types.get(typeUrl);
  }

  protected check(req: DiscoveryRequest): string | undefined {
    return checkSotwRequest(req);
  }

  protected process(req: DiscoveryRequest, nodeId: string): void {
    const typeUrl = req.typeUrl;
    let st = this.types.get(typeUrl);
    if (!st) {
      st = { names: '*', explicit: false, nonce: undefined, sentVersion: undefined, ackedVersion: undefined, lastNack: undefined, base: undefined, namesKey: undefined };
      this.types.set(typeUrl, st);
    }
    if (st.nonce !== undefined) {
      if (req.responseNonce !== st.nonce) {
        this.stats.staleNonces++;
        return;
      }
      if (req.errorDetail) {
        this.stats.nacks++;
        const message = cut(req.errorDetail.message, XDS_LIMITS.errorMessageKept);
        st.lastNack = { version: req.versionInfo, nonce: req.responseNonce, message };
        // It kept its last good config, not what we sent: the next response must be whole again.
        st.base = undefined;
        this.opts.log?.warn(`${nodeId} rejected ${shortType(typeUrl)} version ${st.sentVersion} (nonce ${req.responseNonce}), keeps ${req.versionInfo || 'nothing'}: ${message}`);
        this.callbacks.onNack?.({ nodeId, streamId: this.ctx.streamId, variant: 'sotw', typeUrl, nonce: req.responseNonce, version: req.versionInfo, message });
      } else {
        this.stats.acks++;
        st.ackedVersion = req.versionInfo;
        this.callbacks.onAck?.({ nodeId, streamId: this.ctx.streamId, variant: 'sotw', typeUrl, nonce: req.responseNonce, version: req.versionInfo });
      }
    }

    const names = req.resourceNames;
    const before = st.names;
    if (names.includes('*') || (names.length === 0 && !st.explicit)) {
      st.names = '*';
    } else {
      st.names = new Set(names);
      st.explicit = true;
    }
    if (!sameNames(before, st.names) || (st.names !== '*' && st.namesKey === undefined)) {
      st.base = undefined;
      st.namesKey = st.names === '*' ? undefined : namesKey(st.names);
    }

    if (st.names !== '*' && st.names.size === 0) {
      this.rewatch(typeUrl, () => () => {});
      return;
    }
    // What the client has: what this stream last sent it; on a new stream, its own word for a wildcard.
    const version = st.sentVersion ?? (st.names === '*' ? req.versionInfo : '');
    const state = st;
    this.rewatch(typeUrl, (answered) =>
      this.cache.createWatch({ nodeId, typeUrl, names: state.names, version, base: state.base, namesKey: state.namesKey }, (res) => {
        answered();
        this.send(state, res);
      }),
    );
  }

  private send(st: TypeState, res: SotwWatchResponse): void {
    if (this.isClosed) return;
    const nonce = this.nextNonce();
    st.nonce = nonce;
    st.sentVersion = res.version;
    st.base = FULL_STATE_TYPES.has(res.typeUrl) ? undefined : res.set;
    this.responded(res.typeUrl);
    // Encoded once per distinct answer and shared by every stream that gets it (`encoded.ts`).
    const body = sharedBody(res.set, { variant: 'sotw', typeUrl: res.typeUrl, version: res.version, resources: res.resources, controlPlane: this.opts.identifier });
    this.out.send(withNonce(body, nonce));
  }
}

function sameNames(a: ReadonlySet<string> | '*', b: ReadonlySet<string> | '*'): boolean {
  if (a === '*' || b === '*') return a === b;
  if (a.size !== b.size) return false;
  for (const n of a) if (!b.has(n)) return false;
  return true;
}
