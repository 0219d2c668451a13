/**
 * The OpenAPI description of Kuma's computed insights and GUI helpers (`routes/mesh-insights.ts`,
 * `routes/unmodelled.ts`, `routes/dataplane-layout.ts`): MeshInsight, ServiceInsight, `/who-am-i`, a
 * dataplane's `_layout`, and the empty lists of the types Ursa does not model. Kuma's own 2.14.3 document has no schema for these; the shapes are Kuma's protojson output
 * (`api/mesh/v1alpha1/mesh_insight.proto`, `service_insight.proto`, its API-server golden files).
 */
import { UNMODELLED_GLOBAL_PATHS, UNMODELLED_MESH_PATHS } from '../routes/unmodelled.js';
import { ref, type JsonSchema } from './schemas.js';

type Obj = Record<string, unknown>;

const int: JsonSchema = { type: 'integer', minimum: 0 };
const str: JsonSchema = { type: 'string' };
const time: JsonSchema = { type: 'string', format: 'date-time' };
const full: JsonSchema = {
  type: 'object',
  required: ['total', 'online', 'offline', 'partiallyDegraded'],
  properties: { total: int, online: int, offline: int, partiallyDegraded: int },
};
const byKey = (schema: JsonSchema): JsonSchema => ({ type: 'object', additionalProperties: schema });
const totalOnly: JsonSchema = { type: 'object', required: ['total'], properties: { total: int } };
const page = (item: string): JsonSchema => ({
  type: 'object',
  required: ['total', 'items', 'next'],
  properties: { total: int, items: { type: 'array', items: ref(item) }, next: { type: ['string', 'null'], format: 'uri' } },
});

export function insightSchemas(): Record<string, JsonSchema> {
  return {
    MeshInsight: {
      type: 'object',
      description: "Kuma's MeshInsight, computed at the time of the request.",
      required: ['type', 'name', 'creationTime', 'modificationTime', 'dataplanes', 'dataplanesByType', 'policies', 'resources', 'dpVersions', 'mTLS', 'services'],
      properties: {
        type: { const: 'MeshInsight' },
        name: str,
        creationTime: time,
        modificationTime: time,
        dataplanes: full,
        dataplanesByType: {
          type: 'object',
          required: ['standard', 'gateway', 'gatewayBuiltin', 'gatewayDelegated'],
          properties: { standard: full, gateway: full, gatewayBuiltin: full, gatewayDelegated: full },
        },
        policies: { ...byKey(totalOnly), description: 'Policy kinds that have objects in the mesh.' },
        resources: { ...byKey(totalOnly), description: 'Every mesh-scoped kind.' },
        dpVersions: { type: 'object', required: ['kumaDp', 'envoy'], properties: { kumaDp: byKey(full), envoy: byKey(full) } },
        mTLS: { type: 'object', required: ['issuedBackends', 'supportedBackends'], properties: { issuedBackends: byKey(full), supportedBackends: byKey(full) } },
        services: { type: 'object', required: ['total', 'internal', 'external'], properties: { total: int, internal: int, external: int } },
      },
    },
    MeshInsightList: page('MeshInsight'),
    ServiceInsight: {
      type: 'object',
      description: "Kuma's ServiceInsight for one `kuma.io/service`. `serviceType` is absent for internal services (Kuma's default); `status` is absent for a service with no instance.",
      required: ['type', 'mesh', 'name', 'creationTime', 'modificationTime', 'dataplanes'],
      properties: {
        type: { const: 'ServiceInsight' },
        mesh: str,
        name: str,
        creationTime: time,
        modificationTime: time,
        status: { enum: ['online', 'partially_degraded', 'offline'] },
        dataplanes: { type: 'object', required: ['total', 'online', 'offline'], properties: { total: int, online: int, offline: int } },
        serviceType: { enum: ['external', 'gateway_delegated', 'gateway_builtin'] },
        addressPort: { type: 'string', description: '`<service>.mesh:80` for internal services.' },
        zones: { type: 'array', items: str },
      },
    },
    ServiceInsightList: page('ServiceInsight'),
    DataplaneLayout: {
      type: 'object',
      description: "Kuma's DataplaneNetworkingLayout. `outbounds` is empty: they are MeshServices, which Ursa does not model.",
      required: ['kri', 'labels', 'inbounds', 'outbounds', 'listeners'],
      properties: {
        kri: str,
        labels: { type: 'object', additionalProperties: str },
        inbounds: { type: 'array', items: { type: 'object', required: ['kri', 'port', 'protocol', 'proxyResourceName'], properties: { kri: str, port: int, protocol: str, proxyResourceName: str } } },
        outbounds: { type: 'array', items: { type: 'object', required: ['kri', 'port', 'protocol', 'proxyResourceName'], properties: { kri: str, port: int, protocol: str, proxyResourceName: str } } },
        listeners: {
          type: 'array',
          items: { type: 'object', required: ['kri', 'type', 'port', 'proxyResourceName'], properties: { kri: str, type: { enum: ['ZoneIngress', 'ZoneEgress'] }, port: int, proxyResourceName: str } },
        },
      },
    },
    WhoAmI: { type: 'object', required: ['name', 'groups'], properties: { name: str, groups: { type: 'array', items: str } } },
    EmptyList: { type: 'object', required: ['total', 'items', 'next'], properties: { total: { const: 0 }, items: { type: 'array', maxItems: 0 }, next: { type: 'null' } } },
  };
}

