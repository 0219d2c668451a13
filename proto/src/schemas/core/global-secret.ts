/**
 * GlobalSecret (same proto as Secret, global-scoped): `{data}` as base64.
 * Universal JSON: `{"type":"GlobalSecret","name":"gs-1","data":"dmFsdWU="}`.
 */
import { obj, secretData } from './shared.js';

export const globalSecretSpec = obj({
  data: secretData(),
});
