/** MeshHTTPRoute spec (Kuma v2.14 `pkg/plugins/policies/meshhttproute/api/v1alpha1`). */
import { z } from 'zod';
import {
  backendRef,
  DEFINED,
  EVEN_WITH_ISSUES,
  headerMatch,
  headerName,
  narrowSectionKinds,
  percentage,
  port,
  requireSomeField,
  sectionNameOnlyForInbound,
  targetRef,
  topLevelRef,
} from '../common.js';

// Kuma allows MeshGateway only for system-role policies; the role is not part of the spec.
const TOP_KINDS = ['Mesh', 'MeshGateway', 'MeshSubset', 'MeshService', 'MeshServiceSubset', 'Dataplane'] as const;
const DESTINATION_KINDS = ['MeshService', 'MeshExternalService', 'MeshMultiZoneService'] as const;
const BACKEND_KINDS = ['MeshService', 'MeshServiceSubset', 'MeshExternalService', 'MeshMultiZoneService'] as const;

/** Gateway-API `PreciseHostname`: an RFC 1123 subdomain that is not an IP address. */
const preciseHostname = () =>
  z
    .string({ error: 'must be a string' })
    .refine((v) => !/^[0-9.]+$/.test(v) && !v.includes(':'), { error: 'cannot be an IP address' })
    .refine((v) => v.length <= 253 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(v), {
      error: 'must be a lowercase RFC 1123 subdomain',
    });

const pathMatch = z
  .strictObject({
    type: z.enum(['Exact', 'PathPrefix', 'RegularExpression'], { error: 'must be one of: Exact, PathPrefix, RegularExpression' }),
    value: z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }),
  })
  .superRefine((p, ctx) => {
    if (p.type === 'RegularExpression' || (p.type === 'PathPrefix' && p.value === '/')) return;
    if (p.type === 'PathPrefix' && p.value.endsWith('/')) {
      ctx.addIssue({
        code: 'custom',
        path: ['value'],
        message: 'does not need a trailing slash because only a `/`-separated prefix or an entire path is matched',
      });
    }
    if (!p.value.startsWith('/')) ctx.addIssue({ code: 'custom', path: ['value'], message: 'must be an absolute path' });
  });

const METHODS = ['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE'] as const;
const httpMatch = z.strictObject({
  path: pathMatch.optional(),
  method: z.enum(METHODS, { error: `must be one of: ${METHODS.join(', ')}` }).optional(),
  queryParams: z
    .array(
      z.strictObject({
        type: z.enum(['Exact', 'RegularExpression'], { error: 'must be one of: Exact, RegularExpression' }),
        name: z.string({ error: 'must be a string' }).min(1, { error: 'must not be empty' }),
        value: z.string({ error: 'must be a string' }),
      }),
    )
    .superRefine((params, ctx) => {
      const seen = new Set<string>();
      params.forEach((p, i) => {
        if (seen.has(p.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `multiple entries for name ${p.name}` });
        seen.add(p.name);
      });
    })
    .optional(),
  headers: z.array(headerMatch()).optional(),
});

const headerList = () =>
  z.array(z.strictObject({ name: headerName(), value: z.string({ error: 'must be a string' }) })).max(16, { error: 'must have at most 16 items' });
const headerModifier = z
  .strictObject({
    set: headerList().optional(),
    add: headerList().optional(),
    remove: z.array(headerName()).max(16, { error: 'must have at most 16 items' }).optional(),
  })
  .superRefine(requireSomeField(['set', 'add', 'remove']))
  .superRefine((m, ctx) => {
    // Only one action per header name.
    const seen = new Set<string>();
    const check = (name: string, path: (string | number)[]) => {
      if (seen.has(name)) ctx.addIssue({ code: 'custom', path, message: 'duplicate header name' });
      seen.add(name);
    };
    m.set?.forEach((h, i) => check(h.name, ['set', i, 'name']));
    m.add?.forEach((h, i) => check(h.name, ['add', i, 'name']));
    m.remove?.forEach((name, i) => check(name, ['remove', i]));
  });

const pathModifier = z.strictObject({
  type: z.enum(['ReplaceFullPath', 'ReplacePrefixMatch'], { error: 'must be one of: ReplaceFullPath, ReplacePrefixMatch' }),
  replaceFullPath: z.string({ error: 'must be a string' }).optional(),
  replacePrefixMatch: z.string({ error: 'must be a string' }).optional(),
});

const FILTER_TYPES = ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestRedirect', 'URLRewrite', 'RequestMirror'] as const;
const FILTER_FIELD = {
  RequestHeaderModifier: 'requestHeaderModifier',
  ResponseHeaderModifier: 'responseHeaderModifier',
  RequestRedirect: 'requestRedirect',
  URLRewrite: 'urlRewrite',
  RequestMirror: 'requestMirror',
} as const;

