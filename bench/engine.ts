/**
 * Micro-benchmark of the DICOM engine (libs/dicom): instances/s and MB/s of anonymize and modify,
 * over the sample files and over a generated 512x512 16-bit CT, next to a full dcmjs parse + write
 * of the same files (what the engine avoids by copying untouched bytes, pixel data included).
 *
 *   npm run bench:engine [-- --samples DIR] [-- --seconds S]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as dcmjs from 'dcmjs';
import { silenceDcmjsLogs } from '../libs/dicom/src/dictionary/dictionary';
import { DicomModification } from '../libs/dicom/src/modification/dicom-modification';
import { parseModificationRequest } from '../libs/dicom/src/modification/parse-request';

interface Options {
  samples: string;
  seconds: number;
}

function parseOptions(argv: string[]): Options {
  // dist/bench/engine.js -> the ../shared/dicom-samples of the repository.
  const options: Options = { samples: path.resolve(__dirname, '../../../shared/dicom-samples'), seconds: 2 };
  for (let i = 0; i < argv.length; i += 2) {
    if (argv[i] === '--samples') options.samples = path.resolve(argv[i + 1]);
    else if (argv[i] === '--seconds') options.seconds = Number(argv[i + 1]);
    else throw new Error(`Unknown argument ${argv[i]} (accepted: --samples DIR, --seconds S)`);
  }
  return options;
}

function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? listFiles(path.join(dir, entry.name)) : [path.join(dir, entry.name)]));
}

/** A CT slice like the one of the performance issue: 512x512 16-bit, private blocks, nested sequences. */
function generateCt(): Uint8Array {
  const { DicomMetaDictionary, DicomDict } = dcmjs.data;
  const uid = (suffix: string) => `1.2.826.0.1.3680043.8.498.${suffix}`;
  const pixels = new Uint16Array(512 * 512).map((_, i) => (i * 2654435761) % 4096);
  const meta = {
    FileMetaInformationVersion: Uint8Array.of(0, 1).buffer,
    MediaStorageSOPClassUID: '1.2.840.10008.5.1.4.1.1.2',
    MediaStorageSOPInstanceUID: uid('3.1'),
    TransferSyntaxUID: '1.2.840.10008.1.2.1',
    ImplementationClassUID: uid('9'),
  };
  const dataset = {
    SpecificCharacterSet: 'ISO_IR 100',
    ImageType: ['ORIGINAL', 'PRIMARY', 'AXIAL'],
    SOPClassUID: '1.2.840.10008.5.1.4.1.1.2',
    SOPInstanceUID: uid('3.1'),
    StudyDate: '20230315',
    SeriesDate: '20230315',
    StudyTime: '092653',
    AccessionNumber: 'ACC0000032',
    Modality: 'CT',
    Manufacturer: 'AnchorMed',
    InstitutionName: 'Anchor University Hospital',
    ReferringPhysicianName: 'House^Gregory',
    StationName: 'CTSTATION01',
    StudyDescription: 'CT THORAX ABDOMEN PELVIS',
    SeriesDescription: 'AXIAL 1.0',
    ReferencedStudySequence: [{ ReferencedSOPClassUID: '1.2.840.10008.3.1.2.3.1', ReferencedSOPInstanceUID: uid('7') }],
    ReferencedImageSequence: [{ ReferencedSOPClassUID: '1.2.840.10008.5.1.4.1.1.2', ReferencedSOPInstanceUID: uid('3.2') }],
    PatientName: 'Doe^Jane',
    PatientID: 'ANCHOR-000001',
    PatientBirthDate: '19410211',
    PatientSex: 'F',
    SliceThickness: '1.0',
    KVP: '120',
    StudyInstanceUID: uid('1'),
    SeriesInstanceUID: uid('2'),
    StudyID: '1001',
    SeriesNumber: '1',
    InstanceNumber: '1',
    ImagePositionPatient: ['-190', '-190', '0'],
    ImageOrientationPatient: ['1', '0', '0', '0', '1', '0'],
    FrameOfReferenceUID: uid('4'),
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: 512,
    Columns: 512,
    PixelSpacing: ['0.742188', '0.742188'],
    BitsAllocated: 16,
    BitsStored: 16,
    HighBit: 15,
    PixelRepresentation: 0,
    RequestAttributesSequence: [
      { ScheduledProcedureStepID: 'SPS1', ScheduledProtocolCodeSequence: [{ CodeValue: 'P5-0900A', CodingSchemeDesignator: 'SRT' }] },
    ],
    PixelData: [pixels.buffer],
    _vrMap: { PixelData: 'OW' },
  };
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = {
    ...DicomMetaDictionary.denaturalizeDataset(dataset),
    '00090010': { vr: 'LO', Value: ['ANCHOR SYNTHETIC 1.0'] },
    '00091001': { vr: 'LO', Value: ['synthetic private string'] },
    '00091002': { vr: 'SQ', Value: [{ '00090010': { vr: 'LO', Value: ['ANCHOR SYNTHETIC 1.0'] }, '00091001': { vr: 'LO', Value: ['nested'] } }] },
  };
  return new Uint8Array(dict.write());
}

