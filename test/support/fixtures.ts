/** Small builders for valid resources, so tests state only what they care about. */
import type { ResourceDraft } from '@ursa/core';

export function meshTimeout(name: string, opts: { mesh?: string; labels?: Record<string, string>; timeout?: string } = {}): ResourceDraft {
  return {
    kind: 'MeshTimeout',
    mesh: opts.mesh ?? 'default',
    name,
    labels: opts.labels ?? {},
    spec: {
      targetRef: { kind: 'Mesh' },
      to: [{ targetRef: { kind: 'Mesh' }, default: { http: { requestTimeout: opts.timeout ?? '15s' } } }],
    },
  };
}

/** A MeshTimeout as the REST API takes it (`type`, no labels). */
export const meshTimeoutBody = (name: string, timeout = '5s', mesh = 'default') => ({
  type: 'MeshTimeout',
  mesh,
  name,
  spec: { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { http: { requestTimeout: timeout } } }] },
});

export function zone(name: string, enabled = true): ResourceDraft {
  return { kind: 'Zone', name, spec: { enabled } };
}

let seq = 0;
/** A tenant id no other test uses, so tests can share one database. */
export function freshTenant(prefix = 't'): string {
  seq += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${seq}`;
}
