/**
 * `GET /kds/v1/stream` on the Worker: accepts the zone's WebSocket and relays it to its tenant's KDS hub
 * (worker/kds-hub.ts), both ways, frame by frame.
 *
 * Why a relay and not a plain hand-over of the upgrade to the hub: the hub is per tenant, and a zone names
 * its tenant only inside its first frame (the zone token in Hello), after the socket is open. So the Worker
 * accepts the socket, reads the first frame, picks the hub by the tenant the token claims, opens a socket
 * to that hub and from then on only copies frames (no decoding, a few microseconds of CPU each). The claim is
 * not trusted: the hub verifies the token with that tenant's keys, as on Node. A first frame that is no Hello,
 * or a token with no readable claim, goes to the default tenant's hub, which answers with the same Error
 * frame Node would.
 */
import { decodeFrame, encodeFrame } from '@ursa/core';
import { hubName, hubUrl, shardOf } from './hub-shards.js';
import { acceptBinary, closeQuietly, upgradeResponse, webSocketPair, type CfWebSocket, type DurableObjectNamespace } from './runtime.js';

export interface RelayOptions {
  readonly hubs: DurableObjectNamespace;
  readonly defaultTenant: string;
  /** A socket that says nothing for this long is ended, as a silent session on Node is (three heartbeats). */
  readonly helloWithinMs: number;
  /** Hubs per tenant (`KDS_HUB_SHARDS`): the zone's is picked by its name (worker/hub-shards.ts). */
  readonly shards?: number;
}

export function relayKdsStream(opts: RelayOptions): Response {
  const [client, server] = webSocketPair();
  acceptBinary(server);
  let hub: CfWebSocket | undefined;
  /** Frames received before the hub's socket was open, in order; undefined once they were handed over. */
  let pending: (ArrayBuffer | string)[] | undefined = [];
  let closed = false;

  const refuse = (code: 'unauthenticated' | 'internal', message: string) => {
    try {
      server.send(encodeFrame({ body: { $case: 'error', value: { code, message } } }));
    } catch {
      // Closed meanwhile.
    }
    closeQuietly(server, code === 'internal' ? 1011 : 1008, message.slice(0, 120));
  };

  const helloTimer = setTimeout(() => {
    if (!hub && !closed) refuse('unauthenticated', `no hello within ${opts.helloWithinMs} ms of connecting`);
  }, opts.helloWithinMs);

  const shards = opts.shards ?? 1;
  const connect = async ({ tenant, zone }: HubRoute) => {
    try {
      const shard = shardOf(zone, shards);
      const stub = opts.hubs.get(opts.hubs.idFromName(hubName(tenant, shard, shards)));
      const res = await stub.fetch(hubUrl('/stream', tenant, shard), { headers: { upgrade: 'websocket' } });
      const ws = res.webSocket;
      if (!ws) throw new Error(`the KDS hub answered ${res.status} instead of a WebSocket`);
      acceptBinary(ws);
      ws.addEventListener('message', (m) => {
        try {
          server.send(m.data);
        } catch {
          // The zone is gone; its close event ends the hub's side.
        }
      });
      ws.addEventListener('close', (c) => {
        closeQuietly(server, c.code, c.reason);
        closeQuietly(ws, c.code, c.reason);
      });
      ws.addEventListener('error', () => closeQuietly(server, 1011, 'the KDS hub failed'));
      if (closed) {
        closeQuietly(ws, 1000, 'zone went away');
        return;
      }
      hub = ws;
      clearTimeout(helloTimer);
      for (const frame of pending ?? []) ws.send(frame);
      pending = undefined;
    } catch (err) {
      pending = undefined;
      clearTimeout(helloTimer);
      // The zone is told the hub is unavailable and to retry; the reason (internal) goes to the log only.
      const trace = crypto.randomUUID().replace(/-/g, '');
      console.error(`ursa kds relay: no hub (trace ${trace}):`, err instanceof Error ? err.message : err);
      refuse('internal', `the KDS hub of tenant ${tenant} is unavailable (trace ${trace}); the zone should retry`);
    }
  };

  server.addEventListener('message', (event) => {
    if (hub) {
      try {
        hub.send(event.data);
      } catch {
        // The hub ended the session (its close is being relayed): a frame the zone sent meanwhile is moot.
      }
      return;
    }
    if (!pending) return; // the hub could not be reached: the socket is being closed
    pending.push(event.data);
    if (pending.length === 1) void connect(routeOf(event.data, opts.defaultTenant));
  });
  const end = (code?: number, reason?: string) => {
    if (closed) return;
    closed = true;
    clearTimeout(helloTimer);
    if (hub) closeQuietly(hub, code, reason);
    closeQuietly(server, code, reason);
  };
  server.addEventListener('close', (event) => end(event.code, event.reason));
  server.addEventListener('error', () => end(1011, 'zone socket failed'));
  return upgradeResponse(client);
}

/** Where a session goes: its tenant's hubs, and among them the zone's (by name). */
export interface HubRoute {
  readonly tenant: string;
  /** Hello's zone name ('' when the first frame is no Hello: the default tenant's hub refuses it). */
  readonly zone: string;
}

/**
 * The route a first frame asks for: the tenant is the zone token's `tenant` claim (read, not verified: the
 * hub verifies), else Hello's `tenant`, else the default; the zone is Hello's. Anything unreadable goes to
 * the default tenant's hub, which refuses it with the precise error.
 */
export function routeOf(first: ArrayBuffer | string, defaultTenant: string): HubRoute {
  const fallback = { tenant: defaultTenant, zone: '' };
  if (typeof first === 'string') return fallback;
  try {
    const body = decodeFrame(new Uint8Array(first)).body;
    if (body?.$case !== 'hello') return fallback;
    const claimed = claimedTenant(body.value.token);
    const tenant = plausible(claimed) ? claimed : plausible(body.value.tenant) ? body.value.tenant : defaultTenant;
    return { tenant, zone: body.value.zone };
  } catch {
    return fallback;
  }
}

/** The tenant a first frame claims (see `routeOf`). */
export function tenantOf(first: ArrayBuffer | string, defaultTenant: string): string {
  return routeOf(first, defaultTenant).tenant;
}

function claimedTenant(token: string): string | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const json = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as { tenant?: unknown };
    return typeof json.tenant === 'string' ? json.tenant : undefined;
  } catch {
    return undefined;
  }
}

/** A name worth creating a hub for: anything else is refused by the default tenant's hub instead. */
function plausible(tenant: string | undefined): tenant is string {
  return typeof tenant === 'string' && tenant.length > 0 && tenant.length <= 128;
}
