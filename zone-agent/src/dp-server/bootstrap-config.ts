/**
 * The Envoy bootstrap the zone agent hands kuma-dp, in the structure of Kuma's (pkg/xds/bootstrap
 * template_v3.go in kumahq/kuma v2.14.3; goldens in `testdata/`): the node (`<mesh>.<name>`, cluster =
 * the proxy's service, Kuma's metadata keys: version, features, workdir, paths, admin, DNS and readiness
 * ports, proxy type, the dataplane resource, dynamic metadata), the admin listener, ADS for LDS and CDS over
 * the static `ads_cluster` that points back at this agent over TLS (verified with the dp-server CA, SAN =
 * the host kuma-dp dialled), the `access_log_sink` cluster on kuma-dp's socket, Kuma's runtime, stats tags
 * and regex engine. The dataplane token travels as `authorization` initial metadata, or, given by path,
 * through Envoy's file-based call credentials (so a rotated token file is re-read), as Kuma does.
 * Differences: no `hdsConfig` (the agent serves no health discovery service), and no gateway overload
 * manager (built-in gateways are not modelled).
 */
import type { BootstrapRequest } from './bootstrap-request.js';

export interface BootstrapParams {
  readonly request: BootstrapRequest;
  /** `node.cluster`: the proxy's service, `ingress` or `egress`. */
  readonly service: string;
  /** From the proxy's resource (`networking.admin.port`), else the default. */
  readonly adminPort: number;
  readonly adminAddress: string;
  /** The agent's address as kuma-dp dialled it, and its port. */
  readonly xdsHost: string;
  readonly xdsPort: number;
  /** PEM the proxy verifies the agent with. */
  readonly caPem: string;
}

export const DEFAULT_ADMIN_PORT = 9901;
const CONNECT_TIMEOUT = '1s';
const MAX_RECEIVE_BYTES = 4 * 1024 * 1024;

const isIp = (h: string) => /^\d{1,3}(\.\d{1,3}){3}$/.test(h) || h.includes(':');

const http2Options = {
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
    '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
    explicitHttpConfig: { http2ProtocolOptions: {} },
  },
};
const keepalive = { tcpKeepalive: { keepaliveInterval: 10, keepaliveProbes: 3, keepaliveTime: 10 } };

/** Kuma's `AccessLogSocketName`: `<workdir>/kuma-al-<name>-<mesh>.sock`. */
export function accessLogSocket(workdir: string, name: string, mesh: string): string {
  return `${workdir.replace(/\/+$/, '')}/kuma-al-${name}-${mesh}.sock`;
}

