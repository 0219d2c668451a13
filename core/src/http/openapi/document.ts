/**
 * The OpenAPI 3.1 description of Ursa's API, generated from the descriptor table: every resource type gets
 * its paths, operations and schemas from its descriptor (scope, paths, read-only flags, body shape, tag
 * filter, insights), never from a list of kinds here. The fixed routes (index, meta, tokens, operator) are
 * described by hand below. Built once per process (isolate), on first request.
 *
 * No Node-only module may be imported here: the same document is served from workerd.
 */
import { type ResourceDescriptor, RESOURCES } from '@ursa/proto';
import { ROLES } from '../../store/token-store.js';
import { BASED_ON_KUMA, PRODUCT, VERSION } from '../../version.js';
import { GLOBAL_READ_ONLY_MESSAGE } from '../errors.js';
import { DNS_LABEL } from '../../text.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../list-query.js';
import { insightPaths, insightSchemas } from './insights.js';
import { inspectPaths, inspectSchemas } from './inspect.js';
import { itemSchema, listSchema, overviewSchema, ref, schemaNames, specSchema, type JsonSchema } from './schemas.js';

type Obj = Record<string, unknown>;

let cached: { doc: Obj; text: string } | undefined;

/** The document, built on first use and kept for the life of the process, serialised once for `GET /openapi.json`. */
export function openApiText(): string {
  return (cached ??= build()).text;
}

function build(): { doc: Obj; text: string } {
  const doc = buildOpenApiDocument();
  return { doc, text: JSON.stringify(doc) };
}

const resp = (name: string) => ({ $ref: `#/components/responses/${name}` });
const param = (name: string) => ({ $ref: `#/components/parameters/${name}` });
const json = (schema: JsonSchema) => ({ 'application/json': { schema } });
const ok = (description: string, schema: JsonSchema) => ({ description, content: json(schema) });

/** Errors every authenticated operation can answer with. */
const AUTH_ERRORS = { '401': resp('Unauthorized'), '500': resp('Internal') };

export function buildOpenApiDocument(): Obj {
  const schemas: Record<string, JsonSchema> = { ...fixedSchemas(), ...insightSchemas(), ...inspectSchemas() };
  const paths: Record<string, Obj> = { ...fixedPaths(), ...insightPaths({ ok, resp, param, errors: AUTH_ERRORS }), ...inspectPaths({ ok, resp, errors: AUTH_ERRORS }) };
  const tags: Obj[] = [
    { name: 'Meta', description: 'The index and what this control plane serves.' },
    { name: 'Tokens', description: "The tenant's API tokens." },
    { name: 'Operator', description: 'Tenants of the hosted plane (operator token only).' },
    { name: 'Insights', description: "Kuma's computed MeshInsight and ServiceInsight, and the lists of types not modelled yet (always empty)." },
  ];

  for (const desc of RESOURCES) {
    tags.push({ name: desc.kind, description: `${desc.pluralDisplayName} (${desc.scope === 'mesh' ? 'mesh-scoped' : 'global'}).` });
    addResourceSchemas(desc, schemas);
    for (const [i, path] of [desc.path, ...desc.altPaths].entries()) {
      const suffix = i === 0 ? '' : `Via${camel(path)}`;
      addResourcePaths(desc, path, suffix, paths);
    }
  }
  for (const desc of RESOURCES) {
    const insights = RESOURCES.filter((d) => d.insightOf === desc.kind);
    if (insights.length > 0) addOverviews(desc, insights, schemas, paths);
  }

  return {
    openapi: '3.1.0',
    info: {
      title: `${PRODUCT} global control plane API`,
      version: VERSION,
      description:
        `${PRODUCT}'s REST API, compatible with Kuma ${BASED_ON_KUMA}'s global control plane API. ` +
        'Every resource type has list, get, create-or-update (PUT) and delete operations; types the global plane does not own answer writes with 405. ' +
        'Errors follow Kuma (AIP-193): `{type, status, title, detail, instance, invalid_parameters}`. ' +
        'Requests from loopback without a token act as admin of the default tenant when the server allows it.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    security: [{ bearerAuth: [] }],
    tags,
    paths,
    components: {
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description: 'An API token `ursa_<id>_<secret>` (POST /tokens), or the operator token for `/_operator/*`.',
        },
      },
      parameters: fixedParameters(),
      responses: fixedResponses(),
      schemas,
    },
  };
}

