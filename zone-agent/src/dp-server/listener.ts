/**
 * Kuma's dp-server on one port (`--xds-port`, 5678): kuma-dp's `POST /bootstrap` over HTTPS and ADS gRPC
 * over TLS, told apart by ALPN (`h2` → the ADS server, `http/1.1` → the bootstrap handler), as kuma-cp
 * serves both on its dp-server port. The first byte of a connection says whether it speaks TLS (a
 * handshake record starts with 0x16); with `--xds-plaintext true` (the default) plaintext HTTP/2 is
 * served too, for proxyless gRPC clients and proxies set up before the dp-server existed. A plaintext
 * HTTP/1 request gets a 400 saying to use https (a bootstrap carries the token back to the caller).
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { createSecureContext, TLSSocket, type SecureContext } from 'node:tls';
import type { DpServerTls } from './tls-material.js';

export interface DpListenerOptions {
  readonly host: string;
  /** 0: any free port. */
  readonly port: number;
  readonly tls: DpServerTls;
  /** Accept plaintext HTTP/2 (gRPC) beside TLS. */
  readonly plaintext: boolean;
  /** HTTP/2 connections (TLS terminated) for the ADS server. */
  readonly grpc: (connection: Duplex) => void;
  /** HTTP/1.1 requests over TLS. */
  readonly http: (req: IncomingMessage, res: ServerResponse) => void;
  readonly log: { warn(m: string): void; debug(m: string): void };
  /**
   * Set: TLS and plaintext HTTP/2 connections are not served here but handed over as they are, the bytes
   * already read (`peeked`) beside them, socket reading stopped (`xds/procs/`: the serving processes get the
   * socket's descriptor and terminate TLS themselves). Plaintext HTTP/1 is still refused here.
   */
  readonly handoff?: (socket: Socket, peeked: Buffer, kind: 'tls' | 'h2') => void;
}

export interface DpListener {
  readonly port: number;
  /** Stops accepting and closes every connection still open. */
  close(): Promise<void>;
}

const TLS_HANDSHAKE = 0x16;
/** A client that sends nothing this long after connecting is dropped. */
const FIRST_BYTE_TIMEOUT_MS = 10_000;

export async function startDpListener(opts: DpListenerOptions): Promise<DpListener> {
  const context = createSecureContext({ cert: opts.tls.certPem, key: opts.tls.keyPem, minVersion: 'TLSv1.2' });
  const http = createHttpServer({ requestTimeout: 30_000 }, opts.http);
  const sockets = new Set<Socket>();

  // A plaintext HTTP/1 request (most likely kuma-dp given http://): one fixed answer, then close.
  const PLAIN_HTTP_ANSWER = 'the dp-server serves POST /bootstrap over https only: use --cp-address=https://<agent>:<port>\n';
  const refusePlainHttp = (socket: Socket) =>
    socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(PLAIN_HTTP_ANSWER)}\r\nconnection: close\r\n\r\n${PLAIN_HTTP_ANSWER}`);

  const onTls = (raw: Socket) => serveTls(raw, context, { grpc: opts.grpc, http: (tls) => http.emit('connection', tls), log: opts.log });

  const server: NetServer = createNetServer({ pauseOnConnect: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setTimeout(FIRST_BYTE_TIMEOUT_MS, () => socket.destroy());
    socket.once('data', (chunk: Buffer) => {
      socket.pause();
      socket.setTimeout(0);
      const kind = chunk[0] === TLS_HANDSHAKE ? 'tls' : chunk.subarray(0, 4).toString('latin1') === 'PRI ' ? 'h2' : undefined;
      if (opts.handoff && (kind === 'tls' || (kind === 'h2' && opts.plaintext))) {
        // Stop the descriptor's reads now (a paused socket still reads into its buffer until its high
        // water mark): a byte read here after the hand-over would be lost to the process serving it.
        stopReading(socket);
        sockets.delete(socket);
        return opts.handoff(socket, chunk, kind);
      }
      // Put back: Node's TLS and HTTP/2 feed what a socket has buffered to their parser before its handle.
      socket.unshift(chunk);
      if (chunk[0] === TLS_HANDSHAKE) onTls(socket);
      else if (chunk.subarray(0, 4).toString('latin1') === 'PRI ' /* the HTTP/2 preface "PRI * HTTP/2.0" */) {
        if (opts.plaintext) opts.grpc(socket);
        else socket.end(); // plaintext gRPC refused (--xds-plaintext false)
      } else refusePlainHttp(socket);
    });
    socket.resume();
  });

  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : opts.port);
    });
  });

  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        http.closeAllConnections();
      }),
  };
}


/**
 * Terminates TLS on an accepted socket (its first bytes put back): ALPN `h2` goes to `grpc` (through
 * `Pass`), anything else to `http`. Used here and by the xDS serving processes (`xds/procs/child.ts`).
 */
export function serveTls(raw: Socket, context: SecureContext, on: { grpc: (connection: Duplex) => void; http: (tls: TLSSocket) => void; log: { debug(m: string): void } }): void {
  const tls = new TLSSocket(raw, { isServer: true, secureContext: context, ALPNProtocols: ['h2', 'http/1.1'] });
  tls.on('error', (err) => {
    on.log.debug(`dp-server: TLS connection from ${raw.remoteAddress}: ${err.message}`);
    tls.destroy();
  });
  tls.once('secure', () => {
    // HTTP/2 over a TLS socket Node created from an accepted one stalls when handed to another HTTP/2
    // server's session as is (seen on Node 20); through a plain JS stream it works.
    if (tls.alpnProtocol === 'h2') on.grpc(new Pass(tls));
    else on.http(tls);
  });
}

/** Stops a socket's descriptor from being read (what `pause()` does only for sockets read into a fixed buffer). */
function stopReading(socket: Socket): void {
  const handle = (socket as unknown as { _handle?: { reading?: boolean; readStop?: () => number } })._handle;
  if (handle?.readStop) {
    handle.reading = false;
    handle.readStop();
  }
}

/** A stream that passes everything through to `inner` (see `serveTls`). */
class Pass extends Duplex {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly remoteFamily: string | undefined;
  readonly encrypted = true;
  readonly alpnProtocol = 'h2';

  constructor(private readonly inner: TLSSocket) {
    super({ allowHalfOpen: false });
    this.remoteAddress = inner.remoteAddress;
    this.remotePort = inner.remotePort;
    this.remoteFamily = inner.remoteFamily;
    inner.on('data', (b: Buffer) => {
      if (!this.push(b)) inner.pause();
    });
    inner.on('end', () => this.push(null));
    inner.on('close', () => this.destroy());
    inner.on('error', (err) => this.destroy(err));
    inner.pause();
  }

  override _read(): void {
    this.inner.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.inner.write(chunk, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.inner.end(cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.inner.destroy();
    cb(err);
  }

  setTimeout(ms: number, cb?: () => void): this {
    this.inner.setTimeout(ms, cb);
    return this;
  }

  setNoDelay(noDelay?: boolean): this {
    this.inner.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable?: boolean, delay?: number): this {
    this.inner.setKeepAlive(enable, delay);
    return this;
  }
}
