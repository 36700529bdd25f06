import { isDeepStrictEqual } from 'node:util';
import type { DicomModification } from '../modification/dicom-modification';
import { parseInstance } from '../parse/parse-instance';

/**
 * apply()'s output, after checking that derive(), what a worker runs, gives the same file with the
 * index record that parsing it gives (derive reads it from the rewritten elements instead), refusal
 * included. A difference is thrown as a plain Error: a bug. apply()'s own refusals are thrown as they are.
 */
export function derivedFile(modification: DicomModification, bytes: Uint8Array): Uint8Array {
  const file = modification.apply(bytes);
  const expected = comparable(outcomeOf(() => parseInstance(file)));
  const derived = outcomeOf(() => modification.derive(bytes));
  const actual = comparable('error' in derived ? derived : { value: derived.value.parsed });
  if (!isDeepStrictEqual(actual, expected)) {
    throw new Error(`derive() indexed its output as ${JSON.stringify(actual)}, parseInstance() as ${JSON.stringify(expected)}`);
  }
  if ('value' in derived && !Buffer.from(derived.value.file).equals(file)) throw new Error('derive() wrote another file than apply()');
  return file;
}

type Outcome<T> = { value: T } | { error: unknown };

function outcomeOf<T>(run: () => T): Outcome<T> {
  try {
    return { value: run() };
  } catch (error) {
    return { error };
  }
}

/** An outcome that isDeepStrictEqual can compare: an error by its message. */
function comparable(outcome: Outcome<unknown>): unknown {
  return 'error' in outcome ? { error: outcome.error instanceof Error ? outcome.error.message : String(outcome.error) } : outcome;
}
