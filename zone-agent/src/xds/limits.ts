/**
 * Bounds on what one ADS request may carry, checked as each request arrives (before it is queued, before
 * admission reads a token or the store), so an oversized field ends its stream at once with INVALID_ARGUMENT
 * naming the field and the limit, never a long wait.
 *
 * The limits are far above what Envoy, kuma-dp and gRPC xDS clients send (Kuma names are at most 253
 * characters, a node's metadata a few KiB; versions and nonces are ours, echoed back), and low enough that
 * one stream cannot make the agent hold or log megabytes. A NACK's `error_detail.message` is not refused,
 * only cut (Envoy's list of rejected resources can be long, and refusing it would make Envoy reconnect and
 * NACK again forever). The whole request is bounded first by gRPC (`maxRequestBytes`: RESOURCE_EXHAUSTED).
 *
 * Messages quote at most a short prefix of what they refuse (`quote`): a status message travels in HTTP/2
 * trailers, and one of a few hundred KiB never reaches the client (the stream then hangs with no status).
 */
import type { Node } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import type { DeltaDiscoveryRequest, DiscoveryRequest } from '@ursa/proto/xds';

export const XDS_LIMITS = {
  /** A whole request on the wire (gRPC max receive message length). */
  maxRequestBytes: 4 * 1024 * 1024,
  /** `node.id`, `node.cluster` (characters). */
  nodeId: 512,
  nodeCluster: 512,
  /** Any other string of the node (user agent, features, extension names...). */
  nodeString: 1024,
  /** Entries of each list or map of the node (extensions, client_features, listening_addresses...). */
  nodeListEntries: 256,
  /** `node.metadata` (and each extension's and locality's): characters of keys and strings, 8 per other value. */
  metadataSize: 256 * 1024,
  /** Nesting of `node.metadata` (objects and lists). */
  metadataDepth: 16,
  /** Names in one request (`resource_names`, `resource_names_subscribe`/`_unsubscribe`, `initial_resource_versions`), and in one delta subscription. */
  resourceNames: 10_000,
  /** One resource name (characters). */
  resourceName: 1024,
  /** `resource_locators*` entries (this server does not use them). */
  resourceLocators: 1024,
  typeUrl: 256,
  /** `response_nonce` (ours are short decimal counters). */
  nonce: 128,
  /** `version_info` and each version of `initial_resource_versions` (ours are content hashes). */
  version: 256,
  /** A NACK's `error_detail.message` is kept (logs, insight) up to this many characters. */
  errorMessageKept: 4096,
  /** Requests of one stream waiting to be handled (a client that does not wait for answers). */
  queuedRequests: 1000,
  /** Milliseconds a new stream may wait before its first request (then DEADLINE_EXCEEDED). */
  firstRequestMs: 10_000,
  /** A status message (it travels in HTTP/2 trailers; `quote` keeps refusals well under this). */
  statusMessage: 1024,
} as const;

/** JSON-quoted `s`, or its first `max` characters quoted and followed by `…` when longer. */
export function quote(s: string, max = 64): string {
  return s.length <= max ? JSON.stringify(s) : `${JSON.stringify(s.slice(0, max))}…`;
}

/** `s` cut to `max` characters (with `…` when cut). */
export function cut(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}

const tooLong = (field: string, value: string, max: number) => `${field} is ${value.length} characters long, over the limit of ${max} (it starts ${quote(value)})`;
const tooMany = (field: string, n: number, max: number, what = 'entries') => `${field} has ${n} ${what}, over the limit of ${max}`;

/** What is wrong with a string field, if anything. */
function checkString(field: string, value: unknown, max: number): string | undefined {
  if (typeof value === 'string' && value.length > max) return tooLong(field, value, max);
  return undefined;
}

/**
 * Size and depth of a decoded `google.protobuf.Struct` (`Struct.unwrap` gives plain objects); stops as
 * soon as a bound is crossed, so a huge value costs no more than the bound to look at.
 */
function checkStruct(field: string, value: unknown): string | undefined {
  let size = 0;
  const visit = (v: unknown, depth: number): string | undefined => {
    if (depth > XDS_LIMITS.metadataDepth) return `${field} is nested more than ${XDS_LIMITS.metadataDepth} levels deep`;
    if (typeof v === 'string') size += v.length;
    else if (Array.isArray(v)) {
      for (const x of v) {
        const p = visit(x, depth + 1);
        if (p) return p;
      }
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        size += k.length;
        const p = visit(x, depth + 1);
        if (p) return p;
      }
    } else size += 8;
    return size > XDS_LIMITS.metadataSize ? `${field} is larger than ${XDS_LIMITS.metadataSize} characters (keys and strings)` : undefined;
  };
  return visit(value, 0);
}

