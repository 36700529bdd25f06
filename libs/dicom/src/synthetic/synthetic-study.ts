import * as dcmjs from 'dcmjs';
import { OrthancError, OrthancErrorCode } from '@deidflow/common';
import { SeededRandom, syntheticUid } from './random';

export interface SyntheticStudyOptions {
  /** Instances in total, spread evenly over every series of every study. */
  instances: number;
  /** Series per study (default 1). */
  series?: number;
  /** Studies in total, given to the patients in turn (default 1). */
  studies?: number;
  /** Patients (default 1; at most `studies`). */
  patients?: number;
  /** The same seed and options give byte-identical files (default 1). */
  seed?: number;
  /** Rows and columns of every image (default 512, ~527 kB a file); a small size keeps tests fast. */
  imageSize?: number;
}

export interface SyntheticInstance {
  /** Where to write it, relative: `patient-01/study-01/series-02/0007.dcm`. */
  path: string;
  bytes: Uint8Array;
  /** 0-based positions in the generated set; `instanceNumber` is the DICOM InstanceNumber (1-based). */
  patientIndex: number;
  studyIndex: number;
  seriesIndex: number;
  instanceNumber: number;
  patientId: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  frameOfReferenceUid: string;
  /** The SOPInstanceUID in this instance's ReferencedImageSequence (absent for the first of a study). */
  referencedSopInstanceUid?: string;
}

/** One series of the layout: which study and patient it belongs to and how many instances it holds. */
export interface SyntheticSeriesLayout {
  patientIndex: number;
  studyIndex: number;
  seriesIndex: number;
  instances: number;
}

const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
const IMPLEMENTATION_CLASS_UID = '2.25.160133585617375232412906383467618934621';
export const SYNTHETIC_PRIVATE_CREATORS = { header: 'DEIDFLOW SYNTHETIC 1.0', sequence: 'DEIDFLOW SYNTHETIC SQ 1.0' } as const;

const LAST_NAMES = ['Martin', 'Bernard', 'Dubois', 'Garcia', 'Mueller', 'Rossi', 'Smith', 'Jones', 'Nakamura', 'Kowalski', 'Silva', 'Novak', 'Lindqvist', 'Okafor', 'Haddad', 'Petrov'];
const FIRST_NAMES = ['Anna', 'Louis', 'Maria', 'Jean', 'Sofia', 'Lucas', 'Emma', 'Noah', 'Yuki', 'Piotr', 'Ines', 'Omar', 'Elena', 'David', 'Chloe', 'Hugo'];
const INSTITUTIONS = ['Hopital Saint-Anselme', 'Riverside General Hospital', 'Klinikum Nord', 'Ospedale San Vito', 'Lakeshore Medical Center'];
const STUDIES = [
  { description: 'CT THORAX ABDOMEN PELVIS W CONTRAST', bodyPart: 'CHEST', code: '74177' },
  { description: 'CT HEAD WO CONTRAST', bodyPart: 'HEAD', code: '70450' },
  { description: 'CT CHEST LOW DOSE SCREENING', bodyPart: 'CHEST', code: '71271' },
  { description: 'CT ABDOMEN PELVIS WO CONTRAST', bodyPart: 'ABDOMEN', code: '74176' },
];
const SERIES = [
  { description: 'AXIAL 5.0 SOFT TISSUE', kernel: 'STANDARD', thickness: 5 },
  { description: 'AXIAL 1.25 LUNG', kernel: 'LUNG', thickness: 1.25 },
  { description: 'AXIAL 2.5 BONE', kernel: 'BONE', thickness: 2.5 },
  { description: 'CORONAL MPR 3.0', kernel: 'STANDARD', thickness: 3 },
  { description: 'SAGITTAL MPR 3.0', kernel: 'STANDARD', thickness: 3 },
];
const SCANNERS = [
  { manufacturer: 'GE MEDICAL SYSTEMS', model: 'Revolution CT', software: 'revo_ct_22bc.50' },
  { manufacturer: 'SIEMENS', model: 'SOMATOM Force', software: 'syngo CT VB20A' },
  { manufacturer: 'Canon Medical Systems', model: 'Aquilion ONE', software: 'V10.6' },
];

