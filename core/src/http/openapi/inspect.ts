/**
 * The OpenAPI description of the global's dataplane inspect endpoints (`routes/dataplane-inspect.ts`): shapes
 * of Kuma 2.14.3's `InspectRules`, `ProxyPolicyConfResponse` and `InboundPoliciesResponse` (its document's
 * components), with the parts Ursa fills.
 */
import { ref, type JsonSchema } from './schemas.js';

type Obj = Record<string, unknown>;

const str: JsonSchema = { type: 'string' };
const meta: JsonSchema = { type: 'object', required: ['type', 'mesh', 'name', 'labels'], properties: { type: str, mesh: str, name: str, labels: { type: 'object', additionalProperties: str } } };
const arr = (items: JsonSchema): JsonSchema => ({ type: 'array', items });
const matcher: JsonSchema = { type: 'object', required: ['key', 'value', 'not'], properties: { key: str, value: str, not: { type: 'boolean' } } };
const subsetRule: JsonSchema = { type: 'object', required: ['conf', 'matchers', 'origin'], properties: { conf: { type: 'object' }, matchers: arr(matcher), origin: arr(meta) } };
const ruleOrigin: JsonSchema = { type: 'object', required: ['resourceMeta', 'ruleIndex'], properties: { resourceMeta: meta, ruleIndex: { type: 'integer', minimum: 0 } } };
const inbound: JsonSchema = { type: 'object', required: ['port', 'tags'], properties: { name: str, port: { type: 'integer' }, tags: { type: ['object', 'null'], additionalProperties: str } } };
const kriOrigin: JsonSchema = { type: 'object', required: ['kri'], properties: { kri: str } };

export function inspectSchemas(): Record<string, JsonSchema> {
  return {
    InspectRules: {
      type: 'object',
      description: "Kuma's InspectRules: per policy kind that selects the dataplane, its rules (lowest precedence first).",
      required: ['resource', 'rules', 'httpMatches'],
      properties: {
        resource: meta,
        httpMatches: arr({ type: 'object' }),
        rules: arr({
          type: 'object',
          required: ['type', 'warnings', 'fromRules', 'inboundRules', 'toRules', 'toResourceRules'],
          properties: {
            type: str,
            warnings: arr(str),
            proxyRule: { type: 'object', required: ['conf', 'origin'], properties: { conf: { type: 'object' }, origin: arr(meta) } },
            fromRules: arr({ type: 'object', required: ['inbound', 'rules'], properties: { inbound, rules: arr(subsetRule) } }),
            inboundRules: arr({ type: 'object', required: ['inbound', 'rules'], properties: { inbound, rules: arr({ type: 'object', required: ['conf', 'origin'], properties: { conf: arr({ type: 'object' }), origin: arr(ruleOrigin) } }) } }),
            toRules: arr(subsetRule),
            toResourceRules: arr({ type: 'object', required: ['conf', 'origin', 'resourceMeta', 'resourceSectionName'], properties: { conf: arr({ type: 'object' }), origin: arr(ruleOrigin), resourceMeta: meta, resourceSectionName: str } }),
          },
        }),
      },
    },
    ProxyPolicies: {
      type: 'object',
      description: 'The proxy-wide policies (MeshTrace) selecting the dataplane, each merged over its origins.',
      required: ['policies'],
      properties: { policies: arr({ type: 'object', required: ['kind', 'conf', 'origins'], properties: { kind: str, conf: { type: 'object' }, origins: arr(kriOrigin) } }) },
    },
    InboundPolicies: {
      type: 'object',
      description: "The rules of every policy configuring one inbound (or zone-proxy listener), per kind, lowest precedence first.",
      required: ['policies'],
      properties: {
        policies: arr({ type: 'object', required: ['kind', 'origins', 'rules'], properties: { kind: str, origins: arr(kriOrigin), rules: arr({ type: 'object', required: ['conf', 'kri'], properties: { conf: { type: 'object' }, kri: str } }) } }),
      },
    },
  };
}

export function inspectPaths(helpers: { ok: (d: string, s: JsonSchema) => Obj; resp: (n: string) => Obj; errors: Obj }): Record<string, Obj> {
  const { ok, resp, errors } = helpers;
  const tags = ['Inspect'];
  const p = (name: string, description: string) => ({ name, in: 'path', required: true, description, schema: str });
  const params = [p('mesh', 'The mesh.'), p('name', 'The Dataplane.')];
  const get = (operationId: string, summary: string, schema: string, extra: Obj[] = []) => ({
    get: { operationId, summary, tags, parameters: [...params, ...extra], responses: { '200': ok(summary, ref(schema)), '400': resp('BadRequest'), '404': resp('NotFound'), ...errors } },
  });
  return {
    '/meshes/{mesh}/dataplanes/{name}/_rules': get('inspectDataplaneRules', 'The rules every policy kind gives the dataplane (global only)', 'InspectRules'),
    '/meshes/{mesh}/dataplanes/{name}/_policies': get('inspectDataplaneProxyPolicies', 'Proxy-wide policies of the dataplane (global only; meshServices.mode Exclusive, 400 otherwise)', 'ProxyPolicies'),
    '/meshes/{mesh}/dataplanes/{name}/_inbounds/{kri}/_policies': get(
      'inspectDataplaneInboundPolicies',
      "Policies of one inbound or listener, named by its KRI's section (global only; meshServices.mode Exclusive, 400 otherwise)",
      'InboundPolicies',
      [p('kri', "The inbound's KRI (`kri_dp_<mesh>_<zone>_<ns>_<name>_<section>`); 400 when it is not a KRI.")],
    ),
  };
}
