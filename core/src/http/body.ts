/**
 * Request bodies: JSON, or YAML (Kuma's universal format) when the content type says so. Bounded twice, in
 * bytes: the text as it arrives (counted while reading, so a huge body is never buffered whole) and the
 * parsed value (YAML aliases make a small text a large value). Resources have their own, smaller limit
 * (MAX_RESOURCE_BYTES), checked where they are validated.
 */
import type { Context } from 'hono';
import { formatBytes, jsonByteLength, MAX_SPEC_DEPTH } from '@ursa/proto';
import { parse as parseYaml } from 'yaml';
import { ApiError, badRequest } from './errors.js';

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

/**
 * The largest request body the API reads, in bytes, both as sent and once parsed (as JSON). Twice the
 * resource limit: room for YAML comments, indentation and pretty-printed JSON around a resource at its limit.
 */
export const MAX_BODY_BYTES = 2 * 1024 * 1024;

/**
 * A YAML document may use at most this many aliases. Each one may still stand for a large value; what
 * bounds the result is the parsed size check, this only keeps the parser's own work small.
 */
const MAX_YAML_ALIASES = 100;

const utf8 = new TextDecoder('utf-8', { fatal: true });

export async function readBody(c: Context): Promise<unknown> {
  const type = (c.req.header('content-type') ?? 'application/json').split(';')[0]!.trim().toLowerCase();
  const bytes = await readBytes(c.req.raw, MAX_BODY_BYTES, (detail) => tooLarge(detail));
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw badRequest('the body is not valid UTF-8', [{ field: '', reason: 'must be UTF-8 text', source: 'body' }]);
  }
  if (text.trim() === '') throw badRequest('the body is empty');
  const value = YAML_TYPES.includes(type) ? parseYamlBody(text) : parseJsonBody(text);
  // Nesting past the spec depth limit is refused by validation with its own message (a YAML alias cycle too).
  if (jsonByteLength(value, MAX_BODY_BYTES, MAX_SPEC_DEPTH + 2) > MAX_BODY_BYTES) {
    throw tooLarge(`the body is larger than ${formatBytes(MAX_BODY_BYTES)} once parsed (as JSON, YAML aliases expanded)`);
  }
  return value;
}

function parseYamlBody(text: string): unknown {
  try {
    // Plain data only: no custom tags; aliases are few, and what they expand to is measured afterwards.
    return parseYaml(text, { maxAliasCount: MAX_YAML_ALIASES, prettyErrors: false });
  } catch (err) {
    throw badRequest(`invalid YAML: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function parseJsonBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`invalid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function tooLarge(detail: string): ApiError {
  return new ApiError(413, 'Payload Too Large', detail, [{ field: '', reason: `must be at most ${formatBytes(MAX_BODY_BYTES)}`, source: 'body' }]);
}

/**
 * Reads a request body of at most `limit` bytes. A declared Content-Length over the limit is refused before
 * reading anything; otherwise bytes are counted as they arrive and reading stops at the first byte over
 * the limit, so neither a lying Content-Length nor a chunked body can make the process buffer more.
 */
export async function readBytes(req: Request, limit: number, refuse: (detail: string) => Error): Promise<Uint8Array> {
  const declared = req.headers.get('content-length');
  if (declared !== null && /^[0-9]+$/.test(declared.trim()) && Number(declared) > limit) {
    throw refuse(`the body of ${declared.trim()} bytes is larger than ${formatBytes(limit)}`);
  }
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw refuse(`the body is larger than ${formatBytes(limit)}`);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const ch of chunks) {
    out.set(ch, at);
    at += ch.byteLength;
  }
  return out;
}
