/** @ursa/proto's public surface: resource descriptors, spec schemas, validation, PKI. xDS type URLs and ADS messages: `@ursa/proto/xds` (it loads gRPC, so the Worker never imports it). Generated code: `@ursa/proto/gen/*.js`. */
export * from './descriptor.js';
export * from './pki/x509.js';
export * from './resources.js';
export * from './schemas/common.js';
export type * from './spec-types.js';
export * from './validate.js';
export * from './size.js';
