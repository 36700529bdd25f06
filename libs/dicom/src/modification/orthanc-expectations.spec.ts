import * as fs from 'node:fs';
import * as path from 'node:path';
import { flattenDicom, FlatElement, text } from '../testing/flatten';
import { DicomModification } from './dicom-modification';
import { parseModificationRequest } from './parse-request';

/**
 * What Orthanc 1.10.1 did to these files with `POST /instances/{id}/anonymize {}` (DicomVersion
 * 2021b, its default), element by element (../shared/orthanc-reference/anonymize-diffs): the same
 * elements must be removed, emptied, replaced and added here, and the others left byte for byte.
 * Generated values (UIDs, PatientID, PatientName) are only checked to have changed.
 */
const DIFFS = path.join(__dirname, '../../../../../shared/orthanc-reference/anonymize-diffs');
const SAMPLES = path.join(__dirname, '../../../../../shared/dicom-samples');
const CASES: Record<string, string> = {
  'HierarchicalAnonymization-StructuredReports-IM0.txt': 'orthanc-tests/HierarchicalAnonymization/StructuredReports/IM0',
  'PrivateMDNTags.dcm.txt': 'orthanc-tests/PrivateMDNTags.dcm',
  'pydicom-test_files-CT_small.dcm.txt': 'pydicom/test_files/CT_small.dcm',
  'pydicom-test_files-rtplan.dcm.txt': 'pydicom/test_files/rtplan.dcm',
  // synthetic-ct-IM00001.dcm.txt describes a generated file that is not among the samples.
};

interface DiffLine {
  path: string;
  old?: string;
  new?: string;
  perCall?: boolean;
}

function parseDiff(file: string): Record<'REMOVED' | 'REPLACED' | 'ADDED' | 'KEPT UNCHANGED', DiffLine[]> {
  const sections = { REMOVED: [], REPLACED: [], ADDED: [], 'KEPT UNCHANGED': [] } as Record<string, DiffLine[]>;
  let current: DiffLine[] | undefined;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const header = /^## (REMOVED|REPLACED|ADDED|KEPT UNCHANGED) /.exec(line);
    if (header) current = sections[header[1]];
    if (!current || !line.startsWith('(')) continue;
    const pathToken = line.split(/\s+/)[0];
    const replaced = /'(.*)' -> '(.*)' \[(stable|per-call)\]$/.exec(line);
    const added = /= '(.*)' \[(stable|per-call)\]$/.exec(line);
    current.push({
      path: pathToken,
      old: replaced?.[1],
      new: replaced?.[2] ?? added?.[1],
      perCall: (replaced?.[3] ?? added?.[2]) === 'per-call',
    });
  }
  return sections as ReturnType<typeof parseDiff>;
}

const isMeta = (p: string) => p.startsWith('(0002,');
const isGroupLength = (p: string) => /,0000\)$/.test(p);

describe.each(Object.entries(CASES))('anonymize {} like Orthanc 1.10.1: %s', (diffName, samplePath) => {
  const diff = parseDiff(path.join(DIFFS, diffName));
  const original = new Uint8Array(fs.readFileSync(path.join(SAMPLES, samplePath)));
  const request = parseModificationRequest({ DicomVersion: '2021b' }, { operation: 'anonymize', level: 'Instance', scope: 'download' });
  const output = DicomModification.fromRequest(request, { secret: 'expectations', patientName: 'Anonymized7' }).apply(original);
  const ours = new Map<string, FlatElement>(flattenDicom(output).map((element) => [element.path, element]));
  const theirs = new Map<string, FlatElement>(flattenDicom(original).map((element) => [element.path, element]));

  it('removes what Orthanc removed', () => {
    const left = diff.REMOVED.filter((line) => ours.has(line.path)).map((line) => line.path);
    expect(left).toEqual([]);
  });

  it('replaces and empties what Orthanc replaced and emptied', () => {
    for (const line of diff.REPLACED) {
      if (isMeta(line.path)) continue;
      const element = ours.get(line.path);
      expect({ path: line.path, present: element !== undefined }).toEqual({ path: line.path, present: true });
      if (!element) continue;
      if (line.new === '<0 item(s)>') expect(element.items).toBe(0);
      else if (isGroupLength(line.path)) expect(Buffer.from(element.value).readUInt32LE(0)).toBe(groupBytes(ours, element));
      else if (line.perCall) expect({ path: line.path, value: text(element.value) }).not.toEqual({ path: line.path, value: line.old });
      else expect({ path: line.path, value: text(element.value) }).toEqual({ path: line.path, value: line.new });
    }
  });

  it('adds what Orthanc added', () => {
    for (const line of diff.ADDED) {
      const element = ours.get(line.path);
      expect({ path: line.path, present: element !== undefined }).toEqual({ path: line.path, present: true });
    }
    expect(text(ours.get('(0012,0062)')!.value)).toBe('YES');
    expect(text(ours.get('(0012,0063)')!.value)).toBe('DeidFlow 0.1.0 - PS 3.15-2021b Table E.1-1 Basic Profile');
  });

  it('leaves the other elements byte for byte', () => {
    for (const line of diff['KEPT UNCHANGED']) {
      const element = ours.get(line.path);
      const before = theirs.get(line.path)!;
      expect({ path: line.path, present: element !== undefined }).toEqual({ path: line.path, present: true });
      if (!element) continue;
      if (element.items !== undefined) expect(element.items).toBe(before.items);
      else expect({ path: line.path, value: Buffer.from(element.value) }).toEqual({ path: line.path, value: Buffer.from(before.value) });
    }
  });

  it('has no element that Orthanc does not have', () => {
    const known = new Set([...diff.REPLACED, ...diff.ADDED, ...diff['KEPT UNCHANGED']].map((line) => line.path));
    expect([...ours.keys()].filter((p) => !known.has(p))).toEqual([]);
  });

  it('writes the meta header of the product, pointing at the new SOPInstanceUID', () => {
    expect(text(ours.get('(0002,0003)')!.value)).toBe(text(ours.get('(0008,0018)')!.value));
    expect(text(ours.get('(0002,0010)')!.value)).toBe(text(diffValue(diff, '(0002,0010)') ?? theirs.get('(0002,0010)')!.value));
    expect(text(ours.get('(0002,0012)')!.value)).toMatch(/^2\.25\.\d+$/);
  });
});

/** Group lengths are recomputed; their values differ from Orthanc's only because our UIDs have another length. */
function groupBytes(elements: Map<string, FlatElement>, groupLength: FlatElement): number {
  const group = groupLength.tag >>> 16;
  return [...elements.values()]
    .filter((element) => element.parents.length === 0 && element.tag >>> 16 === group && element.tag !== groupLength.tag)
    .reduce((sum, element) => sum + element.encoded.length, 0);
}

function diffValue(diff: ReturnType<typeof parseDiff>, p: string): Uint8Array | undefined {
  const line = [...diff.ADDED, ...diff.REPLACED].find((candidate) => candidate.path === p);
  return line?.new !== undefined ? Buffer.from(line.new, 'latin1') : undefined;
}
