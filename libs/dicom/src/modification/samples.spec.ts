import * as fs from 'node:fs';
import * as path from 'node:path';
import * as dcmjs from 'dcmjs';
import { OrthancError } from '@deidflow/common';
import { compileProfile, isInTagRange } from '../anonymization/profiles';
import { isPrivateTag, Tag, tagKey, TAGS } from '../dictionary/tag';
import { derivedFile } from '../testing/derived-file';
import { FlatElement, flattenDicom, text } from '../testing/flatten';
import { DicomModification } from './dicom-modification';
import { parseModificationRequest } from './parse-request';
import { mapPatientId } from './uid-mapping';

/**
 * Property tests over every file of ../shared/dicom-samples: whatever the file, the engine answers a
 * valid anonymized file or an OrthancError; never a crash.
 */
const SAMPLES = path.join(__dirname, '../../../../../shared/dicom-samples');

function listFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? listFiles(path.join(dir, entry.name)) : [path.join(dir, entry.name)]))
    .filter((file) => !file.endsWith('README.md'))
    .sort();
}

const FILES = listFiles(SAMPLES);
const SECRET = 'property-tests';
const PATIENT_NAME = 'Anonymized42';
const anonymize = DicomModification.fromRequest(
  parseModificationRequest({}, { operation: 'anonymize', level: 'Study', scope: 'store' }),
  { secret: SECRET, patientName: PATIENT_NAME },
);
const profile = compileProfile('2023b');

function readsWithDcmjs(bytes: Uint8Array): boolean {
  try {
    dcmjs.data.DicomMessage.readFile(Uint8Array.from(bytes).buffer);
    return true;
  } catch {
    return false;
  }
}

function dataset(elements: FlatElement[]): FlatElement[] {
  return elements.filter((element) => element.tag >>> 16 !== 0x0002);
}

function top(elements: FlatElement[], tag: Tag): FlatElement | undefined {
  return elements.find((element) => element.parents.length === 0 && element.tag === tag);
}

interface Outcome {
  input: Uint8Array;
  output?: Uint8Array;
  error?: unknown;
}

const outcomes = new Map<string, Outcome>(
  FILES.map((file) => {
    const input = new Uint8Array(fs.readFileSync(file));
    try {
      return [file, { input, output: anonymize.apply(input) }];
    } catch (error) {
      return [file, { input, error }];
    }
  }),
);
const anonymized = FILES.filter((file) => outcomes.get(file)!.output);
const flattenedCache = new Map<string, FlatElement[]>();

function flattened(file: string, which: 'before' | 'after'): FlatElement[] {
  const key = `${which}:${file}`;
  let elements = flattenedCache.get(key);
  if (!elements) {
    const outcome = outcomes.get(file)!;
    elements = flattenDicom(which === 'before' ? outcome.input : outcome.output!);
    flattenedCache.set(key, elements);
  }
  return elements;
}