/** `zone-ingresses` → `ZoneIngresses` */
function camel(path: string): string {
  return path
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}

function writable(desc: ResourceDescriptor): boolean {
  return !desc.readOnly && !desc.readOnlyOnGlobal;
}

function addResourceSchemas(desc: ResourceDescriptor, schemas: Record<string, JsonSchema>): void {
  const n = schemaNames(desc.kind);
  const out = specSchema(desc, 'output', n.spec);
  schemas[n.spec] = { description: `The spec of a ${desc.singularDisplayName}, as stored and returned.`, ...out.schema };
  Object.assign(schemas, out.defs);
  schemas[n.item] = itemSchema(desc, 'output', out.schema, n.spec);
  schemas[n.list] = listSchema(n.item, `A page of ${desc.pluralDisplayName}.`);
  if (writable(desc)) {
    const input = specSchema(desc, 'input', n.specInput);
    schemas[n.specInput] = { description: `The spec of a ${desc.singularDisplayName}, as PUT accepts it.`, ...input.schema };
    Object.assign(schemas, input.defs);
    schemas[n.itemInput] = itemSchema(desc, 'input', input.schema, n.specInput);
  }
}

function listParameters(desc: ResourceDescriptor): Obj[] {
  const ps = [param('size'), param('offset'), param('name'), param('filter')];
  if (desc.tagPaths.length > 0) ps.push(param('tag'));
  return ps;
}

function addResourcePaths(desc: ResourceDescriptor, path: string, suffix: string, paths: Record<string, Obj>): void {
  const n = schemaNames(desc.kind);
  const tags = [desc.kind];
  const inMesh = desc.scope === 'mesh';
  const collection = inMesh ? `/meshes/{mesh}/${path}` : `/${path}`;
  const item = `${collection}/{name}`;
  const scopeParams = inMesh ? [param('mesh')] : [];

  const listOp = (allMeshes: boolean) => ({
    operationId: `get${desc.kind}List${allMeshes ? 'AllMeshes' : ''}${suffix}`,
    summary: allMeshes ? `Lists ${desc.pluralDisplayName} of every mesh` : `Lists ${desc.pluralDisplayName}${inMesh ? ' in a mesh' : ''}`,
    tags,
    parameters: [...(allMeshes ? [] : scopeParams), ...listParameters(desc)],
    responses: { '200': ok(`A page of ${desc.pluralDisplayName}, ordered by ${inMesh ? 'mesh, then ' : ''}name.`, ref(n.list)), '400': resp('BadRequest'), ...AUTH_ERRORS },
  });
  paths[collection] = { get: listOp(false) };
  if (inMesh) paths[`/${path}`] = { get: listOp(true) };

  const itemOps: Obj = {
    get: {
      operationId: `get${desc.kind}${suffix}`,
      summary: `Reads a ${desc.singularDisplayName}`,
      tags,
      responses: {
        '200': {
          description: `The ${desc.singularDisplayName}.`,
          headers: { ETag: { description: 'Its version, for `If-Match`.', schema: { type: 'string', pattern: '^"[0-9]+"$' } } },
          content: json(ref(n.item)),
        },
        '404': resp('NotFound'),
        ...AUTH_ERRORS,
      },
    },
  };
  if (writable(desc)) {
    itemOps.put = {
      operationId: `put${desc.kind}${suffix}`,
      summary: `Creates or updates a ${desc.singularDisplayName}`,
      description:
        'Updates from the version read just before, so a concurrent writer makes this a 409; `If-Match` pins a version read earlier.' +
        (desc.isMeshDefinition ? " Creating a mesh also creates Kuma's default policies (unless `skipCreatingInitialPolicies`) and, for a `builtin` mTLS backend, its CA secrets." : '') +
        (inMesh ? ' The mesh must exist.' : ''),
      tags,
      parameters: [param('ifMatch')],
      requestBody: {
        required: true,
        content: { 'application/json': { schema: ref(n.itemInput) }, 'application/yaml': { schema: ref(n.itemInput) } },
      },
      responses: {
        '200': ok('Updated.', ref('CreateOrUpdateSuccess')),
        '201': ok('Created.', ref('CreateOrUpdateSuccess')),
        '400': resp('BadRequest'),
        '403': resp('Forbidden'),
        '404': { ...resp('NotFound'), description: 'With `If-Match`: the resource does not exist.' },
        '409': resp('Conflict'),
        ...AUTH_ERRORS,
      },
    };
    itemOps.delete = {
      operationId: `delete${desc.kind}${suffix}`,
      summary: `Deletes a ${desc.singularDisplayName}`,
      ...(desc.isMeshDefinition ? { description: 'Deletes everything in the mesh with it; refused (400) while zones still report dataplanes in it.' } : {}),
      tags,
      parameters: [param('ifMatch')],
      responses: {
        '200': ok('Deleted.', ref('DeleteSuccess')),
        '400': resp('BadRequest'),
        '403': resp('Forbidden'),
        '404': resp('NotFound'),
        '409': resp('Conflict'),
        ...AUTH_ERRORS,
      },
    };
  } else {
    const why = desc.readOnly ? `${desc.pluralDisplayName} are written only by the control plane.` : GLOBAL_READ_ONLY_MESSAGE.trim();
    for (const method of ['put', 'delete'] as const) {
      itemOps[method] = {
        operationId: `${method}${desc.kind}${suffix}`,
        summary: `Refused: ${desc.pluralDisplayName} are read-only on the global plane`,
        description: why,
        tags,
        responses: { '405': resp('MethodNotAllowed'), ...AUTH_ERRORS },
      };
    }
  }
  paths[item] = { parameters: [...scopeParams, param('resourceName')], ...itemOps };
}

