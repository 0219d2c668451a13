/**
 * JSON Schemas of resource bodies, derived from a descriptor: the spec schema comes from its zod `schema`
 * (`z.toJSONSchema`), the meta fields and the body layout (`flat` or `spec`) from the descriptor, exactly as
 * `codec.ts` writes and reads them. Refinements (cross-field rules) cannot be expressed and do not appear;
 * transforms (protojson enum numbers to names) appear as "any value" on the output side.
 */
import { z } from 'zod';
import type { ResourceDescriptor } from '@ursa/proto';

export type JsonSchema = Record<string, unknown>;

/** `#/components/schemas/<name>` */
export const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

/** Names of the component schemas describing one kind. */
export const schemaNames = (kind: string) => ({
  /** The spec as stored and returned (zod output). */
  spec: `${kind}Spec`,
  /** The spec as accepted on PUT (zod input). */
  specInput: `${kind}SpecInput`,
  /** A resource as GET returns it. */
  item: `${kind}Item`,
  /** A PUT body. */
  itemInput: `${kind}ItemInput`,
  list: `${kind}List`,
  overview: `${kind}Overview`,
  overviewList: `${kind}OverviewList`,
});

/** `DataplaneInsight` → `dataplaneInsight`: the key of an object inside an overview. */
export const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);

const labelsSchema = (nullable: boolean): JsonSchema => ({
  type: nullable ? ['object', 'null'] : 'object',
  additionalProperties: { type: 'string' },
  description: 'Kubernetes-style labels: qualified-name keys, values of at most 63 characters.',
});

const timeSchema = (what: string): JsonSchema => ({ type: 'string', format: 'date-time', readOnly: true, description: what });
const kriSchema: JsonSchema = {
  type: 'string',
  readOnly: true,
  description: 'Kuma Resource Identifier: `kri_<short>_<mesh>_<zone>_<namespace>_<name>_`.',
};

/**
 * The spec's JSON Schema for one side (`output`: stored and returned, `input`: accepted), with zod's
 * `$defs` hoisted into `components.schemas` (as `<name>_<def>`) and `#` references pointed at `<name>`.
 */
export function specSchema(desc: ResourceDescriptor, io: 'input' | 'output', name: string): { schema: JsonSchema; defs: Record<string, JsonSchema> } {
  const raw = z.toJSONSchema(desc.schema, { target: 'draft-2020-12', unrepresentable: 'any', io, cycles: 'ref', reused: 'inline' }) as JsonSchema;
  const { $schema: _drop, $defs, ...schema } = raw;
  const rewrite = (target: string): string => {
    if (target === '#') return `#/components/schemas/${name}`;
    const m = /^#\/\$defs\/(.+)$/.exec(target);
    return m ? `#/components/schemas/${name}_${m[1]}` : target;
  };
  const defs: Record<string, JsonSchema> = {};
  for (const [k, v] of Object.entries(($defs ?? {}) as Record<string, JsonSchema>)) defs[`${name}_${k}`] = rewriteRefs(v, rewrite) as JsonSchema;
  return { schema: rewriteRefs(schema, rewrite) as JsonSchema, defs };
}

/** Formats of JSON Schema 2020-12 and OpenAPI 3.1. zod also emits its own (`starts_with`, always beside a `pattern`). */
const KNOWN_FORMATS = new Set([
  'date-time', 'date', 'time', 'duration', 'email', 'idn-email', 'hostname', 'idn-hostname', 'ipv4', 'ipv6', 'uri', 'uri-reference',
  'iri', 'iri-reference', 'uuid', 'uri-template', 'json-pointer', 'relative-json-pointer', 'regex',
  'int32', 'int64', 'float', 'double', 'byte', 'binary', 'password',
]);

/** Points `$ref`s at components and drops formats no OpenAPI tool knows. */
function rewriteRefs(node: unknown, rewrite: (target: string) => string): unknown {
  if (Array.isArray(node)) return node.map((n) => rewriteRefs(n, rewrite));
  if (typeof node !== 'object' || node === null) return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([k, v]) => !(k === 'format' && typeof v === 'string' && !KNOWN_FORMATS.has(v)))
      .map(([k, v]) => [k, k === '$ref' && typeof v === 'string' ? rewrite(v) : rewriteRefs(v, rewrite)]),
  );
}

