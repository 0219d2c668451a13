/**
 * `POST /bootstrap` (Kuma's BootstrapHandler): reads kuma-dp's BootstrapRequest and answers the Envoy
 * bootstrap, as YAML (`text/x-yaml`, what older kuma-dp reads) or, for `Accept: application/json`, Kuma's
 * BootstrapResponse (`{bootstrap: <base64 YAML>, kumaSidecarConfiguration: {networking, metrics}}`), with
 * Kuma's `kuma-bootstrap-version: 3` header. Errors are plain text naming the field, with Kuma's codes:
 * 422 for an invalid request or resource (and a missing token when tokens are required), 400 when the
 * host kuma-dp dialled is not in the dp-server certificate or its `--ca-cert-file` is not a CA, 404 for a
 * proxy whose resource is neither sent nor registered; 401/403 for an inline token this zone would refuse
 * at the xDS stream anyway (earlier than Kuma, which checks it only there). Nothing is written here: the
 * resource is registered when the proxy opens its ADS stream (`xds/self-registration.ts`), as in Kuma.
 */
import { X509Certificate } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { stringify } from 'yaml';
import type { Resource, ResourceStore } from '@ursa/core';
import type { DataplaneResource } from '../model/dataplane.js';
import type { DataplaneTokens } from '../xds/tokens.js';
import { buildBootstrap, DEFAULT_ADMIN_PORT } from './bootstrap-config.js';
import { parseBootstrapRequest } from './bootstrap-request.js';
import { KIND_OF_PROXY_TYPE, parseProxyResource, type FieldProblem } from './proxy-resource.js';

export interface BootstrapDeps {
  readonly store: Pick<ResourceStore, 'get'>;
  readonly tenant: string;
  readonly zone: string;
  /** Undefined: dataplane auth is off. */
  readonly tokens: DataplaneTokens | undefined;
  /** The dp-server certificate's names and the CA proxies verify it with. */
  readonly tls: { readonly caPem: string; readonly names: { readonly dns: readonly string[]; readonly ips: readonly string[] } };
  readonly xdsPort: number;
  /** Envoy's admin address (default 127.0.0.1) and the port when the resource names none (default 9901; 0: no admin). */
  readonly adminAddress?: string;
  readonly defaultAdminPort?: number;
}

export interface BootstrapAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

const MAX_BODY_BYTES = 1024 * 1024;

const text = (status: number, body: string): BootstrapAnswer => ({ status, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: body.endsWith('\n') ? body : `${body}\n` });
const invalid = (problems: readonly FieldProblem[]): BootstrapAnswer =>
  text(422, `invalid bootstrap request: ${problems.map((p) => (p.field ? `${p.field}: ${p.message}` : p.message)).join('; ')}`);

/** The host part of a Host header (`[::1]:5678` → `::1`). */
export function hostOf(header: string | undefined): string {
  const h = (header ?? '').trim();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') > 0 ? h.indexOf(']') : undefined);
  const i = h.lastIndexOf(':');
  return i > 0 && h.indexOf(':') === i ? h.slice(0, i) : h;
}

