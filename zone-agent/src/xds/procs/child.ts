/**
 * An xDS serving process (`children.ts` forks it; built as `dist/xds-child.mjs`). It gets accepted
 * connections from the main process's dp-server listener (the socket's descriptor over IPC, with the bytes
 * already read), terminates TLS itself, and runs the ADS server (`grpc.ts`) and the unchanged stream servers
 * against a mirror `SnapshotCache` holding the snapshots of its own nodes (`mirror.ts`). What needs the store
 * stays in the main process: admission (`openStream` is a request over IPC), insights and metrics (the
 * stream events go there in batches, one message per event-loop turn).
 *
 * A kuma-dp bootstrap (`http/1.1` over TLS) is not served here: its decrypted bytes are piped to the main
 * process's bootstrap server on a Unix socket only the agent's user can open.
 *
 * It exits when its IPC channel closes (the agent exited, even by SIGKILL): it never outlives the agent.
 */
import { connect, type Socket } from 'node:net';
import { createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import type { Logger } from '@ursa/core/base';
import { serveTls } from '../../dp-server/listener.js';
import { SnapshotCache } from '../cache.js';
import { startAdsServer, type AdsServer } from '../grpc.js';
import { XdsStreamError, type StreamContext, type XdsCallbacks } from '../stream.js';
import { COUNTED_TYPES, type FromChild, type NackEvent, type ToChild } from './messages.js';
import { MirrorReceiver } from './mirror.js';

const post = (m: FromChild) => {
  if (process.connected) process.send!(m);
};
const emit = (level: 'debug' | 'info' | 'warn' | 'error') => (message: string) => post({ t: 'log', level, message });
const log: Logger = { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error'), child: () => log, enabled: () => true } as unknown as Logger;

const cache = new SnapshotCache();
const mirror = new MirrorReceiver();
let server: AdsServer | undefined;
let tls: SecureContext | undefined;
let bootstrapPath = '';

/** Admissions waiting for the main process's answer. */
const waiting = new Map<number, { resolve: (id: string) => void; reject: (err: Error) => void }>();
let reqSeq = 0;

// Stream events, sent once per event-loop turn (a fan-out makes thousands in one turn): responses and ACKs
// as counts per stream and type, NACKs one by one.
const TYPE_INDEX = new Map(COUNTED_TYPES.map((t, i) => [t, i]));
/** Per stream id: [responses, acks] per counted type, flattened. */
let counts = new Map<number, number[]>();
let nacks: NackEvent[] = [];
let flushing = false;
const flushEvents = () => {
  flushing = false;
  if (counts.size === 0 && nacks.length === 0) return;
  const flat: number[] = [];
  for (const [sid, c] of counts) for (let t = 0; t < COUNTED_TYPES.length; t++) if (c[2 * t]! + c[2 * t + 1]! > 0) flat.push(sid, t, c[2 * t]!, c[2 * t + 1]!);
  post({ t: 'events', counts: Uint32Array.from(flat), nacks });
  counts = new Map();
  nacks = [];
};
const soon = () => {
  if (!flushing) {
    flushing = true;
    setImmediate(flushEvents);
  }
};
const count = (streamId: string, typeUrl: string, slot: 0 | 1) => {
  const t = TYPE_INDEX.get(typeUrl);
  // Only served types reach the callbacks (`stream.ts` refuses others before they are counted).
  if (t === undefined) return;
  const sid = Number(streamId);
  let c = counts.get(sid);
  if (!c) counts.set(sid, (c = new Array<number>(2 * COUNTED_TYPES.length).fill(0)));
  c[2 * t + slot]!++;
  soon();
};

const callbacks: XdsCallbacks = {
  openStream: (node, variant, ctx) =>
    new Promise<string>((resolve, reject) => {
      const req = ++reqSeq;
      waiting.set(req, { resolve, reject });
      post({ t: 'open', req, node, variant, ctx });
    }),
  closeStream: (id: string, ctx: StreamContext) => {
    // Its events first: the main process forgets the stream on close.
    flushEvents();
    post({ t: 'close-stream', id, ctx });
  },
  onResponse: (e) => count(e.streamId, e.typeUrl, 0),
  onAck: (e) => count(e.streamId, e.typeUrl, 1),
  onNack: (e) => {
    nacks.push([e.streamId, e.typeUrl, e.nonce, e.version, e.message]);
    soon();
  },
};

/** A bootstrap request over TLS: its decrypted bytes to the main process's bootstrap server, and back. */
function pipeBootstrap(conn: TLSSocket): void {
  const up = connect(bootstrapPath);
  const end = () => {
    conn.destroy();
    up.destroy();
  };
  up.on('error', (err) => {
    log.warn(`xds serving process ${process.pid}: cannot reach the bootstrap server: ${err.message}`);
    end();
  });
  conn.on('error', end);
  conn.pipe(up);
  up.pipe(conn);
}

function serve(socket: Socket, peeked: Buffer, kind: 'tls' | 'h2'): void {
  socket.on('error', () => socket.destroy());
  // Put back what the main process read: TLS and HTTP/2 parse what a socket has buffered first.
  socket.unshift(peeked);
  if (kind === 'h2') server!.inject(socket);
  else serveTls(socket, tls!, { grpc: (c) => server!.inject(c), http: pipeBootstrap, log });
}

process.on('message', (m: ToChild, socket?: Socket) => {
  switch (m.t) {
    case 'start':
      tls = createSecureContext({ cert: m.certPem, key: m.keyPem, minVersion: 'TLSv1.2' });
      bootstrapPath = m.bootstrapPath;
      void startAdsServer({ host: '127.0.0.1', port: 0, bind: false, cache, callbacks, identifier: m.identifier, log, sendBudgetBytes: m.sendBudgetBytes }).then(
        (s) => {
          server = s;
          post({ t: 'ready' });
        },
        (err: unknown) => {
          log.error(`xds serving process ${process.pid} could not start: ${err instanceof Error ? err.message : String(err)}`);
          process.exit(1);
        },
      );
      break;
    case 'conn':
      if (!socket) return;
      if (!server) socket.destroy();
      else serve(socket, Buffer.from(m.peeked), m.kind);
      break;
    case 'mirror':
      mirror.apply(m.batch, (node, snap) => (snap ? cache.setSnapshot(node, snap) : cache.clearSnapshot(node)));
      break;
    case 'opened':
      waiting.get(m.req)?.resolve(m.id);
      waiting.delete(m.req);
      break;
    case 'refused':
      waiting.get(m.req)?.reject(new XdsStreamError(m.code, m.message));
      waiting.delete(m.req);
      break;
    case 'close':
      void (async () => {
        await server?.close();
        flushEvents();
        // Sent in order: once this one is written, so are the streams' closes before it.
        if (process.connected) process.send!({ t: 'closed' } satisfies FromChild, () => process.exit(0));
        else process.exit(0);
      })();
      break;
  }
});
// The agent is gone: nothing may keep serving its proxies.
process.on('disconnect', () => process.exit(0));
