/**
 * ursactl: kumactl's verbs for a universal multi-zone deployment, against the global or a zone agent (same
 * API). Exit codes: 0 done, 1 the server refused or could not be reached, 2 the command line is wrong.
 */
import { run } from './program.js';

process.exitCode = await run(process.argv.slice(2), {
  out: (s) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`),
  err: (s) => process.stderr.write(s.endsWith('\n') ? s : `${s}\n`),
  stdin: async () => {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
});
