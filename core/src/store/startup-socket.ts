/**
 * Sockets for postgres.js on Node (its `socket` option) that fail, instead of close, when the server hangs up
 * before saying a word.
 *
 * postgres.js 3.4.9: when a connection closes while the query that opened it is still waiting, it reconnects at
 * once (src/connection.js:450-451 `if (initial) return reconnect()`, with no backoff since `closedTime` is still 0)
 * and each attempt restarts the connect timer (connection.js:343). Against a server that accepts and closes (a
 * proxy or pooler whose database is gone) it opens thousands of connections a second, runs out of file
 * descriptors, and the query never settles. An error on the socket instead rejects that query (connection.js
 * `error()`), and the pool then backs off as after any failed connect.
 *
 * Node only (node:net): the Worker's sockets come from workerd, and its Hyperdrive answers for the database.
 */
import { Socket } from 'node:net';

/** The subset of postgres.js's parsed options a socket needs. */
interface SocketOptions {
  readonly host: readonly string[];
  readonly port: readonly number[];
  readonly path?: string | false;
  readonly ssl?: unknown;
}

/** A `socket` factory for postgres.js; hosts are tried in turn, as postgres.js itself does. */
export function startupGuardedSockets(): (options: SocketOptions) => Socket {
  let next = 0;
  return (options) => {
    const i = next++ % options.host.length;
    const host = options.host[i]!;
    const port = options.port[i] ?? options.port[0]!;
    const socket = new Socket();
    // postgres.js reads these: `host` names the server for TLS (SNI, certificate check) and error messages.
    Object.assign(socket, { host, port, ssl: options.ssl });
    let heard = false;
    socket.once('data', () => (heard = true));
    socket.once('end', () => {
      if (!heard) socket.destroy(Object.assign(new Error('the database server closed the connection before answering'), { code: 'ECONNRESET' }));
    });
    if (options.path) socket.connect(options.path);
    else socket.connect(port, host);
    return socket;
  };
}
