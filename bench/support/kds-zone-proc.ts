/**
 * A client process of bench/kds-fanout.ts: connects its share of the zones (real KDS clients over WebSocket,
 * in-memory state) to the global, reports progress over IPC, and on `watch` records the wall-clock time each
 * of its zones applied the named resource. Wall clock (timeOrigin + now) so the parent can compare times
 * taken in different processes.
 */
import { memoryZone } from './memory-zone.js';

interface Start {
  readonly base: string;
  readonly names: readonly string[];
}

const wall = () => performance.timeOrigin + performance.now();
const send = (m: unknown) => process.send!(m);

async function token(base: string, zone: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(`${base}/tokens/zone`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ zone, validFor: 3600 }) }).catch(() => undefined);
    if (res?.ok) return ((await res.json()) as { token: string }).token;
    if (attempt > 20) throw new Error(`token for ${zone}: ${res?.status}`);
    await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
  }
}

process.once('message', async (start: Start) => {
  const zones: ReturnType<typeof memoryZone>[] = [];
  // Connect in waves so the global's accept queue and the database see a steady stream, not a burst.
  for (let i = 0; i < start.names.length; i += 100) {
    const wave = start.names.slice(i, i + 100);
    const t0 = performance.now();
    const made = await Promise.all(wave.map(async (name) => memoryZone({ name, globalUrl: start.base, token: await token(start.base, name), transport: 'ws' })));
    const t1 = performance.now();
    for (const z of made) z.client.start();
    zones.push(...made);
    const synced = () => zones.filter((z) => z.state.resources.has('Mesh//default')).length;
    while (synced() < zones.length - 50) await new Promise((r) => setTimeout(r, 20));
    send({ type: 'progress', synced: synced(), tokensMs: t1 - t0, syncMs: performance.now() - t1 });
  }
  while (zones.some((z) => !z.state.resources.has('Mesh//default'))) await new Promise((r) => setTimeout(r, 50));
  send({ type: 'synced', count: zones.length });

  process.on('message', async (m: { type: string; name?: string }) => {
    if (m.type === 'watch') {
      const arrivals: number[] = [];
      for (const z of zones) {
        z.state.onApplied = (names) => {
          if (names.includes(m.name!)) {
            arrivals.push(wall());
            z.state.onApplied = undefined;
            if (arrivals.length === zones.length) send({ type: 'arrivals', name: m.name, arrivals });
          }
        };
      }
      send({ type: 'watching', name: m.name });
    } else if (m.type === 'stop') {
      await Promise.all(zones.map((z) => z.client.stop()));
      process.exit(0);
    }
  });
});
