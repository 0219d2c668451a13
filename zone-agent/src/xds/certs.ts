/**
 * Workload certificates: the zone agent signs each sidecar's identity certificate with its mesh's CA (which
 * the global generated and sent down as Secrets), as Kuma's zone control plane does.
 *
 * - One certificate per Dataplane, with a SPIFFE URI SAN `spiffe://<mesh>/<service>` per service of its
 *   inbounds (Kuma puts every service of the proxy in one certificate, so a proxy with two inbounds of
 *   different services presents one identity valid for both).
 * - Short-lived: 24 h by default, so a leaked key is useful for a day and revocation is rarely needed.
 * - Re-issued at 2/3 of its life (16 h), leaving a third of the lifetime to get the new one to the proxy
 *   even through a control-plane outage of several hours; `nextRenewal()` tells the reconciler when to run.
 * - Re-issued at once when the identity set changes (an inbound of a new service) or the mesh CA changes
 *   (rotation, or mTLS turned off and on with a new backend).
 * Keys are generated here (ECDSA P-256) and leave the agent only inside the SDS Secret sent to that proxy.
 */
import { createHash } from 'node:crypto';
import { issueLeaf } from '@ursa/proto';

export const DEFAULT_CERT_SECONDS = 24 * 3600;
export const DEFAULT_RENEW_FRACTION = 2 / 3;

export interface MeshCa {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface WorkloadCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  /** The CA certificate that signed it (the trust bundle sent beside it). */
  readonly caPem: string;
  readonly spiffeIds: readonly string[];
  readonly issuedAt: Date;
  readonly notAfter: Date;
  /** When it will be replaced. */
  readonly renewAt: Date;
  /** Times this Dataplane's certificate was (re)issued by this agent. */
  readonly generation: number;
}

export interface CertificateOptions {
  readonly validForSeconds?: number;
  readonly renewFraction?: number;
  readonly now?: () => Date;
}

interface Entry {
  readonly key: string;
  readonly cert: WorkloadCertificate;
}

export class WorkloadCertificates {
  private readonly held = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<WorkloadCertificate>>();
  private readonly validFor: number;
  private readonly renewFraction: number;
  private readonly now: () => Date;
  /** Certificates issued since start (for logs and the benchmark). */
  issued = 0;

  constructor(opts: CertificateOptions = {}) {
    this.validFor = opts.validForSeconds ?? DEFAULT_CERT_SECONDS;
    this.renewFraction = opts.renewFraction ?? DEFAULT_RENEW_FRACTION;
    this.now = opts.now ?? (() => new Date());
    if (!(this.validFor > 0)) throw new Error('certs: validForSeconds must be positive');
    if (!(this.renewFraction > 0 && this.renewFraction < 1)) throw new Error('certs: renewFraction must be between 0 and 1');
  }

  /** The current certificate of a Dataplane, without issuing one. */
  peek(mesh: string, name: string): WorkloadCertificate | undefined {
    return this.held.get(`${mesh}/${name}`)?.cert;
  }

  /** The certificate held for a Dataplane if it is still good for these services and CA (no issuance). */
  current(mesh: string, name: string, services: readonly string[], ca: MeshCa): WorkloadCertificate | undefined {
    const held = this.held.get(`${mesh}/${name}`);
    if (held && held.key === this.keyOf(mesh, services, ca) && this.now().getTime() < held.cert.renewAt.getTime()) return held.cert;
    return undefined;
  }

  /**
   * The certificate for a Dataplane with these services: the one held while it is valid for them, from this
   * CA, and not due for renewal; else a new one (concurrent callers share one issuance).
   */
  async get(mesh: string, name: string, services: readonly string[], ca: MeshCa): Promise<WorkloadCertificate> {
    const id = `${mesh}/${name}`;
    const spiffeIds = [...new Set(services)].sort().map((s) => `spiffe://${mesh}/${s}`);
    const key = this.keyOf(mesh, services, ca);
    const held = this.held.get(id);
    if (held && held.key === key && this.now().getTime() < held.cert.renewAt.getTime()) return held.cert;
    const inflight = this.pending.get(`${id}\n${key}`);
    if (inflight) return inflight;
    const p = this.issue(spiffeIds, ca, held?.cert.generation ?? 0)
      .then((cert) => {
        this.held.set(id, { key, cert });
        return cert;
      })
      .finally(() => this.pending.delete(`${id}\n${key}`));
    this.pending.set(`${id}\n${key}`, p);
    return p;
  }

  private readonly caIds = new WeakMap<MeshCa, string>();

  private keyOf(mesh: string, services: readonly string[], ca: MeshCa): string {
    let caId = this.caIds.get(ca);
    if (caId === undefined) this.caIds.set(ca, (caId = createHash('sha256').update(ca.certPem).digest('hex')));
    return `${mesh}\n${[...new Set(services)].sort().join(' ')}\n${caId}`;
  }

  /** Whether some held certificate is due for renewal now (by this instance's clock). */
  renewalDue(): boolean {
    const next = this.nextRenewal();
    return next !== undefined && next.getTime() <= this.now().getTime();
  }

  /** The earliest renewal among held certificates. */
  nextRenewal(): Date | undefined {
    let min: number | undefined;
    for (const { cert } of this.held.values()) if (min === undefined || cert.renewAt.getTime() < min) min = cert.renewAt.getTime();
    return min === undefined ? undefined : new Date(min);
  }

  /** Per mesh, when its first-expiring held certificate expires (Kuma's `xds_cert_expiration_timestamp_seconds`). */
  earliestExpiryByMesh(): Map<string, Date> {
    const out = new Map<string, Date>();
    for (const [id, { cert }] of this.held) {
      const mesh = id.slice(0, id.indexOf('/'));
      const seen = out.get(mesh);
      if (!seen || cert.notAfter.getTime() < seen.getTime()) out.set(mesh, cert.notAfter);
    }
    return out;
  }

  /** Drops the certificates of Dataplanes `keep` rejects (gone, disconnected, mTLS off). */
  retain(keep: (mesh: string, name: string) => boolean): void {
    for (const id of this.held.keys()) {
      const i = id.indexOf('/');
      if (!keep(id.slice(0, i), id.slice(i + 1))) this.held.delete(id);
    }
  }

  get size(): number {
    return this.held.size;
  }

  private async issue(spiffeIds: string[], ca: MeshCa, generation: number): Promise<WorkloadCertificate> {
    const now = this.now();
    const leaf = await issueLeaf({ caCertPem: ca.certPem, caKeyPem: ca.keyPem, uris: spiffeIds, validForSeconds: this.validFor, now });
    this.issued++;
    // The leaf may be capped at the CA's own expiry: renew relative to what was really issued.
    const life = leaf.notAfter.getTime() - now.getTime();
    return {
      certPem: leaf.certPem,
      keyPem: leaf.keyPem!,
      caPem: ca.certPem,
      spiffeIds,
      issuedAt: now,
      notAfter: leaf.notAfter,
      renewAt: new Date(now.getTime() + Math.max(0, life) * this.renewFraction),
      generation: generation + 1,
    };
  }
}
