/**
 * Timing one change across the zones of several client processes (bench/support/kds-zone-proc.ts), shared by
 * bench/kds-fanout.ts and bench/worker-hub.ts.
 */
import type { ChildProcess } from 'node:child_process';

type ZoneProcMessage = { type: string; name?: string; arrivals?: number[] };

const wall = () => performance.timeOrigin + performance.now();

/**
 * Arms every process to watch for resource `name`, runs `change`, and resolves with each zone's latency from
 * just before `change` to the zone applying it (wall clock, comparable across processes). Fails after 60 s.
 */
export async function timeChange(procs: readonly ChildProcess[], name: string, change: () => Promise<void>): Promise<number[]> {
  await Promise.all(procs.map((c) => new Promise<void>((resolve) => {
    const on = (m: ZoneProcMessage) => {
      if (m.type === 'watching' && m.name === name) {
        c.off('message', on);
        resolve();
      }
    };
    c.on('message', on);
    c.send({ type: 'watch', name });
  })));
  const arrivals: number[] = [];
  const all = Promise.all(procs.map((c) => new Promise<void>((resolve) => {
    const on = (m: ZoneProcMessage) => {
      if (m.type === 'arrivals' && m.name === name) {
        c.off('message', on);
        arrivals.push(...m.arrivals!);
        resolve();
      }
    };
    c.on('message', on);
  })));
  const start = wall();
  await change();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([all, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`not every zone applied ${name} within 60 s`)), 60_000)))]);
  } finally {
    clearTimeout(timer);
  }
  return arrivals.map((a) => a - start);
}
