/** MeshExternalServices in the record table: their own hostname, their own VIP key, never a `.mesh` name. */
import { describe, expect, it } from 'vitest';
import { addExternalServices, externalServiceKey } from './external-services.js';
import { RecordTable, wantedServices } from './records.js';

describe('MeshExternalService records', () => {
  it('wants a VIP per MeshExternalService of an existing mesh, under a key no service can have', () => {
    const wanted = wantedServices({ meshes: [{ name: 'default' }], dataplanes: [], zoneIngresses: [] }, 'zone-1');
    addExternalServices(wanted, [{ mesh: 'default', name: 'httpbin' }, { mesh: 'gone', name: 'x' }]);
    expect(wanted).toEqual(new Map([['default', new Set(['mes:httpbin'])]]));
  });

  it('answers <name>.extsvc.mesh.local, and no <key>.mesh alias', () => {
    const table = RecordTable.build(new Map([['default', new Map([[externalServiceKey('httpbin'), '240.0.0.9'], ['web', '240.0.0.1']])]]));
    expect(table.lookup('httpbin.extsvc.mesh.local.')).toEqual({ name: 'httpbin.extsvc.mesh.local', ip: '240.0.0.9', mesh: 'default', service: 'mes:httpbin' });
    expect(table.lookup('web.mesh')?.ip).toBe('240.0.0.1');
    expect(table.records().map((r) => r.name).sort()).toEqual(['httpbin.extsvc.mesh.local', 'web.mesh']);
  });
});
