import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['proto/**/*.test.ts', 'core/**/*.test.ts', 'global-api/**/*.test.ts', 'zone-agent/**/*.test.ts', 'test/**/*.test.ts'],
    // test/slow/: long real-process suites (50 kill -9 cycles, liveness with real deaths), run by
    // `npm run test:slow`; they take ~15 minutes on a 2-vCPU machine, too long for every CI run.
    exclude: ['**/node_modules/**', 'proto/gen/**', 'test/slow/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