export function insightPaths(helpers: { ok: (d: string, s: JsonSchema) => Obj; resp: (n: string) => Obj; param: (n: string) => Obj; errors: Obj }): Record<string, Obj> {
  const { ok, resp, param, errors } = helpers;
  const tags = ['Insights'];
  const mesh = { name: 'mesh', in: 'path', required: true, description: 'The mesh.', schema: str };
  const name = { name: 'name', in: 'path', required: true, description: 'The name.', schema: str };
  const pageParams = [param('size'), param('offset')];
  const serviceFilters = [
    ...pageParams,
    { name: 'name', in: 'query', required: false, description: 'Only services whose name contains this.', schema: str },
    { name: 'type', in: 'query', required: false, description: 'Comma-separated service types: internal, external, gateway_delegated, gateway_builtin.', schema: str },
  ];
  const get = (operationId: string, summary: string, schema: JsonSchema, parameters: Obj[] = [], notFound = false) => ({
    get: { operationId, summary, tags, parameters, responses: { '200': ok(summary, schema), '400': resp('BadRequest'), ...(notFound ? { '404': resp('NotFound') } : {}), ...errors } },
  });
  const paths: Record<string, Obj> = {
    '/mesh-insights': get('listMeshInsights', 'MeshInsight of every mesh', ref('MeshInsightList'), pageParams),
    '/mesh-insights/{mesh}': get('getMeshInsight', "A mesh's MeshInsight", ref('MeshInsight'), [mesh], true),
    '/service-insights': get('listServiceInsights', 'Services of every mesh', ref('ServiceInsightList'), serviceFilters),
    '/meshes/{mesh}/service-insights': get('listMeshServiceInsights', "A mesh's services", ref('ServiceInsightList'), [mesh, ...serviceFilters], true),
    '/meshes/{mesh}/service-insights/{name}': get('getServiceInsight', 'One service (empty numbers when it has no instance)', ref('ServiceInsight'), [mesh, name], true),
    '/who-am-i': get('whoAmI', 'The caller and its groups', ref('WhoAmI')),
    '/meshes/{mesh}/dataplanes/{name}/_layout': get('getDataplaneLayout', "A dataplane's inbounds and listeners (meshes with meshServices.mode Exclusive; 400 otherwise)", ref('DataplaneLayout'), [mesh, name], true),
  };
  const unmodelled = (path: string, inMesh: boolean): void => {
    const id = path.replace(/(^|-)(\w)/g, (_, __, ch: string) => ch.toUpperCase());
    const what = `${path}: not modelled by Ursa yet; always empty`;
    paths[`/${path}`] = get(`list${id}`, what, ref('EmptyList'), pageParams);
    if (inMesh) {
      paths[`/meshes/{mesh}/${path}`] = get(`listMesh${id}`, what, ref('EmptyList'), [mesh, ...pageParams], true);
      paths[`/meshes/{mesh}/${path}/{name}`] = { get: { operationId: `get${id}`, summary: `${path}: always 404`, tags, parameters: [mesh, name], responses: { '404': resp('NotFound'), ...errors } } };
    } else {
      paths[`/${path}/{name}`] = { get: { operationId: `get${id}`, summary: `${path}: always 404`, tags, parameters: [name], responses: { '404': resp('NotFound'), ...errors } } };
    }
  };
  for (const p of UNMODELLED_MESH_PATHS) unmodelled(p, true);
  for (const p of UNMODELLED_GLOBAL_PATHS) unmodelled(p, false);
  return paths;
}
