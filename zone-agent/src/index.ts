/** @ursa/zone-agent's surface for the cross-cutting suites and benches. The process itself is `bin/zone-agent.js`. */
export * from './config.js';
export * from './dns/testing.js';
export * from './kds/client.js';
export * from './kds/state.js';
export { fuzzXds, startXdsFixture, type XdsFixture } from './xds/testing.js';
export { envoyJson, roundTripProblems } from './xds/generate/roundtrip.js';
// For bench/xds-generate.ts: the generator alone, in process.
export { XdsGenerator, type ConnectedNode, type GenerationInput } from './xds/generate/index.js';
export { WorkloadCertificates } from './xds/certs.js';
export { stored } from './model/testing.js';
