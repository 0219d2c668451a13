/**
 * Compiles the resolver's batched UDP addon (`native/udp-batch.c`) into `native/build/udp-batch.node`
 * (git-ignored), run by `build.ts` (so by `npm ci`'s `prepare`). One C file against Node's own N-API headers
 * (`<prefix>/include/node`, installed with Node): no node-gyp, which would fetch headers from the network. It
 * only runs on Linux (recvmmsg/sendmmsg); when the compiler or the headers are missing it says so and the
 * resolver answers through node:dgram as before (`src/dns/udp-batch.ts`), so the build never fails for it.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
export const ADDON_SOURCE = join(here, 'native', 'udp-batch.c');
export const ADDON_FILE = join(here, 'native', 'build', 'udp-batch.node');

/** Builds the addon when it is missing or older than its source; returns what happened, for the build's log line. */
export async function buildUdpBatchAddon(): Promise<string> {
  if (process.platform !== 'linux') return `udp-batch addon skipped (${process.platform}: node:dgram answers UDP)`;
  if (existsSync(ADDON_FILE) && statSync(ADDON_FILE).mtimeMs >= statSync(ADDON_SOURCE).mtimeMs) return 'udp-batch addon up to date';
  const headers = join(dirname(process.execPath), '..', 'include', 'node');
  if (!existsSync(join(headers, 'node_api.h'))) return `udp-batch addon not built: no Node headers in ${headers} (node:dgram answers UDP)`;
  mkdirSync(dirname(ADDON_FILE), { recursive: true });
  // Written beside it, then renamed: a resolver starting meanwhile loads the old file or the new one, never half of one.
  const tmp = `${ADDON_FILE}.${process.pid}.tmp`;
  try {
    await promisify(execFile)(process.env.CC ?? 'cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-shared', '-fPIC', `-I${headers}`, '-o', tmp, ADDON_SOURCE]);
    renameSync(tmp, ADDON_FILE);
    return 'udp-batch addon built';
  } catch (err) {
    // The previous build may not match the source any more: none rather than a stale one.
    rmSync(tmp, { force: true });
    rmSync(ADDON_FILE, { force: true });
    return `udp-batch addon not built (node:dgram answers UDP): ${(err as Error).message.split('\n').slice(0, 4).join(' ')}`;
  }
}
