/**
 * KDS endpoints. They authenticate with the zone token inside Hello, not with API tokens, so they are
 * mounted before the API's authentication.
 * - `GET /kds/v1/stream`: WebSocket, binary frames (ws.ts).
 * - `POST /kds/v1/poll?wait=<s>`: long-poll; body PollRequest, answer Frames [Welcome, Delta... | Heartbeat].
 *   Waits up to `wait` seconds (default 25, max 55) for changes after the zone's last revision.
 * - `POST /kds/v1/push`: body PushRequest (one inventory Delta), answer Frames [Ack].
 * Long-poll is stateless: everything needed to continue is in the request (revisions, snapshot position)
 * and the database, so consecutive requests may hit different replicas.
 */
import type { Context, Hono } from 'hono';
import type { UpgradeWebSocket } from 'hono/ws';
import type { Frame } from '@ursa/proto/gen/kds.js';
import { type AppEnv, decodePoll, decodePush, encodeFrames, errorText, KdsError, type Logger, MAX_FRAME_BYTES, type Metrics, readBytes, type StagingLimits, type Waker } from '@ursa/core';
import { ZoneSession, type SessionDeps } from './session.js';
import { StreamDriver, type StreamTracker } from './ws.js';
import type { FeedCache } from './feed-cache.js';
import type { LeaseKeeper } from './keeper.js';
import { publicKdsError } from './public-error.js';
import { checkPollRequest, checkPushRequest } from './validate.js';

export interface KdsOptions {
  readonly waker: Waker;
  readonly heartbeatMs: number;
  readonly leaseTtlMs: number;
  /** The runtime's WebSocket upgrade (Node: @hono/node-server); without it only long-poll is served. */
  readonly upgradeWebSocket?: UpgradeWebSocket<unknown>;
  readonly onEnd?: (info: { zone?: string; code: string; message: string }) => void;
  /** Collects live stream sessions so shutdown can close them cleanly. */
  readonly tracker?: StreamTracker;
  /** Shared feed reader and bulk lease keeper of this process (Node); without them each session does its own reads. */
  readonly feed?: FeedCache;
  readonly keeper?: LeaseKeeper;
  /** How often a live session's zone state is stored at most (default `PROGRESS_FLUSH_MS`). */
  readonly progressFlushMs?: number;
  /** The KDS server's logger (session ends at debug, failures at error). */
  readonly log?: Logger;
  /** Streams, frames sent, zones' applied revisions (`/metrics` on Node). */
  readonly metrics?: Metrics;
  /** What one zone may stage, and when an abandoned upload is dropped (defaults: STAGING_LIMITS, STAGING_TTL_MS). */
  readonly stagingLimits?: StagingLimits;
  readonly stagingTtlMs?: number;
}

const DEFAULT_WAIT_S = 25;
const MAX_WAIT_S = 55;

function sessionDeps(c: Context<AppEnv>, instanceId: string, opts: KdsOptions): SessionDeps {
  const stores = c.var.stores();
  return {
    resources: stores.resources,
    kds: stores.kds,
    zoneTokens: stores.zoneTokens,
    instanceId,
    heartbeatMs: opts.heartbeatMs,
    leaseTtlMs: opts.leaseTtlMs,
    feed: opts.feed,
    keeper: opts.keeper,
    progressFlushMs: opts.progressFlushMs,
    log: opts.log,
    metrics: opts.metrics,
    stagingLimits: opts.stagingLimits,
    stagingTtlMs: opts.stagingTtlMs,
  };
}

