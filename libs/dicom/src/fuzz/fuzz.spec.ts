import { SeededRandom } from '../synthetic/random';
import { EntryPointResult, exerciseEngine } from './engine-harness';
import { mutate } from './mutator';
import { readSamples } from './sample-files';
import { locateSites } from './structure';

/**
 * Seeded mutation fuzzing of the engine's pure entry points over the real samples: every answer is
 * a result or an OrthancError with a 4xx status; never an untyped error, a 5xx, or a slow case.
 * FUZZ_SEED and FUZZ_CASES widen a campaign locally (e.g. FUZZ_CASES=50000).
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20240611);
const CASES = Number(process.env.FUZZ_CASES ?? 3000);
/** Mutants derive from the smaller samples (most of them): thousands of cases stay within seconds. */
const MAX_SAMPLE_BYTES = 128 * 1024;
/** Far above what any entry point takes on these files (a few ms): a slower case means a near-hang. */
const SLOW_MS = 2000;

interface Finding {
  sample: string;
  caseIndex: number;
  mutations: readonly string[];
  result: EntryPointResult;
}

function summarize(findings: Finding[]): string[] {
  return findings.slice(0, 20).map(
    (f) => `${f.sample} case ${f.caseIndex} [${f.mutations.join('; ')}] ${f.result.entryPoint}: ${JSON.stringify(f.result.verdict)} (${Math.round(f.result.milliseconds)} ms)`,
  );
}

describe('engine fuzzing (seeded mutations of the samples)', () => {
  const corpus = readSamples(MAX_SAMPLE_BYTES).map((sample) => ({ ...sample, sites: locateSites(sample.bytes) }));

  it(`answers ${CASES} mutants with results or 4xx OrthancErrors only`, () => {
    const findings: Finding[] = [];
    const counts = { ok: 0, rejected: 0, fault: 0, untyped: 0, slow: 0 };
    for (let caseIndex = 0; caseIndex < CASES; caseIndex++) {
      const random = new SeededRandom(SEED, `case|${caseIndex}`);
      const seed = corpus[random.int(0, corpus.length - 1)];
      const mutant = mutate(seed.bytes, seed.sites, random);
      for (const result of exerciseEngine(mutant.bytes)) {
        counts[result.verdict.kind]++;
        const slow = result.milliseconds > SLOW_MS;
        if (slow) counts.slow++;
        if (slow || result.verdict.kind === 'fault' || result.verdict.kind === 'untyped') {
          findings.push({ sample: seed.name, caseIndex, mutations: mutant.mutations, result });
        }
      }
    }
    if (process.env.FUZZ_VERBOSE) console.log(`seed ${SEED}, ${CASES} mutants of ${corpus.length} samples: ${JSON.stringify(counts)}`);
    expect(summarize(findings)).toEqual([]);
    // The fuzzer must reach past the first checks: many mutants are still read, many refused.
    expect(counts.ok).toBeGreaterThan(CASES / 2);
    expect(counts.rejected).toBeGreaterThan(CASES);
  });
});
