/**
 * The zone agent: `zone-agent --global-url URL --zone NAME --token-file FILE`. SIGTERM/SIGINT stop it
 * gracefully.
 *
 * Start-up order matters: a restarted agent must answer DNS within 2 s of its spawn, also during a global
 * outage (`test/zone-outage.test.ts`). Loading the agent's modules and opening its database take more than
 * that on a small host (2-vCPU VM: over a second of CPU for the modules, as much again for PGlite), so DNS
 * does not wait for them: this entry loads only the options, the logger and the resolver (no third-party
 * module but `dns-packet`; `build.ts` fails the build otherwise), starts the resolver's thread on the
 * answers the last run persisted (`dns/answers-file.ts`, `dns/resolver.ts`), and only then loads the rest
 * (`agent.ts`), which serves the API once the database is open (it opens from the first moment:
 * `store/open.ts`) and hands DNS over to the live table after its first rebuild. `/ready` says which phase
 * it is in.
 */
import { randomBytes } from 'node:crypto';
import { access, constants } from 'node:fs/promises';
import { hostname } from 'node:os';
import { createLogger, VERSION } from '@ursa/core/base';
import { ConfigError, helpText, parseZoneConfig, type ZoneConfig } from './config.js';
import { readAnswers } from './dns/answers-file.js';
import { createResolver, type Resolver } from './dns/resolver.js';
import { tuneMalloc } from './malloc-tune.js';

/** The resolver thread's entry: beside this file in the bundle (`dist/dns-worker.mjs`), the source otherwise. */
const DNS_WORKER = new URL(import.meta.url.endsWith('.ts') ? './dns/resolver-worker.ts' : './dns-worker.mjs', import.meta.url);

/**
 * `zone-agent ca-cert [--data-dir DIR]`: prints the CA kuma-dp verifies the dp-server with
 * (`kuma-dp run --ca-cert-file`), from the data dir the agent generated it in on its first start.
 */
async function printCaCert(argv: readonly string[]): Promise<void> {
  const i = argv.indexOf('--data-dir');
  const dir = i >= 0 ? argv[i + 1] : (process.env.URSA_ZONE_DATA_DIR ?? './.ursa-zone');
  if (!dir) {
    process.stderr.write('zone-agent ca-cert: --data-dir needs a value\n');
    process.exit(2);
  }
  const { join, resolve } = await import('node:path');
  const { readFile } = await import('node:fs/promises');
  const file = join(resolve(dir), 'dp-server', 'ca.pem');
  try {
    process.stdout.write(await readFile(file, 'utf8'));
  } catch (err) {
    process.stderr.write(`zone-agent ca-cert: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)}): start the agent once with this --data-dir (it generates the CA), or use the CA of the certificate given with --xds-tls-cert-file\n`);
    process.exit(1);
  }
}

async function main(): Promise<void> {
  if (process.argv[2] === 'ca-cert') return printCaCert(process.argv.slice(3));
  let config: ZoneConfig;
  try {
    const parsed = parseZoneConfig(process.argv.slice(2), process.env);
    if (parsed.help) {
      process.stdout.write(`${helpText()}\n`);
      return;
    }
    config = parsed.config;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`zone-agent: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  // The token is re-read on every connect (so it can be rotated in place), but a file that cannot be read at
  // all is a typo, not a rotation in progress: say so now instead of retrying forever.
  if (config.tokenFile) {
    try {
      await access(config.tokenFile, constants.R_OK);
    } catch (err) {
      process.stderr.write(`zone-agent: --token-file: cannot read ${config.tokenFile} (${(err as NodeJS.ErrnoException).code ?? String(err)})\n`);
      process.exit(2);
    }
  }
  // zap-console lines like kuma-cp's, the zone named in every one (several agents may share a terminal or a log).
  const log = createLogger({ level: config.logLevel, format: config.logFormat, name: `zone-agent[${config.zone}]` });
  const instanceId = `${hostname()}-${randomBytes(2).toString('hex')}`;
  log.info(`starting ${VERSION} (${instanceId}), ${config.globalUrl ? `federated with ${config.globalUrl} over ${config.transport}` : 'standalone'}, data in ${config.dataDir}`);
  const mallocLog = log.child('malloc');
  const malloc = tuneMalloc(config.mallocMmapThreshold ?? 0, (freed, ms) => mallocLog.info(`returned free heap memory to the system in ${ms.toFixed(1)} ms (RSS ${(freed / 2 ** 20).toFixed(0)} MB lower)`));
  if (malloc.applied) log.debug(malloc.note);
  else log.info(malloc.note);

  // DNS first, from the last run's answers, on its own thread. The database starts opening as soon as the
  // resolver thread has its answers to load (PGlite compiles its wasm on background threads; its modules load
  // on this one, so not before the thread is spawned), and the agent's modules load beside it.
  let resolver: Resolver | undefined;
  let persistedText: string | undefined;
  let served: Promise<void> | undefined;
  if (config.dnsPort !== 0) {
    const dnsLog = log.child('dns');
    const persisted = await readAnswers(config.dataDir, dnsLog);
    if (persisted) {
      resolver = await createResolver(config, dnsLog, { workerUrl: DNS_WORKER });
      served = resolver.serve(persisted.records, 'persisted');
      persistedText = persisted.text;
    }
  }
  const database = import('./store/open.js').then((m) => m.openZoneDatabase(config.dataDir, log));
  // `runAgent` awaits it; until then a failure must not count as an unhandled rejection.
  database.catch(() => {});
  const agent = import('./agent.js');
  agent.catch(() => {});
  await served;
  const { runAgent } = await agent;
  await runAgent({ config, log, instanceId, resolver, persistedText, dnsWorker: DNS_WORKER, database });
}

main().catch((err) => {
  console.error('zone-agent: failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
