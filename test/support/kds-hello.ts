/** Hello frames for raw KDS clients (tests that send what a zone agent never would). */
import type { Hello } from '@ursa/proto/gen/kds.js';
import { CLIENT_FEATURES } from '@ursa/zone-agent';

/** A complete Hello with a real agent's features, up to date (revision 0: no snapshot wanted); `h` overrides. */
export const rawHello = (h: Partial<Hello>): Hello => ({
  tenant: '',
  zone: 'zone-x',
  token: '',
  agentVersion: 'test',
  instanceId: 'raw-0000',
  features: [...CLIENT_FEATURES],
  lastRevision: 0,
  configJson: '{}',
  inventoryRevision: 0,
  lastError: '',
  ...h,
});
