import * as dcmjs from 'dcmjs';
import { OrthancError } from '@deidflow/common';
import { parseInstance } from '../parse/parse-instance';
import { toArrayBuffer } from '../testing/dcmjs-read';
import { SeededRandom } from './random';
import { generateSyntheticInstances, generateSyntheticStudy, SYNTHETIC_PRIVATE_CREATORS, syntheticLayout } from './synthetic-study';

const SMALL = { imageSize: 16 } as const;

function naturalized(bytes: Uint8Array): Record<string, any> {
  const { dict } = dcmjs.data.DicomMessage.readFile(toArrayBuffer(bytes));
  return { raw: dict, ...dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict) };
}

describe('synthetic study generator', () => {
  it('spreads instances evenly over series and studies, and studies over patients in turn', () => {
    expect(syntheticLayout({ instances: 10, series: 3 }).map((s) => s.instances)).toEqual([4, 3, 3]);
    const layout = syntheticLayout({ instances: 13, series: 2, studies: 3, patients: 2 });
    expect(layout.map((s) => [s.patientIndex, s.studyIndex, s.seriesIndex, s.instances])).toEqual([
      [0, 0, 0, 3], [0, 0, 1, 2],
      [1, 1, 0, 2], [1, 1, 1, 2],
      [0, 2, 0, 2], [0, 2, 1, 2],
    ]);
  });

  it('refuses impossible layouts with an OrthancError', () => {
    expect(() => syntheticLayout({ instances: 2, series: 3 })).toThrow(OrthancError);
    expect(() => syntheticLayout({ instances: 4, studies: 1, patients: 2 })).toThrow(/patients must not exceed studies/);
    expect(() => syntheticLayout({ instances: 0 })).toThrow(/instances must be a positive integer/);
    expect(() => generateSyntheticStudy({ instances: 1, imageSize: 3 })).toThrow(/imageSize/);
  });

  it('is deterministic for a seed, and another seed gives other patients and UIDs', () => {
    const first = generateSyntheticStudy({ instances: 3, series: 2, seed: 7, ...SMALL });
    const again = generateSyntheticStudy({ instances: 3, series: 2, seed: 7, ...SMALL });
    expect(again.map((i) => Buffer.from(i.bytes).toString('hex'))).toEqual(first.map((i) => Buffer.from(i.bytes).toString('hex')));
    const other = generateSyntheticStudy({ instances: 3, series: 2, seed: 8, ...SMALL });
    expect(other[0].patientId).not.toBe(first[0].patientId);
    expect(other[0].sopInstanceUid).not.toBe(first[0].sopInstanceUid);
  });

  it('writes a 512x512 16-bit CT of about 527 kB by default', () => {
    const [instance] = generateSyntheticInstances({ instances: 1 });
    expect(instance.bytes.length).toBeGreaterThan(524_288);
    expect(instance.bytes.length).toBeLessThan(532_000);
    const tags = naturalized(instance.bytes);
    expect([tags.Rows, tags.Columns, tags.BitsAllocated, tags.Modality, tags.SOPClassUID]).toEqual([
      512, 512, 16, 'CT', '1.2.840.10008.5.1.4.1.1.2',
    ]);
  });

  it('gives each instance unique identifiers and the hierarchy the index expects', () => {
    const instances = generateSyntheticStudy({ instances: 12, series: 3, studies: 2, patients: 1, seed: 3, ...SMALL });
    const parsed = instances.map((i) => parseInstance(i.bytes));
    expect(new Set(parsed.map((p) => p.ids.instance)).size).toBe(12);
    expect(new Set(parsed.map((p) => p.ids.series)).size).toBe(6);
    expect(new Set(parsed.map((p) => p.ids.study)).size).toBe(2);
    expect(new Set(parsed.map((p) => p.ids.patient)).size).toBe(1);
    for (const [index, p] of parsed.entries()) {
      expect(p.identifiers.sopInstanceUid).toBe(instances[index].sopInstanceUid);
      expect(p.mainDicomTags.patient.PatientName).toMatch(/^[A-Za-z]+\^[A-Za-z]+$/);
      expect(p.mainDicomTags.study).toMatchObject({ AccessionNumber: expect.stringMatching(/^ACC\d{8}$/), StudyDescription: expect.any(String) });
      expect(p.identifiers.sopInstanceUid).toMatch(/^2\.25\.\d+$/);
    }
    expect(instances.map((i) => i.path).slice(0, 3)).toEqual([
      'patient-01/study-01/series-01/0001.dcm',
      'patient-01/study-01/series-01/0002.dcm',
      'patient-01/study-01/series-02/0001.dcm',
    ]);
  });

  it('references the previous instance of the series (the first of the study for a series start) and shares the frame of reference', () => {
    const instances = generateSyntheticStudy({ instances: 6, series: 2, seed: 5, ...SMALL });
    const [a1, a2, a3, b1] = instances;
    expect(a1.referencedSopInstanceUid).toBeUndefined();
    expect([a2.referencedSopInstanceUid, a3.referencedSopInstanceUid, b1.referencedSopInstanceUid]).toEqual([
      a1.sopInstanceUid, a2.sopInstanceUid, a1.sopInstanceUid,
    ]);
    expect(new Set(instances.map((i) => i.frameOfReferenceUid)).size).toBe(1);
    const tags = naturalized(a3.bytes);
    expect(tags.ReferencedImageSequence[0].ReferencedSOPInstanceUID).toBe(a2.sopInstanceUid);
    expect(tags.FrameOfReferenceUID).toBe(a1.frameOfReferenceUid);
    expect(naturalized(a1.bytes).ReferencedImageSequence).toBeUndefined();
  });

  it('holds two private blocks, one with a private sequence, and a sequence nested two levels deep', () => {
    const [instance] = generateSyntheticInstances({ instances: 1, ...SMALL });
    const tags = naturalized(instance.bytes);
    expect(tags.raw['00090010'].Value).toEqual([SYNTHETIC_PRIVATE_CREATORS.header]);
    expect(tags.raw['00091001'].Value[0]).toMatch(/^SCAN-\d{10}$/);
    expect(tags.raw['00290010'].Value).toEqual([SYNTHETIC_PRIVATE_CREATORS.sequence]);
    const privateSequence = tags.raw['00291010'];
    expect(privateSequence.vr).toBe('SQ');
    expect(privateSequence.Value.map((item: any) => item['00291011'].Value[0])).toEqual(['RECON', 'FILTER']);
    const [request] = tags.RequestAttributesSequence;
    expect(request.AccessionNumber).toBe(tags.AccessionNumber);
    expect(request.ScheduledProtocolCodeSequence[0].CodeValue).toMatch(/^P\d{4}$/);
  });

  it('draws integers within their bounds, all of them over enough draws', () => {
    const random = new SeededRandom(1, 'bounds');
    const seen = new Set(Array.from({ length: 500 }, () => random.int(3, 9)));
    expect([...seen].sort()).toEqual([3, 4, 5, 6, 7, 8, 9]);
    expect(random.digits(12)).toMatch(/^\d{12}$/);
  });
});
