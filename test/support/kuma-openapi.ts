/**
 * OpenAPI 3.1 documents as JSON Schema validators: Kuma's published API description (a copy lives in
 * `test/fixtures/`, `KUMA_OPENAPI` points elsewhere) and our own `/openapi.json`. OpenAPI 3.1 schemas are
 * JSON Schema 2020-12, so ajv's 2020 build compiles them; the whole document is added under an `$id`, and
 * `#/components/...` references resolve inside it.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Ajv2020Module from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { parse as parseYaml } from 'yaml';

export const KUMA_OPENAPI_PATH = process.env.KUMA_OPENAPI ?? fileURLToPath(new URL('../fixtures/kuma-openapi-v2.14.3.yaml', import.meta.url));

type Json = Record<string, any>;

// Both packages are CommonJS whose `module.exports` is the class / plugin itself; TypeScript (NodeNext) types
// the default import as the module object, so take `.default` when present.
const Ajv2020 = ((Ajv2020Module as any).default ?? Ajv2020Module) as typeof Ajv2020Module.default;
const addFormats = ((addFormatsModule as any).default ?? addFormatsModule) as typeof addFormatsModule.default;

export interface OpenApiValidators {
  readonly doc: Json;
  hasSchema(name: string): boolean;
  hasResponse(name: string): boolean;
  /** Validator of `components.schemas[name]`. */
  schema(name: string): ValidateFunction;
  /** Validator of the JSON body of `components.responses[name]`. */
  response(name: string): ValidateFunction;
  /** Validator of the schema at a JSON pointer into the document (`/paths/~1meshes/get/...`). */
  at(pointer: string): ValidateFunction;
}

/** A JSON Pointer token: `~` → `~0`, `/` → `~1`. */
export const pointerToken = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

export function openApiValidators(doc: Json, id: string): OpenApiValidators {
  const ajv = new Ajv2020({ strict: false, allErrors: true, logger: false });
  addFormats(ajv);
  ajv.addSchema({ ...doc, $id: id });
  const compiled = new Map<string, ValidateFunction>();
  const at = (pointer: string): ValidateFunction => {
    let v = compiled.get(pointer);
    if (!v) {
      v = ajv.getSchema(`${id}#${pointer}`);
      if (!v) throw new Error(`${id}: no schema at ${pointer}`);
      compiled.set(pointer, v);
    }
    return v;
  };
  const responsePointer = (name: string) => {
    const content = doc.components?.responses?.[name]?.content ?? {};
    const type = Object.keys(content).find((t) => t.includes('json'));
    if (!type) throw new Error(`${id}: response ${name} has no JSON body`);
    return `/components/responses/${pointerToken(name)}/content/${pointerToken(type)}/schema`;
  };
  return {
    doc,
    hasSchema: (name) => doc.components?.schemas?.[name] !== undefined,
    hasResponse: (name) => doc.components?.responses?.[name] !== undefined,
    schema: (name) => at(`/components/schemas/${pointerToken(name)}`),
    response: (name) => at(responsePointer(name)),
    at,
  };
}

/**
 * Kuma's spec, with three documented corrections where it disagrees with what Kuma's own server writes:
 * - list responses declare `next` as a string, but Kuma (Go `*string`) writes `"next": null` on the last page;
 * - `google.protobuf.Timestamp` fields are described from the Go struct (`{seconds, nanos}`), but Kuma writes
 *   protojson, an RFC 3339 string (`"connectTime": "2018-07-17T16:05:36.995Z"`): both are accepted;
 * - a proto `conf` is a `oneOf` of config schemas none of which has a required field (`{path}` for a file
 *   logging backend, `{address}` for TCP), so every value matches several and no real Mesh would pass:
 *   such `oneOf`s of references are read as `anyOf`.
 */
export function loadKumaOpenApi(path = KUMA_OPENAPI_PATH): OpenApiValidators {
  const doc = parseYaml(readFileSync(path, 'utf8'), { maxAliasCount: -1 }) as Json;
  for (const r of Object.values<Json>(doc.components?.responses ?? {})) {
    const next = r.content?.['application/json']?.schema?.properties?.next;
    if (next && next.type === 'string') next.type = ['string', 'null'];
  }
  const isTimestamp = (n: Json) =>
    n.type === 'object' && n.properties && Object.keys(n.properties).sort().join() === 'nanos,seconds' && n.properties.seconds.type === 'integer';
  const walk = (n: unknown): unknown => {
    if (Array.isArray(n)) return n.map(walk);
    if (typeof n !== 'object' || n === null) return n;
    const node = n as Json;
    if (isTimestamp(node)) return { anyOf: [node, { type: 'string', format: 'date-time' }] };
    const out: Json = {};
    for (const [k, v] of Object.entries(node)) {
      const refsOnly = k === 'oneOf' && Array.isArray(v) && v.every((m) => typeof m?.$ref === 'string');
      out[refsOnly ? 'anyOf' : k] = walk(v);
    }
    return out;
  };
  return openApiValidators(walk(doc) as Json, 'kuma-openapi.json');
}

/** ajv errors as readable lines, for assertion messages. */
export function explain(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`).join('\n');
}

/** Asserts `value` is valid for `validate`; returns the error text (empty when valid) for `expect(...).toBe('')`. */
export function problems(validate: ValidateFunction, value: unknown): string {
  return validate(value) ? '' : explain(validate.errors);
}