const filter = z
  .strictObject({
    type: z.enum(FILTER_TYPES, { error: `must be one of: ${FILTER_TYPES.join(', ')}` }),
    requestHeaderModifier: headerModifier.optional(),
    responseHeaderModifier: headerModifier.optional(),
    requestRedirect: z
      .strictObject({
        scheme: z.enum(['http', 'https'], { error: 'must be one of: http, https' }).optional(),
        hostname: preciseHostname().optional(),
        path: pathModifier.optional(),
        port: port().optional(),
        statusCode: z.union([z.literal(301), z.literal(302), z.literal(303), z.literal(307), z.literal(308)], {
          error: 'must be one of: 301, 302, 303, 307, 308',
        }).optional(),
      })
      .optional(),
    urlRewrite: z
      .strictObject({
        hostname: preciseHostname().optional(),
        path: pathModifier.optional(),
        hostToBackendHostname: z.boolean({ error: 'must be a boolean' }).optional(),
      })
      .superRefine((r, ctx) => {
        if (r.hostToBackendHostname && r.hostname !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['hostToBackendHostname'], message: 'cannot be set together with hostname' });
        }
      })
      .optional(),
    requestMirror: z
      .strictObject({ backendRef: backendRef(['MeshService', 'MeshServiceSubset']), percentage: percentage().optional() })
      .optional(),
  })
  .superRefine((f, ctx) => {
    const field = FILTER_FIELD[f.type];
    if (f[field] === undefined) ctx.addIssue({ code: 'custom', path: [field], message: 'must be defined' });
  });

const rule = z
  .strictObject({
    // Kuma accepts a rule without matches (all requests) and without default.
    matches: z.array(httpMatch).min(1, { error: 'must not be empty' }).optional(),
    default: z.strictObject({ filters: z.array(filter).optional(), backendRefs: z.array(backendRef(BACKEND_KINDS)).optional() }).optional(),
  })
  .superRefine((r, ctx) => {
    // A prefix replacement needs every match to be a path prefix.
    if (!r.matches || !r.matches.some((m) => m.path?.type !== 'PathPrefix')) return;
    r.default?.filters?.forEach((f, i) => {
      const field = f.type === 'RequestRedirect' ? 'requestRedirect' : f.type === 'URLRewrite' ? 'urlRewrite' : undefined;
      if (field && f[field]?.path?.replacePrefixMatch !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['default', 'filters', i, field, 'path', 'replacePrefixMatch'],
          message: 'can only appear if all matches match a path prefix',
        });
      }
    });
  });

const to = z.strictObject({
  targetRef: targetRef(['Mesh', ...DESTINATION_KINDS]),
  hostnames: z.array(z.string({ error: 'must be a string' })).optional(),
  rules: z.array(rule).optional(),
});

export const meshHTTPRouteSpec = z
  .strictObject({
    targetRef: targetRef(TOP_KINDS).optional(),
    to: z.array(to).optional(),
  })
  // Under a MeshGateway the destination is `Mesh`; otherwise a service.
  .superRefine(
    narrowSectionKinds('to', ['Mesh', ...DESTINATION_KINDS], (top) => (top === 'MeshGateway' ? ['Mesh'] : DESTINATION_KINDS)),
    EVEN_WITH_ISSUES,
  )
  .superRefine(sectionNameOnlyForInbound([]), EVEN_WITH_ISSUES)
  .superRefine((spec, ctx) => {
    const gateway = topLevelRef(spec)?.kind === 'MeshGateway';
    spec.to?.forEach((item, i) => {
      if (!gateway && item.hostnames?.length) ctx.addIssue({ code: 'custom', path: ['to', i, 'hostnames'], message: 'must not be defined' });
      item.rules?.forEach((r, j) => {
        const path = ['to', i, 'rules', j, 'default'];
        r.default?.filters?.forEach((f, k) => {
          if (!gateway && f.urlRewrite?.hostToBackendHostname) {
            ctx.addIssue({ code: 'custom', path: [...path, 'filters', k, 'urlRewrite', 'hostToBackendHostname'], message: 'can only be set with MeshGateway' });
          }
        });
        // On a gateway a rule needs backends unless it redirects.
        if (gateway && !r.default?.backendRefs?.length && !r.default?.filters?.some((f) => f.type === 'RequestRedirect')) {
          ctx.addIssue({ code: 'custom', path: [...path, 'backendRefs'], message: 'must not be empty' });
        }
      });
    });
  });
