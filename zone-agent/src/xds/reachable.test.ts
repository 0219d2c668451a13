/**
 * `networking.transparentProxying.reachableServices` (Kuma's `resolveVIPOutbounds`): a transparent-proxy
 * sidecar that lists them gets outbounds (cluster, endpoints, VIP listeners) for those services only; one
 * without the field gets every service of the mesh. An endpoint change reaches only the proxies that can
 * reach the service, and proxies listing the same services share their outbound sets.
 */
import { describe, expect, it } from 'vitest';
import type { ResourceKind } from '@ursa/proto';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS, CLUSTER_TYPE_URL as CDS, LISTENER_TYPE_URL as LDS } from '@ursa/proto/xds';
import { stored } from '../model/testing.js';
import { WorkloadCertificates } from './certs.js';
import { XdsGenerator, type ConnectedNode, type GenerationInput } from './generate/index.js';
import type { Snapshot } from './snapshot.js';

const res = <K extends ResourceKind>(kind: K, mesh: string, name: string, spec: Record<string, unknown>) => stored(kind, { mesh, name, labels: {}, spec });
const SERVICES = ['api', 'db', 'cache', 'web'];

/** Two instances per service; `reach` gives a service's instances their `reachableServices`. */
function input(reach: Record<string, string[]>, address: (service: string, i: number) => string = (s, i) => `10.0.${SERVICES.indexOf(s)}.${i}`): GenerationInput {
  const dataplanes = SERVICES.flatMap((s) =>
    [1, 2].map((i) =>
      res('Dataplane', 'default', `${s}-${i}`, {
        networking: {
          address: address(s, i),
          inbound: [{ port: 8080, tags: { 'kuma.io/service': s, 'kuma.io/protocol': 'http' } }],
          transparentProxying: { redirectPortInbound: 15006, redirectPortOutbound: 15001, ...(reach[s] ? { reachableServices: reach[s] } : {}) },
        },
      }),
    ),
  );
  return {
    zone: 'z1',
    meshes: [res('Mesh', '', 'default', {})],
    dataplanes,
    zoneIngresses: [],
    secrets: [],
    policies: [],
    vips: new Map([['default', new Map(SERVICES.map((s, i) => [s, `240.0.0.${i + 1}`] as const))]]),
  };
}

const nodes: ConnectedNode[] = SERVICES.flatMap((s) => [1, 2].map((i) => ({ id: `default.${s}-${i}`, kind: 'sidecar' as const, mesh: 'default', name: `${s}-${i}` })));

async function run(gen: XdsGenerator, inp: GenerationInput): Promise<Map<string, Snapshot>> {
  const snaps = new Map<string, Snapshot>();
  await gen.generate(inp, nodes, { onSnapshot: (id, s) => snaps.set(id, s), batchSize: 3 });
  return snaps;
}

const outboundClusters = (s: Snapshot) => [...s.get(CDS).items.keys()].filter((n) => !n.startsWith('localhost') && !n.includes('passthrough') && !n.startsWith('inbound'));
const vipListeners = (s: Snapshot) => [...s.get(LDS).items.keys()].filter((n) => n.startsWith('outbound:240.'));

describe('reachable services', () => {
  it('limits a proxy to the services it lists (unknown names ignored); others get every service', async () => {
    const gen = new XdsGenerator({ certs: new WorkloadCertificates() });
    const snaps = await run(gen, input({ web: ['api', 'cache', 'api', 'nope'] }));
    const web = snaps.get('default.web-1')!;
    expect(outboundClusters(web).sort()).toEqual(['api', 'cache']);
    expect([...web.get(EDS).items.keys()].sort()).toEqual(['api', 'cache']);
    expect(vipListeners(web).sort()).toEqual(['outbound:240.0.0.1:80', 'outbound:240.0.0.1:8080', 'outbound:240.0.0.3:80', 'outbound:240.0.0.3:8080']);
    // Its own inbound and the passthrough are still there.
    expect([...web.get(LDS).items.keys()].some((n) => n.startsWith('inbound:'))).toBe(true);
    expect(web.problems()).toEqual([]);
    // Without the field: every service of the mesh.
    expect(outboundClusters(snaps.get('default.db-1')!).sort()).toEqual([...SERVICES].sort());
    // Instances listing the same services share one set of outbound resources.
    expect(snaps.get('default.web-2')!.get(EDS)).toBe(web.get(EDS));
  });

  it('an endpoint change reaches only the proxies that can reach the service', async () => {
    const reach = { api: ['db'], db: ['cache'], cache: ['web'], web: ['api'] };
    const gen = new XdsGenerator({ certs: new WorkloadCertificates() });
    const before = await run(gen, input(reach));
    // db-1 moves: only api's instances (which reach db) and db-1 itself (its own inbound) change.
    const after = await run(gen, input(reach, (s, i) => (s === 'db' && i === 1 ? '10.9.9.9' : `10.0.${SERVICES.indexOf(s)}.${i}`)));
    const changed = nodes.map((n) => n.id).filter((id) => after.get(id) !== before.get(id) && !after.get(id)!.sameAs(before.get(id)));
    expect(changed.sort()).toEqual(['default.api-1', 'default.api-2', 'default.db-1']);
    const cla = after.get('default.api-1')!.get(EDS).items.get('db')!;
    expect(cla.body.value.includes(Buffer.from('10.9.9.9'))).toBe(true);
    // The others hold the very same snapshot objects: nothing to compare, nothing to push.
    for (const id of ['default.cache-1', 'default.web-2', 'default.db-2']) expect(after.get(id)).toBe(before.get(id));
  });
});
