/**
 * Kuma's inspect endpoints that the global answers by asking the proxy's zone (Kuma `pkg/api-server/
 * inspect_envoy_admin_endpoints.go`, forwarded over KDS by `pkg/kds/envoyadmin` and across replicas by
 * `pkg/intercp/envoyadmin`):
 *   GET /meshes/{mesh}/dataplanes/{name}/xds|stats|clusters|_config
 *   GET /zoneingresses/{name}/xds|stats|clusters,  GET /zoneegresses/{name}/xds|stats|clusters
 * The proxy is looked up in the global's store (its zone and its name in the zone from its labels), then the
 * question goes to that zone's agent as an `InspectRequest` on its KDS WebSocket session, wherever that
 * session is held: on this replica directly, on another one through the database relay (`relay.ts`). The
 * zone answers from its own snapshot cache (`xds` and `_config`: the document of its own `_config`).
 * Errors are Kuma's: an unknown proxy 404 "Could not get dataplane resource"; a zone offline, a zone that
 * cannot be asked (long-poll, too old) or the zone's own refusal (proxy not connected...) 400 "Could not
 * execute admin operation"; no answer in time 504.
 */
import type { Context, Hono } from 'hono';
import type { InspectRequest, InspectResponse } from '@ursa/proto/gen/kds.js';
import { ApiError, type AppEnv, type KdsStore } from '@ursa/core';
import { InspectCallError } from './inspect-calls.js';
import type { StreamTracker } from './ws.js';

export const INSPECT_FEATURE = 'inspect-v1';
/** How long the global waits for the zone's answer (Kuma's zone gives Envoy's admin API 10 s). */
export const FORWARD_TIMEOUT_MS = 15_000;

const ADMIN_TITLE = 'Could not execute admin operation';
/** Kuma's names for the three reverse-unary RPCs, used in its error details. */
const RPC: Record<string, { rpc: string; request: string }> = {
  xds: { rpc: 'XDS Config Dump', request: 'XDSConfigRequest' },
  stats: { rpc: 'Stats', request: 'StatsRequest' },
  clusters: { rpc: 'Clusters', request: 'ClustersRequest' },
};

/** Asks a zone's agent, wherever its session is; throws ApiError in Kuma's shape. */
export interface ZoneAsker {
  ask(kds: KdsStore, tenant: string, zone: string, req: Omit<InspectRequest, 'id'>): Promise<InspectResponse>;
}

/** Another replica's sessions, reached through the database (`relay.ts`); absent: such zones answer an error. */
export interface RemoteAsker {
  ask(tenant: string, zone: string, instanceId: string, req: Omit<InspectRequest, 'id'>, timeoutMs: number): Promise<InspectResponse>;
}

export interface ForwardDeps {
  readonly instanceId: string;
  /** This process's live WebSocket sessions (Node); absent on Workers, where sessions live in the tenant's hub. */
  readonly tracker?: StreamTracker;
  readonly remote?: RemoteAsker;
  readonly timeoutMs?: number;
}

const transportError = (req: Omit<InspectRequest, 'id'>, reason: string, status: 400 | 504 = 400) => new ApiError(status, ADMIN_TITLE, `could not send ${RPC[req.what]!.request}: ${reason}`);

/** Asks through this process's session if it holds the zone's, else through the relay. */
export function zoneAsker(deps: ForwardDeps): ZoneAsker {
  const timeoutMs = deps.timeoutMs ?? FORWARD_TIMEOUT_MS;
  return {
    async ask(kds, tenant, zone, req) {
      const row = await kds.session(tenant, zone);
      if (!row?.sessionId || !row.globalInstanceId || (row.leaseExpiresAt?.getTime() ?? 0) <= Date.now()) throw new ApiError(400, ADMIN_TITLE, `couldn't execute ${RPC[req.what]!.rpc} operation, zone is offline`);
      // Long-poll zones are asked nothing: the global can only answer their requests (`routes.ts`).
      if (row.sessionId.startsWith('poll-')) throw transportError(req, `zone ${zone} is connected over long-poll (--kds-transport poll), and only a WebSocket session carries forwarded requests`);
      if (row.globalInstanceId !== deps.instanceId) {
        if (!deps.remote) throw transportError(req, `zone ${zone} is connected to another instance of the global (${row.globalInstanceId}), which this one cannot reach`);
        return deps.remote.ask(tenant, zone, row.globalInstanceId, req, timeoutMs);
      }
      return askHere(deps.tracker, tenant, zone, req, timeoutMs);
    },
  };
}

