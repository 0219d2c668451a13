/** Request bodies: JSON, or YAML (Kuma's universal format) when the content type says so. */
import type { Context } from 'hono';
import { parse as parseYaml } from 'yaml';
import { badRequest } from './errors.js';

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];
/** Larger bodies are refused before parsing; no Kuma resource comes near this. */
const MAX_BODY = 4 * 1024 * 1024;

export async function readBody(c: Context): Promise<unknown> {
  const type = (c.req.header('content-type') ?? 'application/json').split(';')[0]!.trim().toLowerCase();
  const text = await c.req.text();
  if (text.length > MAX_BODY) throw badRequest(`the body is larger than ${MAX_BODY} bytes`);
  if (text.trim() === '') throw badRequest('the body is empty');
  if (YAML_TYPES.includes(type)) {
    try {
      // Plain data only: no custom tags, and aliases cannot expand into huge documents.
      return parseYaml(text, { maxAliasCount: 100, prettyErrors: false });
    } catch (err) {
      throw badRequest(`invalid YAML: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`invalid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}
