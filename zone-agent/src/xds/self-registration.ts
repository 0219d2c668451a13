/**
 * Kuma's dataplane lifecycle (pkg/xds/server/callbacks/dataplane_lifecycle.go): a proxy started with
 * `kuma-dp run --dataplane-file` carries its Dataplane (or ZoneIngress, ZoneEgress) in the xDS node metadata
 * `dataplane.resource`. When its stream is admitted (token checked against the resource it sends, and
 * against the one already registered under that name, so a token cannot take over another proxy's entry),
 * the resource is upserted with this zone stamped on it: written when new or changed, left alone when equal
 * (a reconnecting proxy writes nothing, so nobody else's configuration moves). When its last stream closes,
 * the resource is deleted after `delayMs` unless the proxy came back meanwhile: a restart keeps its entry and
 * so its services' VIPs. Only what this agent registered from node metadata is ever deleted: Dataplanes put
 * through the API stay, whatever their proxies do. A stopping agent deletes nothing (its proxies reconnect to
 * the next run, as Kuma's lifecycle skips deregistration on shutdown).
 */
import { status } from '@grpc/grpc-js';
import { StoreError, type Logger, type Resource, type ResourceStore } from '@ursa/core';
import type { Node } from '@ursa/proto/gen/envoy/config/core/v3/base.js';
import { RESOURCES } from '@ursa/proto';
import { parseProxyResource, type KumaProxyType } from '../dp-server/proxy-resource.js';
import { quote } from './limits.js';
import { XdsStreamError } from './stream.js';

/** kuma-dp's node metadata key for the resource it was started with. */
export const NODE_RESOURCE_KEY = 'dataplane.resource';

export interface SelfRegistrationDeps {
  readonly store: Pick<ResourceStore, 'get' | 'apply'>;
  readonly tenant: string;
  readonly zone: string;
  readonly delayMs: number;
  readonly log: Pick<Logger, 'info' | 'warn'>;
}

/** The resource text a node carries, if any. */
export function nodeResource(node: Node | undefined): string | undefined {
  const v = node?.metadata?.[NODE_RESOURCE_KEY];
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}

interface Registered {
  readonly kind: string;
  readonly mesh: string;
  readonly name: string;
  streams: number;
  timer?: NodeJS.Timeout;
}

export class SelfRegistration {
  readonly #registered = new Map<string, Registered>();
  /** A deregistration in flight per node id: a proxy that comes back waits for it, then registers anew. */
  readonly #removing = new Map<string, Promise<void>>();
  #stopped = false;

  constructor(private readonly deps: SelfRegistrationDeps) {}

  /**
   * Validates the resource `text` for node `id` and writes it (unless equal). `authorize(resource)` checks
   * the caller's token against a resource (the sent one, then the registered one) and throws if refused.
   */
  async register(
    id: string,
    proxyType: KumaProxyType,
    proxy: { readonly mesh: string; readonly name: string },
    text: string,
    authorize: (resource: { kind: string; mesh: string; name: string; spec: unknown }) => Promise<void>,
  ): Promise<Resource> {
    const parsed = parseProxyResource(text, { proxyType, mesh: proxy.mesh, name: proxy.name, zone: this.deps.zone }, `node.metadata["${NODE_RESOURCE_KEY}"]`);
    if (!parsed.ok) {
      throw new XdsStreamError(status.INVALID_ARGUMENT, `xds: node ${quote(id)}: ${parsed.problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`);
    }
    const input = parsed.value;
    await authorize(input);
    await this.#removing.get(id);
    const existing = await this.deps.store.get(this.deps.tenant, { kind: input.kind, mesh: input.mesh, name: input.name });
    if (existing) await authorize(existing);
    const pre =
      input.kind === 'Dataplane'
        ? { exists: [{ key: { kind: 'Mesh', mesh: '', name: input.mesh }, detail: 'Mesh is not found', violation: { field: 'mesh', message: `mesh of name ${input.mesh} is not found` } }] }
        : {};
    let resource: Resource;
    try {
      const [result] = await this.deps.store.apply(this.deps.tenant, [{ op: 'upsert', resource: input }], pre);
      resource = (result as { resource: Resource }).resource;
      if ((result as { op?: string }).op !== 'unchanged') this.deps.log.info(`${id}: ${existing ? 'updated' : 'registered'} ${input.kind} ${input.name} from kuma-dp's node metadata`);
    } catch (err) {
      if (err instanceof StoreError && err.code !== 'unavailable') throw new XdsStreamError(status.FAILED_PRECONDITION, `xds: node ${quote(id)}: cannot register ${input.kind} ${quote(input.name)}: ${err.message}`);
      throw err;
    }
    const entry = this.#registered.get(id);
    if (entry) {
      if (entry.timer) clearTimeout(entry.timer);
      entry.timer = undefined;
    } else this.#registered.set(id, { kind: input.kind, mesh: input.mesh, name: input.name, streams: 0 });
    return resource;
  }

  /** A stream of `id` was admitted (call after `register` for nodes that sent a resource). */
  opened(id: string): void {
    const entry = this.#registered.get(id);
    if (!entry) return;
    entry.streams++;
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = undefined;
  }

  /** A stream of `id` closed: the last one starts the deregistration delay. */
  closed(id: string): void {
    const entry = this.#registered.get(id);
    if (!entry || this.#stopped) return;
    if (--entry.streams > 0) return;
    entry.streams = 0;
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = setTimeout(() => void this.deregister(id, entry), this.deps.delayMs);
    entry.timer.unref();
  }

  /** Ids registered here and not yet removed. */
  registered(): string[] {
    return [...this.#registered.keys()];
  }

  /** Cancels pending deletions: a stopping agent keeps every registration for its next run. */
  stop(): void {
    this.#stopped = true;
    for (const e of this.#registered.values()) if (e.timer) clearTimeout(e.timer);
  }

  private async deregister(id: string, entry: Registered): Promise<void> {
    if (this.#stopped || this.#registered.get(id) !== entry || entry.streams > 0) return;
    this.#registered.delete(id);
    const done = this.remove(id, entry).finally(() => this.#removing.delete(id));
    this.#removing.set(id, done);
    await done;
  }

  /** Deletes the resource and its insight (Kuma removes both; an insight alone would linger in overviews). */
  private async remove(id: string, entry: Registered): Promise<void> {
    const insight = RESOURCES.find((d) => d.insightOf === entry.kind);
    const key = { kind: entry.kind, mesh: entry.mesh, name: entry.name };
    try {
      await this.deps.store.apply(this.deps.tenant, [{ op: 'delete', key, ifExists: true }, ...(insight ? [{ op: 'delete' as const, key: { ...key, kind: insight.kind }, ifExists: true }] : [])]);
      this.deps.log.info(`${id}: deregistered ${entry.kind} ${entry.name}: its proxy has been gone for ${this.deps.delayMs} ms`);
    } catch (err) {
      this.deps.log.warn(`${id}: could not deregister ${entry.kind} ${entry.name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
