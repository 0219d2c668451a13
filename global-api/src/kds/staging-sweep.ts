/**
 * Drops abandoned inventory uploads (`KdsStore.sweepStaging`): snapshots a zone started staging and stopped
 * sending, e.g. a zone that went away mid-upload and never came back. Run from the zones' hellos, so it works
 * wherever the KDS server runs (Node, Workers) without a timer of its own; one statement for all tenants, at
 * most once per `SWEEP_EVERY_MS` in a process (every replica sweeps; the statement is idempotent).
 */
import type { KdsStore } from '@ursa/core';

export const SWEEP_EVERY_MS = 60_000;
let lastSweep = 0;

/** Sweeps if this process has not in the last minute (`force`: now, for tests). */
export async function sweepStagingNow(kds: KdsStore, ttlMs: number, force = false): Promise<number> {
  const now = Date.now();
  if (!force && now - lastSweep < Math.min(SWEEP_EVERY_MS, ttlMs)) return 0;
  lastSweep = now;
  return kds.sweepStaging(new Date(now - ttlMs));
}
