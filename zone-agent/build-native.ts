/**
 * Compiles the resolver's batched UDP addon (`native/udp-batch.c`) into `native/build/udp-batch.node`
 * (git-ignored), run by `build.ts` (so by `npm ci`'s `prepare`). One C file against Node's own N-API headers
 * (`<prefix>/include/node`, installed with Node): no node-gyp, which would fetch headers from the network. It
 * only runs on Linux (recvmmsg/sendmmsg); when the compiler or the headers are missing it says so and the
 * resolver answers through node:dgram as before (`src/dns/udp-batch.ts`), so the build never fails for it.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
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
  try {
    await promisify(execFile)(process.env.CC ?? 'cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-shared', '-fPIC', `-I${headers}`, '-o', ADDON_FILE, ADDON_SOURCE]);
    return 'udp-batch addon built';
  } catch (err) {
    return `udp-batch addon not built (node:dgram answers UDP): ${(err as Error).message.split('\n').slice(0, 4).join(' ')}`;
  }
}
