/**
 * The zone agent's configuration: flags, or `URSA_ZONE_*` variables (flags win). Without `--global-url`
 * the agent runs standalone (Kuma's standalone mode): it accepts meshes and policies locally.
 */
import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { bool, ConfigError, LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel, dnsLabel, intIn, helpText as optionsHelp, nonEmpty, oneOf, parseOptions, port, type OptionSpec, type Parsed } from '@ursa/core/base';

export interface ZoneConfig {
  readonly globalUrl: string | undefined;
  readonly zone: string;
  readonly tenant: string | undefined;
  readonly tokenFile: string | undefined;
  readonly dataDir: string;
  readonly apiHost: string;
  readonly apiPort: number;
  readonly transport: 'ws' | 'poll';
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  /** Ceiling of the reconnect backoff. */
  readonly reconnectMaxMs: number;
  /** `.mesh` DNS resolver (UDP and TCP); 0 turns it off. */
  readonly dnsHost: string;
  readonly dnsPort: number;
  /** Where other names are forwarded (`host:port`); default: the first nameserver of /etc/resolv.conf. */
  readonly dnsUpstream: string | undefined;
  /**
   * Extra processes answering the resolver's UDP socket beside its thread (`dns/udp-children.ts`); absent
   * (configs built by hand, tests): none.
   */
  readonly dnsUdpProcesses?: number;
  /** Batched UDP I/O (recvmmsg/sendmmsg through the native addon, `dns/udp-batch.ts`) when built; absent: on. */
  readonly dnsUdpBatch?: boolean;
  /** glibc's mmap threshold in bytes (`malloc-tune.ts`); 0 keeps glibc's dynamic default. */
  readonly mallocMmapThreshold?: number;
  /** Range VIPs are allocated from, per mesh. */
  readonly vipCidr: string;
  /** Envoy xDS (gRPC) address and port; port 0 turns the server off. */
  readonly xdsHost: string;
  readonly xdsPort: number;
  /**
   * Proxies must present a dataplane token (`POST /tokens/dataplane`) bound to the Dataplane they claim.
   * On by default; off only when asked for explicitly (trusted networks, tests about something else).
   */
  readonly dataplaneAuth: boolean;
  /** How often proxies' ACK/NACK counters are written to their insights (Kuma's status flush interval). */
  readonly xdsStatusFlushMs: number;
  /** The dp-server's TLS certificate and key (PEM); unset: generated under `<data-dir>/dp-server/`. */
  readonly xdsTlsCertFile: string | undefined;
  readonly xdsTlsKeyFile: string | undefined;
  /** Extra names (DNS or IP) the generated dp-server certificate is valid for, comma-separated. */
  readonly xdsTlsHostnames: readonly string[];
  /** Also serve plaintext gRPC (HTTP/2 without TLS) on the xDS port. */
  readonly xdsPlaintext: boolean;
  /**
   * Processes serving the xDS connections (TLS, HTTP/2, ADS streams) beside the main process, which keeps the
   * store, generation and admission (`xds/procs/`); 0: all in the main process. Absent (configs built by
   * hand, tests): 0.
   */
  readonly xdsProcesses?: number;
  /** How long a self-registered proxy's resource outlives its last stream (Kuma's dataplane deregistration delay). */
  readonly dataplaneDeregistrationDelayMs: number;
}

/**
 * Default of `--xds-processes`: 0 (opt in). On 2 vCPUs the bench (README, Performance, xDS) showed no gain per
 * change (the main process keeps generation, the database and insights, and the serving process and the
 * clients compete for the other CPU); on 4 or more CPUs one serving process should have a core of its own, but
 * that was not measured, and one loaded 2-vCPU cold start with a serving process stalled unexplained: serving
 * processes stay opt-in until both are settled.
 */
const XDS_PROCESSES_DEFAULT = 0;

const url = (v: string) => {
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:' ? v.replace(/\/+$/, '') : { error: 'must be an http:// or https:// URL' };
  } catch {
    return { error: 'must be an http:// or https:// URL' };
  }
};

