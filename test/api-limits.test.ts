/**
 * Size limits of the HTTP API, on the global and on a zone's API (the same app), over a real socket and a
 * real database. What is stored is bounded in bytes after parsing: a YAML body whose aliases expand a
 * small text into a huge value, a body of multibyte characters under a character count but over the byte
 * limit, and a resource over MAX_RESOURCE_BYTES are refused with the limit named, and nothing is stored.
 * The store's own write path (what KDS writes from zones go through) refuses the same resources. Query
 * strings and the headers the API parses are bounded too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES, MAX_FRAME_BYTES, MAX_RESOURCE_BYTES, ValidationError } from '@ursa/core';
import { call, startApi, type ApiServer } from '@ursa/test-support/api.js';
import { backends } from '@ursa/test-support/backends.js';
import { startZoneApi, type ZoneApi } from '@ursa/test-support/zone-api.js';

const PATH = '/meshes/default/meshaccesslogs/al';

/** A MeshAccessLog whose OpenTelemetry `body` (a free-form field) is `body`. */
const accessLog = (body: unknown) => ({
  type: 'MeshAccessLog',
  mesh: 'default',
  name: 'al',
  spec: { targetRef: { kind: 'Mesh' }, from: [{ targetRef: { kind: 'Mesh' }, default: { backends: [{ type: 'OpenTelemetry', openTelemetry: { endpoint: 'otel:4317', body } }] } }] },
});

/** The same as YAML text, `body` given as YAML (flow style) after `prelude` lines. */
const accessLogYaml = (prelude: string, body: string) =>
  `${prelude}type: MeshAccessLog\nmesh: default\nname: al\nspec:\n  targetRef: {kind: Mesh}\n  from:\n  - targetRef: {kind: Mesh}\n    default:\n      backends:\n      - type: OpenTelemetry\n        openTelemetry:\n          endpoint: "otel:4317"\n          body: ${body}\n`;

/** One anchor of `size` characters used `uses` times (once where it is defined, then as aliases). */
const aliasBomb = (size: number, uses: number) => accessLogYaml('', `[&big "${'a'.repeat(size)}"${', *big'.repeat(uses - 1)}]`);

const YAML = { 'content-type': 'application/yaml' };