/**
 * Overviews of a type that has insights, under each of its paths: `…/_overview` (and, for mesh-scoped types,
 * the all-meshes `/{path}/_overview`) and `…/{name}/_overview`. Kuma's legacy aliases (`…+insights`,
 * `…/_overview/{name}`, `/zoneegressoverviews`) are served too but not described.
 */
function addOverviews(desc: ResourceDescriptor, insights: readonly ResourceDescriptor[], schemas: Record<string, JsonSchema>, paths: Record<string, Obj>): void {
  const n = schemaNames(desc.kind);
  schemas[n.overview] = overviewSchema(desc, insights);
  schemas[n.overviewList] = listSchema(n.overview, `A page of ${desc.singularDisplayName} overviews.`);
  const tags = [desc.kind];
  const inMesh = desc.scope === 'mesh';
  const scopeParams = inMesh ? [param('mesh')] : [];
  for (const [i, path] of [desc.path, ...desc.altPaths].entries()) {
    const suffix = i === 0 ? '' : `Via${camel(path)}`;
    const collection = inMesh ? `/meshes/{mesh}/${path}` : `/${path}`;
    const listOp = (allMeshes: boolean) => ({
      get: {
        operationId: `get${desc.kind}OverviewList${allMeshes ? 'AllMeshes' : ''}${suffix}`,
        summary: `Lists ${desc.pluralDisplayName} with their insights${allMeshes ? ' in every mesh' : ''}`,
        tags,
        parameters: [...(allMeshes ? [] : scopeParams), ...listParameters(desc)],
        responses: { '200': ok(`A page of ${desc.singularDisplayName} overviews.`, ref(n.overviewList)), '400': resp('BadRequest'), ...AUTH_ERRORS },
      },
    });
    paths[`${collection}/_overview`] = listOp(false);
    if (inMesh) paths[`/${path}/_overview`] = listOp(true);
    paths[`${collection}/{name}/_overview`] = {
      parameters: [...scopeParams, param('resourceName')],
      get: {
        operationId: `get${desc.kind}Overview${suffix}`,
        summary: `Reads a ${desc.singularDisplayName} with its insights`,
        tags,
        responses: { '200': ok(`The ${desc.singularDisplayName} overview.`, ref(n.overview)), '404': resp('NotFound'), ...AUTH_ERRORS },
      },
    };
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Fixed parts
// ---------------------------------------------------------------------------------------------------------------------

function fixedParameters(): Obj {
  return {
    mesh: { name: 'mesh', in: 'path', required: true, description: 'The mesh.', schema: { type: 'string' } },
    resourceName: { name: 'name', in: 'path', required: true, description: 'The resource name.', schema: { type: 'string' } },
    size: {
      name: 'size',
      in: 'query',
      required: false,
      description: 'Items per page.',
      schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE },
    },
    offset: { name: 'offset', in: 'query', required: false, description: 'Index of the first item (from `next`).', schema: { type: 'integer', minimum: 0, default: 0 } },
    name: { name: 'name', in: 'query', required: false, description: 'Only items whose name contains this text.', schema: { type: 'string' } },
    filter: {
      name: 'filter',
      in: 'query',
      required: false,
      style: 'deepObject',
      explode: true,
      description: 'Label filters, ANDed: `filter[labels.<key>]=<value>`. Other keys are a 400.',
      schema: { type: 'object', propertyNames: { pattern: '^labels\\..+$' }, additionalProperties: { type: 'string' } },
      example: { 'labels.kuma.io/zone': 'zone-1' },
    },
    tag: {
      name: 'tag',
      in: 'query',
      required: false,
      style: 'form',
      explode: true,
      description: 'Tag filters, ANDed: `tag=<key>:<value>` (only on types with tags).',
      schema: { type: 'array', items: { type: 'string', pattern: '^[^:]+:.*$' } },
    },
    ifMatch: {
      name: 'If-Match',
      in: 'header',
      required: false,
      description: 'A version from GET\'s `ETag` (`"3"`): the write fails with 409 if the resource changed since.',
      schema: { type: 'string', pattern: '^(W/)?"?[0-9]+"?$' },
    },
  };
}

function errorResponse(description: string): Obj {
  return { description, content: json(ref('Error')) };
}

function fixedResponses(): Obj {
  return {
    BadRequest: errorResponse('The request is not valid; `invalid_parameters` names each problem.'),
    Unauthorized: errorResponse('No valid bearer token.'),
    Forbidden: errorResponse('The token may not do this (a read-only token writing, a tenant token on operator routes).'),
    NotFound: errorResponse('Not found.'),
    MethodNotAllowed: errorResponse('The global plane does not accept writes to this type.'),
    Conflict: errorResponse('The resource changed since the version given (or read), or already exists.'),
    Internal: errorResponse('Internal error.'),
  };
}

function fixedSchemas(): Record<string, JsonSchema> {
  const str: JsonSchema = { type: 'string' };
  const int: JsonSchema = { type: 'integer', minimum: 0 };
  const time: JsonSchema = { type: 'string', format: 'date-time' };
  const counts = (keys: string[]): JsonSchema => ({ type: 'object', required: keys, properties: Object.fromEntries(keys.map((k) => [k, int])) });
  const token: JsonSchema = {
    type: 'object',
    required: ['id', 'name', 'role', 'creationTime', 'expirationTime', 'revocationTime'],
    properties: {
      id: str,
      name: str,
      role: { type: 'string', enum: [...ROLES] },
      creationTime: time,
      expirationTime: { type: ['string', 'null'], format: 'date-time' },
      revocationTime: { type: ['string', 'null'], format: 'date-time' },
    },
    additionalProperties: false,
  };
  return {
    Error: {
      type: 'object',
      description: "Kuma's error (AIP-193). `details` and `causes` are Kuma's deprecated mirrors of `detail` and `invalid_parameters`.",
      required: ['type', 'status', 'title', 'detail', 'instance'],
      properties: {
        type: str,
        status: { type: 'integer' },
        title: str,
        detail: str,
        instance: { type: 'string', description: '`ursa:trace:<id>`' },
        invalid_parameters: { type: 'array', items: ref('InvalidParameter') },
        details: { type: 'string', deprecated: true },
        causes: {
          type: 'array',
          deprecated: true,
          items: { type: 'object', required: ['field', 'message'], properties: { field: str, message: str } },
        },
      },
    },
    InvalidParameter: {
      type: 'object',
      required: ['field', 'reason', 'source'],
      properties: {
        field: { type: 'string', description: 'Kuma-style path: `spec.to[0].default.http.requestTimeout`.' },
        reason: str,
        source: { type: 'string', enum: ['body', 'query', 'path', 'header'] },
        rule: str,
        choices: { type: 'array', items: str },
      },
    },
    CreateOrUpdateSuccess: { type: 'object', properties: { warnings: { type: 'array', items: str } } },
    DeleteSuccess: { type: 'object' },
    Index: {
      type: 'object',
      required: ['hostname', 'product', 'version', 'instanceId', 'clusterId', 'gui'],
      properties: {
        hostname: str,
        tagline: str,
        product: str,
        version: str,
        basedOnKuma: { type: 'string', description: 'The Kuma version whose API this follows.' },
        instanceId: str,
        clusterId: { type: 'string', description: 'The tenant served.' },
        gui: str,
      },
    },
    ResourceTypeDescription: {
      type: 'object',
      required: ['name', 'scope', 'readOnly', 'path', 'singularDisplayName', 'pluralDisplayName', 'includeInFederation', 'shortName'],
      properties: {
        name: str,
        scope: { type: 'string', enum: ['Global', 'Mesh'] },
        readOnly: { type: 'boolean' },
        path: str,
        singularDisplayName: str,
        pluralDisplayName: str,
        shortName: str,
        includeInFederation: { type: 'boolean' },
        policy: {
          type: 'object',
          required: ['isTargetRef', 'hasToTargetRef', 'hasFromTargetRef', 'hasRulesTargetRef', 'isFromAsRules'],
          properties: {
            isTargetRef: { type: 'boolean' },
            hasToTargetRef: { type: 'boolean' },
            hasFromTargetRef: { type: 'boolean' },
            hasRulesTargetRef: { type: 'boolean' },
            isFromAsRules: { type: 'boolean' },
          },
        },
      },
    },
    ResourceTypeDescriptionList: { type: 'object', required: ['resources'], properties: { resources: { type: 'array', items: ref('ResourceTypeDescription') } } },
    PolicyDescriptionList: {
      type: 'object',
      required: ['policies'],
      properties: {
        policies: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name', 'readOnly', 'path', 'singularDisplayName', 'pluralDisplayName', 'isExperimental', 'isTargetRefBased', 'isInbound', 'isOutbound'],
            properties: {
              name: str,
              readOnly: { type: 'boolean' },
              path: str,
              singularDisplayName: str,
              pluralDisplayName: str,
              isExperimental: { type: 'boolean' },
              isTargetRefBased: { type: 'boolean' },
              isInbound: { type: 'boolean' },
              isOutbound: { type: 'boolean' },
            },
          },
        },
      },
    },
    GlobalInsight: {
      type: 'object',
      description: "Counts across the tenant, as Kuma's GlobalInsight.",
      required: ['createdAt', 'services', 'zones', 'dataplanes', 'policies', 'meshes', 'resources'],
      properties: {
        createdAt: time,
        revision: { ...int, description: "Ursa: the tenant's change-feed revision; a zone's subscription reports the revision it applied (zoneState.appliedRevision)." },
        services: {
          type: 'object',
          required: ['total', 'internal', 'external', 'gatewayBuiltin', 'gatewayDelegated'],
          properties: {
            total: int,
            internal: counts(['online', 'offline', 'partiallyDegraded', 'total']),
            external: counts(['total']),
            gatewayBuiltin: counts(['online', 'offline', 'partiallyDegraded', 'total']),
            gatewayDelegated: counts(['online', 'offline', 'partiallyDegraded', 'total']),
          },
        },
        zones: {
          type: 'object',
          required: ['controlPlanes', 'zoneEgresses', 'zoneIngresses'],
          properties: {
            controlPlanes: counts(['online', 'total']),
            zoneEgresses: counts(['online', 'total']),
            zoneIngresses: counts(['online', 'total']),
          },
        },
        dataplanes: {
          type: 'object',
          required: ['standard', 'gatewayBuiltin', 'gatewayDelegated'],
          properties: {
            standard: counts(['online', 'offline', 'partiallyDegraded', 'total']),
            gatewayBuiltin: counts(['online', 'offline', 'partiallyDegraded', 'total']),
            gatewayDelegated: counts(['online', 'offline', 'partiallyDegraded', 'total']),
          },
        },
        policies: counts(['total']),
        meshes: counts(['total']),
        resources: { type: 'object', additionalProperties: counts(['total']), description: 'Per resource type.' },
      },
    },
    Token: token,
    TokenList: {
      type: 'object',
      required: ['total', 'items', 'next'],
      properties: { total: int, items: { type: 'array', items: ref('Token') }, next: { type: 'null' } },
    },
    TokenRequest: {
      type: 'object',
      required: ['name', 'role'],
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 253 },
        role: { type: 'string', enum: [...ROLES] },
        validFor: { type: 'integer', minimum: 1, description: 'Lifetime in seconds (at most ten years); without it the token does not expire.' },
      },
    },
    IssuedToken: {
      allOf: [ref('Token'), { type: 'object', required: ['secret'], properties: { secret: { type: 'string', description: 'The token itself; shown only once.' } } }],
    },
    TenantRequest: {
      type: 'object',
      required: ['name'],
      properties: { name: { type: 'string', pattern: DNS_LABEL.source, description: 'A lowercase DNS label.' } },
    },
    CreatedTenant: {
      type: 'object',
      required: ['tenant', 'token', 'secret'],
      properties: { tenant: str, token: ref('Token'), secret: { type: 'string', description: "The tenant's first admin token; shown only once." } },
    },
    TenantList: {
      type: 'object',
      required: ['total', 'items', 'next'],
      properties: {
        total: int,
        items: { type: 'array', items: { type: 'object', required: ['name', 'revision', 'creationTime'], properties: { name: str, revision: int, creationTime: time } } },
        next: { type: 'null' },
      },
    },
  };
}

