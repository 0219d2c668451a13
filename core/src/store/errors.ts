/**
 * The store's typed errors. Callers branch on `code`; the HTTP layer maps codes to statuses in one place.
 * A client's mistake is always one of these, never a raw driver error.
 */
import type { Violation } from '@ursa/proto';

export type StoreErrorCode = 'invalid' | 'not-found' | 'already-exists' | 'conflict' | 'precondition' | 'unavailable';

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

/** Bad input: every violation, each with its field path. Nothing was written. */
export class ValidationError extends StoreError {
  constructor(readonly violations: readonly Violation[]) {
    super('invalid', `Resource is not valid: ${violations.map((v) => `${v.field}: ${v.message}`).join('; ')}`);
    this.name = 'ValidationError';
  }
}

/**
 * A rule about other resources did not hold when the write ran (checked inside the transaction, under the
 * tenant lock): e.g. a policy names a mesh that does not exist, or a mesh still has dataplanes.
 * `detail` is Kuma's summary ("Mesh is not found"), `violations` its field-level reasons.
 */
export class PreconditionError extends StoreError {
  constructor(
    readonly detail: string,
    readonly violations: readonly Violation[],
  ) {
    super('precondition', `${detail}: ${violations.map((v) => `${v.field}: ${v.message}`).join('; ')}`);
    this.name = 'PreconditionError';
  }
}

export class NotFoundError extends StoreError {
  constructor(readonly key: ResourceKey) {
    super('not-found', `${describeKey(key)} not found`);
    this.name = 'NotFoundError';
  }
}

export class AlreadyExistsError extends StoreError {
  constructor(readonly key: ResourceKey) {
    super('already-exists', `${describeKey(key)} already exists`);
    this.name = 'AlreadyExistsError';
  }
}

/** Optimistic concurrency: the caller's version is stale; someone else wrote the resource first. */
export class ConflictError extends StoreError {
  constructor(
    readonly key: ResourceKey,
    readonly expectedVersion: number,
    readonly actualVersion: number,
  ) {
    super('conflict', `${describeKey(key)} was modified concurrently: expected version ${expectedVersion}, found ${actualVersion}`);
    this.name = 'ConflictError';
  }
}

/**
 * The database was lost or could not be reached (a dropped connection, a failover, a refused connect): not the
 * caller's mistake, and the same request may succeed once the database is back. What was in flight may or may
 * not have been committed; nothing acknowledged is affected. The message is generic on purpose (clients may
 * see it); the driver's error is `cause`, for logs only.
 */
export class StoreUnavailableError extends StoreError {
  constructor(override readonly cause?: unknown) {
    super('unavailable', 'the database is unavailable');
    this.name = 'StoreUnavailableError';
  }
}

export interface ResourceKey {
  readonly kind: string;
  readonly mesh: string;
  readonly name: string;
}

export function describeKey(key: ResourceKey): string {
  return key.mesh ? `${key.kind} ${key.mesh}/${key.name}` : `${key.kind} ${key.name}`;
}
