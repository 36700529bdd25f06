import { defineConfig } from 'prisma/config';

// Prisma 7 reads the connection from here (not from schema.prisma). Migrations are applied by
// libs/database/src/migrate.ts at start; `prisma migrate deploy` (Docker image) sees the same history.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/deidflow' },
});
