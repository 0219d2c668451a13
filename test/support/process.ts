/** Real child processes for end-to-end tests: start, wait for a condition with a deadline, stop. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';

export interface Child {
  readonly proc: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

export function start(cmd: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Child {
  // detached: the child leads its own process group, so stop() also reaches grandchildren (npx -> wrangler -> workerd).
  const proc = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return {
    proc,
    output: () => out,
    exited,
    stop: () => stopGroup(proc),
  };
}

/** Stops a child spawned with `detached: true` and its process group: SIGTERM, then SIGKILL after 5 s. */
export async function stopGroup(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  try {
    process.kill(-proc.pid!, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-proc.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }, 5000);
  await exited;
  clearTimeout(timer);
}

/** SIGKILLs a `start`ed child's whole process group (a crash, not a stop); returns at once. */
export function killGroup(child: Child): void {
  try {
    process.kill(-child.proc.pid!, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/** Resolves once every process of the child's group is gone (its database files and ports are free). */
export async function groupGone(child: Child): Promise<void> {
  await child.exited;
  await waitFor(
    'process group gone',
    async () => {
      try {
        process.kill(-child.proc.pid!, 0);
        return undefined;
      } catch {
        return true;
      }
    },
    10_000,
  );
}

/**
 * The environment for a child Ursa process: this process's, without the `URSA_*` settings and the
 * `DATABASE_URL` a test run may carry (the child gets exactly the options its test gives it), and without
 * the `GRPC_XDS_*` bootstrap a test sets for its own in-process xDS client. `extra` is added on top.
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e = { ...process.env };
  for (const k of Object.keys(e)) if (k.startsWith('URSA_') || k === 'DATABASE_URL' || k.startsWith('GRPC_XDS')) delete e[k];
  return { ...e, ...extra };
}

/** Polls `check` until it returns a value, or fails after `timeoutMs` with `what` and the child's output. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number, child?: Child): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    if (child && child.proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what} (${lastError ?? 'no answer'})${child ? `\n--- output ---\n${child.output()}` : ''}`);
}

/** GET a JSON document, or undefined while the server is not up yet. */
export async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url).catch(() => undefined);
  if (!res || !res.ok) return undefined;
  return res.json();
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** The direct children of `pid` (every thread's), from /proc: the extra processes an agent forked. */
export async function childrenOf(pid: number): Promise<number[]> {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  const out: number[] = [];
  for (const t of tasks) out.push(...(await readFile(`/proc/${pid}/task/${t}/children`, 'utf8').catch(() => '')).split(/\s+/).filter(Boolean).map(Number));
  return out;
}

/** Whether a process with this pid exists (signal 0 checks without signalling). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
