/**
 * ZoneIngress (`api/mesh/v1alpha1/zone_ingress.proto`, `kuma-multizone.md` §3.7 and §4):
 * `{zone, networking{address, advertisedAddress, port, advertisedPort, admin{port}}, availableServices[...]}`.
 *
 * Rules from Kuma's `zone_ingress_validator.go`:
 * - `advertisedAddress` and `advertisedPort` are both set or both unset;
 * - set addresses are IPs or domain names; the port is required, ports are in range;
 * - the admin port differs from the (advertised) port when that address is loopback or a wildcard;
 * - every available service's tags contain `kuma.io/service`.
 */
import { uint32 } from '../common.js';
import {
  addressProblems,
  array,
  bool,
  envoyAdmin,
  kumaTags,
  lenient,
  obj,
  optionalPort,
  overlapsLoopback,
  read,
  requiredPort,
  str,
} from './shared.js';

const networking = obj({
  address: str().optional(),
  advertisedAddress: str().optional(),
  port: requiredPort(),
  advertisedPort: optionalPort().optional(),
  admin: envoyAdmin().optional(),
}).superRefine((n, ctx) => {
  const address = read.str(n, 'address');
  const port = read.num(n, 'port');
  const advertisedAddress = read.str(n, 'advertisedAddress');
  const advertisedPort = read.num(n, 'advertisedPort');
  const admin = read.obj(n, 'admin');
  if (admin) {
    const adminPort = read.num(admin, 'port');
    if ((adminPort === port && overlapsLoopback(address)) || (adminPort === advertisedPort && overlapsLoopback(advertisedAddress))) {
      ctx.addIssue({ code: 'custom', path: ['admin', 'port'], message: 'must differ from port' });
    }
  }
  if (advertisedAddress === '' && advertisedPort !== 0) {
    ctx.addIssue({ code: 'custom', path: ['advertisedAddress'], message: 'has to be defined with advertisedPort' });
  }
  if (advertisedPort === 0 && advertisedAddress !== '') {
    ctx.addIssue({ code: 'custom', path: ['advertisedPort'], message: 'has to be defined with advertisedAddress' });
  }
  if (address !== '') {
    for (const message of addressProblems(address)) ctx.addIssue({ code: 'custom', path: ['address'], message });
  }
  if (advertisedAddress !== '') {
    for (const message of addressProblems(advertisedAddress)) ctx.addIssue({ code: 'custom', path: ['advertisedAddress'], message });
  }
}, lenient);

/** One unique tag set of endpoints this ingress can route to (computed by the zone, `kuma-multizone.md` §4.1). */
const availableService = obj({
  tags: kumaTags({ requireService: true }),
  instances: uint32().optional(),
  mesh: str().optional(),
  externalService: bool().optional(),
});

export const zoneIngressSpec = obj({
  /** Set by the global to the ingress's zone; empty in its own zone. */
  zone: str().optional(),
  networking,
  availableServices: array(availableService).optional(),
});