export function mountKdsRoutes(app: Hono<AppEnv>, instanceId: string, opts: KdsOptions): void {
  if (opts.upgradeWebSocket) {
    app.get(
      '/kds/v1/stream',
      opts.upgradeWebSocket((c) => {
        let driver: StreamDriver | undefined;
        const deps = sessionDeps(c as Context<AppEnv>, instanceId, opts);
        return {
          onOpen(_evt, ws) {
            driver = new StreamDriver({ send: (d) => ws.send(d as Uint8Array<ArrayBuffer>), close: (code, reason) => ws.close(code, reason) }, { session: deps, waker: opts.waker, onEnd: opts.onEnd, tracker: opts.tracker, log: opts.log });
          },
          onMessage(evt, ws) {
            const bytes = toBytes(evt.data);
            if (!bytes) {
              // Through the driver, so the zone gets an Error frame (bad-frame) before the close.
              if (driver) driver.receiveText();
              else ws.close(1003, 'KDS frames are binary');
              return;
            }
            driver?.receive(bytes);
          },
          onClose() {
            driver?.closed();
          },
        };
      }),
    );
  }

  app.post('/kds/v1/poll', async (c) =>
    respond(c, async () => {
      const wait = waitSeconds(c.req.query('wait'));
      const req = decodePoll(await body(c));
      checkPollRequest(req);
      const session = await ZoneSession.attach(sessionDeps(c, instanceId, opts), req.hello, 'poll', `poll-${req.hello.instanceId || 'anonymous'}`);
      const frames: Frame[] = [{ body: { $case: 'welcome', value: session.welcome } }];
      if (req.snapshotRevision > session.welcome.revision) {
        throw new KdsError('bad-frame', `snapshot_revision ${req.snapshotRevision} is newer than the global's revision ${session.welcome.revision}: start the snapshot over`);
      }
      if (req.snapshotRevision > 0) {
        session.snapshot = { revision: req.snapshotRevision, after: req.snapshotAfter };
        session.cursor = 0;
      }
      const deadline = Date.now() + wait * 1000;
      // Aborted when the zone hangs up: an abandoned poll must stop waiting, and above all stop renewing the
      // lease (tick), or a zone that is gone would stay Online for up to `wait` seconds.
      const gone = c.req.raw.signal;
      for (;;) {
        const deltas = await session.nextFrames();
        if (deltas.length > 0) {
          for (const d of deltas) frames.push({ body: { $case: 'delta', value: d } });
          break;
        }
        const left = deadline - Date.now();
        if (left <= 0 || gone.aborted) break;
        await wakeOrTimeout(opts.waker, session.tenant, ZoneSession.interest(), Math.min(left, opts.heartbeatMs), gone);
        if (gone.aborted) break;
        await session.tick();
      }
      if (frames.length === 1) frames.push({ body: { $case: 'heartbeat', value: { revision: session.cursor } } });
      return frames;
    }),
  );

  app.post('/kds/v1/push', async (c) =>
    respond(c, async () => {
      const req = decodePush(await body(c));
      checkPushRequest(req);
      const deps = sessionDeps(c, instanceId, opts);
      const session = await ZoneSession.attach(deps, req.hello, 'poll', `poll-${req.hello.instanceId || 'anonymous'}`);
      const expected = session.welcome.inventoryRevision;
      if (!req.delta.snapshot && req.delta.baseRevision !== expected) {
        // Name both revisions. When the global set its own aside (0: the hello claims less than it applied, as
        // a wiped zone would), say so: "has applied 0" alone would be false and send the zone looking elsewhere.
        const applied = (await deps.kds.session(session.tenant, session.zone))?.inventoryRevision ?? 0;
        const message =
          applied === expected
            ? `inventory delta starts after revision ${req.delta.baseRevision}, but the global has applied ${applied}`
            : `inventory delta starts after revision ${req.delta.baseRevision}, but the global has applied ${applied} and hello.inventory_revision ${req.hello.inventoryRevision} is older: the global expects a full inventory snapshot`;
        throw new KdsError('out-of-order', message);
      }
      const result = await session.applyUpstream(req.delta, false);
      return [{ body: { $case: 'ack', value: { seq: req.delta.seq, revision: result.revision, rejections: result.rejections } } }];
    }),
  );
}

/** `wait`: whole seconds, at most MAX_WAIT_S (longer waits are cut to it, as documented); default 25. */
function waitSeconds(raw: string | undefined): number {
  if (raw === undefined || raw === '') return DEFAULT_WAIT_S;
  if (!/^[0-9]{1,6}$/.test(raw)) throw new KdsError('bad-frame', `wait must be a whole number of seconds (0 to ${MAX_WAIT_S})`);
  return Math.min(MAX_WAIT_S, Number(raw));
}

/** The request body, read up to the frame limit (counted while reading: a missing Content-Length changes nothing). */
async function body(c: Context): Promise<Uint8Array> {
  return readBytes(c.req.raw, MAX_FRAME_BYTES, (detail) => new KdsError('too-large', detail));
}

/**
 * Protocol errors are answered as an Error frame with a 4xx status. Anything else is the global's own
 * failure: a 500 whose Error frame says `internal` with a trace id, never the error's text (it may be SQL).
 */
async function respond(c: Context<AppEnv>, run: () => Promise<Frame[]>): Promise<Response> {
  try {
    const frames = await run();
    return c.body(encodeFrames(frames) as Uint8Array<ArrayBuffer>, 200, { 'content-type': 'application/x-protobuf' });
  } catch (err) {
    const e = publicKdsError(err, c.var.log.child('kds'), 'poll failed', { path: c.req.path });
    const status = e.code === 'internal' ? 500 : e.code === 'unavailable' ? 503 : e.code === 'unauthenticated' ? 401 : e.code === 'forbidden' || e.code === 'zone-disabled' ? 403 : e.code === 'too-large' || e.code === 'limit-exceeded' ? 413 : 400;
    return c.body(encodeFrames([{ body: { $case: 'error', value: { code: e.code, message: e.message } } }]) as Uint8Array<ArrayBuffer>, status, {
      'content-type': 'application/x-protobuf',
    });
  }
}

function wakeOrTimeout(waker: Waker, tenant: string, interest: Set<string>, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      unsubscribe();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    const unsubscribe = waker.subscribe(tenant, (kind) => {
      if (kind === '*' || interest.has(kind)) done();
    });
    signal?.addEventListener('abort', done, { once: true });
  });
}

function toBytes(data: unknown): Uint8Array | undefined {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (Array.isArray(data) && data.every((d) => d instanceof Uint8Array)) return Buffer.concat(data as Uint8Array[]);
  return undefined;
}
