import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export const SAMPLES_DIR = join(__dirname, '../../../shared/dicom-samples');

/** Every file of ../shared/dicom-samples (README excluded), as paths relative to it. */
export function allSampleFiles(dir = SAMPLES_DIR): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...allSampleFiles(path));
    else if (!entry.endsWith('.md')) out.push(relative(SAMPLES_DIR, path));
  }
  return out.sort();
}

export function samplePath(name: string): string {
  return join(SAMPLES_DIR, name);
}
