/**
 * Store throughput on both backends, side by side: writes (one writer, 8 concurrent writers, batches of 100
 * per transaction) and change-feed reads (`changesSince`, pages of 1000).
 * Run: `npx tsx bench/store.ts` (PostgreSQL from DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test).
 */
import { randomBytes } from 'node:crypto';
import { scratchDatabase } from '@ursa/test-support/backends.js';
import { type Database, openPostgres, type ResourceDraft, ResourceStore } from '@ursa/core';
import { migrate, openPglite } from '@ursa/core/node';

const SEQUENTIAL = 2000;
const WRITERS = 8;
const PER_WRITER = 500;
const BATCHES = 50;
const BATCH = 100;

const draft = (name: string, i: number): ResourceDraft => ({
  kind: 'MeshTimeout',
  mesh: 'default',
  name,
  labels: { team: `t${i % 10}` },
  spec: { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { http: { requestTimeout: `${(i % 60) + 1}s` } } }] },
});

async function timed(fn: () => Promise<number>): Promise<number> {
  const t0 = performance.now();
  const n = await fn();
  return n / ((performance.now() - t0) / 1000);
}

async function measure(database: Database) {
  const store = new ResourceStore(database.db);
  const tenant = `bench-${randomBytes(4).toString('hex')}`;
  // Warm up connections, caches and the JIT.
  for (let i = 0; i < 50; i++) await store.create(`${tenant}-warm`, draft(`w-${i}`, i));

  const sequential = await timed(async () => {
    for (let i = 0; i < SEQUENTIAL; i++) await store.upsert(tenant, draft(`s-${i}`, i));
    return SEQUENTIAL;
  });
  const concurrent = await timed(async () => {
    await Promise.all(
      Array.from({ length: WRITERS }, async (_, w) => {
        for (let i = 0; i < PER_WRITER; i++) await store.upsert(tenant, draft(`c${w}-${i}`, i));
      }),
    );
    return WRITERS * PER_WRITER;
  });
  const batched = await timed(async () => {
    for (let b = 0; b < BATCHES; b++) {
      await store.apply(tenant, Array.from({ length: BATCH }, (_, i) => ({ op: 'upsert' as const, resource: draft(`b${b}-${i}`, i) })));
    }
    return BATCHES * BATCH;
  });
  let total = 0;
  const feed = await timed(async () => {
    let revision = 0;
    for (;;) {
      const page = await store.changesSince(tenant, revision, { limit: 1000 });
      total += page.changes.length;
      revision = page.revision;
      if (!page.more) return total;
    }
  });
  return { sequential, concurrent, batched, feed, total };
}

async function openPostgresBench(adminUrl: string): Promise<{ database: Database; dispose: () => Promise<void> }> {
  const scratch = await scratchDatabase(adminUrl, 'ursa_bench');
  const database = openPostgres(scratch.url, { max: WRITERS + 2 });
  await migrate(database);
  return {
    database,
    dispose: async () => {
      await database.close();
      await scratch.drop();
    },
  };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(12);

async function main() {
  const pgUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const results: Record<string, Awaited<ReturnType<typeof measure>>> = {};

  const lite = await openPglite();
  await migrate(lite);
  results.pglite = await measure(lite);
  await lite.close();

  const pg = await openPostgresBench(pgUrl);
  results.postgres = await measure(pg.database);
  await pg.dispose();

  console.log(`\nStore throughput (ops/s; ${SEQUENTIAL} sequential upserts, ${WRITERS}x${PER_WRITER} concurrent, ${BATCHES}x${BATCH} batched, feed read of every change)`);
  console.log(`${'backend'.padEnd(10)}${'upsert 1w'.padStart(12)}${'upsert 8w'.padStart(12)}${'batch 100'.padStart(12)}${'changesSince'.padStart(14)}`);
  for (const [name, r] of Object.entries(results)) {
    console.log(`${name.padEnd(10)}${fmt(r.sequential)}${fmt(r.concurrent)}${fmt(r.batched)}${fmt(r.feed).padStart(14)}`);
  }
  const p = results.pglite!;
  const q = results.postgres!;
  console.log(
    `store: upsert/s pglite ${Math.round(p.sequential)} (1w) ${Math.round(p.batched)} (batched) | postgres ${Math.round(q.sequential)} (1w) ${Math.round(q.concurrent)} (8w) ${Math.round(q.batched)} (batched) | changesSince changes/s pglite ${Math.round(p.feed)} postgres ${Math.round(q.feed)}`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
