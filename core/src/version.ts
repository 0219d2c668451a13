/** Product identity shown by `GET /` (Kuma's index). Kept in step with package.json by a test. */
export const PRODUCT = 'Ursa';
export const VERSION = '0.1.0';
/** The Kuma release whose API and behaviour Ursa follows. */
export const BASED_ON_KUMA = '2.14.3';
