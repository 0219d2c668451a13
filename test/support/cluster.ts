/**
 * Real processes for end-to-end tests: a global (`global-api/src/node.ts`) and zone agents
 * (`zone-agent/bin/zone-agent.js`) on 127.0.0.1, each with its own data directory.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv, freePort, getJson, start, waitFor, type Child } from './process.js';

const TSX = new URL('../../node_modules/.bin/tsx', import.meta.url).pathname;
const GLOBAL = new URL('../../global-api/src/node.ts', import.meta.url).pathname;
const ZONE = new URL('../../zone-agent/bin/zone-agent.js', import.meta.url).pathname;

export interface GlobalProc {
  readonly url: string;
  readonly child: Child;
  readonly dataDir: string;
  stop(): Promise<void>;
}

export async function startGlobal(opts: { databaseUrl?: string; dataDir?: string; port?: number; heartbeatMs?: number; leaseMs?: number } = {}): Promise<GlobalProc> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'ursa-global-')));
  const port = opts.port ?? (await freePort());
  const child = start(TSX, [GLOBAL, '--port', String(port), '--data-dir', dataDir], {
    env: cleanEnv({
      URSA_KDS_HEARTBEAT_MS: String(opts.heartbeatMs ?? 500),
      URSA_ZONE_LEASE_MS: String(opts.leaseMs ?? 2000),
      ...(opts.databaseUrl ? { DATABASE_URL: opts.databaseUrl } : {}),
    }),
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor('global GET /', () => getJson(`${url}/`), 60_000, child);
  return { url, child, dataDir, stop: () => child.stop() };
}

/** Ports and files of a zone agent that is killed and restarted on the same state (crash and outage tests). */
export interface AgentSetup {
  readonly dataDir: string;
  readonly tokenFile: string;
  readonly globalUrl: string;
  readonly apiPort: number;
  readonly dnsPort: number;
  readonly xdsPort: number;
}

/** Spawns the agent of zone `zone` over WebSocket; waits for nothing (callers measure from `spawnedAt`). */
export function spawnZoneAgent(zone: string, s: AgentSetup): { child: Child; spawnedAt: number } {
  const spawnedAt = Date.now();
  const child = start(
    process.execPath,
    [
      ZONE,
      ...['--zone', zone, '--global-url', s.globalUrl, '--token-file', s.tokenFile, '--data-dir', s.dataDir],
      ...['--api-port', String(s.apiPort), '--dns-port', String(s.dnsPort), '--xds-port', String(s.xdsPort)],
      // These tests' resolvers have no upstream: nothing there asks for a non-.mesh name.
      ...['--dns-upstream', '127.0.0.1:9', '--transport', 'ws', '--reconnect-max-ms', '1000'],
    ],
    { env: cleanEnv() },
  );
  return { child, spawnedAt };
}

export interface ZoneProc {
  readonly name: string;
  readonly url: string;
  readonly child: Child;
  readonly dataDir: string;
  /** The zone token's file (`--token-file`): the agent re-reads it on every reconnect. */
  readonly tokenFile: string;
  /** The agent's `.mesh` DNS resolver (UDP and TCP on 127.0.0.1); a free port each, so agents do not clash. */
  readonly dnsPort: number;
  stop(): Promise<void>;
  kill(): void;
}

export async function startZoneAgent(opts: { name: string; globalUrl: string; token: string; transport: 'ws' | 'poll'; dataDir?: string; port?: number; xdsPort?: number }): Promise<ZoneProc> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), `ursa-${opts.name}-`)));
  const tokenFile = join(dataDir, 'token');
  await writeFile(tokenFile, opts.token);
  const port = opts.port ?? (await freePort());
  const dnsPort = await freePort();
  const child = start(process.execPath, [ZONE, '--zone', opts.name, '--global-url', opts.globalUrl, '--token-file', tokenFile, '--data-dir', dataDir, '--api-port', String(port), '--dns-port', String(dnsPort), '--transport', opts.transport, '--xds-port', String(opts.xdsPort ?? 0), '--reconnect-max-ms', '1000'], { env: cleanEnv({}) });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(`${opts.name} GET /ready`, () => getJson(`${url}/ready`), 60_000, child);
  } catch (err) {
    await child.stop(); // never leave a half-started agent behind
    throw err;
  }
  return {
    name: opts.name,
    url,
    child,
    dataDir,
    tokenFile,
    dnsPort,
    stop: () => child.stop(),
    kill: () => {
      try {
        process.kill(-child.proc.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    },
  };
}

/**
 * A zone agent federated to a real global over WebSocket: a zone token from the global's API (loopback admin),
 * the agent started with it, and resolved once the agent has received `mesh` from the global.
 */
export async function startFederatedZone(globalUrl: string, name: string, opts: { xdsPort?: number; mesh?: string } = {}): Promise<ZoneProc> {
  const res = await fetch(`${globalUrl}/tokens/zone`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ zone: name, validFor: 3600 }) });
  if (!res.ok) throw new Error(`zone token for ${name}: ${res.status} ${await res.text()}`);
  const { token } = (await res.json()) as { token: string };
  const zone = await startZoneAgent({ name, globalUrl, token, transport: 'ws', ...(opts.xdsPort ? { xdsPort: opts.xdsPort } : {}) });
  const mesh = opts.mesh ?? 'default';
  await waitFor(`${name} has mesh ${mesh}`, async () => ((await fetch(`${zone.url}/meshes/${mesh}`).catch(() => undefined))?.ok ? true : undefined), 30_000, zone.child);
  return zone;
}

export async function removeDirs(dirs: string[]): Promise<void> {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
}
