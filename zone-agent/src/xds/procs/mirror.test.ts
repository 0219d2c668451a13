/**
 * The snapshot mirror of the serving processes (`mirror.ts`), sender to receiver through the same structured
 * clone the IPC channel uses (`v8.serialize`): shared sets arrive once and stay one object, only new
 * resources travel with their bytes, a change is found by `changedNames` as in the main process, and what no
 * node holds any more is released on both sides.
 */
import { deserialize, serialize } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, LISTENER_TYPE_URL } from '@ursa/proto/xds';
import { changedNames, layeredTypeSet, Snapshot, typeSetOf, versionedResource, type TypeSet } from '../snapshot.js';
import { MirrorReceiver, MirrorSender, type MirrorBatch } from './mirror.js';

const EDS = CLUSTER_LOAD_ASSIGNMENT_TYPE_URL;
const LDS = LISTENER_TYPE_URL;
const res = (t: string, name: string, body: string) => versionedResource(t, name, Buffer.from(body));
const set = (t: string, entries: Record<string, string>): TypeSet => typeSetOf(t, Object.entries(entries).map(([n, b]) => res(t, n, b)));

/** Through the IPC channel's serialization (`serialization: 'advanced'`). */
const wire = (b: MirrorBatch): MirrorBatch => deserialize(serialize(b)) as MirrorBatch;
const shippedBytes = (b: MirrorBatch) => b.sets.flatMap((s) => s.items ?? []).filter((i) => i.length > 1).length;

describe('xDS snapshot mirror (main process -> serving process)', () => {
  it('ships shared sets once, keeps their identity, sends only new resources, and releases what no node holds', () => {
    const sender = new MirrorSender();
    const receiver = new MirrorReceiver();
    const got = new Map<string, Snapshot | undefined>();
    const apply = (b: MirrorBatch | undefined) => b && receiver.apply(wire(b), (id, s) => got.set(id, s));
    const snaps = new Map<string, Snapshot>();

    const eds1 = set(EDS, { a: 'a-1', b: 'b-1', c: 'c-1' });
    const ownA = set(LDS, { 'in-a': 'inbound a' });
    const ownB = set(LDS, { 'in-b': 'inbound b' });
    const vips = set(LDS, { 'vip-1': 'vip one', 'vip-2': 'vip two' });
    snaps.set('n1', Snapshot.fromSets(new Map([[EDS, eds1], [LDS, layeredTypeSet(vips, ownA)]])));
    snaps.set('n2', Snapshot.fromSets(new Map([[EDS, eds1], [LDS, layeredTypeSet(vips, ownB)]])));
    sender.touch('n1');
    sender.touch('n2');
    const first = sender.batch((id) => snaps.get(id))!;
    // eds1 (3 resources), vips (2), each node's own layer (1 each): 7 resources, each once.
    expect(shippedBytes(first)).toBe(7);
    apply(first);
    const r1 = got.get('n1')!;
    const r2 = got.get('n2')!;
    expect(r1.sameAs(snaps.get('n1'))).toBe(true);
    expect(r2.sameAs(snaps.get('n2'))).toBe(true);
    // One object per shared set: the encode-once memos and `changedNames` key on it.
    expect(r1.get(EDS)).toBe(r2.get(EDS));
    expect(r1.get(LDS).layers?.[0]).toBe(r2.get(LDS).layers?.[0]);
    expect(Buffer.from(r1.get(LDS).items.get('vip-2')!.body.value).toString()).toBe('vip two');
    expect([...r1.get(LDS).items.keys()]).toEqual(['in-a', 'vip-1', 'vip-2']);

    // One endpoint changes: one new set, one resource's bytes; the old set is released.
    const eds2 = typeSetOf(EDS, [eds1.items.get('a')!, res(EDS, 'b', 'b-2'), eds1.items.get('c')!]);
    for (const id of ['n1', 'n2']) snaps.set(id, Snapshot.fromSets(new Map([[EDS, eds2], [LDS, snaps.get(id)!.get(LDS)]])));
    sender.touch('n1');
    sender.touch('n2');
    const second = sender.batch((id) => snaps.get(id))!;
    expect(second.sets).toHaveLength(1);
    expect(shippedBytes(second)).toBe(1);
    expect(second.release).toHaveLength(1);
    apply(second);
    expect(got.get('n1')!.get(EDS)).toBe(got.get('n2')!.get(EDS));
    expect(changedNames(r1.get(EDS), got.get('n1')!.get(EDS))).toEqual(['b']);
    // Same resource objects stay the same objects on the other side too.
    expect(got.get('n1')!.get(EDS).items.get('a')).toBe(r1.get(EDS).items.get('a'));
    expect(receiver.setCount).toBe(sender.setCount);
    expect(receiver.resourceCount).toBe(sender.resourceCount);

    // Both nodes leave this process: nothing is held on either side.
    snaps.clear();
    sender.touch('n1');
    sender.touch('n2');
    apply(sender.batch((id) => snaps.get(id)));
    expect(got.get('n1')).toBeUndefined();
    expect(got.get('n2')).toBeUndefined();
    expect([sender.setCount, sender.resourceCount, receiver.setCount, receiver.resourceCount]).toEqual([0, 0, 0, 0]);
  });

  it('sends nothing for a node whose snapshot did not change, and starts over after a reset', () => {
    const sender = new MirrorSender();
    const snap = Snapshot.fromSets(new Map([[EDS, set(EDS, { a: 'a' })]]));
    sender.touch('n');
    expect(sender.batch(() => snap)?.sets).toHaveLength(1);
    sender.touch('n');
    const again = sender.batch(() => snap)!;
    // The node is re-pointed at the same set ids, and nothing is shipped or released.
    expect(again.sets).toHaveLength(0);
    expect(again.release).toHaveLength(0);
    sender.reset();
    sender.touch('n');
    expect(shippedBytes(sender.batch(() => snap)!)).toBe(1);
  });
});
