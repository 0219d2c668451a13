/**
 * The PostgreSQL client (`openPostgres`) when the server ends its sessions (`pg_terminate_backend`, what a
 * failover does): transactions and savepoints whose connection is lost fail as "unavailable" without taking the
 * process down (postgres.js 3.4.9 used to write its ROLLBACK to the dead socket: an uncaught TypeError), the pool
 * keeps serving, and the LISTEN doorbell comes back and rings everyone once for what it missed.
 *
 * PostgreSQL only (DATABASE_URL), on a scratch database of its own; skipped otherwise.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { sql } from 'drizzle-orm';
import { asUnavailable, CHANGE_CHANNEL, type Database, notifyWaker, openPostgres } from '@ursa/core';
import { scratchDatabase, type ScratchDatabase } from '@ursa/test-support/backends.js';
import { eventually } from '@ursa/test-support/zone.js';

const DATABASE_URL = process.env.DATABASE_URL;

describe.skipIf(!DATABASE_URL)('PostgreSQL client when the server ends its sessions', () => {
  let scratch: ScratchDatabase;
  let database: Database;
  /** The test's own connection: never among those it terminates. */
  let admin: postgres.Sql;

  /** Ends every session of the scratch database but the test's own; returns how many. */
  const terminate = async () => {
    const [row] = await admin<{ n: number }[]>`select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`;
    return row!.n;
  };
  const terminatePid = (pid: number) => admin`select pg_terminate_backend(${pid})`;
  const rowsOf = <T>(r: unknown): T[] => r as T[];

  beforeAll(async () => {
    scratch = await scratchDatabase(DATABASE_URL!, 'ursa_connloss');
    admin = postgres(scratch.url, { max: 1, onnotice: () => {} });
    database = openPostgres(scratch.url, { max: 4 });
    await database.db.execute(sql`create table t (id serial primary key, v int not null)`);
  });

  afterAll(async () => {
    await database?.close();
    await admin?.end({ timeout: 1 });
    await scratch?.drop();
  });

  /** Lets a write scheduled on a dead socket (a setImmediate) run: it would surface as an uncaught error. */
  const settle = () => new Promise((r) => setTimeout(r, 200));

  it('a transaction whose connection is terminated mid-query fails as unavailable; nothing of it is committed; the pool serves on', async () => {
    let pid: number | undefined;
    const tx = database.db.transaction(async (tx) => {
      await tx.execute(sql`insert into t (v) values (1)`);
      pid = rowsOf<{ pid: number }>(await tx.execute(sql`select pg_backend_pid() as pid`))[0]!.pid;
      await tx.execute(sql`select pg_sleep(30)`);
    });
    const outcome = tx.then(
      () => undefined,
      (err: unknown) => err,
    );
    await eventually('the transaction is running', () => pid !== undefined);
    await terminatePid(pid!);
    const err = await outcome;
    expect(asUnavailable(err), String(err)).toBeDefined();
    await settle();
    expect(rowsOf<{ n: number }>(await database.db.execute(sql`select count(*)::int as n from t where v = 1`))[0]!.n).toBe(0);
  });

  it('a savepoint whose connection is terminated fails the whole transaction as unavailable', async () => {
    let pid: number | undefined;
    const outcome = database.db
      .transaction(async (tx) => {
        await tx.execute(sql`insert into t (v) values (2)`);
        await tx.transaction(async (sp) => {
          pid = rowsOf<{ pid: number }>(await sp.execute(sql`select pg_backend_pid() as pid`))[0]!.pid;
          await sp.execute(sql`select pg_sleep(30)`);
        });
      })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    await eventually('the savepoint is running', () => pid !== undefined);
    await terminatePid(pid!);
    expect(asUnavailable(await outcome)).toBeDefined();
    await settle();
    expect(rowsOf<{ n: number }>(await database.db.execute(sql`select count(*)::int as n from t where v = 2`))[0]!.n).toBe(0);
  });

  it('a failing transaction on a live connection still rolls back and reports its own error', async () => {
    const err = await database.db
      .transaction(async (tx) => {
        await tx.execute(sql`insert into t (v) values (3)`);
        await tx.execute(sql`insert into t (v) values (null)`);
      })
      .catch((e: unknown) => e);
    expect(asUnavailable(err)).toBeUndefined();
    expect(rowsOf<{ n: number }>(await database.db.execute(sql`select count(*)::int as n from t where v = 3`))[0]!.n).toBe(0);
  });

  it('under 8 concurrent writers, terminating every session 8 times fails only work in flight, always as unavailable', async () => {
    const failures: unknown[] = [];
    let committed = 0;
    let stop = false;
    const writer = async (i: number) => {
      while (!stop) {
        try {
          await database.db.transaction(async (tx) => {
            await tx.execute(sql`insert into t (v) values (${100 + i})`);
            await tx.execute(sql`select count(*) from t`);
          });
          committed++;
        } catch (err) {
          failures.push(err);
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    };
    const writers = Array.from({ length: 8 }, (_, i) => writer(i));
    let terminated = 0;
    try {
      for (let round = 0; round < 8; round++) {
        const target = committed + 20;
        await eventually('writers make progress', () => committed >= target, 20_000);
        terminated += await terminate();
      }
    } finally {
      stop = true;
      await Promise.all(writers);
    }
    await settle();
    expect(terminated).toBeGreaterThan(0);
    const unexpected = failures.filter((f) => !asUnavailable(f));
    expect(unexpected.map(String)).toEqual([]);
    // Every acknowledged commit is there (and possibly some whose COMMIT answer was lost).
    expect(rowsOf<{ n: number }>(await database.db.execute(sql`select count(*)::int as n from t where v >= 100`))[0]!.n).toBeGreaterThanOrEqual(committed);
  });

  it('the LISTEN doorbell re-subscribes after its connection is terminated and rings every tenant once', async () => {
    const waker = await notifyWaker(database);
    const rung: string[] = [];
    const unsubscribe = waker.subscribe('acme', (kind) => rung.push(kind));
    try {
      await admin`select pg_notify(${CHANGE_CHANNEL}, 'acme MeshTimeout')`;
      await eventually('the doorbell works', () => rung.includes('MeshTimeout'));
      rung.length = 0;
      const [listener] = await admin<{ pid: number }[]>`select pid from pg_stat_activity where datname = current_database() and query ilike 'listen%'`;
      expect(listener).toBeDefined();
      await terminatePid(listener!.pid);
      await eventually('everyone is rung after the LISTEN connection came back', () => rung.includes('*'), 15_000);
      await admin`select pg_notify(${CHANGE_CHANNEL}, 'acme MeshRetry')`;
      await eventually('the doorbell works again', () => rung.includes('MeshRetry'), 15_000);
    } finally {
      unsubscribe();
      await waker.close();
    }
  });
});
