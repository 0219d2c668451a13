import { describe, expect, it } from 'vitest';
import { descriptorFor, descriptorForPath, RESOURCES, sentToGlobal, sentToZones } from './resources.js';

const KINDS = [
  'Mesh', 'Zone', 'ZoneInsight', 'ZoneIngress', 'ZoneIngressInsight', 'ZoneEgress', 'ZoneEgressInsight', 'Dataplane',
  'DataplaneInsight', 'Secret', 'GlobalSecret', 'MeshExternalService', 'MeshTrafficPermission', 'MeshTimeout', 'MeshRetry', 'MeshCircuitBreaker',
  'MeshHealthCheck', 'MeshHTTPRoute', 'MeshTCPRoute', 'MeshLoadBalancingStrategy', 'MeshFaultInjection', 'MeshRateLimit',
  'MeshAccessLog', 'MeshTrace',
];

describe('resource descriptor table', () => {
  it('describes exactly the supported kinds, once each', () => {
    expect(RESOURCES.map((d) => d.kind).sort()).toEqual([...KINDS].sort());
  });

  it('gives every type a unique REST path, and resolves Kuma alternative paths', () => {
    const paths = RESOURCES.flatMap((d) => [d.path, ...d.altPaths]);
    expect(new Set(paths).size).toBe(paths.length);
    expect(descriptorForPath('zone-ingresses')?.kind).toBe('ZoneIngress');
    expect(descriptorForPath('meshloadbalancingstrategies')?.kind).toBe('MeshLoadBalancingStrategy');
    expect(descriptorForPath('nope')).toBeUndefined();
  });

  it('sends what Kuma sends: policies, meshes and secrets down; inventory up; ingresses across', () => {
    const down = sentToZones().map((d) => d.kind);
    const up = sentToGlobal().map((d) => d.kind);
    expect(down).toEqual(expect.arrayContaining(['Mesh', 'Secret', 'GlobalSecret', 'MeshTimeout', 'ZoneIngress']));
    expect(down).not.toContain('Dataplane');
    expect(up.sort()).toEqual(['Dataplane', 'DataplaneInsight', 'ZoneEgress', 'ZoneEgressInsight', 'ZoneIngress', 'ZoneIngressInsight'].sort());
    for (const never of ['Zone', 'ZoneInsight']) {
      expect(down).not.toContain(never);
      expect(up).not.toContain(never);
    }
  });

  it('marks zone-owned types and insights read-only on the global, and policies as spec-shaped and mesh-scoped', () => {
    for (const d of RESOURCES) {
      if (d.kds === 'zone-to-global' || d.kds === 'zone-to-global-to-zones') expect(d.readOnlyOnGlobal, d.kind).toBe(true);
      if (d.insightOf) {
        expect(d.readOnly, d.kind).toBe(true);
        expect(descriptorFor(d.insightOf)?.scope, d.kind).toBe(d.scope);
      }
      if (d.isPolicy) expect([d.shape, d.scope], d.kind).toEqual(['spec', 'mesh']);
    }
    expect(descriptorFor('MeshHTTPRoute')?.singularDisplayName).toBe('Mesh HTTP Route');
  });
});
