/**
 * The TTL of `.mesh` answers: hard-coded in Kuma (embedded DNS proxy and Envoy DNS filter alike). Its own
 * module because the DNS server is on the agent's start-up path, which must not load the resource model.
 */
export const DNS_TTL = 30;
