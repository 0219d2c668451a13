/**
 * What a zone is told when its session or request fails. A KdsError is meant for the zone (it names what
 * the zone did wrong, or why the global ended the session) and goes out as it is. Anything else is the
 * global's own failure (a database error, a bug): its text may hold SQL, parameters or internals, so the
 * zone gets `internal` with a trace id, and the log gets the error under the same id. A lost database is
 * `unavailable` (the zone retries), with a generic message.
 */
import { errorText, KdsError, type Logger, unavailableKdsError } from '@ursa/core';

export function publicKdsError(err: unknown, log: Logger, what: string, fields: Record<string, unknown> = {}): KdsError {
  if (err instanceof KdsError) return err;
  // A lost database: retryable (`unavailable`, 503 on long-poll); the zone reconnects with backoff.
  const unavailable = unavailableKdsError(err);
  if (unavailable) {
    log.warn(`${what}: the database is unavailable`, { ...fields, error: errorText(err) });
    return unavailable;
  }
  const trace = crypto.randomUUID().replace(/-/g, '');
  log.error(what, { ...fields, trace, error: errorText(err) });
  return new KdsError('internal', `internal error on the global (trace ${trace}); the zone should retry`);
}
