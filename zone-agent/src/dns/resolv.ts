/**
 * Where the resolver forwards names it does not own: `--dns-upstream host[:port]`, else the first `nameserver`
 * of /etc/resolv.conf (as Kuma's DNS proxy does), else 127.0.0.1:53 (glibc's default when none is listed).
 */
import { lookup } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';

export interface Upstream {
  readonly host: string;
  readonly port: number;
  /** `udp4` or `udp6`, for the forwarding socket. */
  readonly family: 4 | 6;
}

/** First `nameserver` of a resolv.conf text, without a zone index (`fe80::1%eth0`); undefined when none. */
export function firstNameserver(text: string): string | undefined {
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const m = /^nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const host = m[1]!.replace(/%.*$/, '');
    if (isIP(host)) return host;
  }
  return undefined;
}

/** Splits `host`, `host:port`, `[v6]` or `[v6]:port` (port defaults to 53). */
export function splitHostPort(v: string): { host: string; port: number } {
  const bracket = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(v);
  if (bracket) return { host: bracket[1]!, port: bracket[2] ? Number(bracket[2]) : 53 };
  if (isIP(v) === 6) return { host: v, port: 53 };
  const i = v.lastIndexOf(':');
  if (i > 0) return { host: v.slice(0, i), port: Number(v.slice(i + 1)) };
  return { host: v, port: 53 };
}

/** Resolves the configured upstream once, at start: a host name is looked up (via /etc/hosts or the system). */
export async function resolveUpstream(configured: string | undefined, resolvConf = '/etc/resolv.conf'): Promise<Upstream> {
  let target: { host: string; port: number };
  if (configured) {
    target = splitHostPort(configured);
  } else {
    const text = await readFile(resolvConf, 'utf8').catch(() => '');
    target = { host: firstNameserver(text) ?? '127.0.0.1', port: 53 };
  }
  if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) throw new Error(`DNS upstream ${configured}: bad port`);
  let host = target.host;
  if (!isIP(host)) host = (await lookup(host)).address;
  return { host, port: target.port, family: isIP(host) === 6 ? 6 : 4 };
}