export async function answerBootstrap(deps: BootstrapDeps, input: { readonly body: unknown; readonly host: string; readonly acceptJson: boolean }): Promise<BootstrapAnswer> {
  const parsed = parseBootstrapRequest(input.body);
  if (!parsed.ok) return invalid(parsed.problems);
  const req = parsed.value;
  if (deps.tokens && !req.dataplaneToken && !req.dataplaneTokenPath) {
    return text(422, `dataplaneToken: a dataplane token is required: issue one (zone API POST /tokens/dataplane, or the zone token for a zone ingress/egress) and pass it with kuma-dp --dataplane-token-file`);
  }
  const names = deps.tls.names;
  if (!names.dns.includes(input.host) && !names.ips.includes(input.host)) {
    return text(
      400,
      `A data plane proxy is trying to connect to the control plane using ${JSON.stringify(input.host)} address, but the certificate in the control plane has the following SANs ${JSON.stringify([...names.ips, ...names.dns])}. Either change the --cp-address in kuma-dp to one of those or start the zone agent with --xds-tls-hostnames=${input.host} (or give it a certificate for that name with --xds-tls-cert-file).`,
    );
  }
  let caPem = deps.tls.caPem;
  if (req.caCert) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(req.caCert);
    } catch {
      return text(400, 'caCert: is not a PEM certificate');
    }
    if (!cert.ca) return text(400, "caCert: A data plane proxy is trying to verify the control plane using the certificate which is not a certificate authority (basic constraint 'CA' is set to 'false'). Provide the CA that signed the zone agent's dp-server certificate (zone-agent ca-cert) with kuma-dp run --ca-cert-file=file");
    caPem = req.caCert;
  }

  const kind = KIND_OF_PROXY_TYPE[req.proxyType];
  let resource: { spec: unknown; mesh?: string; name: string } | undefined;
  if (req.dataplaneResource !== undefined) {
    const r = parseProxyResource(req.dataplaneResource, { proxyType: req.proxyType, mesh: req.mesh, name: req.name, zone: deps.zone }, 'dataplaneResource');
    if (!r.ok) return invalid(r.problems);
    const tp = r.value.spec as { networking?: { transparentProxying?: unknown; outbound?: unknown[] } };
    if (req.dataplaneConfig && req.proxyType === 'dataplane' && (tp.networking?.outbound?.length ?? 0) > 0) {
      return invalid([{ field: 'dataplaneResource.networking.outbound', message: 'should be empty since dataplane is in Transparent Proxying mode' }]);
    }
    if (req.proxyType === 'dataplane' && !(await deps.store.get(deps.tenant, { kind: 'Mesh', name: req.mesh }))) {
      return invalid([{ field: 'mesh', message: `mesh ${JSON.stringify(req.mesh)} does not exist` }]);
    }
    resource = r.value;
  } else {
    const found = await deps.store.get(deps.tenant, { kind, mesh: req.proxyType === 'dataplane' ? req.mesh : '', name: req.name });
    if (!found) {
      return text(404, `no ${kind} ${JSON.stringify(req.name)}${req.proxyType === 'dataplane' ? ` in mesh ${JSON.stringify(req.mesh)}` : ''} in zone ${deps.zone}: register it on the zone API first, or pass it with kuma-dp --dataplane-file`);
    }
    resource = found;
  }

  // Zone egress tokens are zone tokens (scope egress), which this check does not know: the stream decides.
  if (deps.tokens && req.dataplaneToken && req.proxyType !== 'egress') {
    const check = await deps.tokens.verify(req.dataplaneToken, {
      type: req.proxyType === 'dataplane' ? 'dataplane' : 'ingress',
      mesh: req.mesh,
      name: req.name,
      dataplane: req.proxyType === 'dataplane' ? (resource as unknown as DataplaneResource) : undefined,
    });
    if (!check.ok) return text(check.code === 'unauthenticated' ? 401 : 403, `dataplaneToken: ${check.message}`);
  }

  const spec = resource.spec as { networking?: { address?: string; admin?: { port?: number }; inbound?: { tags?: Record<string, string> }[]; gateway?: { tags?: Record<string, string> } } };
  const service = req.proxyType === 'ingress' ? 'ingress' : req.proxyType === 'egress' ? 'egress' : (spec.networking?.inbound?.[0]?.tags?.['kuma.io/service'] ?? spec.networking?.gateway?.tags?.['kuma.io/service'] ?? req.name);
  const bootstrap = buildBootstrap({
    request: req,
    service,
    adminPort: spec.networking?.admin?.port ?? deps.defaultAdminPort ?? DEFAULT_ADMIN_PORT,
    adminAddress: deps.adminAddress ?? '127.0.0.1',
    xdsHost: input.host,
    xdsPort: deps.xdsPort,
    caPem,
  });
  const yaml = toYaml(bootstrap);
  const headers = { 'kuma-bootstrap-version': '3' };
  if (!input.acceptJson) return { status: 200, headers: { ...headers, 'content-type': 'text/x-yaml' }, body: yaml };
  const response = {
    bootstrap: Buffer.from(yaml).toString('base64'),
    kumaSidecarConfiguration: {
      networking: { corefileTemplate: null, address: req.proxyType === 'dataplane' ? (spec.networking?.address ?? '') : '' },
      metrics: { aggregate: [] },
    },
  };
  return { status: 200, headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(response) };
}

/** Kuma's `proto.ToYAML` look: keys sorted, block style. */
export function toYaml(v: unknown): string {
  return stringify(v, { sortMapEntries: true, lineWidth: 0, aliasDuplicateObjects: false });
}

/** The HTTP/1.1 side of the dp-server: `POST /bootstrap`, and 404 for anything else. */
export function bootstrapHttpHandler(deps: BootstrapDeps, log: { warn(m: string): void; info(m: string): void }) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const send = (a: BootstrapAnswer) => res.writeHead(a.status, a.headers).end(a.body);
    if (req.url?.split('?')[0] !== '/bootstrap') return void send(text(404, `not found: the dp-server serves POST /bootstrap (and ADS gRPC)`));
    if (req.method !== 'POST') return void send({ ...text(405, 'method not allowed: use POST /bootstrap'), headers: { 'content-type': 'text/plain; charset=utf-8', allow: 'POST' } });
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        send(text(413, `the bootstrap request must be at most ${MAX_BODY_BYTES} bytes`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) return;
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch (err) {
        return void send(text(400, `the body is not JSON: ${err instanceof Error ? err.message : String(err)}`));
      }
      answerBootstrap(deps, { body, host: hostOf(req.headers.host), acceptJson: (req.headers.accept ?? '').includes('application/json') })
        .then((a) => {
          if (a.status === 200) log.info(`bootstrap for ${describe(body)}`);
          send(a);
        })
        .catch((err: unknown) => {
          log.warn(`bootstrap failed: ${err instanceof Error ? err.message : String(err)}`);
          send(text(500, 'could not generate the bootstrap; the zone agent log has the details'));
        });
    });
  };
}

function describe(body: unknown): string {
  const b = body as { mesh?: unknown; name?: unknown; proxyType?: unknown };
  return `${String(b.proxyType ?? 'dataplane')} ${String(b.mesh ?? '')}.${String(b.name ?? '')}`;
}

export type { Resource };
