/**
 * Scenario 7, the storage limit: get + put of the same objects a study job reads and writes, with
 * no DICOM work, at the worker's concurrency, through the product's own storage driver configured
 * from the same environment as the worker. Prints one JSON line per repetition.
 *
 *   node dist/bench/storage-probe.js KEYS_JSON_FILE CONCURRENCY REPS
 */
import { readFileSync } from 'node:fs';
import { loadConfig } from '../libs/config/src/config.schema';
import { createStorage } from '../libs/storage/src/create-storage';
import { forEachConcurrently } from './http-client';
import { elapsedMs } from './stats';

export interface ProbeRepetition {
  rep: number;
  objects: number;
  bytes: number;
  ms: number;
}

const COPY_PREFIX = 'bench-copy';

async function main(): Promise<void> {
  const [keysFile, concurrencyText, repsText] = process.argv.slice(2);
  const keys = JSON.parse(readFileSync(keysFile, 'utf8')) as string[];
  const concurrency = Number(concurrencyText);
  const reps = Number(repsText);
  const storage = createStorage(loadConfig());
  await storage.init();
  for (let rep = 1; rep <= reps; rep++) {
    let bytes = 0;
    const start = process.hrtime.bigint();
    await forEachConcurrently(keys, concurrency, async (key) => {
      const data = await storage.get(key);
      bytes += data.length;
      await storage.put(`${COPY_PREFIX}/${key}`, data);
    });
    const result: ProbeRepetition = { rep, objects: keys.length, bytes, ms: elapsedMs(start) };
    // One by one: s3rver's multi-object delete fails on keys that share a directory (its bug).
    for (const key of keys) await storage.delete(`${COPY_PREFIX}/${key}`);
    console.log(JSON.stringify(result));
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