function checkCount(field: string, n: number, max: number): string | undefined {
  return n > max ? tooMany(field, n, max) : undefined;
}

/** What is wrong with a request's node, if anything (every field: a node may come on any request). */
export function checkNode(node: Node | undefined): string | undefined {
  if (!node) return undefined;
  const L = XDS_LIMITS;
  const first =
    checkString('node.id', node.id, L.nodeId) ??
    checkString('node.cluster', node.cluster, L.nodeCluster) ??
    checkString('node.user_agent_name', node.userAgentName, L.nodeString) ??
    checkString('node.user_agent_version', node.userAgentVersionType?.$case === 'userAgentVersion' ? node.userAgentVersionType.value : undefined, L.nodeString) ??
    checkStruct('node.metadata', node.metadata) ??
    checkCount('node.extensions', node.extensions.length, L.nodeListEntries) ??
    checkCount('node.client_features', node.clientFeatures.length, L.nodeListEntries) ??
    checkCount('node.listening_addresses', node.listeningAddresses.length, L.nodeListEntries) ??
    checkCount('node.dynamic_parameters', Object.keys(node.dynamicParameters).length, L.nodeListEntries);
  if (first) return first;
  for (const f of node.clientFeatures) {
    const p = checkString('node.client_features[]', f, L.nodeString);
    if (p) return p;
  }
  // The rest (extensions, locality, build version, addresses, dynamic parameters) is looked at as a whole,
  // with the same bounds as metadata: this server reads none of it, it only must not be huge.
  return checkStruct('node (extensions, locality, build version, addresses, dynamic parameters)', {
    e: node.extensions,
    l: node.locality,
    v: node.userAgentVersionType?.$case === 'userAgentBuildVersion' ? node.userAgentVersionType.value : undefined,
    a: node.listeningAddresses,
    d: node.dynamicParameters,
  });
}

function checkNames(field: string, names: readonly string[]): string | undefined {
  if (names.length > XDS_LIMITS.resourceNames) return tooMany(field, names.length, XDS_LIMITS.resourceNames, 'names');
  for (const n of names) {
    const p = checkString(`a name in ${field}`, n, XDS_LIMITS.resourceName);
    if (p) return p;
  }
  return undefined;
}

/** The fields both variants share. */
function checkCommon(req: DiscoveryRequest | DeltaDiscoveryRequest): string | undefined {
  return checkNode(req.node) ?? checkString('type_url', req.typeUrl, XDS_LIMITS.typeUrl) ?? checkString('response_nonce', req.responseNonce, XDS_LIMITS.nonce);
}

/** What is wrong with a state-of-the-world request, if anything. */
export function checkSotwRequest(req: DiscoveryRequest): string | undefined {
  return (
    checkCommon(req) ??
    checkString('version_info', req.versionInfo, XDS_LIMITS.version) ??
    checkNames('resource_names', req.resourceNames) ??
    checkCount('resource_locators', req.resourceLocators.length, XDS_LIMITS.resourceLocators)
  );
}

/** What is wrong with an incremental request, if anything. */
export function checkDeltaRequest(req: DeltaDiscoveryRequest): string | undefined {
  const first =
    checkCommon(req) ??
    checkNames('resource_names_subscribe', req.resourceNamesSubscribe) ??
    checkNames('resource_names_unsubscribe', req.resourceNamesUnsubscribe) ??
    checkCount('resource_locators_subscribe', req.resourceLocatorsSubscribe.length, XDS_LIMITS.resourceLocators) ??
    checkCount('resource_locators_unsubscribe', req.resourceLocatorsUnsubscribe.length, XDS_LIMITS.resourceLocators);
  if (first) return first;
  const initial = Object.entries(req.initialResourceVersions);
  if (initial.length > XDS_LIMITS.resourceNames) return tooMany('initial_resource_versions', initial.length, XDS_LIMITS.resourceNames);
  for (const [name, version] of initial) {
    const p = checkString('a name in initial_resource_versions', name, XDS_LIMITS.resourceName) ?? checkString(`the version of ${quote(name)} in initial_resource_versions`, version, XDS_LIMITS.version);
    if (p) return p;
  }
  return undefined;
}
