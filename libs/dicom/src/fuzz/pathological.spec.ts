import { normalizeToPart10 } from '../parse/normalize-part10';
import { parseInstance } from '../parse/parse-instance';
import { SeededRandom } from '../synthetic/random';
import { exerciseEngine, EntryPointResult, ENTRY_POINTS } from './engine-harness';
import { deeplyNestedSequence, elementLengthOf, LengthPlace, randomInput, truncationOffsets } from './pathological';
import { readSamples } from './sample-files';
import { orthancErrorOf } from '../testing/orthanc-error-of';

const SLOW_MS = 2000;

/** Each entry point's answer, as "ok" or the status and details of its OrthancError. */
function answers(bytes: Uint8Array): Record<string, string> {
  return Object.fromEntries(
    exerciseEngine(bytes).map(({ entryPoint, verdict }) => [
      entryPoint,
      verdict.kind === 'ok' ? 'ok' : verdict.kind === 'untyped' ? `UNTYPED ${verdict.error}` : `${verdict.status} ${verdict.details}`,
    ]),
  );
}

/** Results that are neither a result nor a 4xx OrthancError, or that took too long. */
function problems(results: EntryPointResult[]): EntryPointResult[] {
  return results.filter((r) => r.verdict.kind === 'fault' || r.verdict.kind === 'untyped' || r.milliseconds > SLOW_MS);
}

describe('hostile inputs', () => {
  it.each(['undefined', 'defined'] as const)('refuses a sequence nested 1,000 levels deep (%s lengths) with a 400', (lengths) => {
    const file = deeplyNestedSequence(1000, lengths);
    const every = answers(file);
    // With defined lengths the top level is well formed: what reads only the top level reads it, nothing else does.
    const expectedOk = lengths === 'defined' ? ['parseInstance', 'content'] : [];
    for (const [entryPoint, answer] of Object.entries(every)) {
      if (expectedOk.includes(entryPoint)) expect(answer).toBe('ok');
      else expect(answer).toMatch(/^400 Malformed DICOM dataset: sequences nested deeper than 128 levels$/);
    }
  });

  it.each(['undefined', 'defined'] as const)('reads sequences nested 128 levels deep, the bound, whatever the lengths (%s)', (lengths) => {
    // Regression: with undefined lengths each level used to count twice (refused from 65 levels).
    expect(Object.values(answers(deeplyNestedSequence(128, lengths)))).toEqual(Object.keys(ENTRY_POINTS).map(() => 'ok'));
    expect(answers(deeplyNestedSequence(129, lengths)).anonymize).toMatch(/nested deeper than 128 levels/);
  });

  it.each<LengthPlace>(['pixelData', 'implicitPatientName', 'item'])('refuses an element length of 0xFFFFFFF0 (%s) with a 400', (place) => {
    const file = elementLengthOf(place);
    const upload = orthancErrorOf(() => normalizeToPart10(file));
    expect(upload.httpStatus).toBe(400);
    expect(upload.details).toMatch(/^Malformed DICOM dataset: truncated data: .* needs 4294967280 bytes, only \d+ remain$/);
    for (const [entryPoint, answer] of Object.entries(answers(file))) {
      // The index reads the header only: a lie in the pixel data is found by the upload's full check.
      if (place === 'pixelData' && entryPoint === 'parseInstance') expect(answer).toBe('ok');
      else expect(answer).toMatch(/^400 Malformed DICOM dataset: truncated data/);
    }
  });

  it('answers truncated copies of every sample (cut at 14 places) with results or 400s', () => {
    let cases = 0;
    let refusedAtUpload = 0;
    const found: string[] = [];
    for (const sample of readSamples()) {
      for (const offset of truncationOffsets(sample.bytes)) {
        const results = exerciseEngine(sample.bytes.subarray(0, offset));
        cases++;
        if (results.find((r) => r.entryPoint === 'upload')?.verdict.kind !== 'ok') refusedAtUpload++;
        for (const r of problems(results)) found.push(`${sample.name} cut at ${offset}: ${r.entryPoint} ${JSON.stringify(r.verdict)}`);
      }
    }
    if (process.env.FUZZ_VERBOSE) console.log(`${cases} truncated copies, ${refusedAtUpload} refused at upload`);
    expect(found).toEqual([]);
    expect(cases).toBeGreaterThan(3000);
    // A few cuts fall exactly between two elements, which leaves a shorter but well-formed file.
    expect(refusedAtUpload).toBeGreaterThan(cases * 0.9);
  });

  it('answers random bytes (bare, after "DICM", after a valid meta) with results or 400s, and never stores them', () => {
    const found: string[] = [];
    const CASES = 600;
    for (let index = 0; index < CASES; index++) {
      const { bytes, kind } = randomInput(new SeededRandom(7, `random|${index}`));
      const results = exerciseEngine(bytes);
      for (const r of problems(results)) found.push(`${kind} #${index}: ${r.entryPoint} ${JSON.stringify(r.verdict)}`);
      // An empty dataset behind a valid meta can be read and anonymized, but it is no instance.
      const upload = results.find((r) => r.entryPoint === 'upload');
      if (upload?.verdict.kind !== 'rejected') found.push(`${kind} #${index}: upload ${JSON.stringify(upload?.verdict)}`);
    }
    expect(found).toEqual([]);
  });

  it('answers what is not DICOM with Orthanc\'s words (browse/10-upload-not-dicom)', () => {
    for (const run of [() => normalizeToPart10(Buffer.from('hello')), () => parseInstance(Buffer.from('hello'))]) {
      expect(orthancErrorOf(run).details).toBe('Cannot parse an invalid DICOM file (size: 5 bytes)');
    }
  });
});
