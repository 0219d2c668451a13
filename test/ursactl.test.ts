/**
 * `ursactl`, the real binary (`cli/bin/ursactl.js`, a child process per command) against a real global
 * (Node entry on a free port; PGlite, and PostgreSQL too when DATABASE_URL is set) and a real zone agent:
 * configuration, get/apply/delete round trip in YAML, a zone token from `generate zone-token` that starts a
 * zone agent, `inspect zones` Online then Offline once the agent is killed, one-line errors and exit codes.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { scratchDatabase, type ScratchDatabase } from '@ursa/test-support/backends.js';
import { removeDirs, startGlobal, startZoneAgent, type GlobalProc, type ZoneProc } from '@ursa/test-support/cluster.js';
import { waitFor } from '@ursa/test-support/process.js';
import { ursactl } from '@ursa/test-support/ursactl.js';

const MESH_AND_POLICY = `
type: Mesh
name: {{ mesh }}
---
type: MeshTimeout
name: timeouts
mesh: {{ mesh }}
spec:
  targetRef:
    kind: Mesh
  to:
    - targetRef:
        kind: Mesh
      default:
        connectionTimeout: {{ timeout }}
`;

const backendNames = process.env.DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];

describe('ursactl: usage errors exit 2 with one line, before any network', () => {
  const dirs: string[] = [];
  afterAll(() => removeDirs(dirs));

  it('no command, an unknown type, a missing flag or a bad output format: exit 2', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ursactl-usage-'));
    dirs.push(dir);
    const config = join(dir, 'config.yaml');
    const runs = await Promise.all([
      ursactl(config, []),
      ursactl(config, ['get', 'frobnicators']),
      ursactl(config, ['apply']),
      ursactl(config, ['get', 'meshes', '-o', 'xml']),
      ursactl(config, ['get', 'meshes', '--size', 'ten']),
      ursactl(config, ['config', 'control-planes', 'add', '--name', 'x', '--address', 'not a url']),
      ursactl(config, ['inspect', 'gateways']),
    ]);
    for (const r of runs) expect(r.code, r.stderr).toBe(2);
    expect(runs[1]!.stderr).toMatch(/^Error: unknown resource type "frobnicators" \(one of: meshes, zones/);
    expect(runs[2]!.stderr).toContain("required option '-f, --file <file>' not specified");
    expect(runs[3]!.stderr).toContain('xml');
    expect(runs[5]!.stderr.trim()).toBe('Error: --address: "not a url" is not a URL (expected http://host:port)');
    // Nothing reachable is configured, and none of these tried: a network failure would exit 1.
    const unreachable = await ursactl(config, ['get', 'meshes']);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr.trim()).toMatch(/^Error: could not reach the control plane "local" at http:\/\/127\.0\.0\.1:5681: /);
  }, 60_000);
});

describe.each(backendNames)('ursactl against a real global and zone agent (%s)', (backend) => {
  let global: GlobalProc;
  let scratch: ScratchDatabase | undefined;
  let zone: ZoneProc | undefined;
  let config: string;
  const dirs: string[] = [];
  const run = (args: readonly string[], stdin?: string) => ursactl(config, args, stdin);

  beforeAll(async () => {
    scratch = backend === 'postgres' ? await scratchDatabase(process.env.DATABASE_URL!, 'ursa_cli') : undefined;
    // Short heartbeats and leases (as kds-sync's), so a killed zone shows Offline within seconds.
    global = await startGlobal({ databaseUrl: scratch?.url, heartbeatMs: 300, leaseMs: 1500 });
    dirs.push(global.dataDir);
    const dir = await mkdtemp(join(tmpdir(), 'ursactl-'));
    dirs.push(dir);
    config = join(dir, 'config.yaml');
  }, 90_000);

  afterAll(async () => {
    await zone?.stop();
    await global?.stop();
    await scratch?.drop();
    await removeDirs(dirs);
  });

  it('config control-planes add | list | switch | remove, and version', async () => {
    const add = await run(['config', 'control-planes', 'add', '--name', 'global', '--address', global.url]);
    expect(add.code, add.stderr).toBe(0);
    const list = await run(['config', 'control-planes', 'list']);
    expect(list.stdout).toMatch(new RegExp(`\\*\\s+global\\s+${global.url.replace(/\./g, '\\.')}`));
    expect((await run(['config', 'control-planes', 'add', '--name', 'other', '--address', 'http://127.0.0.1:9'])).code).toBe(0);
    expect((await run(['config', 'control-planes', 'switch', '--name', 'nowhere'])).code).toBe(2);
    expect((await run(['config', 'control-planes', 'switch', '--name', 'global'])).code).toBe(0);
    expect((await run(['config', 'control-planes', 'remove', '--name', 'other'])).code).toBe(0);
    expect((await run(['config', 'control-planes', 'list'])).stdout).not.toContain('other');
    const version = await run(['version']);
    expect(version.code, version.stderr).toBe(0);
    expect(version.stdout).toMatch(/^Client: Ursa \S+\nServer: Ursa \S+ \(Kuma 2\.14\.\d+ API\)/);
  }, 60_000);

  it('apply (YAML from stdin, several documents, --var), get -o yaml|table, --dry-run, delete', async () => {
    const dry = await run(['apply', '-f', '-', '--dry-run', '--var', 'mesh=cli', '--var', 'timeout=3s'], MESH_AND_POLICY);
    expect(dry.code, dry.stderr).toBe(0);
    expect(parseAllDocuments(dry.stdout).map((d) => d.toJS())).toEqual([
      { type: 'Mesh', name: 'cli' },
      expect.objectContaining({ type: 'MeshTimeout', name: 'timeouts', mesh: 'cli' }),
    ]);
    expect((await run(['get', 'mesh', 'cli'])).code).toBe(1); // a dry run applies nothing

    const missingVar = await run(['apply', '-f', '-', '--var', 'mesh=cli'], MESH_AND_POLICY);
    expect(missingVar.code).toBe(2);
    expect(missingVar.stderr.trim()).toBe('Error: the file uses {{ timeout }}: give --var timeout=VALUE');

    const applied = await run(['apply', '-f', '-', '--var', 'mesh=cli', '--var', 'timeout=3s'], MESH_AND_POLICY);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toBe('Mesh "cli" created\nMeshTimeout "timeouts" in mesh cli created\n');
    expect(applied.stderr).toContain('[2/2] MeshTimeout "timeouts" in mesh cli created');

    const yaml = await run(['get', 'meshtimeout', 'timeouts', '--mesh', 'cli', '-o', 'yaml']);
    expect(yaml.code, yaml.stderr).toBe(0);
    const got = parse(yaml.stdout) as { spec: { to: { default: { connectionTimeout: string } }[] } };
    expect(got).toMatchObject({ type: 'MeshTimeout', name: 'timeouts', mesh: 'cli' });
    expect(got.spec.to[0]!.default.connectionTimeout).toBe('3s');

    // From a file this time (JSON is YAML too), updating the policy.
    const file = join(global.dataDir, '..', `ursactl-${backend}-update.json`);
    dirs.push(file);
    await writeFile(file, JSON.stringify({ type: 'MeshTimeout', name: 'timeouts', mesh: 'cli', spec: { targetRef: { kind: 'Mesh' }, to: [{ targetRef: { kind: 'Mesh' }, default: { connectionTimeout: '7s' } }] } }));
    const updated = await run(['apply', '-f', file]);
    expect(updated.stdout.trim()).toBe('MeshTimeout "timeouts" in mesh cli updated');
    expect(parse((await run(['get', 'meshtimeouts', 'timeouts', '-m', 'cli', '-o', 'yaml'])).stdout)).toMatchObject({ spec: { to: [{ default: { connectionTimeout: '7s' } }] } });

    // A misspelt field is dropped, as Kuma does, but never silently: the warning is printed and nothing of it stored.
    const typo = await run(['apply', '-f', '-'], 'type: MeshTimeout\nname: timeouts\nmesh: cli\nspec:\n  targetRef:\n    kind: Mesh\n  to:\n    - targetRef:\n        kind: Mesh\n      default:\n        connectionTimeout: 7s\n        idleTimoeut: 1m\n');
    expect(typo.code, typo.stderr).toBe(0);
    expect(typo.stderr).toContain('Warning: MeshTimeout "timeouts": unknown field "spec.to[0].default.idleTimoeut" was dropped');
    expect((await run(['get', 'meshtimeouts', 'timeouts', '-m', 'cli', '-o', 'yaml'])).stdout).not.toContain('idleTimoeut');

    // Kuma's short name names the type too.
    expect(JSON.parse((await run(['get', 'mt', 'timeouts', '-m', 'cli', '-o', 'json'])).stdout)).toMatchObject({ type: 'MeshTimeout', name: 'timeouts' });
    const table = await run(['get', 'meshtimeouts', '--mesh', 'cli']);
    expect(table.stdout.split('\n')[0]).toMatch(/^MESH\s+NAME\s+TYPE\s+TARGETREF KIND\s+TARGETREF NAME\s+AGE$/);
    expect(table.stdout).toMatch(/\ncli\s+timeouts\s+MeshTimeout\s+Mesh\s/);
    const page = parse((await run(['get', 'meshtimeouts', '--mesh', 'cli', '--size', '1', '-o', 'json'])).stdout) as { items: unknown[]; next: string | null };
    expect(page.items).toHaveLength(1);
    expect(page.next).not.toBeNull(); // the mesh's default timeout policy and ours

    const bad = await run(['apply', '-f', '-'], 'type: MeshTimeout\nname: broken\nmesh: cli\nspec:\n  targetRef:\n    kind: Nonsense\n');
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/^Error: .*\(spec\.targetRef\.kind: /);

    const deleted = await run(['delete', 'meshtimeout', 'timeouts', '--mesh', 'cli']);
    expect(deleted.stdout.trim()).toBe('deleted MeshTimeout "timeouts" in mesh cli');
    const gone = await run(['get', 'meshtimeout', 'timeouts', '--mesh', 'cli']);
    expect(gone.code).toBe(1);
    expect(gone.stderr.trim()).toBe('Error: Could not retrieve a resource: Not found');
  }, 120_000);

  it('tenants and API tokens of a hosted global: tenants create|list, tokens create|list|revoke, zone-token scopes', async () => {
    const created = await run(['tenants', 'create', `acme-${backend}`]);
    expect(created.code, created.stderr).toBe(0);
    const secret = created.stdout.split('\n')[0]!;
    expect(created.stdout).toContain(`tenant acme-${backend} created`);
    expect((await run(['tenants', 'list'])).stdout).toMatch(new RegExp(`\\nacme-${backend}\\s+\\d+\\s+\\d{4}-`));
    expect((await run(['tenants', 'create', 'Not A Label'])).stderr.trim()).toMatch(/^Error: .*\(name: must be a lowercase DNS label/);

    // As the tenant's admin: its own tokens; operator routes are refused.
    expect((await run(['config', 'control-planes', 'add', '--name', 'acme', '--address', global.url, '--auth-token', secret])).code).toBe(0);
    try {
      const ci = await run(['tokens', 'create', '--name', 'ci', '--role', 'read-only', '-o', 'json']);
      expect(ci.code, ci.stderr).toBe(0);
      const issued = JSON.parse(ci.stdout) as { id: string; role: string; secret: string };
      expect(issued.role).toBe('read-only');
      const listed = await run(['tokens', 'list']);
      expect(listed.stdout).toMatch(new RegExp(`\\n${issued.id}\\s+ci\\s+read-only\\s.*\\sactive\\s*\\n`));
      expect((await run(['tokens', 'revoke', issued.id])).stdout.trim()).toBe(`revoked token ${issued.id}`);
      expect((await run(['tokens', 'list'])).stdout).toMatch(new RegExp(`\\n${issued.id}\\s+ci\\s+read-only\\s.*\\srevoked\\s*\\n`));
      const refused = await run(['tenants', 'list']);
      expect(refused.code).toBe(1);
      expect(refused.stderr.trim()).toBe('Error: Access Denied: operator routes need the operator token');
      expect((await run(['tokens', 'create', '--name', 'x', '--role', 'root'])).code).toBe(2);
    } finally {
      expect((await run(['config', 'control-planes', 'switch', '--name', 'global'])).code).toBe(0);
    }

    // kumactl's --scope: a token for zone proxies only (not for a zone control plane).
    const scoped = await run(['generate', 'zone-token', '--zone', 'edge', '--scope', 'ingress', '--scope', 'egress']);
    expect(scoped.code, scoped.stderr).toBe(0);
    const claims = JSON.parse(Buffer.from(scoped.stdout.trim().split('.')[1]!, 'base64url').toString()) as { scopes?: string[] };
    expect(claims.scopes).toEqual(['ingress', 'egress']);
    expect((await run(['generate', 'zone-token', '--zone', 'edge', '--scope', 'everything'])).code).toBe(2);
  }, 60_000);

  it('a token from `generate zone-token` starts a zone agent; inspect zones shows it Online, then Offline once killed', async () => {
    const token = await run(['generate', 'zone-token', '--zone', 'east', '--valid-for', '24h']);
    expect(token.code, token.stderr).toBe(0);
    expect(token.stdout.trim()).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    zone = await startZoneAgent({ name: 'east', globalUrl: global.url, token: token.stdout.trim(), transport: 'ws' });
    dirs.push(zone.dataDir);

    const row = (out: string) => out.split('\n').find((l) => l.startsWith('east '));
    const online = await waitFor(
      'east Online in inspect zones',
      async () => {
        const r = await run(['inspect', 'zones']);
        return r.code === 0 && /^east\s+Online\s/.test(row(r.stdout) ?? '') ? r.stdout : undefined;
      },
      60_000,
    );
    expect(online.split('\n')[0]).toMatch(/^NAME\s+STATUS\s+LAST CONNECTED AGO\s+LAST UPDATED AGO\s+TOTAL UPDATES\s+TOTAL ERRORS\s+ZONE-CP VERSION\s+BACKEND\s+APPLIED REVISION\s+REVISIONS BEHIND$/);

    // The same commands work against the zone agent's API (a zone token is not issued there).
    expect((await run(['config', 'control-planes', 'add', '--name', 'east', '--address', zone.url])).code).toBe(0);
    await waitFor('the mesh synced to the zone', async () => ((await run(['get', 'mesh', 'cli'])).code === 0 ? true : undefined), 30_000);
    const onZone = await run(['generate', 'zone-token', '--zone', 'west']);
    expect(onZone.code).toBe(1);
    expect(onZone.stderr.trim()).toBe('Error: Bad Request: zone tokens are issued by the global control plane: use POST /tokens/zone there');
    expect((await run(['config', 'control-planes', 'switch', '--name', 'global'])).code).toBe(0);

    zone.kill();
    await waitFor(
      'east Offline in inspect zones',
      async () => {
        const r = await run(['inspect', 'zones']);
        return /^east\s+Offline\s/.test(row(r.stdout) ?? '') ? true : undefined;
      },
      60_000,
    );
  }, 240_000);
});
