/**
 * Spec types derived from the descriptor table (`spec-types.ts`). The `expectTypeOf` checks are compile-time
 * checks (`tsc --noEmit` over the tests); the runtime part shows the types describe what validation returns.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { descriptorFor, POLICY_KINDS, RESOURCES } from './resources.js';
import type { TargetRefSpec } from './schemas/common.js';
import type { DescriptorOf, PolicyKind, ResourceKind, SpecOf } from './spec-types.js';
import { validateResource } from './validate.js';

type Inbound = NonNullable<SpecOf<'Dataplane'>['networking']['inbound']>[number];

describe('spec types', () => {
  it('gives a Dataplane spec its networking, inbounds with tags, ports and enum names', () => {
    expectTypeOf<SpecOf<'Dataplane'>>().toHaveProperty('networking');
    expectTypeOf<SpecOf<'Dataplane'>['networking']>().toHaveProperty('inbound');
    expectTypeOf<SpecOf<'Dataplane'>['networking']['address']>().toEqualTypeOf<string>();
    expectTypeOf<Inbound['port']>().toEqualTypeOf<number>();
    expectTypeOf<Inbound['tags']>().toEqualTypeOf<Record<string, string>>();
    expectTypeOf<Inbound['state']>().toEqualTypeOf<'Ready' | 'NotReady' | 'Ignored' | undefined>();
    expectTypeOf<SpecOf<'ZoneIngress'>['networking']['port']>().toEqualTypeOf<number>();
    expectTypeOf<NonNullable<SpecOf<'Mesh'>['meshServices']>['mode']>().toEqualTypeOf<'Disabled' | 'Everywhere' | 'ReachableBackends' | 'Exclusive' | undefined>();
  });

  it('types policies: their kinds, sections and targetRefs', () => {
    expectTypeOf<'MeshTimeout'>().toExtend<PolicyKind>();
    expectTypeOf<'Dataplane'>().not.toExtend<PolicyKind>();
    expectTypeOf<PolicyKind>().toExtend<ResourceKind>();
    expectTypeOf<SpecOf<'MeshTimeout'>>().toHaveProperty('to');
    expectTypeOf<NonNullable<SpecOf<'MeshTrafficPermission'>['from']>[number]['default']['action']>().toEqualTypeOf<'Allow' | 'Deny' | 'AllowWithShadowDeny'>();
    expectTypeOf<NonNullable<SpecOf<'MeshRetry'>['targetRef']>>().toExtend<TargetRefSpec>();
    expectTypeOf(descriptorFor('Dataplane')).toEqualTypeOf<DescriptorOf<'Dataplane'>>();
    expectTypeOf(descriptorFor('Dataplane').kind).toEqualTypeOf<'Dataplane'>();
    expectTypeOf(descriptorFor('Dataplane' as string)).toEqualTypeOf<(typeof RESOURCES)[number] | undefined>();
  });

  it('match what validation returns: enum numbers come back as names', () => {
    const r = validateResource({ kind: 'Dataplane', mesh: 'default', name: 'web-1', spec: { networking: { address: '10.0.0.1', inbound: [{ port: 8080, state: 2, tags: { 'kuma.io/service': 'web' } }] } } });
    expect(r.ok).toBe(true);
    const spec = (r.ok ? r.value.spec : {}) as SpecOf<'Dataplane'>;
    const state: Inbound['state'] = spec.networking.inbound?.[0]?.state;
    expect(state).toBe('Ignored');
  });

  it('lists the policy kinds of the table', () => {
    expect([...POLICY_KINDS].sort()).toEqual(RESOURCES.filter((d) => d.isPolicy).map((d) => d.kind).sort());
    expectTypeOf(POLICY_KINDS).toEqualTypeOf<readonly PolicyKind[]>();
  });
});
