/**
 * The dp-server's TLS certificate (Kuma's "general TLS" certificate that kuma-dp verifies with
 * `--ca-cert-file`). Either given by flags (`--xds-tls-cert-file`, `--xds-tls-key-file`; the CA kuma-dp
 * needs is then the operator's), or generated on the first start and kept under `<data-dir>/dp-server/`:
 * a self-signed CA (`ca.pem`, printed by `zone-agent ca-cert`) and a server certificate it signs, valid for
 * localhost, this host's name, the loopback addresses, the xDS address and `--xds-tls-hostnames`. A later
 * start reuses them; the server certificate is re-issued (same CA, so kuma-dp's CA file stays valid) when
 * the wanted names change or it is within a month of expiry.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { generateCa, issueLeaf } from '@ursa/proto';

export interface DpServerTls {
  readonly certPem: string;
  readonly keyPem: string;
  /** What kuma-dp's `--ca-cert-file` must hold: the generated CA, or the given certificate itself. */
  readonly caPem: string;
  /** Where that CA is on disk. */
  readonly caFile: string;
  /** DNS and IP names the server certificate is valid for. */
  readonly names: { readonly dns: readonly string[]; readonly ips: readonly string[] };
}

export interface TlsSource {
  readonly dataDir: string;
  readonly xdsHost: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  /** Extra names for the generated certificate. */
  readonly hostnames?: readonly string[];
}

const CA_SECONDS = 10 * 365 * 24 * 3600;
const SERVER_SECONDS = 365 * 24 * 3600;
const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;

export const dpServerDir = (dataDir: string) => join(dataDir, 'dp-server');
export const caFileOf = (dataDir: string) => join(dpServerDir(dataDir), 'ca.pem');

const isIp = (s: string) => /^\d{1,3}(\.\d{1,3}){3}$/.test(s) || (s.includes(':') && /^[0-9a-fA-F:]+$/.test(s));

/** Names the generated certificate covers. */
export function wantedNames(src: Pick<TlsSource, 'xdsHost' | 'hostnames'>): { dns: string[]; ips: string[] } {
  const all = new Set(['localhost', hostname(), '127.0.0.1', '::1', ...(src.hostnames ?? [])]);
  // An unspecified address names no host a client could dial.
  if (src.xdsHost !== '0.0.0.0' && src.xdsHost !== '::' && src.xdsHost !== '') all.add(src.xdsHost);
  const names = [...all].filter((n) => n !== '');
  return { dns: names.filter((n) => !isIp(n)).sort(), ips: names.filter(isIp).sort() };
}

/** Names in a certificate, from Node's rendering of its subjectAltName. */
export function certNames(certPem: string): { dns: string[]; ips: string[] } {
  const san = new X509Certificate(certPem).subjectAltName ?? '';
  const parts = san.split(/,\s*/).filter(Boolean);
  const dns = parts.filter((p) => p.startsWith('DNS:')).map((p) => p.slice(4));
  const ips = parts.filter((p) => p.startsWith('IP Address:')).map((p) => normalizeIp(p.slice(11)));
  return { dns: dns.sort(), ips: ips.sort() };
}

/** Node renders `::1` as `0:0:0:0:0:0:0:1`; compare in one form. */
function normalizeIp(ip: string): string {
  return ip === '0:0:0:0:0:0:0:1' ? '::1' : ip.toLowerCase();
}

const readOpt = (p: string) => readFile(p, 'utf8').catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(err)));

/** Writes atomically, private files 0600. */
async function put(path: string, text: string, mode: number): Promise<void> {
  await writeFile(`${path}.tmp`, text, { mode });
  await rename(`${path}.tmp`, path);
}

export async function loadDpServerTls(src: TlsSource, log?: { info(m: string): void }): Promise<DpServerTls> {
  if (src.certFile || src.keyFile) {
    if (!src.certFile || !src.keyFile) throw new Error('--xds-tls-cert-file and --xds-tls-key-file go together');
    const [certPem, keyPem] = await Promise.all([readFile(src.certFile, 'utf8'), readFile(src.keyFile, 'utf8')]);
    return { certPem, keyPem, caPem: certPem, caFile: src.certFile, names: certNames(certPem) };
  }
  const dir = dpServerDir(src.dataDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const files = { ca: join(dir, 'ca.pem'), caKey: join(dir, 'ca-key.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server-key.pem') };
  let [caPem, caKey, certPem, keyPem] = await Promise.all([readOpt(files.ca), readOpt(files.caKey), readOpt(files.cert), readOpt(files.key)]);
  if (!caPem || !caKey) {
    const ca = await generateCa({ commonName: `ursa zone agent dp-server CA (${hostname()})`, validForSeconds: CA_SECONDS });
    caPem = ca.certPem;
    caKey = ca.keyPem;
    await put(files.caKey, caKey, 0o600);
    await put(files.ca, caPem, 0o644);
    certPem = undefined;
    log?.info(`generated the dp-server CA ${files.ca} (kuma-dp --ca-cert-file)`);
  }
  const want = wantedNames(src);
  const fresh = certPem && keyPem && (() => {
    const have = certNames(certPem);
    const x = new X509Certificate(certPem);
    return JSON.stringify(have) === JSON.stringify(want) && new Date(x.validTo).getTime() - Date.now() > RENEW_BEFORE_MS && x.checkIssued(new X509Certificate(caPem));
  })();
  if (!fresh || !certPem || !keyPem) {
    const leaf = await issueLeaf({ caCertPem: caPem, caKeyPem: caKey, uris: [], dnsNames: want.dns, ipAddresses: want.ips, validForSeconds: SERVER_SECONDS });
    certPem = leaf.certPem;
    keyPem = leaf.keyPem!;
    await put(files.key, keyPem, 0o600);
    await put(files.cert, certPem, 0o644);
    log?.info(`issued the dp-server certificate for ${[...want.dns, ...want.ips].join(', ')}`);
  }
  return { certPem, keyPem, caPem, caFile: files.ca, names: want };
}
