/**
 * KDS over a WebSocket (`/kds/v1/stream`, one binary protobuf Frame per message): the stream the session's
 * semantics are modelled on, so this adapter only encodes, decodes and counts bytes.
 */
import WebSocket from 'ws';
import { Frame, type Hello } from '@ursa/proto/gen/kds.js';
import { MAX_FRAME_BYTES } from '@ursa/core';
import { type FrameSink, type KdsConnection, type KdsTransport, SessionEnded } from './transport.js';

export function wsTransport(globalUrl: string): KdsTransport {
  return { name: 'ws', open: (hello, sink) => openStream(globalUrl, hello, sink) };
}

function openStream(globalUrl: string, hello: () => Promise<Hello>, sink: FrameSink): KdsConnection {
  const url = new URL('/kds/v1/stream', globalUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(url, { maxPayload: MAX_FRAME_BYTES });
  ws.binaryType = 'nodebuffer';
  let ended = false;
  const end = (err: Error) => {
    if (ended) return;
    ended = true;
    sink.end(err);
  };
  const send = (frame: Frame) => {
    if (ended || ws.readyState !== WebSocket.OPEN) return;
    const bytes = Frame.encode(frame).finish();
    sink.bytes('out', bytes.byteLength);
    ws.send(bytes);
  };

  ws.on('open', () => {
    // The Hello is read when the socket is up, so it carries the cursors as they are now.
    hello().then(
      (h) => send({ body: { $case: 'hello', value: h } }),
      (err: Error) => {
        end(err);
        ws.close();
      },
    );
  });
  ws.on('message', (data: Buffer) => {
    if (ended) return;
    sink.bytes('in', data.byteLength);
    let frame: Frame;
    try {
      frame = Frame.decode(data);
    } catch (err) {
      end(new SessionEnded(`malformed frame from the global: ${(err as Error).message}`));
      ws.close(1008);
      return;
    }
    sink.frame(frame);
  });
  ws.on('close', (code, reason) => end(new SessionEnded(`connection closed (${code}${reason.length ? `: ${reason.toString()}` : ''})`)));
  ws.on('error', (err) => end(new SessionEnded(err.message)));

  return {
    send,
    async close(reason) {
      ended = true;
      // A close reason is at most 123 bytes (ws throws beyond).
      ws.close(1000, Buffer.byteLength(reason) <= 123 ? reason : undefined);
    },
  };
}
