/**
 * ZoneEgress (`api/mesh/v1alpha1/zoneegress.proto`, `kuma-multizone.md` §3.7): `{zone, networking{address, port, admin}}`.
 * Rules from Kuma's `zone_egress_validator.go`: the port is required and in range, a set address must be an IP or a
 * domain name, and the admin port must differ from the port when the egress listens on loopback or a wildcard.
 */
import { addressProblems, envoyAdmin, lenient, obj, overlapsLoopback, read, requiredPort, str } from './shared.js';

const networking = obj({
  address: str().optional(),
  port: requiredPort(),
  admin: envoyAdmin().optional(),
}).superRefine((n, ctx) => {
  const address = read.str(n, 'address');
  const admin = read.obj(n, 'admin');
  if (admin && read.num(admin, 'port') === read.num(n, 'port') && overlapsLoopback(address)) {
    ctx.addIssue({ code: 'custom', path: ['admin', 'port'], message: 'must differ from port' });
  }
  if (address !== '') {
    for (const message of addressProblems(address)) ctx.addIssue({ code: 'custom', path: ['address'], message });
  }
}, lenient);

export const zoneEgressSpec = obj({
  /** Set by the global to the zone the egress serves; empty in its own zone. */
  zone: str().optional(),
  networking,
});
