/**
 * `POST /tokens/dataplane` on the zone API (Kuma's dataplane token issuer, admin role): body
 * `{mesh, name?, tags?: {tag: [values]}, type?: "dataplane" | "ingress" | "egress", validFor?}` (a zone ingress or egress token has no mesh), `validFor` a Go duration
 * (`"24h"`, `"1h30m"`, what kumactl sends) or whole seconds; default one year. Answers 200 with the token as
 * plain text, as Kuma does, so `kumactl generate dataplane-token` and `curl > token` both work; with
 * `Accept: application/json`, 201 with `{id, mesh, name, type, expirationTime, token}`.
 *
 * These routes are mounted through the app's `extraRoutes`, which run before the app's authentication, so
 * they authenticate themselves (same tokens, same loopback rule as every other route).
 */
import type { Hono, MiddlewareHandler } from 'hono';
import { type AppEnv, authenticate, type AuthOptions, badRequest, parseGoDuration, plainToken, readBody, requireAdmin, validForProblem, wantsJson } from '@ursa/core';
import type { DataplaneTokens, ProxyTokenType } from './tokens.js';

const DEFAULT_VALID_FOR = 365 * 24 * 3600;
const MAX_VALID_FOR = 10 * 365 * 24 * 3600;
/** Mesh and Dataplane names as Kuma accepts them (lowercase RFC 1123 subdomain). */
const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const TYPES = ['dataplane', 'ingress', 'egress'];
/** Zone proxies serve every mesh: their tokens name none. */
const ZONE_PROXY_TYPES = ['ingress', 'egress'];

export function mountDataplaneTokenRoutes(app: Hono<AppEnv>, deps: { readonly auth: AuthOptions; readonly tenant: string; readonly tokens: DataplaneTokens; readonly standaloneZone?: string }): void {
  const authed: MiddlewareHandler<AppEnv> = authenticate(deps.auth, deps.tenant);

  // A standalone zone issues zone tokens for its zone ingresses/egresses, as a standalone kuma-cp does
  // (`kumactl generate zone-token --zone <zone> --scope ingress --scope egress`). A federated zone leaves
  // zone tokens to the global (the agent refuses the path, `agent.ts`).
  const zone = deps.standaloneZone;
  if (zone !== undefined) {
    app.post('/tokens/zone', authed, async (c) => {
      requireAdmin(c);
      const body = (await readBody(c)) as { zone?: unknown; scope?: unknown; validFor?: unknown } | null;
      const violations: { field: string; reason: string; source: 'body' }[] = [];
      const bad = (field: string, reason: string) => violations.push({ field, reason, source: 'body' });
      if (body?.zone !== zone) bad('zone', `must be this zone's name ${JSON.stringify(zone)}`);
      let scopes: ('ingress' | 'egress')[] = ['ingress', 'egress'];
      if (body?.scope !== undefined && body.scope !== null) {
        if (!Array.isArray(body.scope) || body.scope.length === 0) bad('scope', 'must be a non-empty list of "ingress", "egress"');
        else {
          body.scope.forEach((s, i) => {
            if (s === 'cp') bad(`scope[${i}]`, '"cp" tokens let a zone agent connect to a global control plane: issue them on the global');
            else if (s !== 'ingress' && s !== 'egress') bad(`scope[${i}]`, 'must be "ingress" or "egress"');
          });
          scopes = body.scope as ('ingress' | 'egress')[];
        }
      }
      const validFor = body?.validFor === undefined || body.validFor === '' ? DEFAULT_VALID_FOR : parseGoDuration(body.validFor);
      const validForBad = validForProblem(body?.validFor, validFor, MAX_VALID_FOR);
      if (validForBad) bad('validFor', validForBad);
      if (violations.length > 0) throw badRequest('Resource is not valid', violations, 'Invalid request');
      const issued = await deps.tokens.issueZoneToken({ zone, scopes, validForSeconds: validFor! });
      if (!wantsJson(c)) return plainToken(c, issued.token);
      return c.json({ id: issued.jti, zone, scope: scopes, expirationTime: issued.expiresAt.toISOString(), token: issued.token }, 201);
    });
  }

  app.post('/tokens/dataplane', authed, async (c) => {
    requireAdmin(c);
    const body = (await readBody(c)) as { mesh?: unknown; name?: unknown; tags?: unknown; type?: unknown; validFor?: unknown } | null;
    const violations: { field: string; reason: string; source: 'body' }[] = [];
    const bad = (field: string, reason: string) => violations.push({ field, reason, source: 'body' });
    const type = body?.type === undefined || body.type === '' ? 'dataplane' : body.type;
    const zoneProxy = ZONE_PROXY_TYPES.includes(type as string);
    if (zoneProxy) {
      if (body?.mesh !== undefined && body.mesh !== '') bad('mesh', `must be empty for a zone ${type as string} token (a zone ${type as string} serves every mesh)`);
    } else if (typeof body?.mesh !== 'string' || !NAME.test(body.mesh)) bad('mesh', 'must be a mesh name (a lowercase RFC 1123 subdomain)');
    if (body?.name !== undefined && body.name !== '' && (typeof body.name !== 'string' || !NAME.test(body.name))) bad('name', 'must be a Dataplane name (a lowercase RFC 1123 subdomain)');
    if (!TYPES.includes(type as string)) bad('type', `must be one of: ${TYPES.join(', ')}`);
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
    const validFor = body?.validFor === undefined || body.validFor === '' ? DEFAULT_VALID_FOR : parseGoDuration(body.validFor);
    const validForBad = validForProblem(body?.validFor, validFor, MAX_VALID_FOR);
    if (validForBad) bad('validFor', validForBad);
    if (violations.length > 0) throw badRequest('Resource is not valid', violations, 'Invalid request');
    const name = typeof body!.name === 'string' && body!.name !== '' ? body!.name : undefined;
    const issued = await deps.tokens.issue({ type: type as ProxyTokenType, mesh: zoneProxy ? '' : (body!.mesh as string), name, tags, validForSeconds: validFor! });
    if (!wantsJson(c)) return plainToken(c, issued.token);
    return c.json({ id: issued.jti, mesh: zoneProxy ? '' : body!.mesh, name: name ?? '', type, expirationTime: issued.expiresAt.toISOString(), token: issued.token }, 201);
  });

  app.post('/tokens/dataplane/signing-keys/rotate', authed, async (c) => {
    requireAdmin(c);
    return c.json({ signingKey: await deps.tokens.rotate() }, 201);
  });
}
