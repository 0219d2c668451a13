/** PostgreSQL through the Worker's Hyperdrive binding: the Worker's requests and its KDS hub both open it here. */
import { createStores, openPostgres, type Stores } from '@ursa/core';

export interface HyperdriveBinding {
  readonly connectionString: string;
}

/**
 * Stores over a new postgres.js client. `max` connections: 1 for a request (its queries run one after
 * another); a few for the hub, which serves many sessions at once. Never end the client inside workerd:
 * closing raises "Stream was cancelled"; it dies with its request or its object.
 */
export function openHyperdrive(binding: HyperdriveBinding | undefined, max: number): Stores {
  if (!binding) throw new Error('the HYPERDRIVE binding is missing: see README, "Running on Cloudflare Workers"');
  return createStores(openPostgres(binding.connectionString, { max, workerSafe: true }).db);
}
