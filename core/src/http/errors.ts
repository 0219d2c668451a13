/**
 * Errors as Kuma renders them (`pkg/core/rest/errors`): `{type, status, title, detail, instance,
 * invalid_parameters, details, causes}`; `details` and `causes` are Kuma's deprecated mirrors, still read
 * by older kumactl. This file is the only place an error becomes a response.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { StoreError, type ValidationError, type PreconditionError } from '../store/errors.js';
import { asUnavailable } from '../store/unavailable.js';
import type { Logger } from '../log.js';

export interface InvalidParameter {
  readonly field: string;
  readonly reason: string;
  readonly source: 'body' | 'query' | 'path' | 'header';
  readonly rule?: string;
  readonly choices?: readonly string[];
}

/** An error meant for the client: status, Kuma's title and detail, and field-level reasons. */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly title: string,
    readonly detail: string,
    readonly invalid: readonly InvalidParameter[] = [],
  ) {
    super(detail);
    this.name = 'ApiError';
  }
}

export const badRequest = (detail: string, invalid: readonly InvalidParameter[] = [], title = 'Bad Request') => new ApiError(400, title, detail, invalid);

export const GLOBAL_READ_ONLY_MESSAGE =
  "On global control plane you can not modify dataplane resources with 'kumactl apply' or via the HTTP API. " +
  "You can still use 'kumactl' or the HTTP API to modify them on the zone control plane.\n";

/** The title Kuma uses for failures of each kind of operation. */
export const TITLES = {
  get: 'Could not retrieve a resource',
  list: 'Could not retrieve resources',
  put: 'Could not create or update a resource',
  delete: 'Could not delete a resource',
} as const;

/** Turns anything thrown by a handler into Kuma's error body; unknown errors are a 500 and are logged. */
export function toErrorResponse(c: Context, err: unknown, title: string): Response {
  const apiError = asApiError(err, title);
  const e = apiError ?? new ApiError(500, 'Internal Server Error', 'Internal Server Error');
  // The request's trace id, so the error body's `instance` finds the request's log line.
  const instance = (c.get('traceId') as string | undefined) ?? newTraceId();
  if (!apiError) {
    // The client gets an opaque 500 with a trace id; the log gets what happened, under the same id.
    const fields = { method: c.req.method, path: c.req.path, instance, error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
    const log = c.get('log') as Logger | undefined;
    if (log) log.error('request failed', fields);
    else console.error(`ursa: ${c.req.method} ${c.req.path} failed:`, err);
  }
  return c.json(
    {
      type: '/std-errors',
      status: e.status,
      title: e.title,
      detail: e.detail,
      instance,
      // Kuma leaves both lists out when there is nothing in them.
      ...(e.invalid.length > 0 ? { invalid_parameters: e.invalid.map((p) => ({ ...p })) } : {}),
      details: e.detail,
      ...(e.invalid.length > 0 ? { causes: e.invalid.map((p) => ({ field: p.field, message: p.reason })) } : {}),
    },
    e.status,
  );
}

export const newTraceId = (): string => `ursa:trace:${crypto.randomUUID().replace(/-/g, '')}`;

/** What a client is told when the database is unavailable: retry, and nothing of the database itself. */
export const UNAVAILABLE_DETAIL = 'the database is unavailable, retry';

function asApiError(err: unknown, title: string): ApiError | undefined {
  if (err instanceof ApiError) return err;
  // A lost or unreachable database (StoreUnavailableError, or the driver's error it stands for, wrapped by
  // drizzle or not): the request may succeed later, so 503, not a 500. Before a route names its operation
  // (checking a token), the app's fallback title is 'Bad Request', which a 503 is not.
  if (asUnavailable(err)) return new ApiError(503, title === 'Bad Request' ? 'Service Unavailable' : title, UNAVAILABLE_DETAIL);
  if (!(err instanceof StoreError)) return undefined;
  switch (err.code) {
    case 'invalid':
      return new ApiError(400, title, 'Resource is not valid', bodyParams((err as ValidationError).violations));
    case 'precondition':
      return new ApiError(400, title, (err as PreconditionError).detail, bodyParams((err as PreconditionError).violations));
    case 'not-found':
      return new ApiError(404, title, 'Not found');
    case 'already-exists':
    case 'conflict':
      return new ApiError(409, 'Conflict', err.message);
  }
}

export function bodyParams(violations: readonly { field: string; message: string }[], source: InvalidParameter['source'] = 'body'): InvalidParameter[] {
  return violations.map((v) => ({ field: v.field, reason: v.message, source }));
}
