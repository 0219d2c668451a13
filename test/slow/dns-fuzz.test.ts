/**
 * The long run of the DNS packet fuzz over real sockets (`zone-agent/src/dns/server.test.ts` runs 800 packets
 * in `npm test`): 30,000 seeded random and mutated packets over UDP and TCP; every answer decodes, the
 * resolver keeps answering, nothing unforeseen is caught, and unfinished TCP frames do not hold connections
 * past the message deadline. URSA_FUZZ_SEED replays another seed.
 */
import { describe, expect, it } from 'vitest';
import { fuzzDnsServer, startTestResolver } from '@ursa/zone-agent';

describe('DNS packet fuzz (long)', () => {
  it('30,000 packets over UDP and TCP', async () => {
    const { server, close } = await startTestResolver({ tcpMessageMs: 300, tcpIdleMs: 5000 });
    try {
      const seed = Number(process.env.URSA_FUZZ_SEED ?? 0x5eed_1008);
      const failures = await fuzzDnsServer(server.port, { runs: 30_000, seed, tcpMessageMs: 300 });
      expect(failures).toEqual([]);
      expect(server.stats.errors).toBe(0);
    } finally {
      await close();
    }
  });
});
