/** The generator's public inputs, outputs and options (re-exported by `index.ts`). */
import type { DataplaneResource } from '../../model/dataplane.js';
import type { MeshExternalServiceResource, MeshResource, SecretResource, ZoneEgressResource, ZoneIngressResource } from '../../model/resources.js';
import type { WorkloadCertificates } from '../certs.js';
import type { PolicyResource } from '../policy/index.js';
import type { Snapshot } from '../snapshot.js';
import type { ProxyKind } from './node-kind.js';
import type { Logger } from '@ursa/core';

/** Port every service VIP also listens on (Kuma's `KUMA_DNS_SERVER_SERVICE_VIP_PORT`). */
export const VIP_PORT = 80;

export interface GenerationInput {
  readonly zone: string;
  readonly meshes: readonly MeshResource[];
  readonly dataplanes: readonly DataplaneResource[];
  readonly zoneIngresses: readonly ZoneIngressResource[];
  /** The zone's ZoneEgresses (absent: none; `egress-snapshot.ts`, `egress-route.ts`). */
  readonly zoneEgresses?: readonly ZoneEgressResource[];
  /** MeshExternalServices of every mesh (absent: none). */
  readonly externalServices?: readonly MeshExternalServiceResource[];
  readonly secrets: readonly SecretResource[];
  /** Every policy resource (any mesh). */
  readonly policies: readonly PolicyResource[];
  /** mesh -> service -> VIP, from the DNS allocator's table (read, never allocated here). */
  readonly vips: ReadonlyMap<string, ReadonlyMap<string, string>>;
}

export interface ConnectedNode {
  readonly id: string;
  readonly kind: ProxyKind;
  /** `''` for a zone ingress or egress. */
  readonly mesh: string;
  readonly name: string;
  /** kuma-dp's work dir (node metadata `workdir`), where its unix sockets live. */
  readonly workDir?: string;
}

export interface GenerateOptions {
  /** Called for every node that has a snapshot, in batches. */
  readonly onSnapshot: (id: string, snapshot: Snapshot) => void;
  /** Called for a node that gets no (new) snapshot this time, with the reason. */
  readonly onSkip?: (id: string, reason: string) => void;
  /** Yield to the event loop after this many nodes at most (tests force interleaving with it; default none). */
  readonly batchSize?: number;
  /** Yield to the event loop once a slice of the pass has run this long (default `YIELD_EVERY_MS`). */
  readonly yieldEveryMs?: number;
}

export interface GenerationStats {
  /** Connected nodes given. */
  readonly nodes: number;
  /** Nodes this generation visited (`visit-plan.ts`): all of them on a full pass. */
  readonly visited: number;
  /** Whether every node was visited. */
  readonly full: boolean;
  /** Nodes whose own resources were rebuilt (the rest only recomposed). */
  readonly rebuilt: number;
  /** Resources encoded by this generation (memo misses). */
  readonly encoded: number;
  /** Services (and MeshExternalServices) of transparent-proxy meshes without a VIP yet (the DNS allocator runs on its own loop). */
  readonly missingVips: number;
  readonly ms: number;
}

export interface GeneratorOptions {
  readonly certs: WorkloadCertificates;
  readonly log?: Logger;
}