describe('anonymize {} over every sample file', () => {
  it('covers the samples', () => {
    expect(FILES.length).toBeGreaterThan(300);
    expect(anonymized.length).toBeGreaterThan(300);
  });

  it('refuses the others with a 4xx OrthancError that says why', () => {
    for (const file of FILES.filter((candidate) => outcomes.get(candidate)!.error)) {
      const { error } = outcomes.get(file)!;
      expect({ file, isOrthancError: error instanceof OrthancError }).toEqual({ file, isOrthancError: true });
      expect((error as OrthancError).httpStatus).toBe(400);
      expect((error as OrthancError).details).toBeTruthy();
    }
  });

  /** Runs `check` on every anonymized file; failures are collected per file so that one run shows them all. */
  function forEveryFile(check: (file: { input: Uint8Array; output: Uint8Array; before: FlatElement[]; after: FlatElement[] }) => string[]): void {
    const failures: Record<string, string[]> = {};
    for (const file of anonymized) {
      const { input, output } = outcomes.get(file)!;
      const found = check({ input, output: output!, before: flattened(file, 'before'), after: flattened(file, 'after') });
      if (found.length > 0) failures[path.relative(SAMPLES, file)] = found;
    }
    expect(failures).toEqual({});
  }

  it('leaves no value in the tags the profile removes or empties, at any depth', () => {
    forEveryFile(({ after }) =>
      dataset(after)
        .filter((element) => {
          const action = profile.actions.get(tagKey(element.tag));
          if (action === 'remove' || profile.ranges.some((range) => isInTagRange(range, element.tag))) return true;
          if (action === 'clear') return element.value.length > 0 || (element.items ?? 0) > 0;
          return false;
        })
        .map((element) => element.path),
    );
  });

  it('leaves no private tag', () => {
    forEveryFile(({ after }) => dataset(after).filter((element) => isPrivateTag(element.tag)).map((element) => element.path));
  });

  it('pseudonymises the patient and marks the identity removed', () => {
    forEveryFile(({ before, after }) => {
      const originalId = top(before, TAGS.PatientID);
      const expectedId = originalId && text(originalId.value) ? mapPatientId(SECRET, text(originalId.value)) : undefined;
      const patientId = top(after, TAGS.PatientID);
      const problems: string[] = [];
      if (expectedId && text(patientId!.value) !== expectedId) problems.push('PatientID');
      if (text(top(after, TAGS.PatientName)!.value) !== PATIENT_NAME) problems.push('PatientName');
      if (text(top(after, TAGS.PatientIdentityRemoved)!.value) !== 'YES') problems.push('PatientIdentityRemoved');
      return problems;
    });
  });

  it('keeps the pixel data, the transfer syntax and the character set byte for byte', () => {
    forEveryFile(({ before, after }) => {
      const problems = [TAGS.PixelData, TAGS.SpecificCharacterSet, TAGS.TransferSyntaxUID].filter((tag) => {
        const original = top(before, tag);
        const kept = top(after, tag);
        if (tag === TAGS.TransferSyntaxUID) return original !== undefined && text(kept!.value) !== text(original.value);
        return !Buffer.from(kept?.encoded ?? []).equals(Buffer.from(original?.encoded ?? []));
      });
      return problems.map((tag) => tagKey(tag));
    });
  });

  it('writes a meta header that follows the new SOPInstanceUID', () => {
    forEveryFile(({ output, after }) => {
      const sopInstanceUid = text(top(after, TAGS.SOPInstanceUID)!.value);
      const problems: string[] = [];
      if (!/^2\.25\.\d{1,39}$/.test(sopInstanceUid)) problems.push('SOPInstanceUID');
      if (text(top(after, TAGS.MediaStorageSOPInstanceUID)!.value) !== sopInstanceUid) problems.push('MediaStorageSOPInstanceUID');
      if (Buffer.from(output.subarray(128, 132)).toString('latin1') !== 'DICM') problems.push('DICM');
      return problems;
    });
  });

  it('indexes its output from the rewritten elements as parseInstance indexes the written file (derive)', () => {
    forEveryFile(({ input }) => {
      try {
        derivedFile(anonymize, input);
        return [];
      } catch (error) {
        return [(error as Error).message];
      }
    });
  });

  it('re-parses with dcmjs when the original does', () => {
    forEveryFile(({ input, output }) => (readsWithDcmjs(input) && !readsWithDcmjs(output) ? ['dcmjs'] : []));
  });
});

