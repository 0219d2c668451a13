/**
 * KdsHub: the Durable Object, one per tenant (or `KDS_HUB_SHARDS` per tenant, each for the zones whose names
 * hash to it: worker/hub-shards.ts), that serves the KDS WebSocket sessions of that tenant's zones
 * (docs/architecture.md, "KDS WebSocket on Workers: a hub per tenant").
 *
 * Each session is the same `StreamDriver` + `ZoneSession` as on Node (kds/ws.ts, kds/session.ts): one
 * protocol, one state machine. What the hub adds is what a Node process has and a Worker request has not:
 * a long-lived place where all sessions of a tenant meet, so that
 * - one `FeedCache` reads the change feed once per wake-up for all of them;
 * - one `LeaseKeeper` renews all their leases and checks all their zone tokens in one statement per tick;
 * - one `HubWaker` watches the tenant (rung by the Worker's writes, plus a revision watch).
 *
 * The hub's I/O belongs to the object, not to one request (workerd lets a client opened while serving one
 * message serve the next message or a timer), so it keeps one postgres.js client through Hyperdrive for all
 * its sessions, at most HUB_CONNECTIONS connections. It uses the standard WebSocket API, not hibernation:
 * its sessions live in memory and zones heartbeat every few seconds, so it would never hibernate anyway.
 * Everything a session needs to resume is in the database or sent by the zone, so losing the hub (a deploy,
 * an eviction) costs a reconnect, never data.
 *
 * Requests (from this Worker only; the hub has no public route):
 * - `GET /stream?tenant=T` with `Upgrade: websocket`: a zone's session (relayed by worker/kds-relay.ts);
 * - `POST /wake?tenant=T`: "tenant T changed": sent after every write made through the Worker.
 */
import type { Stores, ZoneTokens } from '@ursa/core';
import { FeedCache } from '../kds/feed-cache.js';
import { keeperIntervalMs, LeaseKeeper } from '../kds/keeper.js';
import { ZoneSession, type SessionDeps } from '../kds/session.js';
import { StreamDriver } from '../kds/ws.js';
import type { WorkerEnv } from './env.js';
import { ringHubs } from './hub-shards.js';
import { HubWaker } from './hub-waker.js';
import { openHyperdrive } from './hyperdrive.js';
import { acceptBinary, closeQuietly, ringingStores, upgradeResponse, webSocketPair, type CfWebSocket } from './runtime.js';
import { workerSettings, type WorkerSettings } from './settings.js';

/** Connections of the hub's client: below the 6 simultaneous outgoing connections an object may hold. */
const HUB_CONNECTIONS = 4;

/** What a hub keeps while it has sessions; dropped when the last one ends, so an idle hub does no I/O. */
interface Live {
  readonly feed: FeedCache;
  readonly keeper: LeaseKeeper;
}

export class KdsHub {
  #tenant?: string;
  /** This hub's shard among its tenant's `KDS_HUB_SHARDS` hubs (worker/hub-shards.ts). */
  #shard = 0;
  #settings?: WorkerSettings;
  #stores?: Stores;
  #waker?: HubWaker;
  #live?: Live;
  #sessions = 0;
  /** Shown to zones as the global instance they are connected to (`kds: connected to ...`). */
  readonly #instanceId = `workerd-hub-${crypto.randomUUID().slice(0, 4)}`;

  constructor(
    _state: unknown,
    private readonly env: WorkerEnv,
  ) {}

  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const tenant = url.searchParams.get('tenant');
    if (tenant === null) return new Response('tenant is required', { status: 400 });
    // A hub is addressed by its tenant's name; it learns the name from its first request.
    this.#tenant ??= tenant;
    if (tenant !== this.#tenant) return new Response(`this hub serves tenant ${JSON.stringify(this.#tenant)}`, { status: 409 });
    this.#shard = Number(url.searchParams.get('shard') ?? 0) || 0;
    if (url.pathname === '/wake') {
      this.#waker?.ring();
      return new Response(null, { status: 204 });
    }
    if (url.pathname === '/stream' && request.headers.get('upgrade')?.toLowerCase() === 'websocket') return this.#accept();
    return new Response('not found', { status: 404 });
  }