/** Meta fields of a body, as `codec.ts` writes them (`output`) or reads them (`input`). */
function metaFields(desc: ResourceDescriptor, io: 'input' | 'output'): { properties: Record<string, JsonSchema>; required: string[] } {
  const properties: Record<string, JsonSchema> = {
    type: { type: 'string', const: desc.kind, description: 'The resource type.' },
  };
  if (desc.scope === 'mesh') properties.mesh = { type: 'string', description: 'The mesh this resource belongs to; on PUT it must match the URL.' };
  properties.name = { type: 'string', description: 'The resource name; on PUT it must match the URL.' };
  properties.labels = labelsSchema(io === 'input');
  properties.creationTime = timeSchema(io === 'input' ? 'Ignored on PUT.' : 'When the resource was created.');
  properties.modificationTime = timeSchema(io === 'input' ? 'Ignored on PUT.' : 'When the resource was last modified.');
  // Kuma gives no KRI to types without a short name (secrets, insights), and omits empty labels.
  if (desc.shortName !== '') properties.kri = kriSchema;
  const identity = ['type', ...(desc.scope === 'mesh' ? ['mesh'] : []), 'name'];
  const required = io === 'input' ? identity : [...identity, 'creationTime', 'modificationTime', ...(desc.shortName !== '' ? ['kri'] : [])];
  return { properties, required };
}

/**
 * A whole body: the meta fields plus the spec, nested under `spec` or spread beside the meta fields. A flat
 * spec whose schema is not a plain object schema is combined with `allOf` instead.
 */
export function itemSchema(desc: ResourceDescriptor, io: 'input' | 'output', spec: JsonSchema, specName: string): JsonSchema {
  const meta = metaFields(desc, io);
  const description =
    io === 'output'
      ? `A ${desc.singularDisplayName} as GET returns it.`
      : `A ${desc.singularDisplayName} as PUT accepts it (JSON, or YAML with a YAML content type). Read-only fields are ignored.`;
  if (desc.shape === 'spec') {
    const properties: Record<string, JsonSchema> = { ...meta.properties, spec: ref(specName) };
    if (io === 'input') properties.status = { description: 'Accepted and ignored: status is written by the control plane.' };
    return { type: 'object', description, properties, required: [...meta.required, 'spec'], additionalProperties: false };
  }
  const specProps = spec.properties as Record<string, JsonSchema> | undefined;
  if (spec.type !== 'object' || specProps === undefined) {
    return { description, allOf: [{ type: 'object', properties: meta.properties, required: meta.required }, ref(specName)] };
  }
  // Meta names win over spec fields of the same name (the codec reads them as meta).
  const properties: Record<string, JsonSchema> = { ...specProps, ...meta.properties };
  const specRequired = ((spec.required as string[] | undefined) ?? []).filter((k) => !(k in meta.properties));
  const out: JsonSchema = { type: 'object', description, properties, required: [...meta.required, ...specRequired] };
  if (spec.additionalProperties !== undefined) out.additionalProperties = spec.additionalProperties;
  return out;
}

/** Kuma's page: `{total, items, next}`; `next` is the absolute URL of the following page, or null. */
export function listSchema(itemName: string, description: string): JsonSchema {
  return {
    type: 'object',
    description,
    required: ['total', 'items', 'next'],
    properties: {
      total: { type: 'integer', minimum: 0, description: 'How many items match, over all pages.' },
      items: { type: 'array', items: ref(itemName) },
      next: { type: ['string', 'null'], format: 'uri', description: 'The URL of the next page; null on the last page.' },
    },
    additionalProperties: false,
  };
}

/**
 * `<Kind>Overview`: a resource merged with its insights, as Kuma's overviews
 * (`{type: 'DataplaneOverview', mesh, name, ..., dataplane: {...}, dataplaneInsight: {...}}`): the object and
 * each insight without their meta fields; an insight nobody reported is `{}`.
 */
export function overviewSchema(desc: ResourceDescriptor, insights: readonly ResourceDescriptor[]): JsonSchema {
  const meta = metaFields(desc, 'output');
  const { kri: _kri, ...metaProps } = meta.properties;
  // Without meta fields, a flat body is its spec and a spec-shaped body is `{spec}`.
  const bodyOf = (d: ResourceDescriptor): JsonSchema =>
    d.shape === 'flat' ? ref(schemaNames(d.kind).spec) : { type: 'object', properties: { spec: ref(schemaNames(d.kind).spec) } };
  const properties: Record<string, JsonSchema> = {
    ...metaProps,
    type: { type: 'string', const: `${desc.kind}Overview` },
    [lowerFirst(desc.kind)]: { description: `The ${desc.singularDisplayName} without its meta fields.`, ...bodyOf(desc) },
  };
  for (const insight of insights) {
    properties[lowerFirst(insight.kind)] = {
      description: `Its ${insight.singularDisplayName}; \`{}\` when none was reported.`,
      anyOf: [bodyOf(insight), { type: 'object', maxProperties: 0 }],
    };
  }
  return {
    type: 'object',
    description: `A ${desc.singularDisplayName} with its insight (what its zone reports about it).`,
    properties,
    required: ['type', ...(desc.scope === 'mesh' ? ['mesh'] : []), 'name', 'creationTime', 'modificationTime', lowerFirst(desc.kind), ...insights.map((i) => lowerFirst(i.kind))],
    additionalProperties: false,
  };
}
