/**
 * Types derived from the descriptor table (`resources.ts`): the kinds Ursa knows, as a union of literal names,
 * and the type of each kind's spec, which is its schema's output (`z.output`). The store keeps exactly that
 * output (every write goes through `validateResource`), so a stored spec of kind K has type `SpecOf<K>`.
 */
import type { z } from 'zod';
import type { DESCRIPTORS } from './resources.js';

export type { BuiltinCaConf } from './schemas/core/mesh.js';

type AnyDescriptor = (typeof DESCRIPTORS)[number];

/** Every kind of the table: `'Mesh' | 'Dataplane' | 'MeshTimeout' | ...`. */
export type ResourceKind = AnyDescriptor['kind'];

/** The targetRef policy kinds (`isPolicy`). */
export type PolicyKind = Extract<AnyDescriptor, { readonly isPolicy: true }>['kind'];

/** The descriptor of kind `K`, with its own schema type. */
export type DescriptorOf<K extends ResourceKind> = Extract<AnyDescriptor, { readonly kind: K }>;

/** The spec of kind `K` as validated and stored: its schema's output. `SpecOf<'Dataplane'>['networking']['inbound']`. */
export type SpecOf<K extends ResourceKind> = z.output<DescriptorOf<K>['schema']>;
