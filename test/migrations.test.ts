/** The committed SQL migrations are exactly what drizzle-kit generates from the schema: no drift. */
import { spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('..', import.meta.url).pathname;

describe('migrations', () => {
  it("are up to date with @ursa/core's schema and the zone agent's tables", async () => {
    // drizzle-kit resolves --out relative to the working directory, so the scratch copy lives in the repo.
    await mkdir(join(ROOT, 'node_modules/.cache'), { recursive: true });
    const dir = await mkdtemp(join(ROOT, 'node_modules/.cache/ursa-migrations-'));
    try {
      await cp(join(ROOT, 'migrations'), dir, { recursive: true });
      const before = (await readdir(dir)).sort();
      const r = spawnSync(
        join(ROOT, 'node_modules/.bin/drizzle-kit'),
        ['generate', '--dialect', 'postgresql', // One --schema only (drizzle-kit keeps the last flag): a brace glob names both files.
          '--schema', '{core/src/store/schema.ts,zone-agent/src/store/schema.ts}', '--out', relative(ROOT, dir)],
        { cwd: ROOT, encoding: 'utf8' },
      );
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/error/i);
      expect(r.stdout).toMatch(/No schema changes|migration file/);
      expect((await readdir(dir)).sort(), `run "npm run db:generate": ${r.stdout}`).toEqual(before);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
