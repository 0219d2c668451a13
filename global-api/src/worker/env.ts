/** The Worker's bindings (global-api/wrangler.jsonc), shared by the entry and its Durable Object. */
import type { HyperdriveBinding } from './hyperdrive.js';
import type { DurableObjectNamespace } from './runtime.js';

export interface WorkerEnv {
  HYPERDRIVE?: HyperdriveBinding;
  /** One KDS hub (Durable Object) per tenant: the WebSocket sessions of its zones (worker/kds-hub.ts). */
  KDS_HUB?: DurableObjectNamespace;
  DEFAULT_TENANT?: string;
  /** Secret (`wrangler secret put URSA_OPERATOR_TOKEN`): bearer token for `/_operator/*`. */
  URSA_OPERATOR_TOKEN?: string;
  /** "false" turns off Kuma's default policies for new meshes. */
  MESH_DEFAULTS?: string;
  /** KDS heartbeat in ms (default 5000). */
  KDS_HEARTBEAT_MS?: string;
  /** How long a zone stays Online after its last renewal, in ms (default 15000). */
  ZONE_LEASE_MS?: string;
  /** How often a waiting long-poll, and a hub with sessions, reads its tenant's revision, in ms (default 500). */
  KDS_POLL_INTERVAL_MS?: string;
  /** KDS hubs per tenant (default 1; worker/hub-shards.ts). */
  KDS_HUB_SHARDS?: string;
}
