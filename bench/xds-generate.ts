/**
 * The xDS generator alone, in-process (no database, no gRPC): what a change costs the generation pass, as
 * CPU time (robust on a shared machine, unlike wall time). N transparent-proxy sidecars (N/2 services x 2),
 * each listing `--reach` other services in `reachableServices` (0: none, everyone reaches everyone), connect
 * in waves of 250 (the cold start's generation), then `--rounds` endpoint changes (one Dataplane's address),
 * as `bench/xds.ts` makes them. Issue 15: the cost of a change should follow the proxies that can reach the
 * changed service (`zone-agent/src/xds/generate/visit-plan.ts`), not the zone's size.
 *
 * Run: `npx tsx bench/xds-generate.ts [--dps 10000] [--reach 20] [--rounds 20]`
 */
import { parseArgs } from 'node:util';
import { stored, WorkloadCertificates, XdsGenerator, type ConnectedNode, type GenerationInput } from '@ursa/zone-agent';

const { values: args } = parseArgs({ options: { dps: { type: 'string', default: '10000' }, reach: { type: 'string', default: '20' }, rounds: { type: 'string', default: '20' } } });
const N = Number(args.dps);
const S = Math.ceil(N / 2);
const REACH = Math.min(Number(args.reach), S - 1);
const ROUNDS = Number(args.rounds);
const WAVE = 250;

const dataplane = (i: number, j: number, gen = 0) =>
  stored('Dataplane', {
    mesh: 'default',
    name: `svc-${i}-${j}`,
    labels: {},
    spec: {
      networking: {
        address: `10.${gen}.${Math.floor((i * 2 + j) / 250)}.${((i * 2 + j) % 250) + 1}`,
        inbound: [{ port: 8080, tags: { 'kuma.io/service': `svc-${i}`, 'kuma.io/protocol': 'http' } }],
        transparentProxying: { redirectPortInbound: 15006, redirectPortOutbound: 15001, ...(REACH > 0 ? { reachableServices: Array.from({ length: REACH }, (_, k) => `svc-${(i + 1 + k) % S}`) } : {}) },
      },
    },
  });

let dataplanes = Array.from({ length: N }, (_, k) => dataplane(Math.floor(k / 2), k % 2));
const meshes = [stored('Mesh', { mesh: '', name: 'default', labels: {}, spec: {} })];
const vipRows = Array.from({ length: S }, (_, i) => [`svc-${i}`, `240.0.${i >> 8}.${(i & 255) + 1}`] as const);
// A fresh VIP table object each time, as the agent reads it from the database on every pass.
const input = (): GenerationInput => ({ zone: 'z', meshes, dataplanes, zoneIngresses: [], secrets: [], policies: [], vips: new Map([['default', new Map(vipRows)]]) });
const cpuMs = () => process.cpuUsage().user / 1000;
const gen = new XdsGenerator({ certs: new WorkloadCertificates() });
const nodes: ConnectedNode[] = [];

let t = cpuMs();
for (let k = 0; k < N; k += WAVE) {
  for (let m = k; m < Math.min(N, k + WAVE); m++) nodes.push({ id: `default.svc-${Math.floor(m / 2)}-${m % 2}`, kind: 'sidecar', mesh: 'default', name: `svc-${Math.floor(m / 2)}-${m % 2}` });
  await gen.generate(input(), [...nodes], { onSnapshot: () => {} });
}
const coldMs = cpuMs() - t;
const per: number[] = [];
let touched = 0;
for (let r = 0; r < ROUNDS; r++) {
  const i = (r * 97 + 13) % S;
  dataplanes = dataplanes.map((d) => (d.name === `svc-${i}-0` ? dataplane(i, 0, r + 1) : d));
  t = cpuMs();
  const stats = await gen.generate(input(), [...nodes], { onSnapshot: () => {} });
  per.push(cpuMs() - t);
  touched = stats.visited;
}
per.sort((a, b) => a - b);
console.log(
  `xds generator, ${N} sidecars (${S} services x 2, ${REACH > 0 ? `each reaching ${REACH}` : 'everyone reaches everyone'}): cold start in ${Math.ceil(N / WAVE)} waves of ${WAVE}: ${(coldMs / 1000).toFixed(1)} s CPU; ` +
    `endpoint change: p50 ${per[per.length >> 1]!.toFixed(1)} ms, max ${per[per.length - 1]!.toFixed(1)} ms CPU per pass over ${ROUNDS} changes (${touched} of ${N} nodes visited in the last)`,
);
