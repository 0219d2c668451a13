/**
 * MeshTimeout spec (Kuma v2.14 `pkg/plugins/policies/meshtimeout/api/v1alpha1`). The shape is checked by the
 * schema; Kuma's rules (which depend on the top-level targetRef and on other sections) by `kumaRules`, run even
 * when parts of the shape failed so every violation is reported at once, with Kuma's paths and messages.
 */
import { z } from 'zod';
import {
  asRecord,
  EVEN_WITH_ISSUES,
  exclusiveWithRules,
  forbidSection,
  match,
  narrowSectionKinds,
  requireSomeSection,
  sectionNameOnlyForInbound,
  signedDuration,
  targetRef,
  TO_KINDS,
  topLevelRef,
} from '../common.js';


const HTTP_FIELDS = ['requestTimeout', 'streamIdleTimeout', 'maxStreamDuration', 'maxConnectionDuration', 'requestHeadersTimeout'] as const;

const conf = z.strictObject({
  connectionTimeout: signedDuration().optional(),
  idleTimeout: signedDuration().optional(),
  http: z.strictObject(Object.fromEntries(HTTP_FIELDS.map((f) => [f, signedDuration().optional()])) as Record<(typeof HTTP_FIELDS)[number], z.ZodOptional<ReturnType<typeof signedDuration>>>).optional(),
});

/** Kuma's universal (system-role) top-level kinds for MeshTimeout. */
const TOP_KINDS = ['Mesh', 'MeshSubset', 'Dataplane', 'MeshGateway', 'MeshService', 'MeshServiceSubset', 'MeshHTTPRoute'] as const;
/** Under a MeshGateway or MeshHTTPRoute, `to` may only name the whole mesh or an external service. */
const ROUTE_OR_GATEWAY = new Set(['MeshGateway', 'MeshHTTPRoute']);

const isNegative = (v: unknown) => typeof v === 'string' && v.startsWith('-');
const isZero = (v: unknown) => typeof v === 'string' && /^-?(0+(\.0+)?(ns|us|µs|ms|s|m|h)?)+$/.test(v);

/** Kuma's `validateDefault` for one `default` (and, for rules matching a spiffeID, what it cannot condition). */
function checkDefault(ctx: z.RefinementCtx, path: (string | number)[], raw: unknown, top: string, spiffeConditioned: boolean): void {
  const d = asRecord(raw) ?? {};
  const http = asRecord(d.http);
  if (spiffeConditioned) {
    const msg = "can't be specified when matches contain spiffeID because this field cannot be conditioned on source identity";
    for (const f of ['connectionTimeout', 'idleTimeout']) if (d[f] !== undefined) ctx.addIssue({ code: 'custom', path: [...path, f], message: msg });
    for (const f of ['requestHeadersTimeout', 'maxStreamDuration', 'maxConnectionDuration']) if (http?.[f] !== undefined) ctx.addIssue({ code: 'custom', path: [...path, 'http', f], message: msg });
  }
  if (d.connectionTimeout === undefined && d.idleTimeout === undefined && d.http === undefined) {
    ctx.addIssue({ code: 'custom', path, message: 'at least one timeout should be configured' });
    return;
  }
  if (top === 'MeshHTTPRoute') {
    const msg = "can't be specified when top-level TargetRef is referencing MeshHTTPRoute";
    for (const f of ['connectionTimeout', 'idleTimeout']) if (d[f] !== undefined) ctx.addIssue({ code: 'custom', path: [...path, f], message: msg });
    for (const f of ['maxStreamDuration', 'maxConnectionDuration']) if (http?.[f] !== undefined) ctx.addIssue({ code: 'custom', path: [...path, 'http', f], message: msg });
  }
  if (isNegative(d.connectionTimeout) || isZero(d.connectionTimeout)) ctx.addIssue({ code: 'custom', path: [...path, 'connectionTimeout'], message: 'must be greater than zero when defined' });
  if (isNegative(d.idleTimeout)) ctx.addIssue({ code: 'custom', path: [...path, 'idleTimeout'], message: 'must not be negative when defined' });
  if (http) {
    if (['requestTimeout', 'streamIdleTimeout', 'maxStreamDuration', 'maxConnectionDuration'].every((f) => http[f] === undefined)) {
      ctx.addIssue({ code: 'custom', path: [...path, 'http'], message: 'at least one timeout in this section should be configured' });
    }
    for (const f of HTTP_FIELDS) if (isNegative(http[f])) ctx.addIssue({ code: 'custom', path: [...path, 'http', f], message: 'must not be negative when defined' });
  }
}

function kumaRules(spec: unknown, ctx: z.RefinementCtx): void {
  const s = asRecord(spec);
  const top = topLevelRef(spec)?.kind ?? 'Mesh';
  const list = (k: string) => (Array.isArray(s?.[k]) ? (s[k] as unknown[]) : []);
  if (!ROUTE_OR_GATEWAY.has(top)) list('from').forEach((item, i) => checkDefault(ctx, ['from', i, 'default'], asRecord(item)?.default, top, false));
  list('to').forEach((item, i) => checkDefault(ctx, ['to', i, 'default'], asRecord(item)?.default, top, false));
  list('rules').forEach((item, i) => {
    const matches = Array.isArray(asRecord(item)?.matches) ? (asRecord(item)!.matches as unknown[]) : [];
    const spiffe = matches.some((m) => asRecord(m)?.spiffeID !== undefined);
    checkDefault(ctx, ['rules', i, 'default'], asRecord(item)?.default, top, spiffe);
  });
}

export const meshTimeoutSpec = z
  .strictObject({
    targetRef: targetRef(TOP_KINDS).optional(),
    // A missing `default` is Kuma's empty one ("at least one timeout should be configured").
    to: z.array(z.strictObject({ targetRef: targetRef(TO_KINDS), default: conf.default({}) })).optional(),
    from: z.array(z.strictObject({ targetRef: targetRef(['Mesh']), default: conf.default({}) })).optional(),
    // Inbound rules; `matches` narrows a rule to the selected clients (an empty match is an error).
    rules: z.array(z.strictObject({ matches: z.array(match({ requireSome: true })).optional(), default: conf.default({}) })).optional(),
  })
  .superRefine(sectionNameOnlyForInbound(['from', 'rules']), EVEN_WITH_ISSUES)
  .superRefine(exclusiveWithRules(['to', 'from']), EVEN_WITH_ISSUES)
  .superRefine(requireSomeSection(['to', 'from', 'rules']))
  .superRefine(forbidSection('from', (t) => ROUTE_OR_GATEWAY.has(t.kind)), EVEN_WITH_ISSUES)
  .superRefine(narrowSectionKinds('to', TO_KINDS, (t) => (ROUTE_OR_GATEWAY.has(t) ? ['Mesh', 'MeshExternalService'] : undefined)), EVEN_WITH_ISSUES)
  .superRefine(kumaRules, EVEN_WITH_ISSUES);
