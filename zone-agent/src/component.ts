/**
 * What the zone agent's long-lived parts get: narrow dependencies, and a stop function back. `main.ts`
 * starts each one and stops them in reverse order on SIGTERM/SIGINT.
 */
import type { Db, Logger, ResourceStore, Waker } from '@ursa/core';
import type { ZoneConfig } from './config.js';
import type { VipBoard } from './dns/vip-board.js';

export interface ComponentDeps {
  readonly config: ZoneConfig;
  /** The zone's local store (tenant `LOCAL`). */
  readonly store: ResourceStore;
  /** Rings `(kind)` after every committed local write (the local store's doorbell). */
  readonly waker: Waker;
  readonly log: Logger;
  /** The zone's database, for parts that keep their own tables (the DNS resolver's VIPs). */
  readonly db?: Db;
  /** The VIP table the DNS component last synced (published by it, read by the xDS generator). */
  readonly vips?: VipBoard;
}

export type Stop = () => Promise<void>;
