/** The zone registry's subscriptions, on a real store. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, ResourceStore } from '@ursa/core';
import { migrate, openPglite } from '@ursa/core/node';
import { ensureZone, newCounters, recordConnect, recordDisconnect, recordProgress } from './registry.js';

describe('zone registry', () => {
  let database: Database;
  let store: ResourceStore;
  beforeAll(async () => {
    database = await openPglite();
    await migrate(database);
    store = new ResourceStore(database.db);
  });
  afterAll(async () => database?.close());

  const subs = async (zone: string) => ((await store.get('default', { kind: 'ZoneInsight', name: zone }))?.spec.subscriptions ?? []) as { id: string; disconnectTime?: string; zoneState?: { appliedRevision: string; lastError?: string } }[];
  const info = (id: string, zoneRevision: number, zoneLastError = '') => ({ id, globalInstanceId: 'g', zoneInstanceId: 'z', agentVersion: 'test', config: '{}', transport: 'poll' as const, zoneRevision, zoneLastError });

  it('a long-poll zone that came back under the same session id reports into its new subscription, not the closed one', async () => {
    await ensureZone(store, 'default', 'zone-p');
    await recordConnect(store, 'default', 'zone-p', info('poll-zone-p-1', 6));
    // The zone's lease ran out between two polls: the next poll opens the session again, same id.
    await recordConnect(store, 'default', 'zone-p', info('poll-zone-p-1', 6, 'no frame from the global for 17000 ms'));
    await recordProgress(store, 'default', 'zone-p', 'poll-zone-p-1', { appliedRevision: 66, lastError: '' });
    const [old, now] = await subs('zone-p');
    expect(old!.disconnectTime).toBeDefined();
    expect(old!.zoneState!.appliedRevision).toBe('6');
    expect(now!.disconnectTime).toBeUndefined();
    expect(now!.zoneState!.appliedRevision).toBe('66');

    await recordDisconnect(store, 'default', 'zone-p', 'poll-zone-p-1', newCounters(), { appliedRevision: 70, lastError: '' });
    const after = await subs('zone-p');
    expect(after.map((s) => s.zoneState!.appliedRevision)).toEqual(['6', '70']);
  });
});
