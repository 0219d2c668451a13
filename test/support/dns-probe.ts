/**
 * Times a zone agent's resolver coming up: the first UDP answer carrying `ip` for `name`, one query every
 * 20 ms from one socket (refused while nothing listens: it keeps asking). Spawning `dig` that often would
 * take CPU from the agent being timed on a small host; callers confirm the answer with `dig` afterwards.
 */
import { createSocket } from 'node:dgram';
import * as dnsPacket from 'dns-packet';
import { query } from '@ursa/zone-agent';

export function firstUdpAnswer(port: number, name: string, ip: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    const finish = (err?: Error) => {
      clearInterval(tick);
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve(Date.now());
    };
    sock.on('error', () => {});
    sock.on('message', (msg) => {
      try {
        if ((dnsPacket.decode(msg).answers ?? []).some((a) => a.type === 'A' && a.data === ip)) finish();
      } catch {
        /* not for us */
      }
    });
    const tick = setInterval(() => sock.send(query(name), port, '127.0.0.1'), 20);
    const timer = setTimeout(() => finish(new Error(`no DNS answer ${name} -> ${ip} within ${timeoutMs} ms`)), timeoutMs);
  });
}
