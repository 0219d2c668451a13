/**
 * Zone (`api/system/v1alpha1/zone.proto`): `{enabled}`. Absent means enabled (`kuma-multizone.md` §3.1).
 * Universal JSON: `{"type":"Zone","name":"zone-1","enabled":true}`.
 */
import { bool, obj } from './shared.js';

export const zoneSpec = obj({
  enabled: bool().optional(),
});
