// drizzle-kit's configuration: `npm run db:generate` turns the schema into SQL migrations under drizzle/,
// which the broker applies with drizzle's migrator on PGlite and on PostgreSQL alike.
import { defineConfig } from 'drizzle-kit'

export default defineConfig({
  dialect: 'postgresql',
  schema: [
    './src/adapters/storage/schema.ts',
    './src/adapters/storage/schema-factors.ts',
    './src/adapters/storage/schema-devices.ts',
    './src/adapters/storage/schema-lifecycle.ts',
  ],
  out: './drizzle',
})