export const OPTIONS: readonly OptionSpec<keyof ZoneConfig>[] = [
  { key: 'globalUrl', flag: '--global-url', env: ['URSA_ZONE_GLOBAL_URL'], help: 'URL of the global plane; unset: standalone', parse: url },
  { key: 'zone', flag: '--zone', env: ['URSA_ZONE_NAME'], help: 'this zone\'s name (required)', parse: dnsLabel },
  { key: 'tenant', flag: '--tenant', env: ['URSA_ZONE_TENANT'], help: 'tenant on the global (default: the token\'s)', parse: dnsLabel },
  { key: 'tokenFile', flag: '--token-file', env: ['URSA_ZONE_TOKEN_FILE'], help: 'file holding the zone token (required with --global-url); re-read on every reconnect', parse: nonEmpty },
  { key: 'dataDir', flag: '--data-dir', env: ['URSA_ZONE_DATA_DIR'], default: './.ursa-zone', help: 'where the zone keeps its state', parse: nonEmpty },
  { key: 'apiHost', flag: '--api-host', env: ['URSA_ZONE_API_HOST'], default: '127.0.0.1', help: 'address of the zone API', parse: nonEmpty },
  { key: 'apiPort', flag: '--api-port', env: ['URSA_ZONE_API_PORT'], default: '5681', help: 'zone API port', parse: port },
  { key: 'transport', flag: '--transport', env: ['URSA_ZONE_TRANSPORT'], default: 'ws', help: 'KDS transport: ws (WebSocket) or poll (HTTP long-poll)', parse: oneOf('ws', 'poll') },
  { key: 'reconnectMaxMs', flag: '--reconnect-max-ms', env: ['URSA_ZONE_RECONNECT_MAX_MS'], default: '30000', help: 'longest wait between reconnect attempts (exponential backoff with jitter)', parse: (v) => intIn(v, 100, 600_000) },
  { key: 'dnsHost', flag: '--dns-host', env: ['URSA_ZONE_DNS_HOST'], default: '127.0.0.1', help: 'address of the DNS resolver', parse: nonEmpty },
  { key: 'dnsPort', flag: '--dns-port', env: ['URSA_ZONE_DNS_PORT'], default: '5653', help: 'DNS resolver port (UDP and TCP); 0: off', parse: port },
  {
    key: 'dnsUpstream',
    flag: '--dns-upstream',
    env: ['URSA_ZONE_DNS_UPSTREAM'],
    help: 'resolver for non-.mesh names, host:port (default: first nameserver in /etc/resolv.conf)',
    parse: (v) => (/^[^\s:]+(:[0-9]{1,5})?$|^\[[0-9a-fA-F:]+\](:[0-9]{1,5})?$/.test(v) ? v : { error: 'must be host or host:port' }),
  },
  {
    key: 'dnsUdpProcesses',
    flag: '--dns-udp-processes',
    env: ['URSA_ZONE_DNS_UDP_PROCESSES'],
    // One thread spends most of its time in sendmsg, so a second reader helps where a CPU is free for it. On 2
    // CPUs the bench could not show a steady gain (its load generator takes most of a CPU) and every agent
    // would pay ~55 MB and ~0.3 s of CPU for it, so it is on by default from 4 CPUs (README, Performance, DNS).
    default: String(availableParallelism() >= 4 ? 1 : 0),
    help: 'extra processes answering DNS over UDP on the same socket (default: 1 with 4 or more CPUs, else 0)',
    parse: (v) => intIn(v, 0, 64),
  },
  {
    key: 'dnsUdpBatch',
    flag: '--dns-udp-batch',
    env: ['URSA_ZONE_DNS_UDP_BATCH'],
    // Measured against dgram's one system call per datagram each way (README, Performance, DNS).
    default: 'true',
    help: 'read and answer DNS over UDP in batches (recvmmsg/sendmmsg, Linux, native addon built by npm ci); false: node:dgram',
    parse: bool,
  },
  {
    key: 'mallocMmapThreshold',
    flag: '--malloc-mmap-threshold',
    env: ['URSA_ZONE_MALLOC_MMAP_THRESHOLD'],
    // glibc raises its threshold to every large block freed, so a cold start's response buffers end up in the
    // heap arenas and stay there as RSS (README, Performance, xDS: 3.2 GB -> 1.1 GB at 2,000 proxies).
    default: '131072',
    help: "bytes from which glibc mmaps an allocation (freed memory goes back to the system); 0: glibc's dynamic default",
    parse: (v) => intIn(v, 0, 1 << 30),
  },
  {
    key: 'vipCidr',
    flag: '--vip-cidr',
    env: ['URSA_ZONE_VIP_CIDR'],
    default: '240.0.0.0/4',
    help: 'IPv4 range VIPs are allocated from, per mesh',
    parse: (v) => {
      const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(v);
      return m && m.slice(1, 5).every((o) => Number(o) <= 255) && Number(m[5]) >= 1 && Number(m[5]) <= 30 ? v : { error: 'must be an IPv4 CIDR with a prefix between /1 and /30, e.g. 240.0.0.0/4' };
    },
  },
  { key: 'xdsHost', flag: '--xds-host', env: ['URSA_ZONE_XDS_HOST'], default: '127.0.0.1', help: 'address of the xDS (ADS gRPC) server', parse: nonEmpty },
  { key: 'xdsPort', flag: '--xds-port', env: ['URSA_ZONE_XDS_PORT'], default: '5678', help: 'xDS (ADS gRPC) port; 0: off', parse: port },
  {
    key: 'dataplaneAuth',
    flag: '--dataplane-auth',
    env: ['URSA_ZONE_DATAPLANE_AUTH'],
    default: 'true',
    help: 'require a dataplane token from every xDS client (false: trust node.id; only on trusted networks)',
    parse: bool,
  },
  {
    key: 'xdsStatusFlushMs',
    flag: '--xds-status-flush-ms',
    env: ['URSA_ZONE_XDS_STATUS_FLUSH_MS'],
    default: '10000',
    help: 'how often ACK/NACK counters are written to DataplaneInsights (connects and disconnects: at once)',
    parse: (v) => intIn(v, 100, 600_000),
  },
  { key: 'xdsTlsCertFile', flag: '--xds-tls-cert-file', env: ['URSA_ZONE_XDS_TLS_CERT_FILE'], help: 'dp-server TLS certificate (PEM) for kuma-dp bootstrap and ADS; unset: generated in the data dir', parse: nonEmpty },
  { key: 'xdsTlsKeyFile', flag: '--xds-tls-key-file', env: ['URSA_ZONE_XDS_TLS_KEY_FILE'], help: 'its private key (PEM); with --xds-tls-cert-file', parse: nonEmpty },
  {
    key: 'xdsTlsHostnames',
    flag: '--xds-tls-hostnames',
    env: ['URSA_ZONE_XDS_TLS_HOSTNAMES'],
    default: '',
    help: 'extra names/addresses (comma-separated) the generated dp-server certificate is valid for (kuma-dp --cp-address host)',
    parse: (v) => {
      const names = v.split(',').map((n) => n.trim()).filter((n) => n !== '');
      const bad = names.find((n) => !/^[A-Za-z0-9.:-]+$/.test(n));
      return bad === undefined ? names : { error: `${JSON.stringify(bad)} is not a host name or IP address` };
    },
  },
  {
    key: 'xdsProcesses',
    flag: '--xds-processes',
    env: ['URSA_ZONE_XDS_PROCESSES'],
    default: String(XDS_PROCESSES_DEFAULT),
    help: `processes serving xDS connections (TLS, gRPC, ADS streams) beside the main one; 0: all in the main process (default 0; 1 is worth trying with 4 or more CPUs)`,
    parse: (v) => intIn(v, 0, 64),
  },
  { key: 'xdsPlaintext', flag: '--xds-plaintext', env: ['URSA_ZONE_XDS_PLAINTEXT'], default: 'true', help: 'also accept plaintext gRPC on the xDS port (proxyless gRPC clients); false: TLS only, like kuma-cp', parse: bool },
  {
    key: 'dataplaneDeregistrationDelayMs',
    flag: '--dataplane-deregistration-delay-ms',
    env: ['URSA_ZONE_DATAPLANE_DEREGISTRATION_DELAY_MS'],
    default: '10000',
    help: 'how long a proxy that registered itself (kuma-dp --dataplane-file) stays registered after its last xDS stream closed',
    parse: (v) => intIn(v, 0, 3_600_000),
  },
  { key: 'logFormat', flag: '--log-format', env: ['URSA_ZONE_LOG_FORMAT'], default: 'console', help: "console (kuma-cp's tab-separated lines) | json (one object per line)", parse: oneOf(...LOG_FORMATS) },
  { key: 'logLevel', flag: '--log-level', env: ['URSA_ZONE_LOG_LEVEL'], default: 'info', help: 'debug | info | warn | error | off (least severe level written)', parse: oneOf(...LOG_LEVELS) },
];

export function parseZoneConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Parsed<ZoneConfig> {
  const r = parseOptions<Record<string, unknown>>(OPTIONS, argv, env);
  if (r.help) return r;
  const c = r.config;
  if (c.zone === undefined) throw new ConfigError('--zone is required (or URSA_ZONE_NAME)');
  if (c.globalUrl !== undefined && c.tokenFile === undefined) throw new ConfigError('--token-file is required with --global-url (or URSA_ZONE_TOKEN_FILE)');
  if ((c.xdsTlsCertFile === undefined) !== (c.xdsTlsKeyFile === undefined)) throw new ConfigError('--xds-tls-cert-file and --xds-tls-key-file go together (or URSA_ZONE_XDS_TLS_CERT_FILE and URSA_ZONE_XDS_TLS_KEY_FILE)');
  const dataDir = c.dataDir as string;
  return { help: false, config: Object.freeze({ ...c, dataDir: isAbsolute(dataDir) ? dataDir : resolve(dataDir) }) as unknown as ZoneConfig };
}

export function helpText(): string {
  return optionsHelp('zone-agent --zone NAME [--global-url URL --token-file FILE] [flags]', OPTIONS);
}

export { ConfigError };
