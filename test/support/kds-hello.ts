/** Hello frames and requests for raw KDS clients (tests that send what a zone agent never would). */
import { type Frame, Frames, type Hello } from '@ursa/proto/gen/kds.js';
import { CLIENT_FEATURES } from '@ursa/zone-agent';

/** A complete Hello with a real agent's features, up to date (revision 0: no snapshot wanted); `h` overrides. */
export const rawHello = (h: Partial<Hello>): Hello => ({
  tenant: '',
  zone: 'zone-x',
  token: '',
  agentVersion: 'test',
  instanceId: 'raw-0000',
  features: [...CLIENT_FEATURES],
  lastRevision: 0,
  configJson: '{}',
  inventoryRevision: 0,
  lastError: '',
  ...h,
});

/** POSTs a KDS protobuf body (long-poll or push) and decodes the answer's frames. */
export async function postFrames(url: string, path: string, body: Uint8Array): Promise<{ status: number; frames: Frame[] }> {
  const res = await fetch(`${url}${path}`, { method: 'POST', body: body as Uint8Array<ArrayBuffer>, headers: { 'content-type': 'application/x-protobuf' } });
  return { status: res.status, frames: Frames.decode(new Uint8Array(await res.arrayBuffer())).frames };
}

/** The first Error frame's body among `frames`, if any. */
export const errorOf = (frames: Frame[]) => {
  const f = frames.find((x) => x.body?.$case === 'error');
  return f?.body?.$case === 'error' ? f.body.value : undefined;
};
