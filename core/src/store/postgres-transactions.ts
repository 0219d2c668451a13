/**
 * Transactions over postgres.js that survive losing their connection.
 *
 * postgres.js 3.4.9 (upstream issues porsager/postgres#1154, #1208, #1216; unfixed in 3.4.9): when a `begin()`
 * callback rejects, `begin` sends its own ROLLBACK on the transaction's connection (src/index.js:268-271), also
 * when the callback rejected because that very connection was lost. By then `closed()` has set the connection's
 * socket to null (src/connection.js:448) without marking it terminated, `execute()` only refuses terminated
 * connections (connection.js:157), so the ROLLBACK is buffered and written from a setImmediate to the null socket
 * (`nextWrite`, connection.js:255): a TypeError outside any promise, which ends the process. Under load a dropped
 * connection nearly always has a transaction in flight. The same holds for a savepoint's ROLLBACK TO.
 *
 * The workaround stays outside the library: a callback that failed because the connection was lost is not
 * settled at all once `begin` has seen the connection close. postgres.js then sends nothing more on that
 * connection (neither ROLLBACK nor COMMIT), and `begin` still rejects, with the connection's own error, through
 * the close hook it races the callback against (index.js:243-246); PostgreSQL rolled the transaction back when
 * the session ended. The parked callback holds nothing but its own closure, which is collected with it.
 * A connection-loss error while the transaction's connection is still open (a hiccup elsewhere) is rethrown as
 * usual, so postgres.js rolls back on the live connection.
 */
import type postgres from 'postgres';
import { asUnavailable } from './unavailable.js';

type Sql = postgres.Sql;
type TxSql = postgres.TransactionSql;
type Body = (sql: TxSql) => unknown;

/** `client` with `begin` (and its transactions' `savepoint`) made safe against a lost connection; the rest as is. */
export function guardTransactions(client: Sql): Sql {
  const begin = (options: string | Body, body?: Body) => {
    const state = { closed: false };
    const guarded = guard(typeof options === 'function' ? options : body!, state);
    const run = typeof options === 'function' ? client.begin(guarded) : client.begin(options, guarded);
    // Rejects on its own when the connection closes; `closed` tells a guarded callback that this happened.
    run.catch(() => {
      state.closed = true;
    });
    return run;
  };
  return new Proxy(client, {
    get: (target, prop, receiver) => (prop === 'begin' ? begin : Reflect.get(target, prop, receiver)),
  });
}

function guard(body: Body, state: { closed: boolean }): Body {
  return async (sql) => {
    const tx = new Proxy(sql, {
      get: (target, prop, receiver) =>
        prop === 'savepoint'
          ? (name: string | Body, fn?: Body) => (typeof name === 'function' ? target.savepoint(guard(name, state)) : target.savepoint(name, guard(fn!, state)))
          : Reflect.get(target, prop, receiver),
    });
    try {
      return await body(tx);
    } catch (err) {
      if (asUnavailable(err)) {
        // The close events that failed this query fire `begin`'s close hook in the same tick; its rejection
        // has been delivered by the next macrotask.
        await new Promise((r) => setTimeout(r, 0));
        if (state.closed) return new Promise<never>(() => {});
      }
      throw err;
    }
  };
}
