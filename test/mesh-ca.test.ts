/**
 * The builtin mesh CA over the HTTP API and a real database, as `core/src/domain/mesh-ca.ts` reads the Mesh's
 * typed spec: the enabled builtin backend's `conf.caCert` (key type and lifetime) shapes the CA, a backend
 * whose name cannot name the CA secrets is refused on its own field, and other backends create nothing.
 */
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '@ursa/test-support/backends.js';
import { call, startApi, type ApiServer } from '@ursa/test-support/api.js';

const mesh = (name: string, backend: Record<string, unknown>) => ({ type: 'Mesh', name, mtls: { enabledBackend: backend.name, backends: [backend] } });

for (const backend of backends()) {
  describe(`builtin mesh CA on ${backend.name}`, () => {
    let api: ApiServer;
    beforeAll(async () => {
      api = await startApi(backend);
    });
    afterAll(async () => api?.close());

    it('creates the CA its conf asks for: an RSA key and the given lifetime', async () => {
      const put = await call(api.url, 'PUT', '/meshes/rsa', { body: mesh('rsa', { name: 'ca-1', type: 'builtin', conf: { caCert: { RSAbits: 2048, expiration: '48h' } } }) });
      expect(put.status).toBe(201);
      const cert = await call(api.url, 'GET', '/meshes/rsa/secrets/rsa.ca-builtin-cert-ca-1');
      expect(cert.status).toBe(200);
      const x509 = new X509Certificate(atob(cert.body.data));
      expect(x509.publicKey.asymmetricKeyType).toBe('rsa');
      // 48 h, give or take the CA's backdating of its start (a minute).
      const lifetime = (Date.parse(x509.validTo) - Date.parse(x509.validFrom)) / 3_600_000;
      expect(lifetime).toBeCloseTo(48, 0);
    });

    it('refuses a builtin backend whose name cannot name the CA secrets, on that field', async () => {
      const put = await call(api.url, 'PUT', '/meshes/bad', { body: mesh('bad', { name: 'CA_1', type: 'builtin' }) });
      expect(put.status).toBe(400);
      expect(put.body.invalid_parameters).toEqual([
        expect.objectContaining({ field: 'mtls.backends[0].name', reason: expect.stringMatching(/names its CA secrets \(bad\.ca-builtin-key-CA_1\)/) }),
      ]);
      expect((await call(api.url, 'GET', '/meshes/bad')).status).toBe(404);
    });

    it('creates no CA for a provided backend', async () => {
      const put = await call(api.url, 'PUT', '/meshes/prov', {
        body: mesh('prov', { name: 'ca-1', type: 'provided', conf: { cert: { inlineString: 'x' }, key: { inlineString: 'y' } } }),
      });
      expect(put.status).toBe(201);
      expect((await call(api.url, 'GET', '/meshes/prov/secrets')).body.items).toEqual([]);
    });
  });
}
