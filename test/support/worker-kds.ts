/**
 * What the Worker KDS end-to-end tests (test/worker-kds.test.ts: long-poll; test/worker-kds-ws.test.ts:
 * WebSocket and long-poll) observe of a real zone-agent process: its KDS status, a policy's arrival, the
 * sessions it logged, and what a snapshot of the mesh costs a never-synced zone.
 */
import { call } from './api.js';
import { removeDirs, startZoneAgent, type ZoneProc } from './cluster.js';
import { getJson } from './process.js';
import { eventually } from './zone.js';

/** The `kds` part of a zone agent's GET /ready. */
export interface KdsReady {
  connected: boolean;
  sessions: number;
  bytesIn: number;
  lastRevision: number;
  lastError?: string;
}

/** A Dataplane of service `web` as a zone registers it (REST body). */
export const webDataplane = (name: string) => ({
  type: 'Dataplane',
  mesh: 'default',
  name,
  networking: { address: '10.0.0.9', inbound: [{ port: 8080, tags: { 'kuma.io/service': 'web' } }] },
});

export const kdsReady = async (zone: ZoneProc): Promise<KdsReady> => ((await getJson(`${zone.url}/ready`)) as { kds: KdsReady }).kds;

/** The zone has MeshTimeout `name` of mesh default with this request timeout. */
export const zoneHasTimeout = async (zone: ZoneProc, name: string, timeout: string): Promise<boolean> =>
  (await call(zone.url, 'GET', `/meshes/default/meshtimeouts/${name}`)).body?.spec?.to?.[0]?.default?.http?.requestTimeout === timeout;

/** Lines the agent logged for each new session: `<time> INFO zone-agent[<zone>].kds connected to <global> (<transport>, snapshot|resume, inventory from N)`. */
export const welcomes = (zone: ZoneProc): string[] =>
  zone.child
    .output()
    .split('\n')
    .filter((l) => l.includes('.kds\tconnected to'));

/** Zones whose last subscription in GET /zones/_overview has not ended. */
export function onlineZones(body: unknown): string[] {
  const items = (body as { items?: { name: string; zoneInsight?: { subscriptions?: { disconnectTime?: string }[] } }[] }).items ?? [];
  return items
    .filter((z) => {
      const subs = z.zoneInsight?.subscriptions ?? [];
      return subs.length > 0 && !subs[subs.length - 1]!.disconnectTime;
    })
    .map((z) => z.name);
}

/**
 * What a snapshot of mesh default costs: the bytes a fresh session of a never-synced zone (`zone-c`, with
 * `token`) receives until it has MeshTimeout `lastPolicy`. The zone is stopped and its data removed after.
 */
export async function snapshotBytes(globalUrl: string, token: string, transport: 'ws' | 'poll', lastPolicy: string): Promise<number> {
  const zoneC = await startZoneAgent({ name: 'zone-c', globalUrl, token, transport });
  try {
    await eventually(`zone-c has ${lastPolicy}`, async () => (await call(zoneC.url, 'GET', `/meshes/default/meshtimeouts/${lastPolicy}`)).status === 200, 30_000);
    return (await kdsReady(zoneC)).bytesIn;
  } finally {
    await zoneC.stop();
    await removeDirs([zoneC.dataDir]);
  }
}
