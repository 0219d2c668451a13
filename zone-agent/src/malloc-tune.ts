/**
 * glibc's allocator, tuned for the agent's large response buffers (`--malloc-mmap-threshold`, native addon
 * `native/malloc-tune.c`, compiled by `build.ts`):
 * - the mmap threshold is fixed, so large buffers are mmapped and given back on free instead of staying in
 *   the heap arenas (glibc raises its threshold to every large block freed): at 2,000 proxies with 1.3 MB of
 *   configuration each, RSS after the cold start went from 3.2 GB to 1.1 GB;
 * - every `TRIM_EVERY_MS`, when more than `TRIM_ABOVE_BYTES` were freed inside the arenas since the last trim
 *   (smaller buffers a cold start freed), the free pages are handed back with `malloc_trim`: at 4,000 proxies
 *   reaching 20 services, 265 -> 32 KB of RSS per proxy. Checking is one `mallinfo2` call; trimming (20-60 ms
 *   with a GB of arenas) happens after bursts only.
 * Without the addon (not built, not glibc) the process runs with glibc's defaults, and says so.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * Where the compiled addon is, seen from this module: the source (`src/`) and the bundle's entries (`dist/*.mjs`)
 * are one level below `zone-agent/`, the bundle's chunks (`dist/chunks/`) two.
 */
const CANDIDATES = ['../native/build/malloc-tune.node', '../../native/build/malloc-tune.node'];
const TRIM_EVERY_MS = 2_000;
const TRIM_ABOVE_BYTES = 64 * 2 ** 20;

interface Native {
  setMmapThreshold(bytes: number): boolean;
  freeBytes(): number;
  trim(): boolean;
}

export interface MallocTuning {
  readonly applied: boolean;
  /** What was done, or why not, for the start-up log. */
  readonly note: string;
  /** Stops the periodic trim. */
  readonly stop: () => void;
}

/**
 * Sets the threshold (bytes; 0 leaves glibc as it is) and starts the periodic trim, reporting each trim to
 * `onTrim` (freed bytes, milliseconds).
 */
export function tuneMalloc(bytes: number, onTrim: (freed: number, ms: number) => void = () => {}): MallocTuning {
  const not = (why: string) => ({ applied: false, note: `mmap threshold not set: ${why}`, stop: () => {} });
  if (bytes === 0) return not("--malloc-mmap-threshold 0 keeps glibc's dynamic one");
  if (process.platform !== 'linux') return not(`glibc's setting, and this is ${process.platform}`);
  const file = CANDIDATES.map((c) => fileURLToPath(new URL(c, import.meta.url))).find((f) => existsSync(f));
  if (!file) return not('zone-agent/native/build/malloc-tune.node is not built (zone-agent/build.ts compiles it)');
  let native: Native;
  try {
    native = createRequire(import.meta.url)(file) as Native;
  } catch (err) {
    return not(`${file} does not load (${(err as Error).message})`);
  }
  if (typeof native.freeBytes !== 'function' || !native.setMmapThreshold(bytes)) return not('mallopt refused it, or the addon is a stale build');
  // Trimmed chunks stay on the free lists (their pages are given back, their bytes still count as free), so
  // what matters is how much was freed since the last trim, not how much is free.
  let freeAfterTrim = 0;
  const timer = setInterval(() => {
    const free = native.freeBytes();
    if (free - freeAfterTrim < TRIM_ABOVE_BYTES) {
      freeAfterTrim = Math.min(freeAfterTrim, free);
      return;
    }
    const started = performance.now();
    const rss = process.memoryUsage.rss();
    native.trim();
    freeAfterTrim = native.freeBytes();
    onTrim(Math.max(0, rss - process.memoryUsage.rss()), performance.now() - started);
  }, TRIM_EVERY_MS);
  timer.unref();
  return { applied: true, note: `mmap threshold ${bytes} bytes; free heap memory over ${TRIM_ABOVE_BYTES / 2 ** 20} MiB freed returned within ${TRIM_EVERY_MS / 1000} s`, stop: () => clearInterval(timer) };
}
