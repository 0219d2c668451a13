/**
 * The package layout holds (docs/architecture.md, "Where does my change go"): every import stays inside its own
 * package or goes through another package's public entry, the import direction is proto ← core ← {global-api,
 * zone-agent}, every package a file imports is declared in its package.json, and deep imports into another
 * package do not resolve.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(new URL('..', import.meta.url).pathname);

/** Package folder → the workspace packages it may import (test-only imports are checked with devDependencies). */
const PACKAGES: Record<string, { name: string; mayImport: readonly string[] }> = {
  proto: { name: '@ursa/proto', mayImport: [] },
  core: { name: '@ursa/core', mayImport: ['@ursa/proto'] },
  'global-api': { name: '@ursa/global-api', mayImport: ['@ursa/proto', '@ursa/core'] },
  'zone-agent': { name: '@ursa/zone-agent', mayImport: ['@ursa/proto', '@ursa/core', '@ursa/test-support'] },
  cli: { name: '@ursa/cli', mayImport: ['@ursa/proto'] },
  'test/support': { name: '@ursa/test-support', mayImport: ['@ursa/proto', '@ursa/core', '@ursa/global-api', '@ursa/zone-agent'] },
};
const SKIP_DIRS = new Set(['node_modules', 'gen', 'dist', '.wrangler', 'testdata', 'fixtures']);

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (SKIP_DIRS.has(entry)) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...sources(path));
    else if (/\.(ts|js|mjs)$/.test(entry)) out.push(path);
  }
  return out;
}

/** Static and dynamic import specifiers of a source file (comments are not stripped: none quote an import). */
function specifiers(text: string): string[] {
  const out: string[] = [];
  // Static imports and re-exports (possibly over several lines), side-effect imports, dynamic imports.
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^;'"]*?\bfrom\s+(['"])([^'"\n]+)\1|^\s*import\s+(['"])([^'"\n]+)\3|\bimport\s*\(\s*(['"])([^'"\n]+)\5/gm)) out.push((m[2] ?? m[4] ?? m[6])!);
  return out;
}

/** The package folder that owns a file: the longest matching package folder, or '' for the root. */
function owner(file: string): string {
  const rel = relative(ROOT, file).split(sep).join('/');
  return Object.keys(PACKAGES)
    .filter((p) => rel.startsWith(`${p}/`))
    .sort((a, b) => b.length - a.length)[0] ?? '';
}

function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

function declared(pkgDir: string): Set<string> {
  const pkg = JSON.parse(readFileSync(join(ROOT, pkgDir, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
  return new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.devDependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})]);
}

const BUILTINS = new Set(builtinModules);
const files = [...Object.keys(PACKAGES).flatMap((p) => sources(join(ROOT, p))), ...['test', 'bench'].flatMap((d) => sources(join(ROOT, d)).filter((f) => owner(f) === ''))];

describe('package layout', () => {
  it('no relative import leaves its package', () => {
    const bad: string[] = [];
    for (const file of files) {
      const pkg = owner(file);
      for (const spec of specifiers(readFileSync(file, 'utf8'))) {
        if (!spec.startsWith('.')) continue;
        const target = resolve(dirname(file), spec);
        const targetOwner = owner(target);
        // Root suites (test/, bench/) may reach their own support folders, never into a package.
        if (targetOwner !== pkg) bad.push(`${relative(ROOT, file)} imports ${spec} (in ${targetOwner || 'the root'})`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('imports follow proto ← core ← {global-api, zone-agent}; only root suites import global-api', () => {
    const bad: string[] = [];
    for (const file of files) {
      const pkg = owner(file);
      if (pkg === '') continue;
      for (const spec of specifiers(readFileSync(file, 'utf8'))) {
        if (!spec.startsWith('@ursa/')) continue;
        const name = packageName(spec);
        if (name === PACKAGES[pkg]!.name) bad.push(`${relative(ROOT, file)} imports its own package by name (${spec})`);
        else if (!PACKAGES[pkg]!.mayImport.includes(name)) bad.push(`${relative(ROOT, file)} imports ${spec}`);
        else if (name === '@ursa/test-support' && !/\.test\.ts$|\/testing\.ts$/.test(file)) bad.push(`${relative(ROOT, file)} (not a test) imports ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('every package a file imports is declared in its package.json', () => {
    const bad: string[] = [];
    for (const file of files) {
      const pkg = owner(file);
      const deps = declared(pkg || '.');
      for (const spec of specifiers(readFileSync(file, 'utf8'))) {
        if (spec.startsWith('.') || spec.startsWith('node:') || BUILTINS.has(spec) || spec.startsWith('cloudflare:') || spec.startsWith('$')) continue;
        const name = packageName(spec);
        if (!deps.has(name)) bad.push(`${relative(ROOT, file)} imports ${name}, not declared in ${pkg || '.'}/package.json`);
      }
    }
    expect(bad).toEqual([]);
  });

  it("deep imports into another package's files do not resolve; public entries do", () => {
    const require = createRequire(join(ROOT, 'zone-agent', 'package.json'));
    for (const deep of ['@ursa/core/src/app.ts', '@ursa/core/src/store/resource-store.js', '@ursa/proto/src/resources.ts', '@ursa/global-api/src/kds/session.ts']) {
      expect(() => require.resolve(deep), deep).toThrow(/is not defined by "exports"/);
    }
    for (const entry of ['@ursa/core', '@ursa/core/base', '@ursa/core/node', '@ursa/core/schema', '@ursa/proto', '@ursa/proto/xds', '@ursa/proto/gen/kds.js']) {
      expect(require.resolve(entry), entry).toMatch(/\.ts$/);
    }
  });
});
