import { defineConfig } from 'drizzle-kit';

// `npm run db:generate` writes SQL migrations for schema changes; they are committed and applied at start-up.
export default defineConfig({
  dialect: 'postgresql',
  // @ursa/core's tables and the zone agent's own (one migration history for both planes' databases).
  schema: ['./core/src/store/schema.ts', './zone-agent/src/store/schema.ts'],
  out: './migrations',
});
