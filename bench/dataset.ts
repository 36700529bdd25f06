import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { generateSyntheticInstances, SyntheticStudyOptions } from '../libs/dicom/src/synthetic';

/** Series per generated study: a CT study of 500 instances as 5 series of 100. */
const SERIES_PER_STUDY = 5;
/** The bulk studies use another seed than the main study, so that no instance is shared. */
const BULK_SEED_OFFSET = 1000;
/** Scenario 10's study: another seed again (its study would otherwise be the first bulk study's). */
const LARGE_SEED_OFFSET = 500;
/** Rows and columns of scenario 10's images: 4096 x 4096 x 16 bits, 33.5 MB (a large multi-frame file's size). */
export const LARGE_IMAGE_SIZE = 4096;

export interface MainStudy {
  files: Buffer[];
  bytes: number;
}

/** The study of scenarios 1-5, 7 and 8, generated in memory (500 x 527 kB = 263 MB). */
export function generateMainStudy(instances: number, seed: number): MainStudy {
  const files: Buffer[] = [];
  for (const instance of generateSyntheticInstances({ instances, series: Math.min(SERIES_PER_STUDY, instances), seed })) {
    files.push(Buffer.from(instance.bytes.buffer, instance.bytes.byteOffset, instance.bytes.byteLength));
  }
  return { files, bytes: files.reduce((sum, file) => sum + file.length, 0) };
}

export interface BulkDataset {
  /** One list of file paths per study. */
  studies: string[][];
  bytes: number;
}

interface CacheManifest {
  fingerprint: string;
  studies: string[][];
  bytes: number;
}

/**
 * The studies of scenario 6 (20 x 500 = 10,000 instances, 5.3 GB): too large to hold in memory,
 * generated once into `dataDir` and reused by later runs while the generator gives the same bytes
 * (the cache is keyed by the options and a hash of the first generated instance).
 */
export async function prepareBulkDataset(dataDir: string, studies: number, instancesPerStudy: number, seed: number, imageSize?: number): Promise<BulkDataset> {
  const options: SyntheticStudyOptions = {
    instances: studies * instancesPerStudy,
    studies,
    patients: Math.max(1, Math.floor(studies / 2)),
    series: Math.min(SERIES_PER_STUDY, instancesPerStudy),
    seed: seed + BULK_SEED_OFFSET,
    ...(imageSize === undefined ? {} : { imageSize }),
  };
  const first = generateSyntheticInstances(options).next().value!;
  const fingerprint = createHash('sha256').update(JSON.stringify(options)).update(first.bytes).digest('hex');
  const directory = join(dataDir, `bulk-${studies}x${instancesPerStudy}-seed${options.seed}${imageSize === undefined ? '' : `-${imageSize}px`}`);
  const manifestPath = join(directory, 'manifest.json');
  if (existsSync(manifestPath)) {
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as CacheManifest;
    if (manifest.fingerprint === fingerprint) return { studies: manifest.studies, bytes: manifest.bytes };
  }
  await rm(directory, { recursive: true, force: true });
  const byStudy: string[][] = Array.from({ length: studies }, () => []);
  let bytes = 0;
  for (const instance of generateSyntheticInstances(options)) {
    const path = join(directory, instance.path);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, instance.bytes);
    byStudy[instance.studyIndex].push(path);
    bytes += instance.bytes.length;
  }
  const manifest: CacheManifest = { fingerprint, studies: byStudy, bytes };
  await writeFile(manifestPath, JSON.stringify(manifest));
  return { studies: byStudy, bytes };
}

/** Scenario 10's study: `instances` images of LARGE_IMAGE_SIZE (40 x 33.5 MB = 1.3 GB), cached in `dataDir` like the bulk studies. */
export function prepareLargeDataset(dataDir: string, instances: number, seed: number): Promise<BulkDataset> {
  return prepareBulkDataset(dataDir, 1, instances, seed + LARGE_SEED_OFFSET, LARGE_IMAGE_SIZE);
}
