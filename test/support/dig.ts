/** The real `dig` (Debian's bind9-dnsutils, which `.ci/run` installs) against a zone agent's resolver. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Fails with how to install `dig` when it is missing (the tests install nothing themselves). */
export async function requireDig(): Promise<void> {
  try {
    await run('dig', ['-v']);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('`dig` is not installed; this test needs it: apt-get install -y bind9-dnsutils');
    throw err;
  }
}

/** `dig @127.0.0.1 -p port` with one try of 3 s and the given arguments; its whole output, trimmed. */
export async function dig(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('dig', ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=3', ...args]);
  return stdout.trim();
}

/** `dig +short` for one name, one try of 1 s (probes in a loop). Throws on a dig failure (timeout, refused). */
export async function digShort(port: number, name: string): Promise<string> {
  const { stdout } = await run('dig', ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=1', '+short', name], { timeout: 5000 });
  return stdout.trim();
}
