/**
 * Exit codes as kumactl's: 0 done, 1 the server refused or could not be reached, 2 the command line is wrong.
 * Every failure ends as one line on stderr.
 */
export class UsageError extends Error {
  readonly exitCode = 2;
}

export class RemoteError extends Error {
  readonly exitCode = 1;
}

interface KumaErrorBody {
  title?: unknown;
  detail?: unknown;
  invalid_parameters?: unknown;
}

/** One line from Kuma's error body: `title: detail (field: reason; ...)`, or the status when the body is not one. */
export function describeErrorBody(status: number, text: string): string {
  let body: KumaErrorBody | undefined;
  try {
    body = JSON.parse(text) as KumaErrorBody;
  } catch {
    body = undefined;
  }
  if (!body || typeof body !== 'object' || (typeof body.title !== 'string' && typeof body.detail !== 'string')) {
    const snippet = text.trim().split('\n')[0]?.slice(0, 200);
    return `HTTP ${status}${snippet ? `: ${snippet}` : ''}`;
  }
  const parts = [body.title, body.detail].filter((p): p is string => typeof p === 'string' && p.trim() !== '').map((p) => p.trim());
  // Kuma repeats the title as the detail for some errors.
  const head = parts.length === 2 && parts[0] === parts[1] ? parts[0]! : parts.join(': ');
  const invalid = Array.isArray(body.invalid_parameters)
    ? (body.invalid_parameters as { field?: unknown; reason?: unknown }[]).filter((p) => typeof p?.field === 'string').map((p) => `${p.field as string}: ${String(p.reason ?? '')}`)
    : [];
  return invalid.length > 0 ? `${head} (${invalid.join('; ')})` : head;
}
