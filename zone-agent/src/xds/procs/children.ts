/**
 * xDS serving over several processes (`--xds-processes N`): the main process keeps the dp-server's port, the
 * store, the generator, admission, insights and the full `SnapshotCache` (the inspect endpoints read it), and
 * hands each accepted TLS or HTTP/2 connection to one of N forked serving processes (`child.ts`; the socket's
 * descriptor over IPC, round robin). Why processes and not worker threads: a worker thread cannot receive a
 * socket in Node 20, and the gRPC/HTTP/2 work is what must move off the main thread.
 *
 * Main → child: per node with a stream in that child, its snapshot, each shared set and resource shipped
 * once (`mirror.ts`), batched per event-loop turn. Child → main: admission requests (`openStream`; the
 * answer comes after the node's snapshot, so the first watch is answered at once), stream closes, and the
 * response/ACK/NACK events in batches, fed to the same callbacks as a stream served here (insights, metrics).
 *
 * A serving process that dies is restarted (its streams are closed here, as their clients see them end;
 * ADS clients reconnect), with a growing delay while it keeps dying young.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { status } from '@grpc/grpc-js';
import { asUnavailable, type Logger } from '@ursa/core';
import { SnapshotCache } from '../cache.js';
import type { Snapshot } from '../snapshot.js';
import { XdsStreamError, type StreamContext, type Variant, type XdsCallbacks } from '../stream.js';
import { COUNTED_TYPES, type FromChild, type ToChild } from './messages.js';
import { MirrorSender } from './mirror.js';

/** A `SnapshotCache` that says which node's snapshot changed (the serving processes mirror them). */
export class ObservedSnapshotCache extends SnapshotCache {
  onChange: (nodeId: string) => void = () => {};

  override setSnapshot(nodeId: string, snapshot: Snapshot): void {
    super.setSnapshot(nodeId, snapshot);
    this.onChange(nodeId);
  }

  override clearSnapshot(nodeId: string): void {
    super.clearSnapshot(nodeId);
    this.onChange(nodeId);
  }
}

export interface XdsChildrenOptions {
  readonly count: number;
  readonly cache: ObservedSnapshotCache;
  readonly callbacks: XdsCallbacks;
  /** The dp-server certificate and key: the serving processes terminate TLS. */
  readonly certPem: string;
  readonly keyPem: string;
  /** Serves kuma-dp's `POST /bootstrap`, which the serving processes pipe back here. */
  readonly bootstrap: (req: IncomingMessage, res: ServerResponse) => void;
  /** `control_plane.identifier` in responses. */
  readonly identifier: string;
  readonly log: Logger;
  /** Where the bootstrap socket goes (the agent's data dir: a SIGKILLed agent's socket is replaced by the next run's). */
  readonly socketDir: string;
  /** The child's entry and loader; default: `dist/xds-child.mjs` beside the bundle, or `child.ts` with tsx. */
  readonly entry?: { readonly url: URL; readonly execArgv: readonly string[] };
}

export interface XdsChildren {
  /** Serves a connection in a serving process (the dp-server listener's `handoff`). */
  handoff(socket: Socket, peeked: Buffer, kind: 'tls' | 'h2'): void;
  /** Process ids of the serving processes running now. */
  pids(): number[];
  /** Ends every stream (clients see UNAVAILABLE), stops the processes and the bootstrap socket. */
  close(): Promise<void>;
}

interface Child {
  readonly slot: number;
  readonly proc: ChildProcess;
  readonly started: number;
  ready: boolean;
  exited: boolean;
  readonly mirror: MirrorSender;
  /** Streams per node open in this process (its mirror holds exactly these nodes). */
  readonly want: Map<string, number>;
  /** Admitted streams, by the child's stream id. */
  readonly streams: Map<string, { readonly id: string; readonly ctx: StreamContext; readonly variant: Variant }>;
}

const FIRST_RESTART_MS = 100;
const MAX_RESTART_MS = 5000;
/** A process that lived this long before dying restarts at once again. */
const YOUNG_MS = 10_000;

export function defaultChildEntry(): { url: URL; execArgv: string[] } {
  const here = import.meta.url;
  if (here.endsWith('.ts')) return { url: new URL('./child.ts', here), execArgv: ['--import', import.meta.resolve('tsx')] };
  // Bundled: this module is in `dist/` or one of its chunks (`dist/chunks/`).
  for (const rel of ['./xds-child.mjs', '../xds-child.mjs']) {
    const url = new URL(rel, here);
    if (existsSync(url)) return { url, execArgv: [] };
  }
  throw new Error('xds: the serving process entry (zone-agent/dist/xds-child.mjs) is missing: run `npx tsx zone-agent/build.ts`');
}

