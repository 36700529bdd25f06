#!/usr/bin/env node
// `prisma generate` without Prisma's native schema engine: the Rust-free client needs none, but
// the CLI checks that PRISMA_SCHEMA_ENGINE_BINARY names an existing file before generating.
const { spawnSync } = require('node:child_process');
const env = { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: '1', CHECKPOINT_DISABLE: '1' };
if (!env.PRISMA_SCHEMA_ENGINE_BINARY) env.PRISMA_SCHEMA_ENGINE_BINARY = process.execPath;
const cli = require.resolve('prisma/build/index.js');
const r = spawnSync(process.execPath, [cli, 'generate', ...process.argv.slice(2)], { stdio: 'inherit', env });
process.exit(r.status ?? 1);
