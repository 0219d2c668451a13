/**
 * Tenants and tokens. Operators create tenants and their first admin token under `/_operator/tenants`;
 * a tenant's admins manage its tokens under `/tokens` (Kuma's `/tokens/*` issues dataplane and zone
 * tokens; those come with KDS and the zone agent).
 */
import type { Hono } from 'hono';
import { textProblem } from '@ursa/proto';
import { ROLES, type Role } from '../../store/token-store.js';
import { requireAdmin, requireOperator, type AuthOptions } from '../auth.js';
import { tokenCacheFor } from '../token-cache.js';
import { readBody } from '../body.js';
import type { AppEnv } from '../env.js';
import { ApiError, badRequest } from '../errors.js';
import { isDnsLabel } from '../../text.js';

const MAX_VALID_FOR_SECONDS = 10 * 365 * 24 * 3600;

export function mountTokenRoutes(app: Hono<AppEnv>, auth: AuthOptions): void {
  app.post('/_operator/tenants', async (c) => {
    requireOperator(c, auth);
    const body = await readBody(c);
    const name = (body as { name?: unknown } | null)?.name;
    if (typeof name !== 'string' || !isDnsLabel(name)) {
      throw badRequest('Tenant is not valid', [{ field: 'name', reason: 'must be a lowercase DNS label (a-z, 0-9, -; at most 63 characters)', source: 'body' }]);
    }
    const { tokens } = c.var.stores();
    if (!(await tokens.createTenant(name))) throw new ApiError(409, 'Conflict', `tenant ${name} already exists`);
    const token = await tokens.issue(name, { name: 'initial-admin', role: 'admin' });
    return c.json({ tenant: name, token: tokenJson(token), secret: token.token }, 201);
  });

  app.get('/_operator/tenants', async (c) => {
    requireOperator(c, auth);
    const tenants = await c.var.stores().tokens.listTenants();
    return c.json({ total: tenants.length, items: tenants.map((t) => ({ name: t.id, revision: t.revision, creationTime: t.createdAt.toISOString() })), next: null });
  });

  app.post('/tokens', async (c) => {
    requireAdmin(c);
    const body = (await readBody(c)) as { name?: unknown; role?: unknown; validFor?: unknown } | null;
    const violations = [];
    if (typeof body?.name !== 'string' || body.name === '' || body.name.length > 253) violations.push({ field: 'name', reason: 'must be a non-empty string of at most 253 characters', source: 'body' as const });
    // U+0000 would be a driver error (a 500); an unpaired surrogate would be stored as U+FFFD.
    else if (textProblem(body.name)) violations.push({ field: 'name', reason: textProblem(body.name)!, source: 'body' as const });
    if (!ROLES.includes(body?.role as Role)) violations.push({ field: 'role', reason: `must be one of: ${ROLES.join(', ')}`, source: 'body' as const });
    const validFor = body?.validFor;
    if (validFor !== undefined && (typeof validFor !== 'number' || !Number.isInteger(validFor) || validFor <= 0 || validFor > MAX_VALID_FOR_SECONDS)) {
      violations.push({ field: 'validFor', reason: `must be a whole number of seconds between 1 and ${MAX_VALID_FOR_SECONDS}`, source: 'body' as const });
    }
    if (violations.length > 0) throw badRequest('Token request is not valid', violations);
    // The default tenant (loopback admin) has no row until its first resource write, and tokens reference
    // the row: without this, loopback's first `POST /tokens` was a foreign-key violation (a 500).
    await c.var.stores().tokens.createTenant(c.var.tenant);
    const issued = await c.var.stores().tokens.issue(c.var.tenant, {
      name: body!.name as string,
      role: body!.role as Role,
      expiresAt: typeof validFor === 'number' ? new Date(Date.now() + validFor * 1000) : undefined,
    });
    return c.json({ ...tokenJson(issued), secret: issued.token }, 201);
  });

  app.get('/tokens', async (c) => {
    requireAdmin(c);
    const items = await c.var.stores().tokens.list(c.var.tenant);
    return c.json({ total: items.length, items: items.map(tokenJson), next: null });
  });

  app.delete('/tokens/:id', async (c) => {
    requireAdmin(c);
    const id = c.req.param('id');
    if (!(await c.var.stores().tokens.revoke(c.var.tenant, id))) throw new ApiError(404, 'Could not revoke a token', 'Not found');
    // At once on this process; other replicas' caches expire within TOKEN_CACHE_MS.
    tokenCacheFor(auth).revoked(id);
    return c.json({});
  });
}

function tokenJson(t: { id: string; name: string; role: Role; createdAt: Date; expiresAt: Date | null; revokedAt: Date | null }) {
  return {
    id: t.id,
    name: t.name,
    role: t.role,
    creationTime: t.createdAt.toISOString(),
    expirationTime: t.expiresAt?.toISOString() ?? null,
    revocationTime: t.revokedAt?.toISOString() ?? null,
  };
}
