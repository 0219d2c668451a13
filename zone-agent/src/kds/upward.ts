/**
 * The zone's inventory on its way up: the batches that bring the global from the inventory revision it has
 * applied to the zone's current one, as a full snapshot when the changes since cannot be served (or the
 * global has nothing yet).
 */
import type { Delta, ResourceKey } from '@ursa/proto/gen/kds.js';
import { toWire } from '@ursa/core';
import type { SyncState } from './state.js';

/** Resources per inventory page read from the local store. */
const PAGE = 500;

/** Where the global stands with the zone's inventory. */
export interface UpCursor {
  /** The zone revision the global has applied (its last Ack): every batch starts after it. */
  acked: number;
  /**
   * Where to read the next changes from: `acked`, or later when the changes since were none of the global's
   * business (the zone's copies of global resources), so they are not read again.
   */
  revision: number;
  /** The global needs a full snapshot. */
  snapshot: boolean;
}

/**
 * The zone's next inventory batch(es) after `cursor`: a full snapshot (all frames carry its revision, the
 * last `complete`) or the changes since. Nothing when there is nothing to send. The caller asks for the next
 * batch only once the previous one was acknowledged, and moves `acked` and `revision` to each incremental Ack.
 * A batch's base is `acked`, not `revision`: what lies between holds nothing for the global, and the global
 * checks that a batch starts where it stands (long-poll pushes).
 */
export async function* inventoryBatches(state: SyncState, cursor: UpCursor): AsyncGenerator<Omit<Delta, 'seq'>> {
  if (!cursor.snapshot) {
    const page = await state.inventorySince(cursor.revision, PAGE);
    if (!page.resyncRequired) {
      if (page.upserts.length === 0 && page.removals.length === 0) {
        cursor.revision = page.revision;
        return;
      }
      yield { upserts: page.upserts.map(toWire), removals: page.removals, revision: page.revision, baseRevision: cursor.acked, snapshot: false, complete: true };
      return;
    }
    cursor.snapshot = true;
  }
  const revision = await state.inventoryRevision();
  let after: ResourceKey | undefined;
  for (;;) {
    const page = await state.inventoryPage(after, PAGE);
    after = page.last;
    yield { upserts: page.resources.map(toWire), removals: [], revision, baseRevision: 0, snapshot: true, complete: page.done, snapshotAfter: after };
    if (page.done) break;
  }
  // Only reached once the last frame was acknowledged (the caller waits for each Ack before asking again).
  cursor.snapshot = false;
  cursor.revision = revision;
  cursor.acked = revision;
}
