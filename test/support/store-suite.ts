/**
 * The preamble of a store suite run on each backend: opens a migrated database before the suite's tests and
 * drops it after, with a `ResourceStore` over it. Kept apart from `backends.ts`, which benches import too and
 * which must not pull in vitest.
 */
import { afterAll, beforeAll } from 'vitest';
import { type Database, ResourceStore } from '@ursa/core';
import type { Backend } from './backends.js';

export interface OpenStore {
  /** Valid inside the suite's tests (set by its `beforeAll`). */
  readonly database: Database;
  readonly store: ResourceStore;
}

/** Call inside a `describe`: registers the hooks and returns the store they open. */
export function storeSuite(backend: Backend): OpenStore {
  const opened: { database?: Database; store?: ResourceStore; dispose?: () => Promise<void> } = {};
  beforeAll(async () => {
    const { database, dispose } = await backend.open();
    Object.assign(opened, { database, dispose, store: new ResourceStore(database.db) });
  });
  afterAll(async () => opened.dispose?.());
  return {
    get database() {
      return opened.database!;
    },
    get store() {
      return opened.store!;
    },
  };
}
