/**
 * The zone side of KDS: keeps one session with the global at a time (`SyncSession`, the same loop over a
 * WebSocket or HTTP long-poll: `transport-ws.ts`, `transport-poll.ts`) and starts a new one when it ends,
 * after a backoff (exponential, full jitter), resuming from the local cursors. This is the one place that
 * records the client's `status`: connected, the last error, the applied revision, bytes, and `fatal` when the
 * zone's database died and sync stopped for good.
 */
import type { Hello, InspectRequest, InspectResponse, Welcome } from '@ursa/proto/gen/kds.js';
import type { Logger } from '@ursa/core';
import type { SyncState } from './state.js';
import { SyncSession } from './sync-session.js';
import { type KdsTransport, SessionEnded } from './transport.js';
import { pollTransport } from './transport-poll.js';
import { wsTransport } from './transport-ws.js';

export interface KdsClientOptions {
  /** http(s)://host:port of the global plane. */
  readonly globalUrl: string;
  readonly zone: string;
  readonly tenant?: string;
  /** Read on every connect, so a rotated token file is picked up without a restart. */
  readonly token: () => Promise<string>;
  readonly transport: 'ws' | 'poll';
  readonly state: SyncState;
  readonly instanceId: string;
  readonly agentVersion: string;
  readonly configJson?: string;
  /** Rings when the zone's own inventory changed (the local store's doorbell). */
  readonly onLocalChange: (listener: () => void) => () => void;
  readonly backoff?: { baseMs: number; maxMs: number };
  /** Long-poll wait per request, seconds. */
  readonly pollWaitS?: number;
  readonly log?: Logger;
  /**
   * Answers the global's forwarded inspect requests (feature `inspect-v1`); without it the zone does not
   * announce the feature and the global tells its callers so.
   */
  readonly inspect?: (req: InspectRequest) => Promise<InspectResponse>;
  /**
   * The zone's embedded database failed beyond repair in this process (PGlite aborted: its wasm instance
   * is dead or inconsistent). Sync has stopped for good; the agent should exit, and a restart recovers the
   * database from its WAL. Without this hook the client only stops and reports it in `status`.
   */
  readonly onFatal?: (err: Error) => void;
  /** How to reach the global instead of the adapter `transport` names over `globalUrl` (tests: an in-memory global). */
  readonly connect?: KdsTransport;
}

export interface KdsStatus {
  connected: boolean;
  transport: 'ws' | 'poll';
  sessionId?: string;
  lastRevision: number;
  lastError?: string;
  connectedAt?: string;
  /** Sessions started since the process began (1 = never reconnected). */
  sessions: number;
  /** Bytes received from / sent to the global since the process began (KDS frames). */
  bytesIn: number;
  bytesOut: number;
  /** The largest message received (a WebSocket frame, a long-poll answer), in bytes: bounded by MAX_FRAME_BYTES. */
  largestIn: number;
  /** Set when sync stopped for good because the zone's database failed (see `onFatal`). */
  fatal?: string;
}

export const CLIENT_FEATURES = ['resume-v1', 'snapshot-complete', 'chunked-deltas', 'hash-suffix'];
/** The zone answers InspectRequest frames (announced only when the agent gives the client an `inspect` handler). */
export const INSPECT_FEATURE = 'inspect-v1';
const DEFAULT_BACKOFF = { baseMs: 500, maxMs: 30_000 };
/** Error codes that say the zone crossed a limit of the global's: retrying soon would only cross it again. */
const OVER_LIMIT_CODES = new Set(['limit-exceeded', 'too-large']);

/**
 * Wait before the next session after `failures` sessions in a row ended early: uniformly random up to
 * `baseMs * 2^failures`, capped at `maxMs` (full jitter, so zones that lost the same global do not all come
 * back at once).
 */
export function backoffDelay(failures: number, backoff: { baseMs: number; maxMs: number }, random: () => number = Math.random): number {
  return random() * Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(failures, 16));
}

/** An abort of the embedded database's wasm instance (PGlite): `RuntimeError: Aborted(...)`. */
function isDatabaseAbort(err: unknown): boolean {
  return err instanceof Error && err.name === 'RuntimeError' && err.message.startsWith('Aborted(');
}

export class KdsClient {
  readonly status: KdsStatus;
  readonly #transport: KdsTransport;
  #stopped = false;
  #session?: SyncSession;
  #wakeBackoff?: () => void;
  #loop?: Promise<void>;
  /** The last session ended on a limit of the global's (`limit-exceeded`, `too-large`). */
  #overLimit = false;

