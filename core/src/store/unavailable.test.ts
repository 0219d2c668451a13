/**
 * Which errors count as "the database is unavailable" (answered 503 / KDS `unavailable`) and which do not: the
 * errors postgres.js raises on Node and in workerd (the Worker's client per request, through Hyperdrive), as
 * drizzle hands them over. Real connection losses are exercised in test/postgres-connection-loss.test.ts and
 * test/db-unreachable.test.ts; this pins the table.
 */
import { describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { DrizzleQueryError } from 'drizzle-orm/errors';
import { StoreUnavailableError, ValidationError } from './errors.js';
import { asUnavailable } from './unavailable.js';

/** Shaped as postgres.js's `Errors.connection` (src/errors.js). */
const driverError = (code: string) => Object.assign(new Error(`write ${code} 127.0.0.1:5432`), { code, errno: code });
const socketError = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code, errno: -1, syscall: 'connect' });
const serverError = (code: string, message = 'server error') => new postgres.PostgresError({ code, message, severity: 'FATAL' } as never);
const wrapped = (cause: unknown) => new DrizzleQueryError('select "name" from "resources" where "tenant_id" = $1', ['acme'], cause as Error);

describe('asUnavailable', () => {
  const unavailable: [string, unknown][] = [
    ['a connection closed under a query (postgres.js)', driverError('CONNECTION_CLOSED')],
    ['a connection destroyed (postgres.js)', driverError('CONNECTION_DESTROYED')],
    ['a pool ended while a query waited (postgres.js)', driverError('CONNECTION_ENDED')],
    ['a connect that timed out (postgres.js)', driverError('CONNECT_TIMEOUT')],
    ['a refused connect', socketError('ECONNREFUSED')],
    ['a reset connection', socketError('ECONNRESET')],
    ['a broken pipe', socketError('EPIPE')],
    ['an unreachable host', socketError('EHOSTUNREACH')],
    ['a database host name that does not resolve (yet)', socketError('EAI_AGAIN')],
    ['a session ended by pg_terminate_backend or a fast shutdown (57P01)', serverError('57P01', 'terminating connection due to administrator command')],
    ['a server that crashed (57P02)', serverError('57P02')],
    ['a server still starting or in recovery (57P03)', serverError('57P03', 'the database system is starting up')],
    ['too many connections (53300)', serverError('53300')],
    ['a connection failure reported by the server (class 08)', serverError('08006')],
    ["workerd's socket, lost mid-way (no code)", new Error('Network connection lost.')],
    ['any of these wrapped by drizzle', wrapped(driverError('CONNECTION_CLOSED'))],
    ['the typed error itself, wrapped', wrapped(new StoreUnavailableError())],
  ];
  it.each(unavailable)('%s is unavailable', (_, err) => {
    const typed = asUnavailable(err);
    expect(typed).toBeInstanceOf(StoreUnavailableError);
    expect(typed!.code).toBe('unavailable');
    // What a client may see says nothing of the driver or the query.
    expect(typed!.message).toBe('the database is unavailable');
  });

  const others: [string, unknown][] = [
    ['a unique violation', wrapped(serverError('23505', 'duplicate key value violates unique constraint'))],
    ['a missing table', serverError('42P01')],
    ['a serialization failure', serverError('40001')],
    ['an invalid byte sequence', wrapped(serverError('22021'))],
    ['a validation error', new ValidationError([{ field: 'name', message: 'required' }])],
    ['a TypeError', new TypeError("Cannot read properties of null (reading 'write')")],
    ['a plain error', new Error('boom')],
    ['a non-error', 'CONNECTION_CLOSED'],
    ['nothing', undefined],
  ];
  it.each(others)('%s is not', (_, err) => {
    expect(asUnavailable(err)).toBeUndefined();
  });

  it('keeps the driver error as the cause, for logs', () => {
    const cause = driverError('CONNECTION_CLOSED');
    expect(asUnavailable(wrapped(cause))!.cause).toBe(cause);
  });

  it('stops following a cycle of causes', () => {
    const a: Error & { cause?: unknown } = new Error('a');
    const b: Error & { cause?: unknown } = new Error('b');
    a.cause = b;
    b.cause = a;
    expect(asUnavailable(a)).toBeUndefined();
  });
});
