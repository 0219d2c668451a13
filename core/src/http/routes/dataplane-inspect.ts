/**
 * Kuma's dataplane inspect endpoints, answered from this plane's store (Kuma `pkg/api-server/inspect_endpoints.go`;
 * Kuma's global answers them the same way, from what it holds):
 * - `GET /meshes/{mesh}/dataplanes/{name}/_rules`: per policy kind, the rules it gives the proxy (`InspectRules`);
 * - `GET /meshes/{mesh}/dataplanes/{name}/_policies`: the proxy-wide policies (MeshTrace) and their merged conf;
 * - `GET /meshes/{mesh}/dataplanes/{name}/_inbounds/{kri}/_policies`: the rules of the policies that configure
 *   one inbound (or zone-proxy listener), named by its KRI's section.
 * The last two need `meshServices.mode: Exclusive`, as in Kuma (a 400 otherwise). The computation is
 * `policy/inspect.ts`. Mounted on the global only: the zone agent keeps its own `_policies` (its engine's view).
 */
import type { Context, Hono } from 'hono';
import { descriptorFor, POLICY_KINDS } from '@ursa/proto';
import { dataplaneRules, inboundRuleEntries, inspectInbounds, isProxyWide, matchForInspect, sectionOf } from '../../policy/inspect.js';
import { mergeAll } from '../../policy/json.js';
import { kumaConf } from '../../policy/kuma-conf.js';
import type { Resource } from '../../store/resource-store.js';
import { kri } from '../codec.js';
import type { AppEnv } from '../env.js';
import { ApiError } from '../errors.js';
import { parseKri } from './kri.js';

/** Policies read per store call (Kuma reads the whole mesh context too). */
const READ_PAGE = 1000;

type Ctx = Context<AppEnv>;

async function policiesOf(c: Ctx, mesh: string): Promise<Resource[]> {
  const { resources } = c.var.stores();
  const lists = await Promise.all(
    POLICY_KINDS.map(async (kind) => {
      const out: Resource[] = [];
      for (let offset = 0; ; offset += READ_PAGE) {
        const { items } = await resources.list(c.var.tenant, kind, { mesh, limit: READ_PAGE, offset });
        out.push(...items);
        if (items.length < READ_PAGE) return out;
      }
    }),
  );
  return lists.flat();
}

/** The mesh and the Dataplane, with Kuma's errors; `exclusive` asks for `meshServices.mode: Exclusive`. */
async function load(c: Ctx, endpoint: string | undefined): Promise<{ dp: Resource; policies: Resource[]; exclusive: boolean }> {
  const { resources } = c.var.stores();
  const meshName = c.req.param('mesh')!;
  const [mesh, dp] = await Promise.all([
    resources.get(c.var.tenant, { kind: 'Mesh', mesh: '', name: meshName }),
    resources.get(c.var.tenant, { kind: 'Dataplane', mesh: meshName, name: c.req.param('name')! }),
  ]);
  if (!mesh) throw new ApiError(404, 'Failed to retrieve Mesh', 'Not found');
  const mode = (mesh.spec.meshServices as Record<string, unknown> | undefined)?.mode;
  const exclusive = mode === 'Exclusive' || mode === 3;
  if (endpoint) {
    if (!exclusive) throw new ApiError(400, 'Bad Request', `bad request: can't use ${endpoint} endpoint without meshService enabled`);
  }
  if (!dp) throw new ApiError(404, 'Could not retrieve Dataplane', 'Not found');
  return { dp, policies: await policiesOf(c, meshName), exclusive };
}

const kriOf = (r: Resource) => kri(descriptorFor(r.kind)!, r);

export function mountDataplaneInspectRoutes(app: Hono<AppEnv>): void {
  app.get('/meshes/:mesh/dataplanes/:name/_rules', async (c) => {
    c.set('errorTitle', 'Could not retrieve rules');
    const { dp, policies, exclusive } = await load(c, undefined);
    return c.json(await dataplaneRules(dp, policies, exclusive));
  });

  app.get('/meshes/:mesh/dataplanes/:name/_policies', async (c) => {
    c.set('errorTitle', 'Could not retrieve policies');
    const { dp, policies } = await load(c, '_policies');
    const out = [...matchForInspect(dp, policies)]
      .filter(([kind]) => isProxyWide(kind))
      .map(([kind, list]) => ({
        kind,
        conf: kumaConf(kind, mergeAll(list.map((m) => m.policy.spec.default ?? {})) ?? {}),
        origins: list.map((m) => ({ kri: kriOf(m.policy) })),
      }));
    return c.json({ policies: out });
  });

  app.get('/meshes/:mesh/dataplanes/:name/_inbounds/:kri/_policies', async (c) => {
    c.set('errorTitle', 'Could not retrieve policies');
    const id = parseKri(c.req.param('kri'));
    if (typeof id === 'string') throw new ApiError(400, 'Bad Request', `bad request: ${id}`);
    const section = c.req.param('kri').split('_').slice(6).join('_');
    const { dp, policies } = await load(c, '_policies');
    const inbound = inspectInbounds(dp).find((i) => sectionOf(i) === section);
    if (!inbound) throw new ApiError(404, 'Could not retrieve policies', `the Dataplane has no inbound or listener ${JSON.stringify(section)}`);
    const out = [...matchForInspect(dp, policies)].flatMap(([kind, list]) => {
      const rules = inboundRuleEntries(list, inbound.port);
      if (rules.length === 0) return [];
      return [{ kind, origins: [...new Set(rules.map((r) => r.policy))].map((p) => ({ kri: kriOf(p) })), rules: rules.map((r) => ({ conf: r.conf, kri: kriOf(r.policy) })) }];
    });
    return c.json({ policies: out });
  });
}
