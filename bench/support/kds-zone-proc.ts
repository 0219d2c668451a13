/**
 * A client process of bench/kds-fanout.ts: connects its share of the zones (real KDS clients over WebSocket,
 * in-memory state) to the global, reports progress over IPC, and on `watch` records the wall-clock time each
 * of its zones applied the named resource. Wall clock (timeOrigin + now) so the parent can compare times
 * taken in different processes.
 */
import { memoryZone } from './memory-zone.js';

interface Start {
  readonly base: string;
  /** This process's zones and their zone tokens. */
  readonly zones: readonly { name: string; token: string }[];
}

const wall = () => performance.timeOrigin + performance.now();
const send = (m: unknown) => process.send!(m);

process.once('message', async (start: Start) => {
  const zones: ReturnType<typeof memoryZone>[] = [];
  // Connect in waves so the global's accept queue and the database see a steady stream, not a burst.
  for (let i = 0; i < start.zones.length; i += 100) {
    const wave = start.zones.slice(i, i + 100);
    const made = wave.map((z) => memoryZone({ name: z.name, globalUrl: start.base, token: z.token, transport: 'ws' }));
    const t1 = performance.now();
    for (const z of made) z.client.start();
    zones.push(...made);
    const synced = () => zones.filter((z) => z.state.resources.has('Mesh//default')).length;
    while (synced() < zones.length - 50) await new Promise((r) => setTimeout(r, 20));
    send({ type: 'progress', synced: synced(), syncMs: performance.now() - t1 });
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
