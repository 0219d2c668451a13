/**
 * Waiting on a condition with a deadline. Polls often (10 ms by default): the benchmarks time deliveries in
 * callbacks, and a slow poll would only stretch the pauses between rounds.
 */

/** Polls `check` until it returns a value (undefined or a throw mean "not yet"); fails after `timeoutMs`, naming `what`. */
export async function until<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs: number, pollMs = 10): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = await Promise.resolve()
      .then(check)
      .catch(() => undefined);
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** `until` for a yes/no condition. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  await until(what, async () => ((await check()) ? true : undefined), timeoutMs);
}
