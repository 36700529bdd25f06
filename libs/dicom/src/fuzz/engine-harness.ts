import { OrthancError } from '@deidflow/common';
import { DicomModification } from '../modification/dicom-modification';
import { parseModificationRequest } from '../modification/parse-request';
import { normalizeToPart10 } from '../parse/normalize-part10';
import { parseInstance } from '../parse/parse-instance';
import { datasetToOrthancJson } from '../tags/dataset-to-json';
import { readContent } from '../tags/read-content';
import { derivedFile } from '../testing/derived-file';

/** How one entry point of the engine answered one input. */
export type Verdict =
  /** It worked. */
  | { kind: 'ok' }
  /** A clean refusal: OrthancError with a 4xx status (bad data). */
  | { kind: 'rejected'; status: number; details: string }
  /** An OrthancError with a 5xx status: the engine says it is its own fault. */
  | { kind: 'fault'; status: number; details: string }
  /** Anything else thrown (TypeError, RangeError, stack overflow...): a bug. */
  | { kind: 'untyped'; error: string };

export interface EntryPointResult {
  readonly entryPoint: string;
  readonly verdict: Verdict;
  readonly milliseconds: number;
}

const SECRET = 'fuzz-secret';

const ANONYMIZE = DicomModification.fromRequest(
  parseModificationRequest({}, { operation: 'anonymize', level: 'Study', scope: 'store' }),
  { secret: SECRET, patientName: 'Anonymized1' },
);

/** A modification that touches the top level, a nested path and the private tags. */
const MODIFY = DicomModification.fromRequest(
  parseModificationRequest(
    {
      Replace: { PatientName: 'Fuzz^Name', 'ReferencedImageSequence[*].ReferencedSOPInstanceUID': '1.2.3' },
      Remove: ['InstitutionName'],
      RemovePrivateTags: true,
      Force: true,
    },
    { operation: 'modify', level: 'Study', scope: 'store' },
  ),
  { secret: SECRET },
);

/**
 * The pure entry points the API and the workers call with uploaded bytes. Each must answer or
 * throw an OrthancError; the output of a modification must itself be readable again.
 */
export const ENTRY_POINTS: Readonly<Record<string, (bytes: Uint8Array) => unknown>> = {
  /** What InstanceStoreService.store runs on an upload. */
  upload: (bytes) => parseInstance(normalizeToPart10(bytes)),
  parseInstance: (bytes) => parseInstance(bytes),
  anonymize: (bytes) => datasetToOrthancJson(derivedFile(ANONYMIZE, bytes), 'short'),
  modify: (bytes) => datasetToOrthancJson(derivedFile(MODIFY, bytes), 'short'),
  tagsFull: (bytes) => datasetToOrthancJson(bytes, 'full'),
  tagsSimplify: (bytes) => datasetToOrthancJson(bytes, 'simplify'),
  /** GET /instances/{id}/content, and the first block of the pixel data when there is one. */
  content: (bytes) => {
    const root = readContent(bytes, []);
    return root.kind === 'list' && root.items.includes('7fe0-0010') ? readContent(bytes, ['7fe0-0010', '0']) : root;
  },
};

function classify(error: unknown): Verdict {
  if (error instanceof OrthancError) {
    const details = error.details ?? error.message;
    return error.httpStatus < 500 ? { kind: 'rejected', status: error.httpStatus, details } : { kind: 'fault', status: error.httpStatus, details };
  }
  const described = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { kind: 'untyped', error: described.slice(0, 300) };
}

/** Runs every entry point on `bytes`, timing each. */
export function exerciseEngine(bytes: Uint8Array): EntryPointResult[] {
  return Object.entries(ENTRY_POINTS).map(([entryPoint, run]) => {
    const started = performance.now();
    let verdict: Verdict = { kind: 'ok' };
    try {
      run(bytes);
    } catch (error) {
      verdict = classify(error);
    }
    return { entryPoint, verdict, milliseconds: performance.now() - started };
  });
}
