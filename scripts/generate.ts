/**
 * Writes a synthetic CT data set (libs/dicom/src/synthetic) to a directory, for demos and benchmarks:
 *
 *   npm run generate -- --instances 500 --series 5 --out DIR [--seed N] [--patients P] [--studies K] [--image-size 512]
 *
 * `--instances` counts every file written, spread evenly over the studies and their series.
 * The same arguments always give the same files.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { OrthancError } from '../libs/common/src/orthanc-error';
import { generateSyntheticInstances, SyntheticStudyOptions } from '../libs/dicom/src/synthetic';

const USAGE =
  'Usage: npm run generate -- --instances N --out DIR [--series S] [--seed N] [--patients P] [--studies K] [--image-size PX]';

function integer(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value)) throw new Error(`--${name} must be an integer, not "${value}"`);
  return Number(value);
}

function parseCommandLine(argv: string[]): { out: string; options: SyntheticStudyOptions } {
  const { values } = parseArgs({
    args: argv,
    options: {
      instances: { type: 'string' },
      series: { type: 'string' },
      studies: { type: 'string' },
      patients: { type: 'string' },
      seed: { type: 'string' },
      'image-size': { type: 'string' },
      out: { type: 'string' },
    },
    strict: true,
  });
  const instances = integer('instances', values.instances);
  if (instances === undefined || !values.out) throw new Error('--instances and --out are required');
  return {
    out: resolve(values.out),
    options: {
      instances,
      series: integer('series', values.series),
      studies: integer('studies', values.studies),
      patients: integer('patients', values.patients),
      seed: integer('seed', values.seed),
      imageSize: integer('image-size', values['image-size']),
    },
  };
}

async function main(): Promise<void> {
  const { out, options } = parseCommandLine(process.argv.slice(2));
  const started = process.hrtime.bigint();
  let files = 0;
  let bytes = 0;
  for (const instance of generateSyntheticInstances(options)) {
    const path = join(out, instance.path);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, instance.bytes);
    files += 1;
    bytes += instance.bytes.length;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(`${files} files, ${(bytes / 1e6).toFixed(1)} MB written to ${out} in ${seconds.toFixed(1)} s`);
}

main().catch((err: unknown) => {
  const message = err instanceof OrthancError ? (err.details ?? err.message) : err instanceof Error ? err.message : String(err);
  console.error(`${message}\n${USAGE}`);
  process.exit(1);
});
