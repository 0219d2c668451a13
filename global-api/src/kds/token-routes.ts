/**
 * Zone tokens over the API (admin role): issue, list, revoke, and rotate or retire signing keys.
 * Kuma issues zone tokens at `POST /tokens/zone`; so do we.
 */
import type { Hono } from 'hono';
import { ApiError, type AppEnv, badRequest, isDnsLabel, readBody, requireAdmin } from '@ursa/core';

const DEFAULT_VALID_FOR = 365 * 24 * 3600;
const MAX_VALID_FOR = 10 * 365 * 24 * 3600;

export function mountZoneTokenRoutes(app: Hono<AppEnv>): void {
  app.post('/tokens/zone', async (c) => {
    requireAdmin(c);
    const body = (await readBody(c)) as { zone?: unknown; validFor?: unknown } | null;
    const violations = [];
    if (typeof body?.zone !== 'string' || !isDnsLabel(body.zone)) {
      violations.push({ field: 'zone', reason: 'must be a zone name (a lowercase DNS label of at most 63 characters)', source: 'body' as const });
    }
    const validFor = body?.validFor ?? DEFAULT_VALID_FOR;
    if (typeof validFor !== 'number' || !Number.isInteger(validFor) || validFor <= 0 || validFor > MAX_VALID_FOR) {
      violations.push({ field: 'validFor', reason: `must be a whole number of seconds between 1 and ${MAX_VALID_FOR}`, source: 'body' as const });
    }
    if (violations.length > 0) throw badRequest('Zone token request is not valid', violations);
    const issued = await c.var.stores().zoneTokens.issue(c.var.tenant, body!.zone as string, validFor as number);
    return c.json({ id: issued.jti, zone: body!.zone, expirationTime: issued.expiresAt.toISOString(), token: issued.token }, 201);
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
    if (!(await c.var.stores().kds.revokeZoneToken(c.var.tenant, c.req.param('id')))) {
      throw new ApiError(404, 'Could not revoke a token', 'Not found');
    }
    // Live sessions re-check their token on every heartbeat and end within one interval.
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
