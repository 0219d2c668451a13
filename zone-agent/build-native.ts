/**
 * Compiles the agent's native addons (`native/<name>.c` into `native/build/<name>.node`, git-ignored), run by
 * `build.ts` (so by `npm ci`'s `prepare`):
 * - `udp-batch`: the resolver's batched UDP I/O (`src/dns/udp-batch.ts`);
 * - `malloc-tune`: glibc's mmap threshold for the agent's large response buffers (`src/malloc-tune.ts`).
 * One C file each against Node's own N-API headers (`<prefix>/include/node`, installed with Node): no node-gyp,
 * which would fetch headers from the network. Linux only; when the compiler or the headers are missing it says
 * so and the agent runs without the addon (each has a JavaScript fallback), so the build never fails for it.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
export const ADDONS = ['udp-batch', 'malloc-tune'] as const;
export const addonSource = (name: string) => join(here, 'native', `${name}.c`);
export const addonFile = (name: string) => join(here, 'native', 'build', `${name}.node`);

/** Builds one addon when it is missing or older than its source; returns what happened, for the build's log line. */
export async function buildAddon(name: string): Promise<string> {
  if (process.platform !== 'linux') return `${name} addon skipped (${process.platform})`;
  const source = addonSource(name);
  const file = addonFile(name);
  if (existsSync(file) && statSync(file).mtimeMs >= statSync(source).mtimeMs) return `${name} addon up to date`;
  const headers = join(dirname(process.execPath), '..', 'include', 'node');
  if (!existsSync(join(headers, 'node_api.h'))) return `${name} addon not built: no Node headers in ${headers}`;
  mkdirSync(dirname(file), { recursive: true });
  // Written beside it, then renamed: an agent starting meanwhile loads the old file or the new one, never half of one.
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await promisify(execFile)(process.env.CC ?? 'cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-shared', '-fPIC', `-I${headers}`, '-o', tmp, source]);
    renameSync(tmp, file);
    return `${name} addon built`;
  } catch (err) {
    // The previous build may not match the source any more: none rather than a stale one.
    rmSync(tmp, { force: true });
    rmSync(file, { force: true });
    return `${name} addon not built: ${(err as Error).message.split('\n').slice(0, 4).join(' ')}`;
  }
}

/** Every addon, side by side. */
export async function buildAddons(): Promise<string> {
  return (await Promise.all(ADDONS.map(buildAddon))).join('; ');
}
