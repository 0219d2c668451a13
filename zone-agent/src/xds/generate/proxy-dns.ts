/**
 * The DNS-in-the-proxy listener of one transparent-proxy sidecar (`dns.ts`), memoised: the body is built
 * once per mesh VIP table, label set and MeshExternalService VIPs, not once per proxy, and its hash keys the
 * listener.
 */
import { createHash } from 'node:crypto';
import type { Listener } from '@ursa/proto/gen/envoy/config/listener/v3/listener.js';
import { DYNAMIC_CONFIG_LISTENER, dynamicConfigListener, dynamicConfigSocket, proxyDnsBody, proxyDnsRecords } from './dns.js';

export interface ProxyDns {
  readonly name: string;
  /** Changes when the listener would: body and socket. */
  readonly key: string;
  listener(): Listener;
}

const bodies = new WeakMap<ReadonlyMap<string, string>, Map<string, { body: string; hash: string }>>();

/**
 * Kuma's `extraLabels`: the mesh, and the zone when the Dataplane carries `kuma.io/zone`. `external`: the
 * mesh's MeshExternalServices with a VIP, answered as `<name>.extsvc.mesh.local` (the zone resolver's name).
 */
export function proxyDns(
  vips: ReadonlyMap<string, string>,
  mesh: string,
  labels: Readonly<Record<string, string>>,
  workDir: string | undefined,
  external: readonly { readonly name: string; readonly vip?: string }[] = [],
): ProxyDns {
  const extra: Record<string, string> = { mesh };
  if (labels['kuma.io/zone']) extra.kuma_io_zone = labels['kuma.io/zone'];
  const withVip = external.filter((e): e is { name: string; vip: string } => e.vip !== undefined);
  const labelsKey = `${JSON.stringify(extra)}\u0000${withVip.map((e) => `${e.name}=${e.vip}`).join(',')}`;
  let perLabels = bodies.get(vips);
  if (!perLabels) bodies.set(vips, (perLabels = new Map()));
  let entry = perLabels.get(labelsKey);
  if (!entry) {
    const body = proxyDnsBody(proxyDnsRecords(vips, withVip), extra);
    entry = { body, hash: createHash('sha256').update(body).digest('base64url') };
    perLabels.set(labelsKey, entry);
  }
  const socket = dynamicConfigSocket(workDir);
  const { body, hash } = entry;
  return { name: DYNAMIC_CONFIG_LISTENER, key: `${hash}\u0000${socket}`, listener: () => dynamicConfigListener(body, socket) };
}