/** How the instances are spread: studies over patients in turn, instances evenly over series. */
export function syntheticLayout(options: SyntheticStudyOptions): SyntheticSeriesLayout[] {
  const { instances, series, studies, patients } = validated(options);
  const layout: SyntheticSeriesLayout[] = [];
  for (let study = 0; study < studies; study++) {
    const inStudy = share(instances, studies, study);
    for (let s = 0; s < series; s++) {
      layout.push({ patientIndex: study % patients, studyIndex: study, seriesIndex: s, instances: share(inStudy, series, s) });
    }
  }
  return layout;
}

/**
 * CT instances of synthetic patients and studies, one file at a time (a 500-instance study is
 * 260 MB: callers write or upload each file and let it go). Pure: no I/O, no clock, no global
 * randomness. Each instance references the previous one of its series in ReferencedImageSequence
 * (the first of a series references the first of the study), and every series of a study shares
 * its FrameOfReferenceUID.
 */
export function* generateSyntheticInstances(options: SyntheticStudyOptions): Generator<SyntheticInstance> {
  const { seed, imageSize } = validated(options);
  for (const series of syntheticLayout(options)) {
    const patient = patientTags(seed, series.patientIndex);
    const study = studyTags(seed, series.studyIndex, patient.birthYear);
    const seriesStart = study.start + 60 * series.seriesIndex;
    const seriesTags = seriesTagsOf(seed, series, study.date, seriesStart);
    const acquisition = { date: study.date, start: seriesStart, sliceThickness: seriesTags.SliceThickness };
    const directory = `patient-${pad(series.patientIndex + 1, 2)}/study-${pad(series.studyIndex + 1, 2)}/series-${pad(series.seriesIndex + 1, 2)}`;
    for (let number = 1; number <= series.instances; number++) {
      const uids = instanceUids(seed, series, number);
      const dataset = { ...patient.tags, ...study.tags, ...seriesTags, ...instanceTags(seed, series, number, acquisition, uids, imageSize) };
      yield {
        path: `${directory}/${pad(number, 4)}.dcm`,
        bytes: writeCt(dataset, uids.sop, privateElements(seed, series, number)),
        patientIndex: series.patientIndex,
        studyIndex: series.studyIndex,
        seriesIndex: series.seriesIndex,
        instanceNumber: number,
        patientId: patient.tags.PatientID,
        studyInstanceUid: uids.study,
        seriesInstanceUid: uids.series,
        sopInstanceUid: uids.sop,
        frameOfReferenceUid: uids.frameOfReference,
        ...(uids.referenced ? { referencedSopInstanceUid: uids.referenced } : {}),
      };
    }
  }
}

/** All instances at once: for small sets (tests); prefer the generator for large ones. */
export function generateSyntheticStudy(options: SyntheticStudyOptions): SyntheticInstance[] {
  return [...generateSyntheticInstances(options)];
}

function validated(options: SyntheticStudyOptions): Required<SyntheticStudyOptions> {
  const { instances, series = 1, studies = 1, patients = 1, seed = 1, imageSize = 512 } = options;
  const positive = { instances, series, studies, patients };
  for (const [name, value] of Object.entries(positive)) {
    if (!Number.isInteger(value) || value < 1) throw outOfRange(`${name} must be a positive integer`);
  }
  if (!Number.isInteger(seed)) throw outOfRange('seed must be an integer');
  if (patients > studies) throw outOfRange('patients must not exceed studies');
  if (instances < studies * series) throw outOfRange('instances must be at least studies x series (one per series)');
  if (!Number.isInteger(imageSize) || imageSize < 8 || imageSize > 4096) throw outOfRange('imageSize must be an integer in 8..4096');
  return { instances, series, studies, patients, seed, imageSize };
}

