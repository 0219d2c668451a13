/**
 * `@ursa/core/base`: what a process needs before anything else: options, the logger, the version. No
 * third-party module and nothing of the store or the API, so an entry that must serve within a moment of
 * starting loads only this much first (the zone agent answers DNS from its persisted answers while its
 * database opens, `zone-agent/src/main.ts`). The main entry exports all of it too.
 */
export * from './log.js';
export * from './options.js';
export * from './text.js';
export * from './version.js';