export function buildBootstrap(p: BootstrapParams): Record<string, unknown> {
  const r = p.request;
  const id = `${r.mesh}.${r.name}`;
  const ca = Buffer.from(p.caPem).toString('base64');
  const viaTokenFile = r.dataplaneTokenPath !== undefined;

  const grpcService = viaTokenFile
    ? {
        googleGrpc: {
          targetUri: isIp(p.xdsHost) && p.xdsHost.includes(':') ? `[${p.xdsHost}]:${p.xdsPort}` : `${p.xdsHost}:${p.xdsPort}`,
          statPrefix: 'ads',
          credentialsFactoryName: 'envoy.grpc_credentials.file_based_metadata',
          callCredentials: [
            {
              fromPlugin: {
                name: 'envoy.grpc_credentials.file_based_metadata',
                typedConfig: { '@type': 'type.googleapis.com/envoy.config.grpc_credential.v3.FileBasedMetadataConfig', secretData: { filename: r.dataplaneTokenPath } },
              },
            },
          ],
          channelArgs: {
            args: {
              'grpc.http2.max_pings_without_data': { intValue: '0' },
              'grpc.keepalive_time_ms': { intValue: '10000' },
              'grpc.keepalive_timeout_ms': { intValue: '30000' },
              'grpc.max_receive_message_length': { intValue: String(MAX_RECEIVE_BYTES) },
            },
          },
          channelCredentials: { sslCredentials: { rootCerts: { inlineBytes: ca } } },
        },
      }
    : { envoyGrpc: { clusterName: 'ads_cluster' }, ...(r.dataplaneToken ? { initialMetadata: [{ key: 'authorization', value: r.dataplaneToken }] } : {}) };

  const metadata: Record<string, unknown> = {
    version: {
      envoy: { build: r.version.envoy.build, version: r.version.envoy.version, ...(r.version.envoy.kumaDpCompatible ? { kumaDpCompatible: true } : {}) },
      kumaDp: { buildDate: r.version.kumaDp.buildDate, gitCommit: r.version.kumaDp.gitCommit, gitTag: r.version.kumaDp.gitTag, version: r.version.kumaDp.version },
    },
    features: [...r.features],
    workdir: r.workdir,
    metricsCertPath: r.metricsResources.certPath,
    metricsKeyPath: r.metricsResources.keyPath,
    systemCaPath: r.systemCaPath,
    ipv6Enabled: r.ipv6Enabled,
    'spireAgent.socketPath': r.spireResources.socketPath,
    'dataplane.proxyType': r.proxyType,
  };
  if (r.dataplaneResource !== undefined) metadata['dataplane.resource'] = r.dataplaneResource;
  if (p.adminPort !== 0) {
    metadata['dataplane.admin.port'] = String(p.adminPort);
    metadata['dataplane.admin.address'] = p.adminAddress;
  }
  if (r.dnsPort !== 0) metadata['dataplane.dns.port'] = String(r.dnsPort);
  if (r.readinessPort !== 0) metadata['dataplane.readinessReporter.port'] = String(r.readinessPort);
  if (r.appProbeProxyEnabled) metadata['dataplane.appProbeProxy.enabled'] = 'true';
  if (Object.keys(r.dynamicMetadata).length > 0) metadata.dynamicMetadata = { ...r.dynamicMetadata };
  if (r.dataplaneConfig) metadata.transparentProxy = r.dataplaneConfig;
  if (r.otelEnv) metadata.otelEnvInventory = r.otelEnv;

  const clusters: Record<string, unknown>[] = [
    {
      name: 'access_log_sink',
      connectTimeout: CONNECT_TIMEOUT,
      type: 'STATIC',
      loadAssignment: { clusterName: 'access_log_sink', endpoints: [{ lbEndpoints: [{ endpoint: { address: { pipe: { path: accessLogSocket(r.workdir, r.name, r.mesh) } } } }] }] },
      typedExtensionProtocolOptions: http2Options,
      upstreamConnectionOptions: keepalive,
    },
  ];
  if (!viaTokenFile) {
    clusters.push({
      name: 'ads_cluster',
      connectTimeout: CONNECT_TIMEOUT,
      type: isIp(p.xdsHost) ? 'STATIC' : 'STRICT_DNS',
      loadAssignment: { clusterName: 'ads_cluster', endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: p.xdsHost, portValue: p.xdsPort } } } }] }] },
      transportSocket: {
        name: 'envoy.transport_sockets.tls',
        typedConfig: {
          '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
          commonTlsContext: { tlsParams: { tlsMinimumProtocolVersion: 'TLSv1_2' }, validationContextSdsSecretConfig: { name: 'cp_validation_ctx' } },
          sni: p.xdsHost,
        },
      },
      typedExtensionProtocolOptions: http2Options,
      upstreamConnectionOptions: keepalive,
    });
  }

  const out: Record<string, unknown> = {
    node: { id, cluster: p.service, metadata },
    layeredRuntime: { layers: [{ name: 'kuma', staticLayer: { 're2.max_program_size.error_level': 4294967295, 're2.max_program_size.warn_level': 1000 } }] },
    statsConfig: {
      statsTags: [
        { regex: '^grpc\\.((.+)\\.)', tagName: 'name' },
        { regex: '^grpc.*streams_closed(_([0-9]+))', tagName: 'status' },
        { regex: '^kafka(\\.(\\S*[0-9]))\\.', tagName: 'kafka_name' },
        { regex: '^kafka\\..*\\.(.*?(?=_duration|$))', tagName: 'kafka_type' },
        { regex: '(worker_([0-9]+)\\.)', tagName: 'worker' },
        { regex: '((.+?)\\.)rbac\\.', tagName: 'listener' },
      ],
    },
    dynamicResources: {
      ldsConfig: { ads: {}, initialFetchTimeout: '0s', resourceApiVersion: 'V3' },
      cdsConfig: { ads: {}, initialFetchTimeout: '0s', resourceApiVersion: 'V3' },
      adsConfig: {
        apiType: r.features.includes('feature-delta-grpc') ? 'DELTA_GRPC' : 'GRPC',
        transportApiVersion: 'V3',
        setNodeOnFirstMessageOnly: true,
        grpcServices: [grpcService],
      },
    },
    staticResources: {
      secrets: [
        {
          name: 'cp_validation_ctx',
          validationContext: {
            matchTypedSubjectAltNames: [
              { matcher: { exact: p.xdsHost }, sanType: 'DNS' },
              { matcher: { exact: p.xdsHost }, sanType: 'IP_ADDRESS' },
            ],
            trustedCa: { inlineBytes: ca },
          },
        },
      ],
      clusters,
    },
    defaultRegexEngine: { name: 'envoy.regex_engines.google_re2', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.regex_engines.v3.GoogleRE2' } },
  };
  if (p.adminPort !== 0) {
    out.admin = {
      accessLog: [{ name: 'envoy.access_loggers.file', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog', path: '/dev/null' } }],
      address: { socketAddress: { address: p.adminAddress, portValue: p.adminPort } },
    };
  }
  return out;
}
