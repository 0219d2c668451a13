/**
 * Which errors mean "the database is unavailable": the connection to it was lost, or could not be made. They
 * are not the request's fault, and the same request may succeed once the database is back, so the edges answer
 * them as retryable (HTTP 503, KDS `unavailable`) instead of a 500. Everything else stays what it is.
 *
 * The errors come from postgres.js (on Node and in workerd), from the sockets under it, and from PostgreSQL
 * itself when it ends a session; drizzle wraps them in a `DrizzleQueryError` whose `cause` is the driver's
 * error, hence the walk down `cause`.
 */
import { StoreUnavailableError } from './errors.js';

/** postgres.js's own codes for a connection that closed, was destroyed, was ended, or did not open in time. */
const DRIVER_CODES = new Set(['CONNECTION_CLOSED', 'CONNECTION_DESTROYED', 'CONNECTION_ENDED', 'CONNECT_TIMEOUT']);

/** Socket and name-resolution errors (Node's errno codes, and the one workerd's sockets name). */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ERR_SOCKET_CLOSED',
  'ERR_SOCKET_CLOSED_BEFORE_CONNECTION',
]);

/**
 * SQLSTATEs of a session PostgreSQL ended or would not start: class 08 (connection exception), 57P01
 * admin_shutdown (`pg_terminate_backend`, a fast shutdown), 57P02 crash_shutdown, 57P03 cannot_connect_now
 * (starting up, in recovery), 57P05 idle_session_timeout, 25P03 idle_in_transaction_session_timeout, 53300
 * too_many_connections.
 */
const SQLSTATES = new Set(['57P01', '57P02', '57P03', '57P05', '25P03', '53300']);

/** workerd's sockets fail without a code; this is the message of a connection lost mid-way. */
const SOCKET_MESSAGES = new Set(['Network connection lost.']);

/** Whether `err` itself (not its causes) says the database connection was lost or could not be made. */
function isConnectionLoss(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (DRIVER_CODES.has(code) || SOCKET_CODES.has(code) || SQLSTATES.has(code)) return true;
    if (err.name === 'PostgresError' && code.startsWith('08')) return true;
    return false;
  }
  return SOCKET_MESSAGES.has(err.message);
}

/**
 * The typed error for `err` when it, or one of its causes, means the database is unavailable; undefined
 * otherwise. A `StoreUnavailableError` anywhere in the chain is returned as it is.
 */
export function asUnavailable(err: unknown): StoreUnavailableError | undefined {
  let e: unknown = err;
  for (let depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    if (e instanceof StoreUnavailableError) return e;
    if (isConnectionLoss(e)) return new StoreUnavailableError(e);
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