function outOfRange(details: string): OrthancError {
  return new OrthancError(OrthancErrorCode.ParameterOutOfRange, `Synthetic study: ${details}`);
}

/** The `index`-th of `parts` even shares of `total` (the first ones take the remainder). */
function share(total: number, parts: number, index: number): number {
  return Math.floor(total / parts) + (index < total % parts ? 1 : 0);
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

function dicomDate(year: number, dayOfYear: number): string {
  const date = new Date(Date.UTC(year, 0, 1 + dayOfYear));
  return `${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1, 2)}${pad(date.getUTCDate(), 2)}`;
}

function dicomTime(secondsOfDay: number): string {
  const s = Math.floor(secondsOfDay) % 86400;
  return `${pad(Math.floor(s / 3600), 2)}${pad(Math.floor(s / 60) % 60, 2)}${pad(s % 60, 2)}`;
}

function patientTags(seed: number, patientIndex: number) {
  const random = new SeededRandom(seed, `patient|${patientIndex}`);
  const sex = random.pick(['F', 'M'] as const);
  const birthYear = random.int(1935, 2000);
  return {
    birthYear,
    tags: {
      PatientName: `${random.pick(LAST_NAMES)}^${random.pick(FIRST_NAMES)}`,
      PatientID: `SYN${random.digits(7)}`,
      IssuerOfPatientID: 'DEIDFLOW-SYNTHETIC',
      PatientBirthDate: dicomDate(birthYear, random.int(0, 364)),
      PatientSex: sex,
      PatientWeight: String(random.int(45, 110)),
      PatientSize: (random.int(150, 195) / 100).toFixed(2),
      OtherPatientIDsSequence: [{ PatientID: `MRN${random.digits(8)}`, IssuerOfPatientID: 'HOSPITAL', TypeOfPatientID: 'TEXT' }],
      PatientAddress: `${random.int(1, 200)} Synthetic Street^^Springfield`,
      PatientTelephoneNumbers: `+1-555-${random.digits(4)}`,
    },
  };
}

function studyTags(seed: number, studyIndex: number, birthYear: number) {
  const random = new SeededRandom(seed, `study|${studyIndex}`);
  const kind = random.pick(STUDIES);
  const scanner = random.pick(SCANNERS);
  const year = random.int(2015, 2024);
  const date = dicomDate(year, random.int(0, 364));
  const start = random.int(7 * 3600, 18 * 3600);
  const accession = `ACC${random.digits(8)}`;
  const requestedProcedureId = `RP${random.digits(6)}`;
  const referring = `${random.pick(LAST_NAMES)}^${random.pick(FIRST_NAMES)}^^Dr`;
  return {
    tags: {
      StudyInstanceUID: syntheticUid(seed, `study|${studyIndex}`),
      StudyDate: date,
      StudyTime: dicomTime(start),
      AccessionNumber: accession,
      StudyID: String(random.int(1000, 99999)),
      StudyDescription: kind.description,
      BodyPartExamined: kind.bodyPart,
      PatientAge: `${pad(Math.max(0, year - birthYear), 3)}Y`,
      ReferringPhysicianName: referring,
      PerformingPhysicianName: `${random.pick(LAST_NAMES)}^${random.pick(FIRST_NAMES)}`,
      OperatorsName: `${random.pick(LAST_NAMES)}^${random.pick(FIRST_NAMES)}`,
      InstitutionName: random.pick(INSTITUTIONS),
      InstitutionAddress: `${random.int(1, 99)} Hospital Road, Springfield`,
      InstitutionalDepartmentName: 'Radiology',
      StationName: `CT${random.digits(2)}`,
      Manufacturer: scanner.manufacturer,
      ManufacturerModelName: scanner.model,
      SoftwareVersions: scanner.software,
      DeviceSerialNumber: random.digits(6),
      ProcedureCodeSequence: [{ CodeValue: kind.code, CodingSchemeDesignator: 'CPT4', CodeMeaning: kind.description }],
      // Two levels deep: the request's item holds the scheduled protocol's code sequence.
      RequestAttributesSequence: [
        {
          RequestedProcedureID: requestedProcedureId,
          ScheduledProcedureStepID: `SPS${random.digits(6)}`,
          AccessionNumber: accession,
          RequestedProcedureDescription: kind.description,
          ScheduledProtocolCodeSequence: [
            {
              CodeValue: `P${random.digits(4)}`,
              CodingSchemeDesignator: '99DEIDFLOW',
              CodeMeaning: kind.description,
              CodingSchemeVersion: '1.0',
            },
          ],
        },
      ],
    },
    date,
    start,
  };
}

function seriesTagsOf(seed: number, { studyIndex, seriesIndex }: SyntheticSeriesLayout, date: string, start: number) {
  const random = new SeededRandom(seed, `series|${studyIndex}|${seriesIndex}`);
  const kind = SERIES[seriesIndex % SERIES.length];
  return {
    SeriesDate: date,
    SeriesTime: dicomTime(start),
    Modality: 'CT',
    SeriesNumber: String(seriesIndex + 1),
    SeriesDescription: kind.description,
    ProtocolName: `DEIDFLOW PROTOCOL ${seriesIndex + 1}`,
    ConvolutionKernel: kind.kernel,
    SliceThickness: String(kind.thickness),
    KVP: String(random.pick([100, 120, 140])),
    XRayTubeCurrent: String(random.int(80, 400)),
    ExposureTime: String(random.int(500, 1000)),
    PatientPosition: 'FFS',
    PositionReferenceIndicator: 'SN',
  };
}

interface InstanceUids {
  study: string;
  series: string;
  sop: string;
  frameOfReference: string;
  referenced?: string;
}

function instanceUids(seed: number, series: SyntheticSeriesLayout, number: number): InstanceUids {
  const sopOf = (seriesIndex: number, n: number) => syntheticUid(seed, `instance|${series.studyIndex}|${seriesIndex}|${n}`);
  const referenced = number > 1 ? sopOf(series.seriesIndex, number - 1) : series.seriesIndex > 0 ? sopOf(0, 1) : undefined;
  return {
    study: syntheticUid(seed, `study|${series.studyIndex}`),
    series: syntheticUid(seed, `series|${series.studyIndex}|${series.seriesIndex}`),
    sop: sopOf(series.seriesIndex, number),
    frameOfReference: syntheticUid(seed, `frame-of-reference|${series.studyIndex}`),
    referenced,
  };
}

function instanceTags(
  seed: number,
  series: SyntheticSeriesLayout,
  number: number,
  acquisition: { date: string; start: number; sliceThickness: string },
  uids: InstanceUids,
  imageSize: number,
) {
  const z = -(number - 1) * Number(acquisition.sliceThickness);
  const time = dicomTime(acquisition.start + number / 4);
  const spacing = (380 / imageSize).toFixed(6);
  return {
    SpecificCharacterSet: 'ISO_IR 100',
    ImageType: ['ORIGINAL', 'PRIMARY', 'AXIAL'],
    SOPClassUID: CT_IMAGE_STORAGE,
    SOPInstanceUID: uids.sop,
    InstanceCreationDate: acquisition.date,
    InstanceCreationTime: time,
    AcquisitionDate: acquisition.date,
    AcquisitionTime: time,
    ContentDate: acquisition.date,
    ContentTime: time,
    SeriesInstanceUID: uids.series,
    FrameOfReferenceUID: uids.frameOfReference,
    InstanceNumber: String(number),
    AcquisitionNumber: '1',
    ImagePositionPatient: ['-190', '-190', z.toFixed(2)],
    ImageOrientationPatient: ['1', '0', '0', '0', '1', '0'],
    SliceLocation: z.toFixed(2),
    ...(uids.referenced
      ? { ReferencedImageSequence: [{ ReferencedSOPClassUID: CT_IMAGE_STORAGE, ReferencedSOPInstanceUID: uids.referenced }] }
      : {}),
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: imageSize,
    Columns: imageSize,
    PixelSpacing: [spacing, spacing],
    BitsAllocated: 16,
    BitsStored: 12,
    HighBit: 11,
    PixelRepresentation: 0,
    RescaleIntercept: '-1024',
    RescaleSlope: '1',
    RescaleType: 'HU',
    WindowCenter: '40',
    WindowWidth: '400',
    PixelData: [phantomSlice(new SeededRandom(seed, `pixels|${series.studyIndex}|${series.seriesIndex}|${number}`), imageSize, number)],
  };
}

/** Private tags in raw dcmjs form: a header block of strings, and a block holding a private sequence. */
function privateElements(seed: number, series: SyntheticSeriesLayout, number: number): Record<string, { vr: string; Value: unknown[] }> {
  const random = new SeededRandom(seed, `private|${series.studyIndex}|${series.seriesIndex}|${number}`);
  const step = (name: string) => ({
    '00290010': { vr: 'LO', Value: [SYNTHETIC_PRIVATE_CREATORS.sequence] },
    '00291011': { vr: 'LO', Value: [name] },
    '00291012': { vr: 'DS', Value: [(random.int(0, 1000) / 10).toFixed(1)] },
  });
  return {
    '00090010': { vr: 'LO', Value: [SYNTHETIC_PRIVATE_CREATORS.header] },
    '00091001': { vr: 'LO', Value: [`SCAN-${random.digits(10)}`] },
    '00091002': { vr: 'DS', Value: [(random.int(100, 2000) / 100).toFixed(2)] },
    '00091003': { vr: 'SH', Value: [`ROOM${random.int(1, 9)}`] },
    '00290010': { vr: 'LO', Value: [SYNTHETIC_PRIVATE_CREATORS.sequence] },
    '00291010': { vr: 'SQ', Value: [step('RECON'), step('FILTER')] },
  };
}

/** A body-like ellipse (air around, soft tissue, a denser core) with noise, as 12-bit stored values (HU + 1024). */
function phantomSlice(random: SeededRandom, size: number, number: number): ArrayBuffer {
  const pixels = new Uint16Array(size * size);
  const center = size / 2;
  const core = 0.15 + 0.05 * Math.sin(number / 7);
  for (let y = 0; y < size; y++) {
    const dy = (y - center) / (size * 0.38);
    for (let x = 0; x < size; x++) {
      const dx = (x - center) / (size * 0.45);
      const r = dx * dx + dy * dy;
      const hu = r > 1 ? -1000 : r < core ? 300 : 40;
      // No global (Math) lookups in this loop: they are slow inside Jest's vm contexts.
      const stored = hu + 1024 + (random.nextUint32() & 0x3f) - 32;
      pixels[y * size + x] = stored < 0 ? 0 : stored;
    }
  }
  return pixels.buffer;
}

function writeCt(dataset: Record<string, unknown>, sopInstanceUid: string, privateTags: Record<string, unknown>): Uint8Array {
  const { DicomDict, DicomMetaDictionary } = dcmjs.data;
  const meta = {
    FileMetaInformationVersion: Uint8Array.of(0, 1).buffer,
    MediaStorageSOPClassUID: CT_IMAGE_STORAGE,
    MediaStorageSOPInstanceUID: sopInstanceUid,
    TransferSyntaxUID: EXPLICIT_VR_LITTLE_ENDIAN,
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: 'DEIDFLOW_SYN',
  };
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = { ...DicomMetaDictionary.denaturalizeDataset({ ...dataset, _vrMap: { PixelData: 'OW' } }), ...privateTags };
  return new Uint8Array(dict.write());
}
