/**
 * Who may open an xDS stream, decided on its first request (the only one sure to carry `node`):
 * 1. `node.id` is `<mesh>.<dataplane-name>` (Kuma's proxy id), or `.<zoneingress-name>` / `.<zoneegress-name>`
 *    for a zone ingress / egress (`generate/node-kind.ts` tells them apart): else INVALID_ARGUMENT;
 * 2. unless dataplane auth is off, the caller presents a dataplane token (`tokens.ts`): as gRPC call
 *    metadata `authorization: Bearer <token>` (what kuma-dp sends), or, for proxyless gRPC clients whose
 *    xDS channel cannot carry call metadata, as the string `node.metadata["dataplane.token"]` (set it in
 *    the gRPC bootstrap's `node.metadata`). A missing, malformed, forged or expired token is
 *    UNAUTHENTICATED; a valid token for another mesh, Dataplane or tag set is PERMISSION_DENIED;
 * 3. a node that carries its resource (kuma-dp's `dataplane.resource`) registers it (`self-registration.ts`;
 *    an invalid one is INVALID_ARGUMENT naming the field); any other Dataplane (ZoneIngress, ZoneEgress) must
 *    be registered in this zone already: else NOT_FOUND.
 * The token is checked before the store is asked, so a caller without a token learns nothing about which
 * Dataplanes exist. Every refusal says what to fix; it ends only that stream. When many proxies connect at
 * once (an agent restart), their lookups share one query per batch instead of one each.
 */
import { status } from '@grpc/grpc-js';
import type { Node } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import { asTyped, type Resource, type ResourceStore } from '@ursa/core';
import { describeNode, isNodeProblem, isZoneProxy, type ProxyKind } from './generate/node-kind.js';
import { quote } from './limits.js';
import { XdsStreamError, type StreamContext } from './stream.js';
import type { DataplaneTokens } from './tokens.js';
import type { DataplaneResource } from '../model/dataplane.js';
import { nodeResource, type SelfRegistration } from './self-registration.js';

/** The node metadata key proxyless clients put their dataplane token under. */
export const NODE_TOKEN_KEY = 'dataplane.token';

export interface ProxyId {
  readonly mesh: string;
  readonly name: string;
}

export interface AdmittedProxy extends ProxyId {
  readonly id: string;
  readonly kind: ProxyKind;
  /** The Dataplane, or the ZoneIngress / ZoneEgress of a zone proxy. */
  readonly resource: Resource;
}

export interface AdmissionDeps {
  readonly store: Pick<ResourceStore, 'getMany'>;
  /** The zone's tenant in its store. */
  readonly tenant: string;
  readonly zone: string;
  /** Undefined: dataplane auth is off (`--dataplane-auth false`), `node.id` is trusted. */
  readonly tokens: DataplaneTokens | undefined;
  /** Registers resources sent in node metadata; undefined: such nodes are treated like any other. */
  readonly selfRegistration?: SelfRegistration;
}

/** Kuma's proxy id: `<mesh>.<name>`, split at the first dot (Dataplane names may hold dots, meshes not). */
export function parseProxyId(id: string): ProxyId | undefined {
  const i = id.indexOf('.');
  if (i <= 0 || i === id.length - 1) return undefined;
  return { mesh: id.slice(0, i), name: id.slice(i + 1) };
}

/** The token a stream presents: call metadata first, then node metadata. */
export function presentedToken(node: Node | undefined, ctx: StreamContext): string | undefined {
  const header = ctx.authorization?.trim();
  if (header) return header.replace(/^Bearer\s+/i, '');
  const fromNode = node?.metadata?.[NODE_TOKEN_KEY];
  return typeof fromNode === 'string' && fromNode.trim() !== '' ? fromNode.trim() : undefined;
}