/** Asks the zone through the session this process holds (also what the relay runs for another replica). */
export async function askHere(tracker: StreamTracker | undefined, tenant: string, zone: string, req: Omit<InspectRequest, 'id'>, timeoutMs: number): Promise<InspectResponse> {
  const driver = tracker?.find(tenant, zone);
  if (!driver) throw new ApiError(400, ADMIN_TITLE, `couldn't execute ${RPC[req.what]!.rpc} operation, zone is offline`);
  if (!driver.features.includes(INSPECT_FEATURE)) throw transportError(req, `the zone agent of zone ${zone} does not answer forwarded requests (it lacks the KDS feature ${INSPECT_FEATURE}): upgrade it`);
  try {
    return await driver.inspect(req, timeoutMs);
  } catch (err) {
    if (err instanceof InspectCallError) throw transportError(req, `zone ${zone}: ${err.message}`, err.reason === 'timeout' ? 504 : 400);
    throw err;
  }
}

/** The zone's answer as the HTTP response: its body on success, Kuma's transport error with its reason otherwise. */
function respond(req: Omit<InspectRequest, 'id'>, r: InspectResponse): Response {
  if (r.status !== 200) throw transportError(req, new TextDecoder().decode(r.body));
  return new Response(r.body as Uint8Array<ArrayBuffer>, { status: 200, headers: { 'content-type': r.contentType || 'application/octet-stream' } });
}

type Kind = 'Dataplane' | 'ZoneIngress' | 'ZoneEgress';
/** Kuma's titles when the proxy is unknown (its egress handler says "zone ingress" too). */
const NOT_FOUND_TITLE: Record<Kind, string> = { Dataplane: 'Could not get dataplane resource', ZoneIngress: 'Could not get zone ingress resource', ZoneEgress: 'Could not get zone ingress resource' };

export function mountForwardRoutes(app: Hono<AppEnv>, asker: ZoneAsker | undefined): void {
  const handle = async (c: Context<AppEnv>, kind: Kind, mesh: string, name: string, what: string) => {
    c.set('errorTitle', ADMIN_TITLE);
    const proxy = await c.var.stores().resources.get(c.var.tenant, { kind, mesh, name });
    if (!proxy) throw new ApiError(404, NOT_FOUND_TITLE[kind], 'Not found');
    const format = c.req.query('format') === 'json' ? 'json' : 'text';
    const req: Omit<InspectRequest, 'id'> = { what: what === '_config' ? 'xds' : what, resourceType: kind, mesh, name: proxy.labels['kuma.io/display-name'] ?? name, format };
    const zone = proxy.labels['kuma.io/zone'];
    if (!zone) throw transportError(req, `${name} belongs to no zone (it has no kuma.io/zone label)`);
    if (!asker) throw transportError(req, 'this global does not forward requests to zones (on Workers, zones\' sessions live in the tenant\'s KDS hub): ask the zone agent directly');
    return respond(req, await asker.ask(c.var.stores().kds, c.var.tenant, zone, req));
  };
  app.get('/meshes/:mesh/dataplanes/:name/:what{xds|stats|clusters|_config}', (c) => handle(c, 'Dataplane', c.req.param('mesh'), c.req.param('name'), c.req.param('what')));
  app.get('/zoneingresses/:name/:what{xds|stats|clusters}', (c) => handle(c, 'ZoneIngress', '', c.req.param('name'), c.req.param('what')));
  app.get('/zoneegresses/:name/:what{xds|stats|clusters}', (c) => handle(c, 'ZoneEgress', '', c.req.param('name'), c.req.param('what')));
}
