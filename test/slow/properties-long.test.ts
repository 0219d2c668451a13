/**
 * The input-boundary property suites, run ten times longer (`npm run test:slow`): the REST API's bodies and
 * queries (`test/api-property.test.ts`) and KDS long-poll requests, push requests and WebSocket frames
 * (`test/kds-property.test.ts`), with the same fixed seeds (FC_SEED overrides) and ten times the runs of
 * `npm test` (FC_SCALE overrides the factor; FC_RUNS sets every property's runs outright).
 */
process.env.FC_SCALE ??= '10';
await import('../api-property.test.js');
await import('../kds-property.test.js');
