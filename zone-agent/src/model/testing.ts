/**
 * Test fixtures as the local store would hand them out: validated against their kind's schema and narrowed
 * to its type (`TypedResourceLike<K>`), so a fixture is something the API would have accepted, in the form
 * it is stored in (the schema's output: enum numbers as names, and so on). Only tests import this file.
 */
import { isDeepStrictEqual } from 'node:util';
import { asTyped, type TypedResourceLike } from '@ursa/core';
import { type ResourceInput, type ResourceKind, validateResource } from '@ursa/proto';

interface Draft {
  mesh?: string;
  /** Default: `<kind>-fixture`. */
  name?: string;
  labels?: Record<string, string>;
  spec: Record<string, unknown>;
}

function validated(kind: ResourceKind, r: Draft): ResourceInput {
  const name = r.name ?? `${kind.toLowerCase()}-fixture`;
  const result = validateResource({ kind, mesh: r.mesh || undefined, name, labels: r.labels ?? {}, spec: r.spec });
  if (!result.ok) throw new Error(`fixture ${kind} ${name} is invalid: ${result.violations.map((v) => `${v.field}: ${v.message}`).join('; ')}`);
  return result.value;
}

/** The resource as the store would keep it: the schema's output. */
export function stored<K extends ResourceKind>(kind: K, r: Draft): TypedResourceLike<K> {
  return asTyped(kind, validated(kind, r));
}

/**
 * The resource exactly as written (same key order, for tests that echo it into golden files), provided it is
 * already in stored form: valid, and equal to the schema's output.
 */
export function storedAsWritten<K extends ResourceKind>(kind: K, r: Draft): TypedResourceLike<K> {
  const value = validated(kind, r);
  if (!isDeepStrictEqual(value.spec, r.spec)) throw new Error(`fixture ${kind} ${value.name} is not in stored form: the schema normalises it to ${JSON.stringify(value.spec)}`);
  return asTyped(kind, { ...value, spec: r.spec });
}
