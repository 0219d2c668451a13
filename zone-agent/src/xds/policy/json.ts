/** The JSON merge helpers live in core (`core/src/policy/json.ts`): the global's inspect endpoints fold confs too. */
export { canonicalJson, clone, mergeAll, mergePatch } from '@ursa/core';
