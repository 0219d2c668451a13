/**
 * Another Node process seen through the V8 inspector (`node --inspect=127.0.0.1:<port>`):
 * - its heap after a full garbage collection: RSS alone is too noisy for a per-proxy figure (garbage from
 *   the registration phase, allocator slack), the collected heap is not;
 * - a CPU profile of one phase (`--profile`), to see where the time of that phase goes.
 */
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import WebSocket from 'ws';

async function session(inspectPort: number): Promise<{ send: (method: string, params?: unknown) => Promise<Record<string, any>>; close: () => void; ws: WebSocket }> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
  const ws = new WebSocket(targets[0]!.webSocketDebuggerUrl);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let seq = 0;
  const send = (method: string, params?: unknown) =>
    new Promise<Record<string, any>>((resolve, reject) => {
      const id = ++seq;
      const onMessage = (data: WebSocket.RawData) => {
        const msg = JSON.parse(data.toString()) as { id?: number; result?: Record<string, number>; error?: { message: string } };
        if (msg.id !== id) return;
        ws.off('message', onMessage);
        if (msg.error) reject(new Error(`${method}: ${msg.error.message}`));
        else resolve(msg.result ?? {});
      };
      ws.on('message', onMessage);
      ws.send(JSON.stringify({ id, method, params }));
    });
  return { send, close: () => ws.close(), ws };
}

/**
 * Its heap after a full GC, and what `process.memoryUsage()` says then: `external`/`arrayBuffers` (Buffers and
 * other memory outside the JS heap that objects still hold) tell retained bytes from allocator slack in an RSS
 * far above the heap.
 */
export async function heapAfterGc(inspectPort: number): Promise<{ usedMb: number; totalMb: number; externalMb: number; arrayBuffersMb: number }> {
  const { send, close } = await session(inspectPort);
  try {
    await send('HeapProfiler.collectGarbage');
    await send('HeapProfiler.collectGarbage');
    const usage = await send('Runtime.getHeapUsage');
    const mem = await send('Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true });
    const m = JSON.parse((mem.result as { value?: string } | undefined)?.value ?? '{}') as { external?: number; arrayBuffers?: number };
    return { usedMb: usage.usedSize! / 2 ** 20, totalMb: usage.totalSize! / 2 ** 20, externalMb: (m.external ?? 0) / 2 ** 20, arrayBuffersMb: (m.arrayBuffers ?? 0) / 2 ** 20 };
  } finally {
    close();
  }
}

/** Starts the CPU profiler; the returned function stops it and writes the profile to `file`. */
export async function startCpuProfile(inspectPort: number): Promise<(file: string) => Promise<void>> {
  const { send, close } = await session(inspectPort);
  await send('Profiler.enable');
  await send('Profiler.start');
  return async (file) => {
    const { profile } = await send('Profiler.stop');
    close();
    await writeFile(file, JSON.stringify(profile));
  };
}

/** Writes a heap snapshot of the process to `file` (streamed from the inspector: snapshots run to hundreds of MB). */
export async function heapSnapshot(inspectPort: number, file: string): Promise<void> {
  const { send, close, ws } = await session(inspectPort);
  const out = createWriteStream(file);
  const onChunk = (data: WebSocket.RawData) => {
    const msg = JSON.parse(data.toString()) as { method?: string; params?: { chunk: string } };
    if (msg.method === 'HeapProfiler.addHeapSnapshotChunk') out.write(msg.params!.chunk);
  };
  ws.on('message', onChunk);
  try {
    await send('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  } finally {
    ws.off('message', onChunk);
    await new Promise<void>((resolve) => out.end(resolve));
    close();
  }
}
