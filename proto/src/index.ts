/** @ursa/proto's public surface: resource descriptors, spec schemas, validation, PKI and xDS type names. Generated code: `@ursa/proto/gen/*.js`. */
export * from './descriptor.js';
export * from './pki/x509.js';
export * from './resources.js';
export * from './schemas/common.js';
export * from './validate.js';
export * from './xds-types.js';
export * from './size.js';
