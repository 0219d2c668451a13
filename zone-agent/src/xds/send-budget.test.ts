import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { SendBudget } from './send-budget.js';

/** A full garbage collection from inside the test (the flag is read when `gc` is looked up in a new context). */
function collect(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

describe('send budget', () => {
  it('holds writes past the bound until earlier ones flush, in submission order', () => {
    const b = new SendBudget(100);
    const started: string[] = [];
    const flush = new Map<string, () => void>();
    const submit = (name: string, bytes: number) => b.submit(bytes, (done) => (started.push(name), flush.set(name, done)));
    submit('a', 60);
    submit('b', 30);
    submit('c', 30); // would exceed 100: waits
    submit('d', 1); // fits, but waits behind c (one stream's responses keep their order)
    expect(started).toEqual(['a', 'b']);
    expect(b.state).toEqual({ inFlight: 90, waiting: 2 });
    flush.get('a')!();
    expect(started).toEqual(['a', 'b', 'c', 'd']);
    flush.get('a')!(); // a second call changes nothing
    expect(b.state).toEqual({ inFlight: 61, waiting: 0 });
  });

  it('lets one response larger than the bound go when nothing is in flight', () => {
    const b = new SendBudget(10);
    let ran = 0;
    b.submit(1000, () => ran++);
    expect(ran).toBe(1);
  });

  it('stops counting a write that never flushes (a stuck client) after stuckMs', async () => {
    const b = new SendBudget(100, 50);
    const started: string[] = [];
    b.submit(100, () => started.push('stuck'));
    b.submit(10, (done) => (started.push('next'), done()));
    expect(started).toEqual(['stuck']);
    const until = Date.now() + 5000;
    while (started.length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    expect(started).toEqual(['stuck', 'next']);
    expect(b.state.inFlight).toBe(0);
  });

  it('keeps no reference to a response once its write started (a cold start queued thousands)', async () => {
    const b = new SendBudget(100);
    const refs: WeakRef<Buffer>[] = [];
    const done: (() => void)[] = [];
    for (let i = 0; i < 50; i++) {
      const payload = Buffer.alloc(100_000);
      refs.push(new WeakRef(payload));
      // Like the ADS server's write: the closure holds the response until it is dropped.
      b.submit(100, (release) => {
        expect(payload.length).toBe(100_000);
        done.push(release);
      });
    }
    for (let i = 0; i < 50; i++) done[i]!(); // each flush starts the next write
    expect(b.state).toEqual({ inFlight: 0, waiting: 0 });
    await new Promise((r) => setTimeout(r, 0));
    collect();
    expect(refs.filter((r) => r.deref() !== undefined).length).toBe(0);
  });
});
