/**
 * One propagation round, timed the same way in every KDS benchmark (bench/kds.ts, bench/worker.ts) so their
 * figures compare: from just before the write until each zone has applied the resource.
 */
import type { MemoryState } from './memory-zone.js';
import { waitFor } from './wait.js';

/** Milliseconds from `write()` until each zone applied `name` (one figure per zone, in arrival order). */
export async function timeDelivery(zones: readonly { state: MemoryState }[], name: string, write: () => Promise<unknown>, what: string): Promise<number[]> {
  const arrived = new Map<number, number>();
  let t0 = 0;
  zones.forEach((z, i) => {
    z.state.onApplied = (names) => {
      if (names.includes(name) && !arrived.has(i)) arrived.set(i, performance.now() - t0);
    };
  });
  t0 = performance.now();
  await write();
  await waitFor(what, () => arrived.size === zones.length, 30_000);
  return [...arrived.values()];
}