/** Looks resources up by key, one `getMany` per kind for all lookups made in the same turn of the event loop. */
function batchedLookup(store: Pick<ResourceStore, 'getMany'>, tenant: string) {
  let pending: { kind: string; mesh: string; name: string; resolve: (r: Resource | undefined) => void; reject: (e: unknown) => void }[] = [];
  const run = async () => {
    const batch = pending;
    pending = [];
    for (const kind of new Set(batch.map((b) => b.kind))) {
      const mine = batch.filter((b) => b.kind === kind);
      try {
        const found = await store.getMany(tenant, kind, mine.map((b) => ({ mesh: b.mesh, name: b.name })));
        for (const b of mine) b.resolve(found.get(`${b.mesh}/${b.name}`));
      } catch (err) {
        for (const b of mine) b.reject(err);
      }
    }
  };
  return (kind: string, mesh: string, name: string) =>
    new Promise<Resource | undefined>((resolve, reject) => {
      if (pending.length === 0) setImmediate(() => void run());
      pending.push({ kind, mesh, name, resolve, reject });
    });
}

export function createAdmission(deps: AdmissionDeps): (node: Node | undefined, ctx: StreamContext) => Promise<AdmittedProxy> {
  const lookup = batchedLookup(deps.store, deps.tenant);
  return async (node, ctx) => {
    const id = node?.id ?? '';
    if (id === '') throw new XdsStreamError(status.INVALID_ARGUMENT, 'xds: the first request must carry node.id = "<mesh>.<dataplane-name>" of a Dataplane registered in this zone');
    const described = describeNode(node);
    if (isNodeProblem(described)) throw new XdsStreamError(status.INVALID_ARGUMENT, `xds: ${described.error}`);
    const { kind } = described;
    const proxy: ProxyId = { mesh: described.mesh, name: described.name };
    const zoneProxy = isZoneProxy(kind) ? kind : undefined;
    const resourceKind = zoneProxy === 'ingress' ? 'ZoneIngress' : zoneProxy === 'egress' ? 'ZoneEgress' : 'Dataplane';

    let token: string | undefined;
    let tagBound = false;
    if (deps.tokens) {
      token = presentedToken(node, ctx);
      if (!token) {
        throw new XdsStreamError(
          status.UNAUTHENTICATED,
          `xds: node ${quote(id)}: a dataplane token is required: send it as gRPC metadata "authorization: Bearer <token>" or as node.metadata["${NODE_TOKEN_KEY}"] (issue one with POST /tokens/dataplane on the zone API)`,
        );
      }
      const check = await deps.tokens.verify(token, { ...proxy, type: zoneProxy ?? 'dataplane' });
      if (!check.ok) throw refusal(id, check.code, check.message);
      tagBound = check.claims.tags !== undefined;
    }

    const sent = deps.selfRegistration && kind !== 'proxyless' ? nodeResource(node) : undefined;
    if (sent !== undefined && deps.selfRegistration) {
      const resource = await deps.selfRegistration.register(id, zoneProxy ?? 'dataplane', proxy, sent, async (r) => {
        if (!deps.tokens || !token || !tagBound || zoneProxy) return;
        const check = await deps.tokens.verify(token, { ...proxy, type: 'dataplane', dataplane: r as unknown as DataplaneResource });
        if (!check.ok) throw refusal(id, check.code, check.message);
      });
      return { id, kind, ...proxy, resource };
    }
    const resource = await lookup(resourceKind, proxy.mesh, proxy.name);
    if (!resource) {
      throw new XdsStreamError(
        status.NOT_FOUND,
        zoneProxy
          ? `xds: node.id ${quote(id)}: no ${resourceKind} ${quote(proxy.name)} in zone ${deps.zone}; register the ${resourceKind} first (node.id is ".<${resourceKind.toLowerCase()}-name>")`
          : `xds: node.id ${quote(id)}: no Dataplane ${quote(proxy.name)} in mesh ${quote(proxy.mesh)} in zone ${deps.zone}; register the Dataplane first (node.id is "<mesh>.<dataplane-name>")`,
      );
    }
    if (deps.tokens && token && tagBound) {
      // Tag-bound tokens need the Dataplane itself.
      const check = await deps.tokens.verify(token, { ...proxy, type: 'dataplane', dataplane: zoneProxy ? undefined : asTyped('Dataplane', resource) });
      if (!check.ok) throw refusal(id, check.code, check.message);
    }
    return { id, kind, ...proxy, resource };
  };
}

function refusal(id: string, code: 'unauthenticated' | 'forbidden', message: string): XdsStreamError {
  return new XdsStreamError(code === 'unauthenticated' ? status.UNAUTHENTICATED : status.PERMISSION_DENIED, `xds: node ${quote(id)}: ${message}`);
}
