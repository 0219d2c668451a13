/**
 * The long run of the ADS request fuzz (`zone-agent/src/xds/limits.test.ts` runs 120 cases in `npm test`):
 * 3,000 seeded random DiscoveryRequests / DeltaDiscoveryRequests against a real ADS server with real
 * admission; no stream is left without a status or an answer, no status is INTERNAL, and the server keeps
 * serving. URSA_FUZZ_SEED replays another seed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzzXds, startXdsFixture, type XdsFixture } from '@ursa/zone-agent';

describe('ADS request fuzz (long)', () => {
  let fx: XdsFixture;
  beforeAll(async () => {
    fx = await startXdsFixture();
  });
  afterAll(async () => fx?.close());

  it('3,000 random requests: every stream ends with the right status or is answered', async () => {
    const seed = Number(process.env.URSA_FUZZ_SEED ?? 0x5eed_1009);
    const failures = await fuzzXds(fx, { runs: 3000, seed });
    expect(failures).toEqual([]);
    const deadline = Date.now() + 5000;
    while (fx.server.streams() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(fx.server.streams()).toBe(0);
  });
});
