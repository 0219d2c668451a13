/**
 * The zone's inventory on its way up: the batches that bring the global from the inventory revision it has
 * applied to the zone's current one, as a full snapshot when the changes since cannot be served (or the
 * global has nothing yet).
 */
import type { Delta, ResourceKey } from '@ursa/proto/gen/kds.js';
import { packFrames, toWire } from '@ursa/core';
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
 * The zone's next inventory frames after `cursor`: a full snapshot (all frames carry its revision, the
 * last `complete`) or the changes since. Nothing when there is nothing to send. Each page is packed into
 * frames by bytes (`packFrames`, the rule the global follows downstream), so no frame nears MAX_FRAME_BYTES
 * whatever the Dataplanes; the changes of one page split over several frames go up as frames of one batch:
 * all carry the page's revision and the same base, and only the last is `complete` (the global moves the
 * zone's inventory revision then; a batch resent after a dropped connection only rewrites the same state).
 * The caller asks for the next frame only once the previous one was acknowledged, and moves `acked` and
 * `revision` to each Ack of a `complete` incremental frame.
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
      const base = cursor.acked;
      const frames = packFrames(page.upserts.map(toWire), page.removals);
      for (const [i, f] of frames.entries()) {
        yield { upserts: f.upserts, removals: f.removals, revision: page.revision, baseRevision: base, snapshot: false, complete: i === frames.length - 1 };
      }
      return;
    }
    cursor.snapshot = true;
  }
  const revision = await state.inventoryRevision();
  let after: ResourceKey | undefined;
  for (;;) {
    const page = await state.inventoryPage(after, PAGE);
    after = page.last;
    const frames = packFrames(page.resources.map(toWire), []);
    if (frames.length === 0) frames.push({ upserts: [], removals: [] });
    for (const [i, f] of frames.entries()) {
      const final = i === frames.length - 1;
      const lastKey = f.upserts.at(-1)?.key;
      yield { upserts: f.upserts, removals: [], revision, baseRevision: 0, snapshot: true, complete: page.done && final, snapshotAfter: final || !lastKey ? after : lastKey };
    }
    if (page.done) break;
  }
  // Only reached once the last frame was acknowledged (the caller waits for each Ack before asking again).
  cursor.snapshot = false;
  cursor.revision = revision;
  cursor.acked = revision;
}
