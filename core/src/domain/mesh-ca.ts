/**
 * Kuma's builtin CA: when a Mesh enables mTLS with a `builtin` backend, the global generates the mesh CA
 * once and keeps it as two Secrets of that mesh, `<mesh>.ca-builtin-cert-<backend>` and
 * `<mesh>.ca-builtin-key-<backend>` (PEM, base64 in `data`, as Kuma stores them). Zones receive them over
 * KDS and sign workload certificates with them. Existing secrets are never regenerated.
 */
import { type BuiltinCaConf, generateCa, nameProblem, type SpecOf } from '@ursa/proto';
import { ValidationError } from '../store/errors.js';
import type { ResourceStore, WriteOp } from '../store/resource-store.js';

/** Kuma's default CA lifetime: 10 years. */
const DEFAULT_CA_SECONDS = 10 * 365 * 24 * 3600;

/** The builtin CA backend a Mesh enables. */
export interface BuiltinBackend {
  readonly name: string;
  /** Its position in `mtls.backends` (for error paths). */
  readonly index: number;
  readonly conf: BuiltinCaConf;
}

export function caSecretNames(mesh: string, backend: string): { cert: string; key: string } {
  return { cert: `${mesh}.ca-builtin-cert-${backend}`, key: `${mesh}.ca-builtin-key-${backend}` };
}

/** The builtin backend the Mesh's mTLS enables, if any. */
export function enabledBuiltinBackend(spec: Pick<SpecOf<'Mesh'>, 'mtls'>): BuiltinBackend | undefined {
  const name = spec.mtls?.enabledBackend;
  if (!name) return undefined;
  const backends = spec.mtls?.backends ?? [];
  const index = backends.findIndex((b) => b.name === name);
  const backend = backends[index];
  // A builtin backend's `conf` was checked against the builtin CA schema when the Mesh was validated.
  return backend?.type === 'builtin' ? { name, index, conf: (backend.conf ?? {}) as BuiltinCaConf } : undefined;
}

/** Ops that create the mesh CA secrets when the mesh enables a builtin backend and they do not exist yet. */
export async function caOps(store: ResourceStore, tenant: string, mesh: string, spec: Pick<SpecOf<'Mesh'>, 'mtls'>): Promise<WriteOp[]> {
  const backend = enabledBuiltinBackend(spec);
  if (!backend) return [];
  const names = caSecretNames(mesh, backend.name);
  if (nameProblem(names.key) !== undefined) {
    throw new ValidationError([
      { field: `mtls.backends[${backend.index}].name`, message: `a builtin backend names its CA secrets (${names.key}): it must be lowercase alphanumerics and '-', and short enough for a resource name` },
    ]);
  }
  if (await store.get(tenant, { kind: 'Secret', mesh, name: names.cert })) return [];
  const rsa = backend.conf.caCert?.RSAbits ?? backend.conf.caCert?.rsaBits;
  const ca = await generateCa({
    commonName: `${mesh} ${backend.name}`,
    spiffeTrustDomain: mesh,
    validForSeconds: parseSeconds(backend.conf.caCert?.expiration) ?? DEFAULT_CA_SECONDS,
    keyType: rsa ? 'rsa-2048' : 'ecdsa-p256',
  });
  const labels = { 'kuma.io/mesh': mesh };
  const secret = (name: string, pem: string): WriteOp => ({
    op: 'create',
    ifAbsent: true, // a concurrent PUT may have created them first: keep whichever landed
    resource: { kind: 'Secret', mesh, name, labels, spec: { data: btoa(pem) } },
  });
  return [secret(names.cert, ca.certPem), secret(names.key, ca.keyPem)];
}

/** "87600h", "3650d"-free Go durations as Kuma writes CA expirations; undefined when absent or unparseable. */
function parseSeconds(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const re = /([0-9]+(?:\.[0-9]+)?)(h|m|s)/g;
  let total = 0;
  let matched = '';
  for (const m of v.matchAll(re)) {
    total += Number(m[1]) * ({ h: 3600, m: 60, s: 1 } as const)[m[2] as 'h' | 'm' | 's'];
    matched += m[0];
  }
  return matched === v && total > 0 ? total : undefined;
}
