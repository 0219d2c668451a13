/**
 * Issues the certificates a generation needs, several at a time (key generation and signing run on
 * libuv's thread pool): 2,000 new sidecars would otherwise wait for each other one by one.
 */
import type { WorkloadCertificates } from '../certs.js';
import type { MeshInputs } from './mesh-inputs.js';
import { proxyModelOf } from './model.js';
import type { ConnectedNode } from './types.js';

/** Certificates issued at once. */
const CERT_CONCURRENCY = 8;

export async function issueCertificates(certs: WorkloadCertificates, meshes: Map<string, MeshInputs>, nodes: readonly ConnectedNode[]): Promise<void> {
  const todo: (() => Promise<unknown>)[] = [];
  for (const n of nodes) {
    const mesh = n.kind === 'sidecar' ? meshes.get(n.mesh) : undefined;
    const dp = mesh?.ca ? mesh.dataplanes.get(n.name) : undefined;
    if (!mesh?.ca || !dp) continue;
    const services = proxyModelOf(dp).inbounds.map((i) => i.service);
    const ca = mesh.ca;
    if (!certs.current(mesh.model.name, n.name, services, ca)) todo.push(() => certs.get(mesh.model.name, n.name, services, ca));
  }
  const workers = Array.from({ length: Math.min(CERT_CONCURRENCY, todo.length) }, async () => {
    for (let job = todo.pop(); job; job = todo.pop()) await job().catch(() => undefined); // a failure shows up per node below
  });
  await Promise.all(workers);
}
