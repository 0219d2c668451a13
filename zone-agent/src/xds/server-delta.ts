/**
 * Incremental ADS (`DeltaAggregatedResources`), one instance per stream.
 *
 * Per type URL it keeps the subscription and what the client has (`known`: name -> version, `''` for a
 * name it was told does not exist); the cache answers with the difference (`cache.ts` `deltaAnswer`):
 * - the first request of a type may carry `initial_resource_versions` (a reconnect): they seed `known`, so
 *   only what differs is sent; with empty `resource_names_subscribe` it is a wildcard subscription;
 * - `resource_names_subscribe` / `_unsubscribe` (`*` for the wildcard) are honoured on every request, even
 *   one with a stale nonce; unsubscribing a name never subscribed does nothing; unsubscribing a name the
 *   wildcard still covers makes it be sent again, so the client knows to keep it;
 * - a subscribed name that does not exist is answered at once in `removed_resources`; resources that go
 *   away are sent in `removed_resources`;
 * - every response has its own nonce; a request with `error_detail` is a NACK: recorded and reported, the
 *   rejected versions are not resent until they change (the client keeps its last good config);
 * - one response per type in flight: the next watch opens on the client's next request for the type.
 */
import { status } from '@grpc/grpc-js';
import type { DeltaDiscoveryRequest, DeltaDiscoveryResponse } from '@ursa/proto/xds';
import type { DeltaWatchResponse, SnapshotCache } from './cache.js';
import { sharedBody, withNonce } from './encoded.js';
import { KnownVersions } from './known.js';
import type { TypeSet } from './snapshot.js';
import { shortType } from './snapshot.js';
import { checkDeltaRequest, cut, XDS_LIMITS } from './limits.js';
import { StreamBase, XdsStreamError, type StreamContext, type StreamOut, type StreamOptions, type XdsCallbacks } from './stream.js';

interface TypeState {
  wildcard: boolean;
  readonly subscribed: Set<string>;
  readonly known: KnownVersions;
  /** Nonce of the last response of this type. */
  nonce: string | undefined;
  lastNack: { readonly nonce: string; readonly message: string } | undefined;
  /**
   * The set of the last response while the subscription has not changed since: the client then holds
   * exactly it (of the names it wants), which lets the cache look only at what changed (`cache.ts`).
   */
  base: TypeSet | undefined;
}

export class DeltaStream extends StreamBase<DeltaDiscoveryRequest, DeltaDiscoveryResponse> {
  private readonly types = new Map<string, TypeState>();

  constructor(cache: SnapshotCache, callbacks: XdsCallbacks, out: StreamOut<DeltaDiscoveryResponse>, opts: StreamOptions = {}, ctx: StreamContext = { streamId: 'delta' }) {
    super(cache, callbacks, out, opts, 'delta', ctx);
  }

  /** Protocol state of a type, for tests and status. */
  state(typeUrl: string): Readonly<TypeState> | undefined {
    return this.types.get(typeUrl);
  }

  protected check(req: DeltaDiscoveryRequest): string | undefined {
    return checkDeltaRequest(req);
  }

  protected process(req: DeltaDiscoveryRequest, nodeId: string): void {
    const typeUrl = req.typeUrl;
    let st = this.types.get(typeUrl);
    if (!st) {
      st = { wildcard: req.resourceNamesSubscribe.length === 0, subscribed: new Set(), known: new KnownVersions(), nonce: undefined, lastNack: undefined, base: undefined };
      for (const [name, version] of Object.entries(req.initialResourceVersions)) st.known.set(name, version);
      this.types.set(typeUrl, st);
    }
    const resubscribed = req.resourceNamesSubscribe.length > 0 || req.resourceNamesUnsubscribe.length > 0;
    if (resubscribed) {
      st.base = undefined;
      st.known.materialize();
    }
    for (const name of req.resourceNamesSubscribe) {
      if (name === '*') st.wildcard = true;
      else st.subscribed.add(name);
    }
    for (const name of req.resourceNamesUnsubscribe) {
      if (name === '*') {
        st.wildcard = false;
      } else if (st.subscribed.delete(name)) {
        st.known.delete(name);
      }
    }
    // Each request is bounded (`limits.ts`); so is what they add up to.
    if (st.subscribed.size > XDS_LIMITS.resourceNames) {
      throw new XdsStreamError(status.INVALID_ARGUMENT, `xds: the subscription to ${shortType(typeUrl)} holds ${st.subscribed.size} names, over the limit of ${XDS_LIMITS.resourceNames}`);
    }
    if (resubscribed && !st.wildcard) {
      // Names no longer subscribed (after a wildcard unsubscribe) are the client's to drop.
      for (const name of [...st.known.keys()]) if (!st.subscribed.has(name)) st.known.delete(name);
    }

    if (req.responseNonce) {
      if (req.responseNonce !== st.nonce) {
        this.stats.staleNonces++;
      } else if (req.errorDetail) {
        this.stats.nacks++;
        const message = cut(req.errorDetail.message, XDS_LIMITS.errorMessageKept);
        st.lastNack = { nonce: req.responseNonce, message };
        this.opts.log?.warn(`${nodeId} rejected delta ${shortType(typeUrl)} (nonce ${req.responseNonce}): ${message}`);
        this.callbacks.onNack?.({ nodeId, streamId: this.ctx.streamId, variant: 'delta', typeUrl, nonce: req.responseNonce, version: '', message });
      } else {
        this.stats.acks++;
        this.callbacks.onAck?.({ nodeId, streamId: this.ctx.streamId, variant: 'delta', typeUrl, nonce: req.responseNonce, version: '' });
      }
    }

    const state = st;
    // The live sets, not copies: a watch is answered before `send` touches them, and a new request replaces
    // the watch (synchronously) after changing them. Copying 1,000 names per ACK per proxy was the cost.
    const request = { nodeId, typeUrl, wildcard: st.wildcard, subscribed: st.subscribed, known: st.known, base: st.base };
    this.rewatch(typeUrl, (answered) =>
      this.cache.createDeltaWatch(request, (res) => {
        answered();
        this.send(state, res);
      }),
    );
  }

  private send(st: TypeState, res: DeltaWatchResponse): void {
    if (this.isClosed) return;
    st.base = res.set;
    // The client now holds exactly what this set says for its subscription (`known.ts`).
    st.known.rebase(res.set, st);
    const nonce = this.nextNonce();
    st.nonce = nonce;
    this.responded(res.typeUrl);
    // Encoded once per distinct answer and shared by every stream that gets it (`encoded.ts`).
    const body = sharedBody(res.set, { variant: 'delta', typeUrl: res.typeUrl, version: res.systemVersion, resources: res.resources, removed: res.removed, controlPlane: this.opts.identifier });
    this.out.send(withNonce(body, nonce));
  }
}
