/** Runs the real `ursactl` binary (`cli/bin/ursactl.js`) as a child process with its own config file. */
import { spawn } from 'node:child_process';
import { cleanEnv } from './process.js';

const BIN = new URL('../../cli/bin/ursactl.js', import.meta.url).pathname;

export interface UrsactlRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** One command; `config` is the path of its config file (`URSACTL_CONFIG`), `stdin` what `-f -` reads. */
export function ursactl(config: string, args: readonly string[], stdin?: string): Promise<UrsactlRun> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [BIN, ...args], { env: cleanEnv({ URSACTL_CONFIG: config }), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stderr += d));
    proc.on('error', reject);
    proc.on('exit', (code) => resolve({ code, stdout, stderr }));
    proc.stdin.end(stdin ?? '');
  });
}
