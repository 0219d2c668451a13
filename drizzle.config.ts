import { defineConfig } from 'drizzle-kit';

// `npm run db:generate` writes SQL migrations for schema changes; they are committed and applied at start-up.
export default defineConfig({
  dialect: 'postgresql',
  schema: './global-api/src/store/schema.ts',
  out: './migrations',
});
