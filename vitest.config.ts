import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['proto/**/*.test.ts', 'global-api/**/*.test.ts', 'zone-agent/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['**/node_modules/**', 'proto/gen/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
