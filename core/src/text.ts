/**
 * Small string rules shared by the HTTP API, KDS and configuration parsing, kept in one place so a zone name
 * accepted by one boundary is never refused by another.
 */

/** A lowercase RFC 1123 DNS label: zone names, tenant ids (Kuma's rule for zone names). */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export const isDnsLabel = (v: string): boolean => DNS_LABEL.test(v);

/** Compares two strings without an early exit, so timing says nothing about how much of a secret matched. */
export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
