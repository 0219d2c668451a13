/**
 * Secret (`api/system/v1alpha1/secret.proto`, mesh-scoped): `{data}`, a `google.protobuf.BytesValue`
 * rendered as base64. Universal JSON: `{"type":"Secret","mesh":"default","name":"sec-1","data":"dmFsdWU="}`.
 */
import { obj, secretData } from './shared.js';

export const secretSpec = obj({
  data: secretData(),
});