/** Starts the processes; resolves once each is ready (or failed to start: logged, and restarted later). */
export async function startXdsChildren(opts: XdsChildrenOptions): Promise<XdsChildren> {
  const { log, callbacks, cache } = opts;
  const entry = opts.entry ?? defaultChildEntry();
  const slots: (Child | undefined)[] = Array.from({ length: opts.count }, () => undefined);
  const delays = slots.map(() => FIRST_RESTART_MS);
  let closing = false;
  let next = 0;

  // The bootstrap server the serving processes pipe kuma-dp's HTTPS requests to (decrypted): a Unix socket
  // only this user can open, since the answer carries the caller's token.
  // A Unix socket path is at most ~107 bytes: a deep data dir falls back to the temporary directory.
  const inDataDir = join(resolve(opts.socketDir), 'xds-bootstrap.sock');
  const bootstrapPath = Buffer.byteLength(inDataDir) < 100 ? inDataDir : join(tmpdir(), `ursa-xds-bootstrap-${process.pid}.sock`);
  await rm(bootstrapPath, { force: true });
  const bootstrapServer = createHttpServer({ requestTimeout: 30_000 }, opts.bootstrap);
  await new Promise<void>((resolve, reject) => {
    bootstrapServer.once('error', reject);
    bootstrapServer.listen(bootstrapPath, () => resolve());
  });
  await chmod(bootstrapPath, 0o600);

  const send = (c: Child, m: ToChild) => {
    if (c.exited || !c.proc.connected) return;
    try {
      c.proc.send(m);
    } catch (err) {
      log.warn(`xds serving process ${c.proc.pid}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };

  // Snapshot changes reach each process once per event-loop turn, in one message.
  let flushing = false;
  const flush = (c: Child) => {
    if (!c.ready || c.exited) return;
    const batch = c.mirror.batch((id) => (c.want.has(id) ? cache.getSnapshot(id) : undefined));
    if (batch) send(c, { t: 'mirror', batch });
  };
  const flushSoon = () => {
    if (flushing) return;
    flushing = true;
    setImmediate(() => {
      flushing = false;
      for (const c of slots) if (c?.mirror.pending) flush(c);
    });
  };
  cache.onChange = (id) => {
    let any = false;
    for (const c of slots) {
      if (c?.want.has(id)) {
        c.mirror.touch(id);
        any = true;
      }
    }
    if (any) flushSoon();
  };

  /** What the main process calls a child's stream: unique over processes and restarts. */
  const contextOf = (c: Child, ctx: StreamContext): StreamContext => ({ ...ctx, streamId: `${c.proc.pid}.${ctx.streamId}` });

  const refusal = (err: unknown, ctx: StreamContext): { code: number; message: string } => {
    if (err instanceof XdsStreamError) return { code: err.code, message: err.message };
    log.warn(`stream ${ctx.streamId}: admission failed: ${err instanceof Error ? err.message : String(err)}`);
    if (asUnavailable(err)) return { code: status.UNAVAILABLE, message: 'xds: the zone control plane cannot read its state right now; retry' };
    return { code: status.INTERNAL, message: `xds: internal error on stream ${ctx.streamId}; the zone agent's log has the details` };
  };

  const onMessage = (c: Child, m: FromChild) => {
    switch (m.t) {
      case 'ready':
        c.ready = true;
        break;
      case 'log':
        log[m.level](m.message);
        break;
      case 'open': {
        const ctx = contextOf(c, m.ctx);
        callbacks.openStream(m.node, m.variant, ctx).then(
          (id) => {
            if (c.exited) return callbacks.closeStream(id, ctx);
            c.streams.set(m.ctx.streamId, { id, ctx, variant: m.variant });
            c.want.set(id, (c.want.get(id) ?? 0) + 1);
            // The node's snapshot before the answer: its first watches are answered at once.
            c.mirror.touch(id);
            flush(c);
            send(c, { t: 'opened', req: m.req, id });
          },
          (err: unknown) => send(c, { t: 'refused', req: m.req, ...refusal(err, ctx) }),
        );
        break;
      }
      case 'close-stream':
        closeStream(c, m.ctx.streamId);
        break;
      case 'events': {
        const q = m.counts;
        for (let i = 0; i + 3 < q.length; i += 4) {
          const s = c.streams.get(String(q[i]));
          const typeUrl = COUNTED_TYPES[q[i + 1]!];
          if (!s || !typeUrl) continue;
          const e = { nodeId: s.id, streamId: s.ctx.streamId, variant: s.variant, typeUrl };
          for (let n = q[i + 2]!; n > 0; n--) callbacks.onResponse?.(e);
          // Insights and metrics count ACKs per type; nonce and version are the stream's business.
          for (let n = q[i + 3]!; n > 0; n--) callbacks.onAck?.({ ...e, nonce: '', version: '' });
        }
        for (const [sid, typeUrl, nonce, version, message] of m.nacks) {
          const s = c.streams.get(sid);
          if (s) callbacks.onNack?.({ nodeId: s.id, streamId: s.ctx.streamId, variant: s.variant, typeUrl, nonce, version, message });
        }
        break;
      }
      case 'closed':
        break;
    }
  };

  const closeStream = (c: Child, sid: string) => {
    const s = c.streams.get(sid);
    if (!s) return;
    c.streams.delete(sid);
    callbacks.closeStream(s.id, s.ctx);
    const n = (c.want.get(s.id) ?? 1) - 1;
    if (n > 0) c.want.set(s.id, n);
    else {
      c.want.delete(s.id);
      c.mirror.touch(s.id);
      flushSoon();
    }
  };

  const spawnOne = (slot: number): Promise<void> => {
    const proc = fork(entry.url, [], { execArgv: [...entry.execArgv], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
    const c: Child = { slot, proc, started: Date.now(), ready: false, exited: false, mirror: new MirrorSender(), want: new Map(), streams: new Map() };
    slots[slot] = c;
    const ready = new Promise<void>((resolve) => {
      proc.on('message', (m: FromChild) => {
        onMessage(c, m);
        if (m.t === 'ready') resolve();
      });
      proc.once('exit', () => resolve());
    });
    proc.on('error', (err) => log.warn(`xds serving process ${proc.pid}: ${err.message}`));
    proc.once('exit', (code, signal) => {
      c.exited = true;
      c.ready = false;
      // Its connections died with it: their streams end here as their clients saw them end.
      for (const sid of [...c.streams.keys()]) closeStream(c, sid);
      c.want.clear();
      c.mirror.reset();
      if (slots[slot] === c) slots[slot] = undefined;
      if (closing) return;
      const young = Date.now() - c.started < YOUNG_MS;
      const delay = young ? delays[slot]! : FIRST_RESTART_MS;
      delays[slot] = young ? Math.min(MAX_RESTART_MS, delay * 2) : FIRST_RESTART_MS;
      log.warn(`xds serving process ${proc.pid} exited (${signal ?? code}); its streams were closed (clients reconnect); restarting it in ${delay} ms`);
      setTimeout(() => {
        if (!closing) void spawnOne(slot);
      }, delay).unref();
    });
    send(c, { t: 'start', certPem: opts.certPem, keyPem: opts.keyPem, bootstrapPath, identifier: opts.identifier });
    return ready;
  };

  await Promise.all(slots.map((_, i) => spawnOne(i)));
  log.info(`ADS served by ${slots.filter((c) => c?.ready).length} processes (--xds-processes ${opts.count}: pids ${slots.map((c) => c?.proc.pid).join(', ')})`);

  return {
    handoff(socket, peeked, kind) {
      // Round robin over the processes ready now.
      for (let i = 0; i < slots.length; i++) {
        const c = slots[(next + i) % slots.length];
        if (!c?.ready || c.exited || !c.proc.connected) continue;
        next = (next + i + 1) % slots.length;
        const m: ToChild = { t: 'conn', peeked, kind };
        try {
          c.proc.send(m, socket, (err) => err && socket.destroy());
        } catch {
          socket.destroy();
        }
        return;
      }
      // None is running (all restarting): the client retries.
      socket.destroy();
    },
    pids: () => slots.flatMap((c) => (c && !c.exited ? [c.proc.pid!] : [])),
    async close() {
      closing = true;
      await Promise.all(
        slots.map(
          (c) =>
            new Promise<void>((done) => {
              if (!c || c.exited) return done();
              c.proc.once('exit', () => done());
              send(c, { t: 'close' });
              setTimeout(() => c.proc.kill('SIGKILL'), 3000).unref();
            }),
        ),
      );
      await new Promise<void>((resolve) => {
        bootstrapServer.close(() => resolve());
        bootstrapServer.closeAllConnections();
      });
      await rm(bootstrapPath, { force: true });
    },
  };
}
