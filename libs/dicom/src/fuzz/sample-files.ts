import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** For the specs only (the engine itself does no I/O): the files of ../shared/dicom-samples. */
export const SAMPLES_DIR = join(__dirname, '../../../../../shared/dicom-samples');

export interface SampleFile {
  /** Path relative to the samples directory. */
  readonly name: string;
  readonly bytes: Uint8Array;
}

/** Every sample (README excluded) up to `maxBytes`, sorted by name so that seeded runs repeat. */
export function readSamples(maxBytes = Infinity, dir = SAMPLES_DIR): SampleFile[] {
  const files: SampleFile[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    const stat = statSync(path);
    if (stat.isDirectory()) files.push(...readSamples(maxBytes, path));
    else if (!entry.endsWith('.md') && stat.size <= maxBytes) files.push({ name: relative(SAMPLES_DIR, path), bytes: readFileSync(path) });
  }
  return files;
}
