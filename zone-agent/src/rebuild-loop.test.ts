/**
 * The rebuild loop's timing as a view sees it: with `leading`, a lone change is rebuilt at once instead of
 * after the delay; rings during a pass coalesce into exactly one more; a ring right after a pass waits out
 * the delay (so a burst of writes is still one or two passes, not one per write).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger, type Waker } from '@ursa/core';
import { LOCAL } from './kds/state.js';
import { startRebuildLoop, type RebuildLoop } from './rebuild-loop.js';

/** A doorbell the test rings by hand (the store's own rings come from commits). */
function handWaker(): Waker & { ring: (kind: string) => void } {
  const listeners = new Set<(kind: string) => void>();
  return {
    subscribe: (tenant, l) => {
      expect(tenant).toBe(LOCAL);
      listeners.add(l);
      return () => listeners.delete(l);
    },
    close: async () => {},
    ring: (kind) => listeners.forEach((l) => l(kind)),
  };
}

const until = async (what: string, f: () => boolean, ms: number) => {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('rebuild loop', () => {
  let loop: RebuildLoop | undefined;
  afterEach(async () => loop?.stop());

  it('with leading, a lone change is rebuilt without waiting for the delay; without it, only after', async () => {
    const DELAY = 60_000; // far beyond the test: a pass before it proves the ring did not wait
    for (const leading of [true, false]) {
      const waker = handWaker();
      let passes = 0;
      loop = startRebuildLoop({ name: 't', pass: async () => void passes++, waker, kinds: new Set(['Dataplane']), log: silentLogger, delayMs: DELAY, periodicMs: 0, leading });
      waker.ring('Dataplane');
      if (leading) await until('the pass after a lone ring', () => passes === 1, 5_000);
      else {
        await new Promise((r) => setTimeout(r, 200));
        expect(passes).toBe(0);
      }
      waker.ring('Secret'); // not watched
      await new Promise((r) => setTimeout(r, 50));
      expect(passes).toBe(leading ? 1 : 0);
      await loop.stop();
    }
  });

  it('rings during a pass coalesce into one more; a ring right after a pass waits for the delay', async () => {
    const waker = handWaker();
    let passes = 0;
    let release: (() => void) | undefined;
    const DELAY = 300;
    loop = startRebuildLoop({
      name: 't',
      waker,
      kinds: new Set(['Dataplane']),
      log: silentLogger,
      delayMs: DELAY,
      periodicMs: 0,
      leading: true,
      pass: async () => {
        passes++;
        if (passes === 1) await new Promise<void>((r) => (release = r));
      },
    });
    waker.ring('Dataplane');
    await until('the first pass to start', () => release !== undefined, 5_000);
    for (let i = 0; i < 10; i++) waker.ring('Dataplane');
    release!();
    await until('exactly one more pass', () => passes === 2, 5_000);
    const ended = performance.now();
    waker.ring('Dataplane'); // right after a pass: waits out the delay
    await until('the delayed pass', () => passes === 3, 5_000);
    expect(performance.now() - ended).toBeGreaterThanOrEqual(DELAY - 5);
  });
});
