/** Services a destination's routes send traffic to besides the destination itself (their clusters must exist). */
import { backendTarget } from './fragments/routes.js';
import type { BackendRef, OutboundPolicies } from './types.js';

export function routeBackendServices(out: OutboundPolicies): string[] {
  const refs: BackendRef[] = [
    ...out.httpRules.flatMap((r) => [
      ...(r.default.backendRefs ?? []),
      ...(r.default.filters ?? []).flatMap((f) => {
        const ref = f.requestMirror?.backendRef;
        return f.type === 'RequestMirror' && ref ? [ref] : [];
      }),
    ]),
    ...(out.tcpRule?.default.backendRefs ?? []),
  ];
  const services = new Set(refs.flatMap((r) => backendTarget(r)?.service ?? []));
  services.delete(out.service);
  return [...services].sort();
}
