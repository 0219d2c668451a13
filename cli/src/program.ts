/** The command tree (commander). `run` returns the exit code instead of exiting, so it can be tested in-process. */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { Client } from './client.js';
import { checkAddress, configPath, currentPlane, loadConfig, saveConfig } from './config.js';
import { RemoteError, UsageError } from './errors.js';
import { inspect, inspectDataplane, inspectTarget } from './inspect.js';
import { FORMATS, type Format, table } from './output.js';
import { apply, get, parseVars, remove } from './resources.js';
import { createTenant, createToken, dataplaneToken, listTenants, listTokens, revokeToken, zoneToken } from './tokens.js';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  stdin(): Promise<string>;
}

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const wholeNumber = (v: string) => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('must be a whole number');
  return Number(v);
};
const outputOption = () => new Option('-o, --output <format>', 'output format').choices(FORMATS).default('table');
const meshOption = () => new Option('-m, --mesh <mesh>', 'mesh of mesh-scoped resources').default('default');
const collect = (v: string, prev: string[]) => [...prev, v];

export async function run(argv: readonly string[], io: Io): Promise<number> {
  const client = async () => new Client(currentPlane(await loadConfig()));
  const program = new Command('ursactl')
    .description("Ursa's command line: kumactl's verbs against the global control plane or a zone agent")
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showSuggestionAfterError(true);

  program
    .command('get')
    .description('list resources of a type, or show one (types: any REST path, kind or short name, e.g. meshes, meshtimeouts, zone)')
    .argument('<type>', 'resource type, singular or plural')
    .argument('[name]', 'name of one resource')
    .addOption(outputOption())
    .addOption(meshOption())
    .option('--size <n>', 'page size', wholeNumber)
    .option('--offset <n>', 'page offset', wholeNumber)
    .action(async (type: string, name: string | undefined, o: { output: Format; mesh: string; size?: number; offset?: number }) => {
      io.out(await get(await client(), type, name, o));
    });

  program
    .command('apply')
    .description('create or update the resources of a YAML or JSON file (several documents separated by ---)')
    .requiredOption('-f, --file <file>', 'file to apply, - for stdin')
    .option('--dry-run', 'print the resources after --var substitution, apply nothing', false)
    .option('-v, --var <key=value>', 'replace {{ key }} in the file (repeatable)', collect, [])
    .action(async (o: { file: string; dryRun: boolean; var: string[] }) => {
      const vars = parseVars(o.var);
      // A dry run needs no control plane.
      io.out(await apply(o.dryRun ? (undefined as unknown as Client) : await client(), { file: o.file, dryRun: o.dryRun, vars, stdin: io.stdin, progress: io.err }));
    });

  program
    .command('delete')
    .description('delete one resource')
    .argument('<type>', 'resource type')
    .argument('<name>', 'resource name')
    .addOption(meshOption())
    .action(async (type: string, name: string, o: { mesh: string }) => io.out(await remove(await client(), type, name, o.mesh)));

  const inspectCmd = program
    .command('inspect')
    .description('operator views: zones, meshes, services, dataplanes, zoneingresses, zoneegresses; or "dataplane NAME"')
    .argument('<what>', 'zones | meshes | services | dataplanes | zoneingresses | zoneegresses | dataplane')
    .argument('[name]', 'the dataplane, for "inspect dataplane NAME"')
    .addOption(outputOption())
    .addOption(meshOption())
    .addOption(new Option('--type <type>', 'for a dataplane: config (its xDS configuration) or policies (the policies matched)').choices(['config', 'policies']).default('config'))
    .action(async (what: string, name: string | undefined, o: { output: Format; mesh: string; type: string }) => {
      if (what === 'dataplane') {
        if (!name) throw new UsageError('inspect dataplane: the dataplane name is required');
        io.out(await inspectDataplane(await client(), name, o));
        return;
      }
      if (name !== undefined) throw new UsageError(`inspect ${what}: takes no name`);
      io.out(await inspect(await client(), inspectTarget(what), o));
    });
  void inspectCmd;

  const generate = program.command('generate').description('issue tokens');
  generate
    .command('zone-token')
    .description('a zone token for a zone agent (on the global)')
    .requiredOption('--zone <zone>', 'the zone the token is for')
    .option('--scope <scope>', 'cp, ingress or egress (repeatable; default: all three)', collect, [])
    .option('--valid-for <duration>', 'validity, e.g. 8760h (default: one year)')
    .action(async (o: { zone: string; scope: string[]; validFor?: string }) => io.out(await zoneToken(await client(), o.zone, o.validFor, o.scope)));
  generate
    .command('dataplane-token')
    .description('a dataplane token for a proxy (on a zone agent)')
    .addOption(meshOption())
    .option('--name <name>', 'bind the token to this Dataplane')
    .addOption(new Option('--proxy-type <type>', 'dataplane or ingress').choices(['dataplane', 'ingress']).default('dataplane'))
    .option('--tag <key=value>', 'bind the token to tag values (repeatable)', collect, [])
    .option('--valid-for <duration>', 'validity, e.g. 24h (default: one year)')
    .action(async (o: { mesh: string; name?: string; proxyType: string; tag: string[]; validFor?: string }) =>
      io.out(await dataplaneToken(await client(), { mesh: o.mesh, name: o.name, type: o.proxyType, tags: o.tag, validFor: o.validFor })),
    );

  const tokens = program.command('tokens').description("the tenant's API tokens (admin)");
  tokens
    .command('list')
    .addOption(outputOption())
    .action(async (o: { output: Format }) => io.out(await listTokens(await client(), o.output)));
  tokens
    .command('create')
    .description('a new API token (its secret is printed once)')
    .requiredOption('--name <name>', 'what the token is for')
    .addOption(new Option('--role <role>', 'what it may do').choices(['admin', 'editor', 'read-only']).makeOptionMandatory())
    .option('--valid-for <duration>', 'validity, e.g. 720h (default: no expiry)')
    .addOption(outputOption())
    .action(async (o: { name: string; role: string; validFor?: string; output: Format }) => io.out(await createToken(await client(), o, o.output)));
  tokens
    .command('revoke')
    .argument('<id>', 'token id (from tokens list)')
    .action(async (id: string) => io.out(await revokeToken(await client(), id)));

  const tenants = program.command('tenants').description('tenants of a hosted global (operator token)');
  tenants
    .command('list')
    .addOption(outputOption())
    .action(async (o: { output: Format }) => io.out(await listTenants(await client(), o.output)));
  tenants
    .command('create')
    .argument('<name>', 'the tenant (a lowercase DNS label)')
    .description("a tenant and its initial admin token (the token's secret is printed once)")
    .addOption(outputOption())
    .action(async (name: string, o: { output: Format }) => io.out(await createTenant(await client(), name, o.output)));

  const planes = program.command('config').description(`ursactl's configuration (${configPath()})`).command('control-planes').description('the control planes ursactl talks to');
  planes
    .command('add')
    .requiredOption('--name <name>', 'a name for it')
    .requiredOption('--address <url>', 'its API address, e.g. http://127.0.0.1:5681')
    .option('--auth-token <token>', 'API token sent as Bearer (none: loopback admin)')
    .option('--overwrite', 'replace a control plane of the same name', false)
    .action(async (o: { name: string; address: string; authToken?: string; overwrite: boolean }) => {
      const config = await loadConfig();
      const address = checkAddress(o.address);
      if (config.controlPlanes.some((p) => p.name === o.name) && !o.overwrite) throw new UsageError(`control plane "${o.name}" already exists (use --overwrite)`);
      config.controlPlanes = [...config.controlPlanes.filter((p) => p.name !== o.name), { name: o.name, address, ...(o.authToken ? { authToken: o.authToken } : {}) }];
      // kumactl switches to a control plane it adds.
      config.current = o.name;
      await saveConfig(config);
      io.out(`added Control Plane "${o.name}"\nswitched context to "${o.name}"`);
    });
  planes
    .command('list')
    .action(async () => {
      const config = await loadConfig();
      io.out(table(['ACTIVE', 'NAME', 'ADDRESS'], config.controlPlanes.map((p) => [p.name === config.current ? '*' : ' ', p.name, p.address])));
    });
  planes
    .command('switch')
    .requiredOption('--name <name>', 'the control plane to use')
    .action(async (o: { name: string }) => {
      const config = await loadConfig();
      if (!config.controlPlanes.some((p) => p.name === o.name)) throw new UsageError(`there is no control plane "${o.name}" (see "ursactl config control-planes list")`);
      config.current = o.name;
      await saveConfig(config);
      io.out(`switched active Control Plane to "${o.name}"`);
    });
  planes
    .command('remove')
    .requiredOption('--name <name>', 'the control plane to forget')
    .action(async (o: { name: string }) => {
      const config = await loadConfig();
      if (!config.controlPlanes.some((p) => p.name === o.name)) throw new UsageError(`there is no control plane "${o.name}"`);
      config.controlPlanes = config.controlPlanes.filter((p) => p.name !== o.name);
      if (config.current === o.name) config.current = config.controlPlanes[0]?.name ?? '';
      await saveConfig(config);
      io.out(`removed Control Plane "${o.name}"`);
    });

  program
    .command('version')
    .description("ursactl's version and the control plane's")
    .action(async () => {
      io.out(`Client: Ursa ${VERSION}`);
      const c = await client();
      const server = await c.get<{ product?: string; version?: string; basedOnKuma?: string }>('/');
      io.out(`Server: ${server.product ?? 'unknown'} ${server.version ?? ''}${server.basedOnKuma ? ` (Kuma ${server.basedOnKuma} API)` : ''} at ${c.address}`);
    });

  try {
    if (argv.length === 0) {
      io.err(program.helpInformation());
      return 2;
    }
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0 ? 0 : 2;
    if (err instanceof UsageError) {
      io.err(`Error: ${err.message}`);
      return 2;
    }
    io.err(`Error: ${err instanceof RemoteError ? err.message : err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
