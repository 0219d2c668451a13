import { describe, expect, it } from 'vitest';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS, DeltaDiscoveryResponse, DiscoveryResponse } from '@ursa/proto/xds';
import { encodeBody, sharedBody, withNonce } from './encoded.js';
import { layeredTypeSet, typeSetOf, versionedResource } from './snapshot.js';

const res = (name: string, text: string) => versionedResource(EDS, name, Buffer.from(text));
const a = res('a', 'alpha');
const b = res('b', 'beta');
const set = typeSetOf(EDS, [a, b]);

describe('responses encoded once', () => {
  it('a delta response decodes to exactly what the stream means, nonce included', () => {
    const body = sharedBody(set, { variant: 'delta', typeUrl: EDS, version: 'v1', resources: [a, b], removed: ['gone'], controlPlane: 'cp' });
    const msg = DeltaDiscoveryResponse.decode(withNonce(body, '17').bytes);
    expect(msg).toMatchObject({ systemVersionInfo: 'v1', typeUrl: EDS, nonce: '17', removedResources: ['gone'], controlPlane: { identifier: 'cp' } });
    expect(msg.resources.map((r) => [r.name, r.version, r.resource?.typeUrl, Buffer.from(r.resource!.value).toString()])).toEqual([
      ['a', a.version, EDS, 'alpha'],
      ['b', b.version, EDS, 'beta'],
    ]);
  });

  it('a SotW response decodes to its version, resources and nonce', () => {
    const body = sharedBody(set, { variant: 'sotw', typeUrl: EDS, version: 'v2', resources: [b] });
    const msg = DiscoveryResponse.decode(withNonce(body, '3').bytes);
    expect(msg).toMatchObject({ versionInfo: 'v2', typeUrl: EDS, nonce: '3', controlPlane: undefined });
    expect(msg.resources.map((r) => Buffer.from(r.value).toString())).toEqual(['beta']);
  });

  it('streams answered with the same content share one body; another content gets its own', () => {
    const one = sharedBody(set, { variant: 'delta', typeUrl: EDS, version: 'v1', resources: [a] });
    const two = sharedBody(set, { variant: 'delta', typeUrl: EDS, version: 'v1', resources: [a] });
    const three = sharedBody(set, { variant: 'delta', typeUrl: EDS, version: 'v1', resources: [a] });
    // Flattened into one buffer on its second use, which every later stream copies as it is.
    expect(two).toHaveLength(1);
    expect(three).toBe(two);
    expect(Buffer.concat(two)).toEqual(Buffer.concat(one));
    const other = sharedBody(set, { variant: 'delta', typeUrl: EDS, version: 'v1', resources: [b] });
    expect(other).not.toBe(one);
    expect(DeltaDiscoveryResponse.decode(Buffer.concat(other)).resources.map((r) => r.name)).toEqual(['b']);
    // Nonces stay per stream.
    expect(DeltaDiscoveryResponse.decode(withNonce(one, '1').bytes).nonce).toBe('1');
    expect(DeltaDiscoveryResponse.decode(withNonce(one, '2').bytes).nonce).toBe('2');
  });

  it('the bytes equal the ordinary encoding of the same message, field order aside', () => {
    const body = encodeBody({ variant: 'sotw', typeUrl: EDS, version: 'v9', resources: [a, b], controlPlane: 'x' });
    const direct = DiscoveryResponse.encode(DiscoveryResponse.fromPartial({ versionInfo: 'v9', typeUrl: EDS, resources: [a.body, b.body], controlPlane: { identifier: 'x' } })).finish();
    expect(DiscoveryResponse.decode(Buffer.concat(body))).toEqual(DiscoveryResponse.decode(direct));
    expect(Buffer.concat(body).length).toBe(direct.length);
  });

  it('a whole layered set is taken layer by layer: the same resources, each once', () => {
    const shared = typeSetOf(EDS, Array.from({ length: 20 }, (_, i) => res(`s${String(i).padStart(2, '0')}`, `shared ${i}`)));
    const own = typeSetOf(EDS, [res('own-1', 'mine'), res('own-2', 'mine too')]);
    const layered = layeredTypeSet(shared, own);
    expect(layered.layers).toEqual([shared, own]);
    const all = [...layered.items.values()];
    const body = sharedBody(layered, { variant: 'delta', typeUrl: EDS, version: layered.version, resources: all });
    const got = DeltaDiscoveryResponse.decode(Buffer.concat(body)).resources.map((r) => `${r.name}=${Buffer.from(r.resource!.value).toString()}`);
    expect(got.sort()).toEqual(all.map((r) => `${r.name}=${Buffer.from(r.body.value).toString()}`).sort());
    // A layered view whose layers overlap is not split (the top layer's resource stands for both).
    const overlapping = layeredTypeSet(shared, typeSetOf(EDS, [res('s03', 'override')]));
    expect(overlapping.layers).toBeUndefined();
    const items = [...overlapping.items.values()];
    const names = DeltaDiscoveryResponse.decode(Buffer.concat(sharedBody(overlapping, { variant: 'delta', typeUrl: EDS, version: overlapping.version, resources: items }))).resources;
    expect(names).toHaveLength(20);
    expect(Buffer.from(names.find((r) => r.name === 's03')!.resource!.value).toString()).toBe('override');
  });
});
