/**
 * Test helpers for the policy engine: fixtures, golden files, and a protobuf round trip check. Only tests
 * import this file.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { PolicyKind } from '@ursa/proto';
import type { DataplaneResource } from '../../model/dataplane.js';
import { stored, storedAsWritten } from '../../model/testing.js';
import type { PolicyResource } from './types.js';

export const GOLDEN_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'testdata', 'golden', 'policies');

/** A Dataplane with the given inbounds (`service:port[:protocol]` or full objects). */
export function dataplane(name: string, inbounds: (string | Record<string, unknown>)[], opts: { mesh?: string; labels?: Record<string, string> } = {}): DataplaneResource {
  return stored('Dataplane', {
    mesh: opts.mesh ?? 'default',
    name,
    labels: opts.labels ?? {},
    spec: {
      networking: {
        address: '10.0.0.1',
        inbound: inbounds.map((i) => {
          if (typeof i !== 'string') return i;
          const [service, port, protocol] = i.split(':');
          return { port: Number(port), tags: { 'kuma.io/service': service, ...(protocol ? { 'kuma.io/protocol': protocol } : {}) } };
        }),
      },
    },
  });
}

/**
 * A policy resource as the store would keep it: validated against its schema (proto/src/resources.ts), so
 * every fixture is something the API would have accepted, and already in stored form (kept as written: the
 * golden files echo its key order).
 */
export function policy(kind: PolicyKind, name: string, spec: Record<string, unknown>, opts: { mesh?: string; labels?: Record<string, string> } = {}): PolicyResource {
  return storedAsWritten(kind, { mesh: opts.mesh ?? 'default', name, labels: opts.labels ?? {}, spec });
}

interface Codec<T> {
  encode(m: T): { finish(): Uint8Array };
  decode(b: Uint8Array): T;
  fromPartial(o: never): T;
  toJSON(m: T): unknown;
  fromJSON(o: unknown): T;
}

/** Encode → decode through Envoy's protobuf types and JSON → message: nothing may be lost either way. */
export function roundTrip<T>(codec: Codec<T>, message: T): unknown {
  const normal = codec.fromPartial(message as never);
  const decoded = codec.decode(codec.encode(message).finish());
  expect(decoded).toEqual(normal);
  const json = codec.toJSON(message);
  expect(codec.toJSON(codec.fromJSON(json))).toEqual(json);
  return json;
}

/** Compare `actual` with the golden file `<name>.json`; `UPDATE_GOLDEN=1` rewrites it. */
export function expectGolden(name: string, actual: unknown): void {
  const file = join(GOLDEN_DIR, `${name}.json`);
  const text = `${JSON.stringify(actual, null, 2)}\n`;
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) {
    if (process.env.UPDATE_GOLDEN !== '1' && process.env.CI) throw new Error(`golden file ${file} is missing (run with UPDATE_GOLDEN=1)`);
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(file, text);
    return;
  }
  expect(text).toBe(readFileSync(file, 'utf8'));
}
