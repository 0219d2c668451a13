/**
 * MeshExternalService spec (Kuma 2.8+, `pkg/core/resources/apis/meshexternalservice/api/v1alpha1`):
 * `{match{type, port, protocol}, endpoints[{address, port, priority}], tls{enabled, version{min, max},
 * allowRenegotiation, verification{mode, serverName, subjectAltNames[{type, value}], caCert, clientCert,
 * clientKey}}, extension{type, config}}`.
 *
 * Field types are checked by zod; Kuma's rules (`validator.go`) run in one refinement that reads the raw
 * input, so every violation is reported at once with Kuma's paths and messages. As in Kuma, endpoints and
 * tls are the extension's business when `extension` is set.
 */
import { z } from 'zod';
import { EVEN_WITH_ISSUES, isRecord } from '../common.js';
import { isDNSName, isIP, read } from '../core/shared.js';

const PROTOCOLS = ['tcp', 'grpc', 'http', 'http2'] as const;
const MODES = ['SkipSAN', 'SkipCA', 'SkipAll', 'Secured'] as const;
const SAN_TYPES = ['Prefix', 'Exact'] as const;
const TLS_VERSIONS = ['TLSAuto', 'TLS10', 'TLS11', 'TLS12', 'TLS13'] as const;
const PORT = 'port must be a valid (1-65535)';

/** Kuma's `MakeFieldMustBeOneOfErr`. */
const oneOf = (field: string, values: readonly string[]) => `"${field}" must be one of [${values.map((v) => `"${v}"`).join(', ')}]`;
const validPort = (p: unknown) => typeof p === 'number' && Number.isInteger(p) && p >= 1 && p <= 65535;

const s = () => z.string({ error: 'must be a string' });
const n = () => z.number({ error: 'must be a number' }).int({ error: 'must be an integer' });
const b = () => z.boolean({ error: 'must be a boolean' });
/** Kuma's `DataSource`: one of a Secret name, inline base64, inline text or a file path. */
const dataSource = () => z.strictObject({ secret: s().optional(), inline: s().optional(), inlineString: s().optional(), file: s().optional() }, { error: 'must be an object' });

export const meshExternalServiceSpec = z
  .strictObject({
    match: z.strictObject({ type: s().optional(), port: n().optional(), protocol: s().optional() }, { error: (i) => (i.input === undefined ? 'must be defined' : 'must be an object') }),
    endpoints: z.array(z.strictObject({ address: s().optional(), port: n().optional(), priority: n().min(0, { error: 'must not be negative' }).optional() }), { error: 'must be an array' }).optional(),
    tls: z
      .strictObject({
        enabled: b().optional(),
        version: z.strictObject({ min: s().optional(), max: s().optional() }).optional(),
        allowRenegotiation: b().optional(),
        verification: z
          .strictObject({
            mode: s().optional(),
            serverName: s().optional(),
            subjectAltNames: z.array(z.strictObject({ type: s().optional(), value: s().optional() })).optional(),
            caCert: dataSource().optional(),
            clientCert: dataSource().optional(),
            clientKey: dataSource().optional(),
          })
          .optional(),
      })
      .optional(),
    extension: z.strictObject({ type: s().optional(), config: z.unknown().optional() }).optional(),
  })
  .superRefine((spec, ctx) => {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    const match = read.obj(spec, 'match');
    if (match) {
      const type = read.str(match, 'type');
      if (type !== '' && type !== 'HostnameGenerator') issue(['match', 'type'], `unrecognized type '${type}' - only 'HostnameGenerator' is supported`);
      if (!validPort(match.port)) issue(['match', 'port'], PORT);
      if (!(PROTOCOLS as readonly string[]).includes(read.str(match, 'protocol'))) issue(['match', 'protocol'], oneOf('protocol', PROTOCOLS));
    }
    const extension = read.obj(spec, 'extension');
    if (!extension) {
      read.list(spec, 'endpoints').forEach((e, i) => {
        const address = read.str(e, 'address');
        if (isIP(address) || isDNSName(address)) {
          if (!validPort(e.port)) issue(['endpoints', i, 'port'], PORT);
        } else issue(['endpoints', i, 'address'], 'address has to be a valid IP or hostname');
      });
      const tls = read.obj(spec, 'tls');
      if (tls) tlsProblems(tls, issue);
    } else if (read.str(extension, 'type') === '') issue(['extension', 'type'], 'must not be empty');
  }, EVEN_WITH_ISSUES);

function tlsProblems(tls: Record<string, unknown>, issue: (path: (string | number)[], message: string) => void): void {
  const version = read.obj(tls, 'version');
  if (version) {
    const rank = (f: 'min' | 'max') => {
      const v = version[f];
      if (v === undefined) return undefined;
      const i = (TLS_VERSIONS as readonly unknown[]).indexOf(v);
      if (i < 0) issue(['tls', 'version', f], oneOf(f, TLS_VERSIONS));
      return i;
    };
    const min = rank('min');
    const max = rank('max');
    // TLSAuto (0) on either side leaves the choice to Envoy.
    if (min !== undefined && max !== undefined && min > 0 && max > 0 && min > max) issue(['tls', 'version', 'min'], 'min version must be lower than max');
  }
  const v = read.obj(tls, 'verification');
  if (!v) return;
  const at = ['tls', 'verification'];
  if (typeof v.serverName === 'string' && !isDNSName(v.serverName)) issue([...at, 'serverName'], 'must be a valid DNS name');
  const mode = read.str(v, 'mode');
  if (mode !== '' && !(MODES as readonly string[]).includes(mode)) issue([...at, 'mode'], oneOf('mode', MODES));
  read.list(v, 'subjectAltNames').forEach((san, i) => {
    if (!(SAN_TYPES as readonly string[]).includes(read.str(san, 'type'))) issue([...at, 'subjectAltNames', i, 'type'], oneOf('type', SAN_TYPES));
  });
  const cert = isRecord(v.clientCert);
  const key = isRecord(v.clientKey);
  if (cert && !key) issue([...at, 'clientKey'], 'must be defined when clientCert is defined');
  if (!cert && key) issue([...at, 'clientCert'], 'must be defined when clientKey is defined');
}