  constructor(private readonly o: KdsClientOptions) {
    this.status = { connected: false, transport: o.transport, lastRevision: 0, sessions: 0, bytesIn: 0, bytesOut: 0, largestIn: 0 };
    this.#transport = o.connect ?? (o.transport === 'ws' ? wsTransport(o.globalUrl) : pollTransport(o.globalUrl, o.pollWaitS ?? 25));
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#session?.stop();
    this.#wakeBackoff?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const backoff = this.o.backoff ?? DEFAULT_BACKOFF;
    let failures = 0;
    while (!this.#stopped) {
      const began = Date.now();
      this.status.sessions += 1;
      const session = new SyncSession({
        transport: this.#transport,
        state: this.o.state,
        hello: () => this.#hello(),
        onLocalChange: this.o.onLocalChange,
        report: this.#report,
        log: this.o.log,
        inspect: this.o.inspect,
      });
      this.#session = session;
      try {
        await session.run();
      } catch (err) {
        if (this.#ended(err)) return;
      } finally {
        this.#session = undefined;
      }
      if (this.#stopped) break;
      // A session that lived long was healthy: start the backoff over.
      failures = Date.now() - began > backoff.maxMs ? 1 : failures + 1;
      // A limit the zone crossed (e.g. its inventory is larger than the global may stage) will be crossed
      // again: wait the longest backoff, not the short one a session that ran a while would get.
      await this.#sleep(this.#overLimit ? backoff.maxMs : backoffDelay(failures, backoff));
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.#wakeBackoff = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  async #hello(): Promise<Hello> {
    return {
      tenant: this.o.tenant ?? '',
      zone: this.o.zone,
      token: (await this.o.token()).trim(),
      agentVersion: this.o.agentVersion,
      instanceId: this.o.instanceId,
      features: this.o.inspect ? [...CLIENT_FEATURES, INSPECT_FEATURE] : CLIENT_FEATURES,
      lastRevision: await this.o.state.lastRevision(),
      configJson: this.o.configJson ?? '{}',
      inventoryRevision: await this.o.state.inventoryRevision(),
      lastError: this.status.lastError ?? '',
    };
  }

  // --- status: recorded here only ------------------------------------------------------------------

  readonly #report = {
    welcomed: (w: Welcome) => {
      this.status.connected = true;
      this.status.sessionId = w.sessionId;
      this.status.connectedAt = new Date().toISOString();
      this.status.lastError = undefined;
      this.o.log?.info(`connected to ${w.globalInstanceId} (${this.#transport.name}, ${w.snapshot ? 'snapshot' : 'resume'}, inventory from ${w.inventoryRevision})`, {
        zone: this.o.zone,
        transport: this.#transport.name,
        session: w.sessionId,
        globalInstance: w.globalInstanceId,
      });
    },
    applied: (revision: number) => {
      this.status.lastRevision = revision;
    },
    advanced: (revision: number) => {
      if (revision > this.status.lastRevision) this.status.lastRevision = revision;
    },
    revision: () => this.status.lastRevision,
    bytes: (direction: 'in' | 'out', n: number) => {
      if (direction === 'in') {
        this.status.bytesIn += n;
        if (n > this.status.largestIn) this.status.largestIn = n;
      } else this.status.bytesOut += n;
    },
  };

  /** A session ended with `err`; true when sync must stop for good. */
  #ended(err: unknown): boolean {
    this.status.connected = false;
    this.status.lastError = err instanceof Error ? err.message : String(err);
    this.#overLimit = err instanceof SessionEnded && OVER_LIMIT_CODES.has(err.code ?? '');
    if (!this.#stopped) {
      const fields = { zone: this.o.zone, transport: this.#transport.name, session: this.status.sessionId };
      if (this.#overLimit) this.o.log?.error(`session ended: ${this.status.lastError} (retrying every ${Math.round((this.o.backoff ?? DEFAULT_BACKOFF).maxMs / 1000)} s)`, fields);
      else this.o.log?.warn(`session ended: ${this.status.lastError}`, fields);
    }
    if (!isDatabaseAbort(err)) return false;
    // PGlite aborted mid-transaction (e.g. a PANIC at commit). The instance may still answer queries, but
    // from a state that no longer matches its files: syncing on would apply and acknowledge changes on top
    // of it and the zone would drift from the global for good. Stop here.
    this.status.fatal = `the zone database aborted: ${this.status.lastError}`;
    this.o.log?.error(`sync stopped for good (${this.status.fatal}): restart the agent, the database recovers on start`);
    this.o.onFatal?.(err as Error);
    return true;
  }
}
