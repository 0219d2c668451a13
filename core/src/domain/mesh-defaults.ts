/**
 * The policies Kuma creates with every new Mesh on the global (`pkg/defaults/mesh/mesh.go`), with Kuma's
 * default values (`pkg/plugins/policies/core/defaults/consts.go`). A Mesh can opt out of some or all with
 * `skipCreatingInitialPolicies: ["*"]` or a list of names; the global can turn them off entirely.
 */
import { nameProblem } from '@ursa/proto';
import type { ResourceDraft } from '../store/resource-store.js';

const timeouts = {
  connectionTimeout: '5s',
  idleTimeout: '1h',
  http: { requestTimeout: '15s', streamIdleTimeout: '30m' },
};

const backOff = { baseInterval: '25ms', maxInterval: '250ms' };

export function defaultPolicies(mesh: string): ResourceDraft[] {
  const labels = { 'kuma.io/mesh': mesh };
  return [
    {
      kind: 'MeshTimeout',
      mesh,
      name: `mesh-timeout-all-${mesh}`,
      labels,
      spec: {
        targetRef: { kind: 'Mesh', proxyTypes: ['Sidecar'] },
        from: [{ targetRef: { kind: 'Mesh' }, default: timeouts }],
        to: [{ targetRef: { kind: 'Mesh' }, default: timeouts }],
      },
    },
    {
      kind: 'MeshCircuitBreaker',
      mesh,
      name: `mesh-circuit-breaker-all-${mesh}`,
      labels,
      spec: {
        targetRef: { kind: 'Mesh' },
        to: [
          {
            targetRef: { kind: 'Mesh' },
            default: {
              connectionLimits: { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 },
              outlierDetection: {
                disabled: false,
                detectors: {
                  totalFailures: { consecutive: 5 },
                  gatewayFailures: { consecutive: 5 },
                  localOriginFailures: { consecutive: 5 },
                },
              },
            },
          },
        ],
      },
    },
    {
      kind: 'MeshRetry',
      mesh,
      name: `mesh-retry-all-${mesh}`,
      labels,
      spec: {
        targetRef: { kind: 'Mesh' },
        to: [
          {
            targetRef: { kind: 'Mesh' },
            default: {
              tcp: { maxConnectAttempt: 5 },
              http: { numRetries: 5, perTryTimeout: '16s', backOff },
              grpc: { numRetries: 5, perTryTimeout: '16s', backOff },
            },
          },
        ],
      },
    },
  ];
}

/** The defaults a new Mesh should get, after its own `skipCreatingInitialPolicies`. */
export function defaultsFor(mesh: string, spec: Record<string, unknown>): ResourceDraft[] {
  const skip = Array.isArray(spec.skipCreatingInitialPolicies) ? (spec.skipCreatingInitialPolicies as string[]) : [];
  if (skip.includes('*')) return [];
  // A mesh name near the 253-character limit makes `mesh-circuit-breaker-all-<mesh>` too long: such a
  // default is not created rather than failing the mesh itself.
  return defaultPolicies(mesh).filter((p) => !skip.includes(p.name) && nameProblem(p.name) === undefined);
}
