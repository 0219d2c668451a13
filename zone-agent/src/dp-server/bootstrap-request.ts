/**
 * Kuma's `BootstrapRequest` (pkg/xds/bootstrap/types in kumahq/kuma v2.14.3), as kuma-dp POSTs it to
 * `/bootstrap`: read, type-checked field by field, every problem named by its JSON field. Fields Ursa does
 * not use are accepted and passed through where Kuma passes them into the bootstrap (versions, features,
 * paths, ports, dynamic metadata, the transparent-proxy and OpenTelemetry inventories).
 */
import type { FieldProblem, KumaProxyType } from './proxy-resource.js';

export interface BootstrapRequest {
  readonly mesh: string;
  readonly name: string;
  readonly proxyType: KumaProxyType;
  readonly dataplaneToken?: string;
  readonly dataplaneTokenPath?: string;
  readonly dataplaneResource?: string;
  readonly version: {
    readonly kumaDp: { readonly version: string; readonly gitTag: string; readonly gitCommit: string; readonly buildDate: string };
    readonly envoy: { readonly version: string; readonly build: string; readonly kumaDpCompatible: boolean };
  };
  readonly caCert?: string;
  readonly dynamicMetadata: Readonly<Record<string, string>>;
  readonly otelEnv?: Record<string, unknown>;
  readonly dnsPort: number;
  readonly readinessPort: number;
  /** Wire key `appProbeProxyDisabled`, meaning "enabled": Kuma's historical name, kept for compatibility. */
  readonly appProbeProxyEnabled: boolean;
  readonly operatingSystem: string;
  readonly features: readonly string[];
  readonly workdir: string;
  readonly metricsResources: { readonly certPath: string; readonly keyPath: string };
  readonly systemCaPath: string;
  readonly dataplaneConfig?: Record<string, unknown>;
  readonly ipv6Enabled: boolean;
  readonly spireResources: { readonly socketPath: string };
}

const PROXY_TYPES: readonly KumaProxyType[] = ['dataplane', 'ingress', 'egress'];

export function parseBootstrapRequest(body: unknown): { ok: true; value: BootstrapRequest } | { ok: false; problems: FieldProblem[] } {
  const problems: FieldProblem[] = [];
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { ok: false, problems: [{ field: '', message: 'the body must be a JSON object (Kuma\'s BootstrapRequest)' }] };
  const b = body as Record<string, unknown>;
  const str = (field: string, v: unknown, required = false): string => {
    if (v === undefined || v === null) {
      if (required) problems.push({ field, message: 'must be set' });
      return '';
    }
    if (typeof v !== 'string') {
      problems.push({ field, message: 'must be a string' });
      return '';
    }
    if (required && v.trim() === '') problems.push({ field, message: 'must not be empty' });
    return v;
  };
  const bool = (field: string, v: unknown): boolean => {
    if (v === undefined || v === null) return false;
    if (typeof v !== 'boolean') problems.push({ field, message: 'must be true or false' });
    return v === true;
  };
  const port = (field: string, v: unknown): number => {
    if (v === undefined || v === null) return 0;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535) {
      problems.push({ field, message: 'must be a port number (0-65535)' });
      return 0;
    }
    return v;
  };
  const obj = (field: string, v: unknown): Record<string, unknown> => {
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) {
      problems.push({ field, message: 'must be an object' });
      return {};
    }
    return v as Record<string, unknown>;
  };

  const rawType = b.proxyType === undefined || b.proxyType === null || b.proxyType === '' ? 'dataplane' : b.proxyType;
  let proxyType: KumaProxyType = 'dataplane';
  if (typeof rawType !== 'string' || !(PROXY_TYPES as readonly string[]).includes(rawType)) problems.push({ field: 'proxyType', message: `must be one of ${PROXY_TYPES.join(', ')}, got ${JSON.stringify(rawType)}` });
  else proxyType = rawType as KumaProxyType;
  // Zone ingresses and egresses belong to no mesh; kuma-dp sends an empty one for them.
  const mesh = str('mesh', b.mesh, proxyType === 'dataplane');
  const name = str('name', b.name, true);
  const version = obj('version', b.version);
  const kumaDp = obj('version.kumaDp', version.kumaDp);
  const envoy = obj('version.envoy', version.envoy);
  const dyn = obj('dynamicMetadata', b.dynamicMetadata);
  const dynamicMetadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(dyn)) dynamicMetadata[k] = str(`dynamicMetadata.${k}`, v);
  let features: string[] = [];
  if (b.features !== undefined && b.features !== null) {
    if (!Array.isArray(b.features)) problems.push({ field: 'features', message: 'must be an array of strings' });
    else features = b.features.map((f, i) => str(`features[${i}]`, f));
  }
  const metrics = obj('metricsResources', b.metricsResources);
  const spire = obj('spireResources', b.spireResources);
  const tokenPresent = (v: unknown) => typeof v === 'string' && v.trim() !== '';
  const value: BootstrapRequest = {
    mesh: proxyType === 'dataplane' ? mesh : '',
    name,
    proxyType,
    dataplaneToken: tokenPresent(b.dataplaneToken) ? str('dataplaneToken', b.dataplaneToken).trim() : (str('dataplaneToken', b.dataplaneToken), undefined),
    dataplaneTokenPath: tokenPresent(b.dataplaneTokenPath) ? str('dataplaneTokenPath', b.dataplaneTokenPath) : (str('dataplaneTokenPath', b.dataplaneTokenPath), undefined),
    dataplaneResource: tokenPresent(b.dataplaneResource) ? str('dataplaneResource', b.dataplaneResource) : (str('dataplaneResource', b.dataplaneResource), undefined),
    version: {
      kumaDp: { version: str('version.kumaDp.version', kumaDp.version), gitTag: str('version.kumaDp.gitTag', kumaDp.gitTag), gitCommit: str('version.kumaDp.gitCommit', kumaDp.gitCommit), buildDate: str('version.kumaDp.buildDate', kumaDp.buildDate) },
      envoy: { version: str('version.envoy.version', envoy.version), build: str('version.envoy.build', envoy.build), kumaDpCompatible: bool('version.envoy.kumaDpCompatible', envoy.kumaDpCompatible) },
    },
    caCert: tokenPresent(b.caCert) ? str('caCert', b.caCert) : (str('caCert', b.caCert), undefined),
    dynamicMetadata,
    otelEnv: b.otelEnv === undefined || b.otelEnv === null ? undefined : obj('otelEnv', b.otelEnv),
    dnsPort: port('dnsPort', b.dnsPort),
    readinessPort: port('readinessPort', b.readinessPort),
    appProbeProxyEnabled: bool('appProbeProxyDisabled', b.appProbeProxyDisabled),
    operatingSystem: str('operatingSystem', b.operatingSystem),
    features,
    workdir: str('workdir', b.workdir),
    metricsResources: { certPath: str('metricsResources.certPath', metrics.certPath), keyPath: str('metricsResources.keyPath', metrics.keyPath) },
    systemCaPath: str('systemCaPath', b.systemCaPath),
    dataplaneConfig: b.dataplaneConfig === undefined || b.dataplaneConfig === null ? undefined : obj('dataplaneConfig', b.dataplaneConfig),
    ipv6Enabled: bool('ipv6Enabled', b.ipv6Enabled),
    spireResources: { socketPath: str('spireResources.socketPath', spire.socketPath) },
  };
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value };
}
