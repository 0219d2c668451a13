/**
 * A plaintext HTTP/2 (h2c) forwarder on 127.0.0.1, standing in for an Envoy HTTP route in tests that run no
 * Envoy: each request goes to the upstream its `:authority` names (as a virtual host would pick a cluster),
 * headers, body and trailers (gRPC status) passed through both ways. It records every request's authority,
 * so a test sees which name a client sent and that the request came through here at all. A request whose
 * authority names no upstream is answered 404, as Envoy answers one that matches no virtual host.
 */
import * as http2 from 'node:http2';

export interface H2Forwarder {
  readonly port: number;
  /** `:authority` of every request received, in order. */
  readonly authorities: string[];
  close(): Promise<void>;
}

export async function h2Forwarder(upstreams: Readonly<Record<string, { host: string; port: number }>>): Promise<H2Forwarder> {
  const authorities: string[] = [];
  const sessions = new Map<string, http2.ClientHttp2Session>();
  const sessionTo = (authority: string, target: { host: string; port: number }) => {
    let s = sessions.get(authority);
    if (!s || s.closed || s.destroyed) {
      s = http2.connect(`http://${target.host}:${target.port}`);
      s.on('error', () => sessions.delete(authority));
      sessions.set(authority, s);
    }
    return s;
  };
  const server = http2.createServer();
  const downstream = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    downstream.add(s);
    s.on('close', () => downstream.delete(s));
  });
  server.on('stream', (stream, headers) => {
    const authority = String(headers[':authority'] ?? '');
    authorities.push(authority);
    const target = upstreams[authority];
    if (!target) {
      stream.respond({ ':status': 404 });
      stream.end();
      return;
    }
    const forwarded: http2.OutgoingHttpHeaders = {};
    // The session sets :scheme and :authority of its own.
    for (const [k, v] of Object.entries(headers)) if (!k.startsWith(':') || k === ':method' || k === ':path') forwarded[k] = v;
    const upstream = sessionTo(authority, target).request(forwarded);
    const fail = () => {
      if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    };
    upstream.on('error', fail);
    stream.on('error', () => upstream.close(http2.constants.NGHTTP2_CANCEL));
    upstream.on('response', (h) => {
      const out: http2.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(h)) if (!k.startsWith(':') || k === ':status') out[k] = v;
      // A gRPC "trailers-only" answer (an error with no message) carries its status in these headers.
      if (h['grpc-status'] !== undefined) {
        stream.respond(out, { endStream: true });
        return;
      }
      stream.respond(out, { waitForTrailers: true });
      upstream.pipe(stream);
    });
    let trailers: http2.OutgoingHttpHeaders = {};
    upstream.on('trailers', (t) => {
      trailers = Object.fromEntries(Object.entries(t).filter(([k]) => !k.startsWith(':'))) as http2.OutgoingHttpHeaders;
    });
    stream.on('wantTrailers', () => stream.sendTrailers(trailers));
    stream.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as { port: number }).port,
    authorities,
    close: async () => {
      for (const s of [...sessions.values(), ...downstream]) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