for (const backend of backends()) {
  describe(`request and resource limits on ${backend.name}`, () => {
    let global: ApiServer;
    let zone: ZoneApi;
    const planes: [string, () => string][] = [
      ['global', () => global.url],
      ['zone', () => zone.url],
    ];

    beforeAll(async () => {
      global = await startApi(backend);
      zone = await startZoneApi(backend);
      for (const url of [global.url, zone.url]) {
        expect((await call(url, 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default' } })).status).toBe(201);
      }
    });
    afterAll(async () => {
      await global?.close();
      await zone?.close();
    });

    it('the limits nest: any accepted resource fits one KDS frame many times over', () => {
      expect(MAX_RESOURCE_BYTES).toBe(1024 * 1024);
      expect(MAX_BODY_BYTES).toBe(2 * MAX_RESOURCE_BYTES);
      expect(MAX_RESOURCE_BYTES * 8).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    });

    for (const [plane, url] of planes) {
      describe(`${plane} API`, () => {
        it('a YAML body whose aliases expand past the body limit is a 413 naming it, answered at once, nothing stored', async () => {
          // 300 kB of text, 18 MB once the 60 aliases are expanded (the report: 3.5 MB became a 213 MB policy).
          const text = aliasBomb(300_000, 60);
          expect(text.length).toBeLessThan(400_000);
          const started = Date.now();
          const r = await call(url(), 'PUT', PATH, { body: text, headers: YAML });
          expect(Date.now() - started).toBeLessThan(5000);
          expect([r.status, r.body.detail]).toEqual([413, `the body is larger than ${MAX_BODY_BYTES} bytes (2 MiB) once parsed (as JSON, YAML aliases expanded)`]);
          expect(r.body.invalid_parameters).toEqual([{ field: '', reason: `must be at most ${MAX_BODY_BYTES} bytes (2 MiB)`, source: 'body' }]);
          expect((await call(url(), 'GET', PATH)).status).toBe(404);
        });

        it('a YAML body within the body limit whose aliases make the resource too large is a 400 naming the resource limit', async () => {
          // 200 kB of text, 1.6 MB as a resource.
          const r = await call(url(), 'PUT', PATH, { body: aliasBomb(200_000, 8), headers: YAML });
          expect([r.status, r.body.detail]).toEqual([400, 'Resource is not valid']);
          expect(r.body.invalid_parameters).toEqual([{ field: 'spec', reason: `the resource must be at most ${MAX_RESOURCE_BYTES} bytes (1 MiB) as JSON (YAML aliases expanded), and this one is larger`, source: 'body' }]);
          expect((await call(url(), 'GET', PATH)).status).toBe(404);
        });

        it('the body limit counts bytes, not characters', async () => {
          // 800,000 characters, 2.4 MB of UTF-8.
          const r = await call(url(), 'PUT', PATH, { body: accessLog('€'.repeat(800_000)) });
          expect([r.status, r.body.detail]).toEqual([413, `the body of ${2_400_000 + JSON.stringify(accessLog('')).length} bytes is larger than ${MAX_BODY_BYTES} bytes (2 MiB)`]);
          expect((await call(url(), 'GET', PATH)).status).toBe(404);
        });

        it('a body over the limit without a Content-Length (chunked) is refused while it is read', async () => {
          const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
          let sent = 0;
          const stream = new ReadableStream<Uint8Array>({
            pull(controller) {
              // 64 MiB if the server read it all; it must stop reading after 2 MiB.
              if (sent >= 1024) controller.close();
              else {
                sent += 1;
                controller.enqueue(chunk);
              }
            },
          });
          const res = await fetch(`${url()}${PATH}`, { method: 'PUT', body: stream, headers: { 'content-type': 'application/json' }, duplex: 'half' } as RequestInit);
          const body = (await res.json()) as { detail: string };
          expect([res.status, body.detail]).toEqual([413, `the body is larger than ${MAX_BODY_BYTES} bytes (2 MiB)`]);
          expect(sent).toBeLessThan(1024);
        });

        it('a resource over MAX_RESOURCE_BYTES as JSON is a 400 naming the limit; one just under it is stored and reads back', async () => {
          const over = await call(url(), 'PUT', PATH, { body: accessLog('x'.repeat(MAX_RESOURCE_BYTES)) });
          expect([over.status, over.body.invalid_parameters]).toEqual([
            400,
            [{ field: 'spec', reason: `the resource must be at most ${MAX_RESOURCE_BYTES} bytes (1 MiB) as JSON (YAML aliases expanded), and this one is larger`, source: 'body' }],
          ]);
          expect((await call(url(), 'GET', PATH)).status).toBe(404);
          // Labels count too.
          const labels = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`label-${i}`, 'v'.repeat(60)]));
          const byLabels = await call(url(), 'PUT', PATH, { body: { ...accessLog('small'), labels } });
          expect([byLabels.status, byLabels.body.invalid_parameters[0].field]).toEqual([400, 'labels']);

          const under = accessLog('y'.repeat(MAX_RESOURCE_BYTES - 1000));
          expect((await call(url(), 'PUT', PATH, { body: under })).status).toBe(201);
          const got = await call(url(), 'GET', PATH);
          expect(got.status).toBe(200);
          expect(got.body.spec).toEqual(under.spec);
          expect((await call(url(), 'DELETE', PATH)).status).toBe(200);
        });

        it('query strings are bounded: filter count and length, name length; If-Match must be a version', async () => {
          const bad = async (query: string, headers: Record<string, string> = {}) => {
            const r = await call(url(), 'GET', `/meshes/default/meshtimeouts${query}`, { headers });
            expect(r.status, query).toBe(400);
            return r.body.invalid_parameters[0];
          };
          expect(await bad(`?name=${'a'.repeat(513)}`)).toEqual({ field: 'name', reason: 'the name must be at most 512 characters', source: 'query' });
          const labelFilters = Array.from({ length: 21 }, (_, i) => `filter[labels.k${i}]=v`).join('&');
          expect(await bad(`?${labelFilters}`)).toEqual({ field: 'filter', reason: 'at most 20 label filters are allowed', source: 'query' });
          expect(await bad(`?filter[labels.k]=${'v'.repeat(513)}`)).toEqual({ field: 'filter[labels.k]', reason: 'the value must be at most 512 characters', source: 'query' });
          const tags = Array.from({ length: 21 }, (_, i) => `tag=k${i}:v`).join('&');
          const r = await call(url(), 'GET', `/meshes/default/dataplanes?${tags}`);
          expect([r.status, r.body.invalid_parameters[0]]).toEqual([400, { field: 'tag', reason: 'at most 20 tag filters are allowed', source: 'query' }]);
          // Twenty of each are fine.
          const ok = await call(url(), 'GET', `/meshes/default/meshtimeouts?${labelFilters.split('&').slice(0, 20).join('&')}&name=${'a'.repeat(512)}`);
          expect([ok.status, ok.body.total]).toEqual([200, 0]);
          // A version that is not a safe integer names no version.
          expect((await call(url(), 'PUT', '/meshes/default', { body: { type: 'Mesh', name: 'default' }, headers: { 'if-match': '"123456789012345678901234567890"' } })).status).toBe(400);
        });
      });
    }

    it("the store's write path refuses an oversized resource itself (KDS writes from zones go through it)", async () => {
      const big = accessLog('z'.repeat(MAX_RESOURCE_BYTES));
      const draft = { kind: 'MeshAccessLog', mesh: 'default', name: 'from-store', spec: big.spec };
      const err = await global.resources.create('default', draft).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).violations).toEqual([{ field: 'spec', message: `the resource must be at most ${MAX_RESOURCE_BYTES} bytes (1 MiB) as JSON (YAML aliases expanded), and this one is larger` }]);
      // A shared reference counts once per use, as it would be stored.
      const shared = 'q'.repeat(300_000);
      const aliased = { ...draft, spec: accessLog([shared, shared, shared, shared]).spec };
      await expect(global.resources.apply('default', [{ op: 'upsert', resource: aliased }])).rejects.toBeInstanceOf(ValidationError);
      expect(await global.resources.get('default', { kind: 'MeshAccessLog', mesh: 'default', name: 'from-store' })).toBeUndefined();
    });
  });
}