describe('UID mapping across the files of one study', () => {
  const STUDIES = ['orthanc-tests/Knee', 'orthanc-tests/Brainix', 'orthanc-tests/Knix', 'orthanc-tests/Comunix', 'orthanc-tests/HierarchicalAnonymization'];

  it.each(STUDIES)('%s: same input UID -> same output UID, distinct inputs stay distinct, references resolve', (study) => {
    const files = anonymized.filter((file) => file.startsWith(path.join(SAMPLES, study) + path.sep));
    expect(files.length).toBeGreaterThan(1);
    const mapping = new Map<string, string>();
    const reverse = new Map<string, string>();
    const references: string[] = [];
    for (const file of files) {
      const before = flattened(file, 'before');
      const after = flattened(file, 'after');
      for (const tag of [TAGS.StudyInstanceUID, TAGS.SeriesInstanceUID, TAGS.SOPInstanceUID, 0x00200052]) {
        const original = top(before, tag);
        if (!original) continue;
        const key = `${tag}:${text(original.value)}`;
        const mapped = text(top(after, tag)!.value);
        expect(mapping.get(key) ?? mapped).toBe(mapped);
        expect(reverse.get(`${tag}:${mapped}`) ?? key).toBe(key);
        mapping.set(key, mapped);
        reverse.set(`${tag}:${mapped}`, key);
      }
      for (const element of after) {
        if (element.tag === TAGS.ReferencedSOPInstanceUID && element.parents.length > 0) references.push(text(element.value));
      }
    }
    // Every reference to an instance of the study now points at that instance's new SOPInstanceUID.
    const originalSopUids = new Set([...mapping.keys()].filter((key) => key.startsWith(`${TAGS.SOPInstanceUID}:`)).map((key) => key.split(':')[1]));
    for (const file of files) {
      for (const element of flattened(file, 'before')) {
        if (element.tag === TAGS.ReferencedSOPInstanceUID && element.parents.length > 0 && originalSopUids.has(text(element.value))) {
          expect(references).toContain(mapping.get(`${TAGS.SOPInstanceUID}:${text(element.value)}`));
        }
      }
    }
    expect(references.every((uid) => uid === '' || /^2\.25\.\d+$/.test(uid))).toBe(true);
  });

  it('RT-STRUCT: RTReferencedStudySequence/ReferencedSOPInstanceUID is mapped as the study of the CT', () => {
    const rt = flattened(path.join(SAMPLES, 'orthanc-tests/HierarchicalAnonymization/RTH/RT.dcm'), 'after');
    const ct = flattened(path.join(SAMPLES, 'orthanc-tests/HierarchicalAnonymization/RTH/CT01.dcm'), 'after');
    const studyReference = rt.find(
      (element) =>
        element.tag === TAGS.ReferencedSOPInstanceUID &&
        element.parents.length === 2 &&
        element.parents[0] === TAGS.ReferencedFrameOfReferenceSequence &&
        element.parents[1] === TAGS.RTReferencedStudySequence,
    );
    expect(text(studyReference!.value)).toBe(text(top(ct, TAGS.StudyInstanceUID)!.value));
    const frameOfReference = rt.find((element) => element.tag === 0x00200052 && element.parents[0] === TAGS.ReferencedFrameOfReferenceSequence);
    expect(text(frameOfReference!.value)).toBe(text(top(ct, 0x00200052)!.value));
  });
});

describe('modify {} over every sample file', () => {
  const modify = DicomModification.fromRequest(parseModificationRequest({}, { operation: 'modify', level: 'Instance', scope: 'download' }), {
    secret: SECRET,
  });

  it('changes nothing but SOPInstanceUID, the meta header and group lengths', () => {
    for (const file of anonymized) {
      const { input } = outcomes.get(file)!;
      const before = dataset(flattened(file, 'before')).filter((element) => element.parents.length === 0);
      const after = dataset(flattenDicom(modify.apply(input))).filter((element) => element.parents.length === 0);
      const changed = (element: FlatElement) =>
        element.tag === TAGS.SOPInstanceUID || (element.tag & 0xffff) === 0 || element.tag === TAGS.DataSetTrailingPadding;
      const summary = (elements: FlatElement[]) => elements.filter((element) => !changed(element)).map((element) => Buffer.from(element.encoded).toString('hex'));
      expect({ file, elements: summary(after) }).toEqual({ file, elements: summary(before) });
    }
  });
});

describe('damaged files', () => {
  const sources = ['orthanc-tests/DummyCT.dcm', 'pydicom/test_files/rtplan.dcm', 'orthanc-tests/PrivateMDNTags.dcm', 'pydicom/test_files/image_dfl.dcm'];

  function expectOrthancErrorOrFile(bytes: Uint8Array): void {
    try {
      const output = anonymize.apply(bytes);
      flattenDicom(output);
    } catch (error) {
      expect(error).toBeInstanceOf(OrthancError);
    }
  }

  it.each(sources)('%s: truncated at many offsets, or with corrupted bytes, gives an OrthancError or a valid file', (source) => {
    const bytes = new Uint8Array(fs.readFileSync(path.join(SAMPLES, source)));
    for (let cut = 0; cut < bytes.length; cut += Math.max(1, Math.floor(bytes.length / 97))) {
      expectOrthancErrorOrFile(bytes.subarray(0, cut));
    }
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let round = 0; round < 150; round++) {
      const damaged = Uint8Array.from(bytes);
      for (let flip = 0; flip < 4; flip++) damaged[Math.floor(random() * Math.min(damaged.length, 4096))] = Math.floor(random() * 256);
      expectOrthancErrorOrFile(damaged);
    }
  });

  it('refuses random bytes and empty input', () => {
    expect(() => anonymize.apply(new Uint8Array(0))).toThrow(OrthancError);
    expect(() => anonymize.apply(Uint8Array.from({ length: 5000 }, (_, i) => (i * 7919) % 251))).toThrow(OrthancError);
  });
});
