/** Kuma's meta endpoints: `/`, `/_resources`, `/policies`, `/config`. */
import type { Hono } from 'hono';
import { RESOURCES } from '@ursa/proto';
import { BASED_ON_KUMA, PRODUCT, VERSION } from '../../version.js';
import type { AppEnv } from '../env.js';

export interface MetaOptions {
  readonly instanceId: string;
  readonly hostname: string;
  /** The effective configuration, secrets already masked. */
  readonly config: Readonly<Record<string, unknown>>;
}

/** `GET /`, which Kuma serves without authentication. */
export function mountIndexRoute(app: Hono<AppEnv>, opts: MetaOptions): void {
  // Kuma's index. `clusterId` is the tenant served: each tenant of the hosted plane is, to its users, a
  // control plane of its own.
  app.get('/', (c) =>
    c.json({
      hostname: opts.hostname,
      tagline: PRODUCT,
      product: PRODUCT,
      version: VERSION,
      basedOnKuma: BASED_ON_KUMA,
      instanceId: opts.instanceId,
      clusterId: c.var.tenant,
      gui: 'The gui is available at /gui',
    }),
  );
}

export function mountMetaRoutes(app: Hono<AppEnv>, opts: MetaOptions): void {
  app.get('/_resources', (c) =>
    c.json({
      resources: RESOURCES.map((d) => ({
        name: d.kind,
        scope: d.scope === 'mesh' ? 'Mesh' : 'Global',
        readOnly: d.readOnly || d.readOnlyOnGlobal,
        path: d.path,
        singularDisplayName: d.singularDisplayName,
        pluralDisplayName: d.pluralDisplayName,
        shortName: d.shortName,
        includeInFederation: d.includeInFederation,
        ...(d.policy
          ? {
              policy: {
                isTargetRef: true,
                hasToTargetRef: d.policy.hasTo,
                hasFromTargetRef: d.policy.hasFrom,
                hasRulesTargetRef: d.policy.hasRules,
                isFromAsRules: false,
              },
            }
          : {}),
      })),
    }),
  );

  app.get('/policies', (c) =>
    c.json({
      policies: RESOURCES.filter((d) => d.isPolicy).map((d) => ({
        name: d.kind,
        readOnly: d.readOnlyOnGlobal,
        path: d.path,
        singularDisplayName: d.singularDisplayName,
        pluralDisplayName: d.pluralDisplayName,
        isExperimental: false,
        isTargetRefBased: true,
        isInbound: Boolean(d.policy?.hasFrom || d.policy?.hasRules),
        isOutbound: Boolean(d.policy?.hasTo),
      })),
    }),
  );

  app.get('/config', (c) => c.json(opts.config));
}