interface Measure {
  instances: number;
  bytes: number;
  seconds: number;
}

/** Runs `work` over `files` in rounds until `seconds` elapsed (after one warm-up round). */
function measure(files: readonly Uint8Array[], seconds: number, work: (file: Uint8Array) => void): Measure {
  for (const file of files) work(file);
  let instances = 0;
  let bytes = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < seconds) {
    for (const file of files) {
      work(file);
      instances += 1;
      bytes += file.length;
    }
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  return { instances, bytes, seconds: elapsed };
}

function row(name: string, result: Measure): string {
  const perSecond = result.instances / result.seconds;
  const megabytes = result.bytes / 1e6 / result.seconds;
  const latency = (1000 * result.seconds) / result.instances;
  return `${name.padEnd(46)} ${perSecond.toFixed(0).padStart(9)} ${megabytes.toFixed(1).padStart(9)} ${latency.toFixed(3).padStart(10)}`;
}

function dcmjsFullRoundTrip(file: Uint8Array): void {
  const parsed = dcmjs.data.DicomMessage.readFile(Uint8Array.from(file).buffer);
  parsed.write();
}

function dcmjsHeaderOnlyParse(file: Uint8Array): void {
  dcmjs.data.DicomMessage.readFile(Uint8Array.from(file).buffer, { untilTag: '7FE00010', includeUntilTagValue: false });
}

function main(): void {
  const options = parseOptions(process.argv.slice(2));
  // dcmjs logs every ambiguous VR it meets; the figures are what matters here.
  silenceDcmjsLogs();
  const anonymize = DicomModification.fromRequest(parseModificationRequest({}, { operation: 'anonymize', level: 'Study', scope: 'store' }), {
    secret: 'bench',
    patientName: 'Anonymized1',
  });
  const modify = DicomModification.fromRequest(
    parseModificationRequest({ Replace: { InstitutionName: 'X' } }, { operation: 'modify', level: 'Study', scope: 'store' }),
    { secret: 'bench' },
  );
  const samples = listFiles(options.samples)
    .map((file) => new Uint8Array(fs.readFileSync(file)))
    .filter((bytes) => {
      try {
        anonymize.apply(bytes);
        dcmjsFullRoundTrip(bytes);
        return true;
      } catch {
        return false;
      }
    });
  const ct = [generateCt()];

  console.log(`Node ${process.version}, ${options.seconds} s per line; samples: ${samples.length} files from ${options.samples}`);
  console.log(`Generated CT: ${ct[0].length} bytes (512x512, 16-bit, explicit VR little endian)\n`);
  console.log(`${'scenario'.padEnd(46)} ${'inst/s'.padStart(9)} ${'MB/s'.padStart(9)} ${'ms/inst'.padStart(10)}`);
  const lines: [string, Uint8Array[], (file: Uint8Array) => void][] = [
    ['CT 512x512: anonymize {} (engine)', ct, (file) => anonymize.apply(file)],
    ['CT 512x512: modify InstitutionName (engine)', ct, (file) => modify.apply(file)],
    ['CT 512x512: dcmjs header-only parse, no write', ct, dcmjsHeaderOnlyParse],
    ['CT 512x512: dcmjs full parse + write', ct, dcmjsFullRoundTrip],
    ['samples: anonymize {} (engine)', samples, (file) => anonymize.apply(file)],
    ['samples: modify InstitutionName (engine)', samples, (file) => modify.apply(file)],
    ['samples: dcmjs full parse + write', samples, dcmjsFullRoundTrip],
  ];
  for (const [name, files, work] of lines) console.log(row(name, measure(files, options.seconds, work)));
}

main();
