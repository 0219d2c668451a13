import { describe, expect, it } from 'vitest';
import { hashedName } from './names.js';

describe('Kuma hashed names', () => {
  it("match the test vectors from Kuma's full-sync goldens", () => {
    expect(hashedName('default', 'default-timeout-global')).toBe('default-timeout-global-54dbd4c66zwbcf9c');
    expect(hashedName('default', 'default-timeout-zone-1', 'zone-1')).toBe('default-timeout-zone-1-c58w24w4vw27f454');
  });

  it('differ by zone, and stay within 253 characters', () => {
    expect(hashedName('m', 'web-1', 'zone-a')).not.toBe(hashedName('m', 'web-1', 'zone-b'));
    expect(hashedName('m', 'x'.repeat(253), 'z')).toHaveLength(253);
  });
});