function fixedPaths(): Record<string, Obj> {
  const meta = (operationId: string, summary: string, schema: JsonSchema, extra: Obj = {}) => ({
    get: { operationId, summary, tags: ['Meta'], responses: { '200': ok(summary, schema), ...AUTH_ERRORS }, ...extra },
  });
  return {
    '/': {
      get: {
        operationId: 'index',
        summary: 'The index: product, version, instance and tenant',
        tags: ['Meta'],
        security: [],
        responses: { '200': ok('The index.', ref('Index')) },
      },
    },
    '/_resources': meta('getResourceTypeDescription', 'Every resource type served', ref('ResourceTypeDescriptionList')),
    '/policies': meta('getPolicies', 'Every policy type served', ref('PolicyDescriptionList')),
    '/global-insight': meta('getGlobalInsight', 'Counts across the tenant', ref('GlobalInsight')),
    '/global-insights': meta('getGlobalInsights', "Kuma's older per-type counts ({type: GlobalInsights, creationTime, resources})", { type: 'object' }),
    '/_kri/{kri}': {
      get: {
        operationId: 'getByKri',
        summary: "A resource by its Kuma Resource Identifier (kri_<short>_<mesh>_<zone>_<namespace>_<name>_<section>), answered as the resource's own GET",
        tags: ['Meta'],
        parameters: [{ name: 'kri', in: 'path', required: true, description: 'The identifier.', schema: { type: 'string' } }],
        responses: { '200': ok('The resource.', { type: 'object' }), '400': resp('BadRequest'), '404': resp('NotFound'), ...AUTH_ERRORS },
      },
    },
    '/config': meta('getConfig', 'The effective configuration, secrets masked', { type: 'object' }),
    '/openapi.json': meta('getOpenApi', 'This document', { type: 'object', description: 'An OpenAPI 3.1 document.' }),
    '/tokens': {
      get: {
        operationId: 'listTokens',
        summary: "Lists the tenant's tokens (admin)",
        tags: ['Tokens'],
        responses: { '200': ok('The tokens, without secrets.', ref('TokenList')), '403': resp('Forbidden'), ...AUTH_ERRORS },
      },
      post: {
        operationId: 'issueToken',
        summary: 'Issues a token (admin)',
        tags: ['Tokens'],
        requestBody: { required: true, content: json(ref('TokenRequest')) },
        responses: { '201': ok('The token, with its secret.', ref('IssuedToken')), '400': resp('BadRequest'), '403': resp('Forbidden'), ...AUTH_ERRORS },
      },
    },
    '/tokens/{id}': {
      parameters: [{ name: 'id', in: 'path', required: true, description: 'The token id.', schema: { type: 'string' } }],
      delete: {
        operationId: 'revokeToken',
        summary: 'Revokes a token at once (admin)',
        tags: ['Tokens'],
        responses: { '200': ok('Revoked.', ref('DeleteSuccess')), '403': resp('Forbidden'), '404': resp('NotFound'), ...AUTH_ERRORS },
      },
    },
    '/_operator/tenants': {
      get: {
        operationId: 'listTenants',
        summary: 'Lists tenants (operator)',
        tags: ['Operator'],
        responses: { '200': ok('The tenants.', ref('TenantList')), '403': resp('Forbidden'), ...AUTH_ERRORS },
      },
      post: {
        operationId: 'createTenant',
        summary: 'Creates a tenant and its first admin token (operator)',
        tags: ['Operator'],
        requestBody: { required: true, content: json(ref('TenantRequest')) },
        responses: {
          '201': ok('The tenant and its admin token.', ref('CreatedTenant')),
          '400': resp('BadRequest'),
          '403': resp('Forbidden'),
          '409': resp('Conflict'),
          ...AUTH_ERRORS,
        },
      },
    },
  };
}
