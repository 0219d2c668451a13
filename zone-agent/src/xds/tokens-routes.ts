/**
 * `POST /tokens/dataplane` on the zone API (Kuma's dataplane token issuer, admin role): body
 * `{mesh, name?, tags?: {tag: [values]}, type?: "dataplane" | "ingress", validFor?}` (an ingress token has no mesh), `validFor` either whole seconds or a
 * Go duration (`"24h"`, `"1h30m"`, what kumactl sends); default one year. Answers 201 with the token as
 * plain text, as Kuma does, so `kumactl generate dataplane-token` and `curl > token` both work.
 *
 * These routes are mounted through the app's `extraRoutes`, which run before the app's authentication, so
 * they authenticate themselves (same tokens, same loopback rule as every other route).
 */
import type { Hono, MiddlewareHandler } from 'hono';
import { type AppEnv, authenticate, type AuthOptions, badRequest, readBody, requireAdmin } from '@ursa/core';
import type { DataplaneTokens } from './tokens.js';

const DEFAULT_VALID_FOR = 365 * 24 * 3600;
const MAX_VALID_FOR = 10 * 365 * 24 * 3600;
/** Mesh and Dataplane names as Kuma accepts them (lowercase RFC 1123 subdomain). */
const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const TYPES = ['dataplane', 'ingress'];

/** Go's `time.ParseDuration` subset a token validity needs: `1h30m`, `90s`, `24h0m0s`. Seconds, or undefined. */
export function parseValidFor(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) ? v : undefined;
  if (typeof v !== 'string' || !/^(\d+(\.\d+)?(h|m|s|ms))+$/.test(v)) return undefined;
  const unit: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001 };
  let total = 0;
  for (const [, n, , u] of v.matchAll(/(\d+(\.\d+)?)(h|ms|m|s)/g)) total += Number(n) * unit[u!]!;
  return Math.floor(total);
}

export function mountDataplaneTokenRoutes(app: Hono<AppEnv>, deps: { readonly auth: AuthOptions; readonly tenant: string; readonly tokens: DataplaneTokens }): void {
  const authed: MiddlewareHandler<AppEnv> = authenticate(deps.auth, deps.tenant);

  app.post('/tokens/dataplane', authed, async (c) => {
    requireAdmin(c);
    const body = (await readBody(c)) as { mesh?: unknown; name?: unknown; tags?: unknown; type?: unknown; validFor?: unknown } | null;
    const violations: { field: string; reason: string; source: 'body' }[] = [];
    const bad = (field: string, reason: string) => violations.push({ field, reason, source: 'body' });
    const type = body?.type === undefined || body.type === '' ? 'dataplane' : body.type;
    if (type === 'ingress') {
      if (body?.mesh !== undefined && body.mesh !== '') bad('mesh', 'must be empty for a zone ingress token (a zone ingress serves every mesh)');
    } else if (typeof body?.mesh !== 'string' || !NAME.test(body.mesh)) bad('mesh', 'must be a mesh name (a lowercase RFC 1123 subdomain)');
    if (body?.name !== undefined && body.name !== '' && (typeof body.name !== 'string' || !NAME.test(body.name))) bad('name', 'must be a Dataplane name (a lowercase RFC 1123 subdomain)');
    if (!TYPES.includes(type as string)) bad('type', `must be one of: ${TYPES.join(', ')} (zone egress is not supported yet)`);
    let tags: Record<string, string[]> | undefined;
    if (body?.tags !== undefined && body.tags !== null) {
      if (typeof body.tags !== 'object' || Array.isArray(body.tags)) bad('tags', 'must be an object of tag name -> list of allowed values');
      else {
        tags = {};
        for (const [k, v] of Object.entries(body.tags as Record<string, unknown>)) {
          if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string' && x !== '')) bad(`tags[${JSON.stringify(k)}]`, 'must be a non-empty list of non-empty strings');
          else tags[k] = v as string[];
        }
      }
    }
    const validFor = body?.validFor === undefined || body.validFor === '' ? DEFAULT_VALID_FOR : parseValidFor(body.validFor);
    if (validFor === undefined || validFor <= 0 || validFor > MAX_VALID_FOR) bad('validFor', `must be a duration ("24h", "90m") or whole seconds, between 1 s and ${MAX_VALID_FOR} s`);
    if (violations.length > 0) throw badRequest('Dataplane token request is not valid', violations);
    const name = typeof body!.name === 'string' && body!.name !== '' ? body!.name : undefined;
    const issued = await deps.tokens.issue({ type: type as 'dataplane' | 'ingress', mesh: type === 'ingress' ? '' : (body!.mesh as string), name, tags, validForSeconds: validFor! });
    return c.body(issued.token, 201, { 'content-type': 'text/plain; charset=utf-8' });
  });

  app.post('/tokens/dataplane/signing-keys/rotate', authed, async (c) => {
    requireAdmin(c);
    return c.json({ signingKey: await deps.tokens.rotate() }, 201);
  });
}
