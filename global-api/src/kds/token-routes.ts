/**
 * Zone tokens over the API (admin role): issue, list, revoke, and rotate or retire signing keys.
 * Kuma issues zone tokens at `POST /tokens/zone`; so do we, in Kuma's format (plain-text token, Go duration
 * `validFor`, `scope`), with Ursa's JSON answer (id, expiry) for `Accept: application/json`.
 */
import type { Hono } from 'hono';
import { ApiError, type AppEnv, badRequest, isDnsLabel, parseGoDuration, plainToken, readBody, requireAdmin, validForProblem, wantsJson, ZONE_TOKEN_SCOPES, type ZoneTokenScope } from '@ursa/core';

const DEFAULT_VALID_FOR = 365 * 24 * 3600;
const MAX_VALID_FOR = 10 * 365 * 24 * 3600;

export function mountZoneTokenRoutes(app: Hono<AppEnv>): void {
  // Kuma's request: `{zone, scope: ["cp" | "ingress" | "egress"], validFor: "24h"}`. Ursa also takes
  // `validFor` in whole seconds, and a missing scope means all three (Kuma refuses it).
  app.post('/tokens/zone', async (c) => {
    requireAdmin(c);
    const body = (await readBody(c)) as { zone?: unknown; validFor?: unknown; scope?: unknown } | null;
    const violations: { field: string; reason: string; source: 'body' }[] = [];
    const bad = (field: string, reason: string) => violations.push({ field, reason, source: 'body' });
    if (typeof body?.zone !== 'string' || !isDnsLabel(body.zone)) bad('zone', 'must be a zone name (a lowercase DNS label of at most 63 characters)');
    let scopes: ZoneTokenScope[] | undefined;
    if (body?.scope !== undefined && body.scope !== null) {
      if (!Array.isArray(body.scope) || body.scope.length === 0) bad('scope', `must be a non-empty list of: ${ZONE_TOKEN_SCOPES.join(', ')}`);
      else {
        body.scope.forEach((s, i) => {
          if (!ZONE_TOKEN_SCOPES.includes(s as ZoneTokenScope)) bad(`scope[${i}]`, `must be one of: ${ZONE_TOKEN_SCOPES.join(', ')}`);
        });
        scopes = [...new Set(body.scope as ZoneTokenScope[])];
      }
    }
    const raw = body?.validFor;
    const validFor = raw === undefined || raw === '' ? DEFAULT_VALID_FOR : parseGoDuration(raw);
    const validForBad = validForProblem(raw, validFor, MAX_VALID_FOR);
    if (validForBad) bad('validFor', validForBad);
    if (violations.length > 0) throw badRequest('Resource is not valid', violations, 'Invalid request');
    const issued = await c.var.stores().zoneTokens.issue(c.var.tenant, body!.zone as string, validFor!, Date.now(), scopes);
    if (!wantsJson(c)) return plainToken(c, issued.token);
    return c.json({ id: issued.jti, zone: body!.zone, scope: scopes ?? ZONE_TOKEN_SCOPES, expirationTime: issued.expiresAt.toISOString(), token: issued.token }, 201);
  });

  app.get('/tokens/zone', async (c) => {
    requireAdmin(c);
    const rows = await c.var.stores().kds.listZoneTokens(c.var.tenant);
    const items = rows.map((r) => ({
      id: r.jti,
      zone: r.zone,
      signingKey: r.kid,
      creationTime: r.createdAt.toISOString(),
      expirationTime: r.expiresAt.toISOString(),
      revocationTime: r.revokedAt?.toISOString() ?? null,
    }));
    return c.json({ total: items.length, items, next: null });
  });

  app.delete('/tokens/zone/:id', async (c) => {
    requireAdmin(c);
    if (!(await c.var.stores().zoneTokens.revoke(c.var.tenant, c.req.param('id')))) {
      throw new ApiError(404, 'Could not revoke a token', 'Not found');
    }
    // Live sessions re-check their token on every heartbeat and end within one interval; zones get the
    // revocation with the `zone-token-revocations` GlobalSecret.
    return c.json({});
  });

  app.post('/tokens/zone/signing-keys/rotate', async (c) => {
    requireAdmin(c);
    return c.json({ signingKey: await c.var.stores().zoneTokens.rotate(c.var.tenant) }, 201);
  });

  app.post('/tokens/zone/signing-keys/retire', async (c) => {
    requireAdmin(c);
    return c.json({ retired: await c.var.stores().zoneTokens.retireOldKeys(c.var.tenant) });
  });
}
