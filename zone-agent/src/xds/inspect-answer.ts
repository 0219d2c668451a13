/**
 * The zone's side of the global's forwarded inspect requests (`InspectRequest` on the KDS session, Kuma's
 * XDSConfigRequest / StatsRequest / ClustersRequest): answers from this agent's own snapshot cache, so only
 * for proxies connected to this agent, with the same document as the zone's own `_config`. Never throws: every
 * failure is an `InspectResponse` with a status and the reason, which the global turns into Kuma's error.
 */
import type { InspectRequest, InspectResponse } from '@ursa/proto/gen/kds.js';
import { ApiError, errorText } from '@ursa/core';
import type { InspectDeps, ProxyResourceType } from './inspect.js';

/**
 * The largest answer sent back: a config dump of thousands of clusters is several MiB, and the frame limit is
 * 16 MiB (`MAX_FRAME_BYTES`). Larger dumps are refused with a reason naming the zone's own endpoint.
 */
export const MAX_INSPECT_BODY_BYTES = 8 * 1024 * 1024;

const TYPES: readonly ProxyResourceType[] = ['Dataplane', 'ZoneIngress', 'ZoneEgress'];

export async function answerInspect(deps: InspectDeps, req: InspectRequest): Promise<InspectResponse> {
  const fail = (status: number, reason: string): InspectResponse => ({ id: req.id, status, contentType: 'text/plain', body: Buffer.from(reason, 'utf8') });
  if (!(TYPES as readonly string[]).includes(req.resourceType)) return fail(400, `unknown resource type ${JSON.stringify(req.resourceType)}: expected one of ${TYPES.join(', ')}`);
  const type = req.resourceType as ProxyResourceType;
  if (req.what === 'stats' || req.what === 'clusters') {
    // Kuma's zone CP reaches Envoy's admin API through the proxy's admin listener; this agent does not.
    return fail(400, `the zone agent of zone ${deps.zone} does not reach Envoy's admin API, so it cannot read the proxy's ${req.what}: read them on the proxy's host (Envoy admin, /${req.what})`);
  }
  if (req.what !== 'xds') return fail(400, `unknown inspect request ${JSON.stringify(req.what)}: expected xds, stats or clusters`);
  try {
    const { configDump } = await import('./inspect.js');
    const body = Buffer.from(JSON.stringify(await configDump(deps, type, type === 'Dataplane' ? req.mesh : '', req.name)), 'utf8');
    if (body.byteLength > MAX_INSPECT_BODY_BYTES) {
      return fail(413, `the configuration of ${req.name} is ${body.byteLength} bytes, more than the ${MAX_INSPECT_BODY_BYTES} bytes forwarded to the global: read it on the zone agent (GET /meshes/${req.mesh}/dataplanes/${req.name}/_config)`);
    }
    return { id: req.id, status: 200, contentType: 'application/json', body };
  } catch (err) {
    if (err instanceof ApiError) return fail(err.status, err.detail);
    return fail(500, `the zone agent failed to read the configuration: ${errorText(err)}`);
  }
}
