/**
 * The few workerd APIs the Worker and its Durable Object use beyond the web platform, typed here (the project
 * compiles against Node's types, not @cloudflare/workers-types), plus small helpers over them.
 */
import type { Stores, WriteOp } from '@ursa/core';

/** A workerd WebSocket (one end of a `WebSocketPair`, or `Response.webSocket` of an upgrade subrequest). */
export interface CfWebSocket {
  accept(): void;
  /** workerd delivers binary messages as Blobs by default (`websocket_standard_binary_type`, 2026). */
  binaryType?: 'blob' | 'arraybuffer';
  send(data: ArrayBuffer | ArrayBufferView | string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'message', listener: (event: { data: ArrayBuffer | string }) => void): void;
  addEventListener(type: 'close', listener: (event: { code: number; reason: string; wasClean: boolean }) => void): void;
  addEventListener(type: 'error', listener: (event: unknown) => void): void;
  readonly readyState: number;
}

export interface DurableObjectStub {
  fetch(input: string | Request, init?: RequestInit): Promise<Response & { webSocket?: CfWebSocket | null }>;
}

export interface DurableObjectNamespace {
  idFromName(name: string): unknown;
  get(id: unknown): DurableObjectStub;
}

export interface ExecutionContextLike {
  waitUntil(promise: Promise<unknown>): void;
  passThroughOnException(): void;
}

/** `new WebSocketPair()`: [client end (returned in the 101 response), server end (kept)]. */
export function webSocketPair(): [CfWebSocket, CfWebSocket] {
  const Pair = (globalThis as unknown as { WebSocketPair?: new () => Record<0 | 1, CfWebSocket> }).WebSocketPair;
  if (!Pair) throw new Error('WebSocketPair is not available: this code runs in workerd only');
  const pair = new Pair();
  return [pair[0], pair[1]];
}

/**
 * Accepts a socket whose binary messages arrive as ArrayBuffers: KDS frames are decoded synchronously, in
 * order, and relayed as they came (a Blob would need an await per frame, and sent on as is it would arrive as
 * text, "[object Blob]").
 */
export function acceptBinary(ws: CfWebSocket): void {
  ws.binaryType = 'arraybuffer';
  ws.accept();
}

/** The 101 answer handing `client` to the caller. */
export function upgradeResponse(client: CfWebSocket): Response {
  return new Response(null, { status: 101, webSocket: client } as ResponseInit);
}

/**
 * Codes an endpoint may put in a close frame: 1005/1006/1015 only describe a close that had none (workerd
 * throws if they are sent). A close relayed from the other side is mapped onto one that may be sent.
 */
export function sendableCloseCode(code: number | undefined): number {
  if (code === undefined || code === 1005) return 1000;
  if (code === 1006 || code === 1015) return 1011;
  return (code >= 1000 && code <= 1014) || (code >= 3000 && code <= 4999) ? code : 1011;
}

/** Closes a workerd socket, ignoring "already closed" (both sides may close at once). */
export function closeQuietly(ws: CfWebSocket, code?: number, reason?: string): void {
  try {
    ws.close(sendableCloseCode(code), reason);
  } catch {
    // Already closing or closed.
  }
}

/**
 * The stores, with a hook after every committed resource write of a tenant that concerns zones: one that
 * writes a kind in `kinds` (what zones receive), directly or through a cascade. All writes (create, update,
 * upsert, delete, cascades, KDS inventory) go through `ResourceStore.apply`, so wrapping it is enough: this
 * is how the Worker rings its tenant's KDS hub, since Hyperdrive cannot NOTIFY. Writes no zone receives (the
 * zones' own Dataplanes and insights, the bulk of steady-state writes) ring nobody.
 */
export function ringingStores(stores: Stores, kinds: ReadonlySet<string>, afterWrite: (tenant: string) => void): Stores {
  const { resources } = stores;
  const apply = resources.apply.bind(resources);
  resources.apply = async (tenant, ops, ...rest) => {
    const result = await apply(tenant, ops, ...rest);
    if (ops.some((op) => writesKindIn(op, kinds))) afterWrite(tenant);
    return result;
  };
  return stores;
}

function writesKindIn(op: WriteOp, kinds: ReadonlySet<string>): boolean {
  switch (op.op) {
    case 'create':
    case 'update':
    case 'upsert':
      return kinds.has(op.resource.kind);
    case 'delete':
      return kinds.has(op.key.kind);
    case 'cascade-mesh':
      return true; // any mesh-scoped kind
    case 'cascade-labels':
    case 'touch-labels':
      return op.kinds.some((k) => kinds.has(k));
  }
}
