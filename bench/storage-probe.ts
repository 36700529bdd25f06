/**
 * Scenario 7, the storage limit: get + put of the same objects a study job reads and writes, with
 * no DICOM work, at the worker's concurrency, through the product's own storage driver configured
 * from the same environment as the worker. Prints one JSON line per repetition.
 *
 * The copies are written the way a job writes its outputs: putIfAbsent under fresh instance keys,
 * new on every repetition, spread over the same fan-out directories. (Copies under the same keys
 * in every repetition found their directories made by the first one, a cost the jobs do pay:
 * repetitions 2 and 3 ran up to five times faster than the first.)
 *
 *   node dist/bench/storage-probe.js KEYS_JSON_FILE CONCURRENCY REPS
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadConfig } from '../libs/config/src/config.schema';
import { orthancHash } from '../libs/dicom/src/orthanc-id';
import { createStorage } from '../libs/storage/src/create-storage';
import { objectKeyForInstance } from '../libs/storage/src/object-key';
import { forEachConcurrently } from './http-client';
import { elapsedMs } from './stats';

export interface ProbeRepetition {
  rep: number;
  objects: number;
  bytes: number;
  ms: number;
}

async function main(): Promise<void> {
  const [keysFile, concurrencyText, repsText] = process.argv.slice(2);
  const keys = JSON.parse(readFileSync(keysFile, 'utf8')) as string[];
  const concurrency = Number(concurrencyText);
  const reps = Number(repsText);
  const storage = createStorage(loadConfig());
  await storage.init();
  const run = randomUUID();
  for (let rep = 1; rep <= reps; rep++) {
    const copies = keys.map((key) => objectKeyForInstance(orthancHash(`${run}|${rep}|${key}`)));
    let bytes = 0;
    const start = process.hrtime.bigint();
    await forEachConcurrently(keys, concurrency, async (key, i) => {
      const data = await storage.get(key);
      bytes += data.length;
      await storage.putIfAbsent(copies[i], data);
    });
    const result: ProbeRepetition = { rep, objects: keys.length, bytes, ms: elapsedMs(start) };
    // One by one: s3rver's multi-object delete fails on keys that share a directory (its bug).
    for (const copy of copies) await storage.delete(copy);
    console.log(JSON.stringify(result));
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