  #init(): { settings: WorkerSettings; stores: Stores; waker: HubWaker } {
    const tenant = this.#tenant!;
    this.#settings ??= workerSettings(this.env as Record<string, unknown>);
    // The hub's own writes (zone inventory, e.g. a ZoneIngress other zones receive) ring its sessions at once,
    // and the tenant's other hubs, whose zones receive it too.
    const shards = this.#settings.kdsHubShards;
    this.#stores ??= ringingStores(openHyperdrive(this.env.HYPERDRIVE, HUB_CONNECTIONS), ZoneSession.interest(), () => {
      this.#waker?.ring();
      if (shards > 1 && this.env.KDS_HUB) void ringHubs(this.env.KDS_HUB, tenant, shards, this.#shard);
    });
    const stores = this.#stores;
    this.#waker ??= new HubWaker(tenant, () => stores.resources.currentRevision(tenant), this.#settings.kdsPollIntervalMs);
    return { settings: this.#settings, stores: this.#stores, waker: this.#waker };
  }

  #accept(): Response {
    const { settings, stores, waker } = this.#init();
    this.#live ??= { feed: new FeedCache(stores.resources, waker), keeper: new LeaseKeeper(stores.db, settings.zoneLeaseMs, keeperIntervalMs(settings.zoneLeaseMs, settings.kdsHeartbeatMs)) };
    const live = this.#live;
    const deps: SessionDeps = {
      resources: stores.resources,
      kds: stores.kds,
      zoneTokens: tenantBound(stores.zoneTokens, this.#tenant!),
      instanceId: this.#instanceId,
      heartbeatMs: settings.kdsHeartbeatMs,
      leaseTtlMs: settings.zoneLeaseMs,
      feed: live.feed,
      keeper: live.keeper,
    };
    const [client, server] = webSocketPair();
    acceptBinary(server);
    this.#sessions += 1;
    let ended = false;
    const driver = new StreamDriver(socketOf(server), {
      session: deps,
      waker,
      onEnd: (info) => {
        if (ended) return;
        ended = true;
        if (info.code !== 'closed' && info.code !== 'peer-error') console.log(`ursa kds hub: session of zone ${info.zone ?? '(before hello)'} ended: ${info.code}: ${info.message}`);
        this.#sessions -= 1;
        if (this.#sessions === 0) this.#release();
      },
    });
    server.addEventListener('message', (event) => {
      if (typeof event.data === 'string') driver.receiveText();
      else driver.receive(new Uint8Array(event.data));
    });
    server.addEventListener('close', (event) => {
      driver.closed();
      // workerd expects the close to be answered.
      closeQuietly(server, event.code, event.reason);
    });
    server.addEventListener('error', () => driver.closed());
    return upgradeResponse(client);
  }

  /** The last session ended: stop the feed's and the keeper's timers (the waker stops with its last listener). */
  #release(): void {
    const live = this.#live;
    this.#live = undefined;
    live?.feed.close();
    live?.keeper.close();
  }
}

/** The StreamDriver's view of a workerd socket; a send on a socket the zone already closed is dropped. */
function socketOf(ws: CfWebSocket) {
  return {
    send(data: Uint8Array) {
      try {
        ws.send(data);
      } catch {
        // Closed under us: the close event ends the session.
      }
    },
    close(code?: number, reason?: string) {
      closeQuietly(ws, code, reason);
    },
  };
}

/**
 * The zone tokens a hub accepts: those of its own tenant. The relay picks the hub by the tenant a token
 * claims, and verification checks that claim's signature with that tenant's keys, so a mismatch cannot pass
 * verification; this makes the rule explicit instead of relying on the routing.
 */
function tenantBound(tokens: ZoneTokens, tenant: string): ZoneTokens {
  const verify: ZoneTokens['verify'] = async (token, expect, now) => {
    const check = await tokens.verify(token, expect, now);
    if (check.ok && check.claims.tenant !== tenant) return { ok: false, code: 'forbidden', message: 'the zone token is for another tenant' };
    return check;
  };
  return { verify } as unknown as ZoneTokens;
}
