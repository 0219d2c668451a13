/**
 * The global plane in a real Workers runtime: `wrangler dev` (workerd) as a child process on loopback, with
 * its Hyperdrive binding pointed at a database of the test's choosing.
 */
import { freePort, getJson, start, waitFor, type Child } from './process.js';

const WRANGLER = new URL('../../node_modules/.bin/wrangler', import.meta.url).pathname;
const CONFIG = new URL('../../global-api/wrangler.jsonc', import.meta.url).pathname;

/**
 * The variable wrangler 4.86 reads to override a Hyperdrive binding's `localConnectionString`
 * (`WRANGLER_HYPERDRIVE_LOCAL_CONNECTION_STRING_<BINDING>` still works but prints a deprecation warning).
 */
export const HYPERDRIVE_ENV = 'CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE';

export interface Workerd {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly child: Child;
  /** Stops wrangler and workerd (the whole process group). */
  stop(): Promise<void>;
}

/**
 * miniflare refuses a Hyperdrive connection string without a password, even for a server with trust auth:
 * give it a placeholder one (ignored by a trust-auth server).
 */
export function hyperdriveUrl(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  if (!url.username) url.username = 'postgres';
  if (!url.password) url.password = 'trust';
  return url.toString();
}

export interface WorkerdOptions {
  /** The HYPERDRIVE binding connects there; without it, to wrangler.jsonc's `localConnectionString`. */
  readonly databaseUrl?: string;
  /** A fixed port, e.g. to restart on the port zone agents reconnect to (a deploy); default: a free one. */
  readonly port?: number;
  /** Worker variables (`--var NAME:value`), e.g. short heartbeats and leases for tests. */
  readonly vars?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

/** Starts `wrangler dev` and resolves once the Worker answers `GET /`. */
export async function startWorkerd(opts: WorkerdOptions = {}): Promise<Workerd> {
  const [port, inspector] = [opts.port ?? (await freePort()), await freePort()];
  const env: NodeJS.ProcessEnv = { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', CI: '1' };
  // Never let an override from the caller's shell (either name) point the Worker at some other database.
  delete env[HYPERDRIVE_ENV];
  delete env.WRANGLER_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE;
  if (opts.databaseUrl) env[HYPERDRIVE_ENV] = hyperdriveUrl(opts.databaseUrl);
  const vars = Object.entries(opts.vars ?? {}).flatMap(([k, v]) => ['--var', `${k}:${v}`]);
  const child = start(
    WRANGLER,
    ['dev', '--config', CONFIG, '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspector), '--show-interactive-dev-session=false', ...vars],
    { env },
  );
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor('workerd to answer GET /', () => getJson(`${url}/`), opts.timeoutMs ?? 60_000, child);
  } catch (err) {
    await child.stop();
    throw err;
  }
  return { url, child, stop: () => child.stop() };
}
