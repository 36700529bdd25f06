import { constants as zlibConstants, deflateRawSync, inflateRawSync } from 'node:zlib';
import { OrthancError } from '@deidflow/common';
import { Tag, TAGS } from '../dictionary/tag';
import { DatasetReader, malformed, RawElement } from './dataset-reader';
import { datasetSize, DatasetWriter, OutNode, ValueNode } from './out-tree';
import {
  EXPLICIT_BIG,
  EXPLICIT_LITTLE,
  IMPLICIT_LITTLE,
  TRANSFER_SYNTAX,
  TransferSyntax,
  transferSyntaxOf,
} from './transfer-syntax';

const PREAMBLE_LENGTH = 128;
const DICM = [0x44, 0x49, 0x43, 0x4d];
/** A deflated dataset may not inflate beyond this (a zip bomb ends in BadFileFormat, not in an OOM). */
const MAX_INFLATED_BYTES = 1 << 30;

/** A DICOM file split into its File Meta Information and its dataset. */
export interface Part10Source {
  /** The group 0002 elements found, if any (explicit VR little endian, always). */
  readonly meta: ReadonlyMap<Tag, RawElement>;
  readonly metaReader: DatasetReader;
  readonly transferSyntax: TransferSyntax;
  /** The dataset bytes, inflated for the deflated transfer syntax. */
  readonly dataset: Uint8Array;
}

function hasDicmPrefix(bytes: Uint8Array): boolean {
  return bytes.length >= PREAMBLE_LENGTH + 4 && DICM.every((byte, i) => bytes[PREAMBLE_LENGTH + i] === byte);
}

/**
 * Reads the framing of a DICOM file: preamble and "DICM" when present (PS3.10 7.1), the meta group,
 * and the transfer syntax (from the meta, or guessed from the first element for files that have no
 * meta header, as DCMTK does).
 */
export function readPart10(bytes: Uint8Array): Part10Source {
  const { meta, metaReader, offset } = readMeta(bytes);
  if (offset === 0 && !looksLikeDataset(bytes)) {
    throw OrthancError.badFileFormat(
      `Not a DICOM file (size: ${bytes.length} bytes): no "DICM" prefix at offset 128 and no DICOM dataset at offset 0`,
    );
  }
  const declared = meta.get(TAGS.TransferSyntaxUID);
  const uid = declared ? metaReader.asciiOf(declared) : '';
  const transferSyntax = uid ? transferSyntaxOf(uid) : guessTransferSyntax(bytes, offset);
  const rest = bytes.subarray(offset);
  const dataset = transferSyntax.deflated ? inflate(rest) : rest;
  return { meta, metaReader, transferSyntax, dataset };
}

/** The meta group's elements, and where the dataset starts (after the preamble, "DICM" and the meta). */
function readMeta(bytes: Uint8Array): { meta: Map<Tag, RawElement>; metaReader: DatasetReader; offset: number } {
  const metaReader = new DatasetReader(bytes, EXPLICIT_LITTLE);
  const meta = new Map<Tag, RawElement>();
  let offset = hasDicmPrefix(bytes) ? PREAMBLE_LENGTH + 4 : 0;
  while (offset + 8 <= bytes.length && metaReader.uint16(offset) === 0x0002) {
    const element = metaReader.readElement(offset, bytes.length, 0);
    meta.set(element.tag, element);
    offset = element.end;
  }
  return { meta, metaReader, offset };
}

/**
 * The dataset of a stored Part 10 file as it is encoded (deflated for the deflated syntax), with its
 * transfer syntax: what a C-STORE sends on a context of that syntax, without re-encoding it.
 */
export function encodedDatasetOf(file: Uint8Array): { transferSyntaxUid: string; dataset: Uint8Array } {
  const { meta, metaReader, offset } = readMeta(file);
  const declared = meta.get(TAGS.TransferSyntaxUID);
  if (!declared || offset === 0) throw OrthancError.badFileFormat('Not a stored Part 10 file: no File Meta Information with a transfer syntax');
  return { transferSyntaxUid: metaReader.asciiOf(declared), dataset: file.subarray(offset) };
}

/**
 * How many bytes precede the dataset in a Part 10 file (preamble, "DICM", the meta), from its first
 * 144 bytes: the meta's group length, its first element (PS3.10 7.1). Undefined when they cannot
 * tell (fewer bytes, no preamble, no group length first): read the file whole then.
 */
export function part10HeaderLength(start: Uint8Array): number | undefined {
  const groupLengthAt = PREAMBLE_LENGTH + 4;
  if (start.length < groupLengthAt + 12 || !hasDicmPrefix(start)) return undefined;
  const view = new DataView(start.buffer, start.byteOffset, start.byteLength);
  const isGroupLength = view.getUint32(groupLengthAt, true) === 0x00000002 && start[groupLengthAt + 4] === 0x55 && start[groupLengthAt + 5] === 0x4c; // (0002,0000) UL
  return isGroupLength ? groupLengthAt + 12 + view.getUint32(groupLengthAt + 8, true) : undefined;
}

/** Whether the bytes can be DICOM at all: a Part 10 preamble and prefix, or a dataset from offset 0. */
export function hasDicomFraming(bytes: Uint8Array): boolean {
  return hasDicmPrefix(bytes) || looksLikeDataset(bytes);
}

/** A dataset without preamble starts with a low, even group (0008 in practice), followed by a VR or a length. */
function looksLikeDataset(bytes: Uint8Array): boolean {
  if (bytes.length < 8) return false;
  const groupLittle = bytes[0] | (bytes[1] << 8);
  const groupBig = (bytes[0] << 8) | bytes[1];
  const plausible = (group: number) => group >= 0x0002 && group <= 0x0010 && group % 2 === 0;
  return plausible(groupLittle) || plausible(groupBig);
}

function isUpperCase(byte: number): boolean {
  return byte >= 0x41 && byte <= 0x5a;
}

function guessTransferSyntax(bytes: Uint8Array, offset: number): TransferSyntax {
  if (offset + 8 > bytes.length) throw malformed('no dataset after the File Meta Information');
  const explicit = isUpperCase(bytes[offset + 4]) && isUpperCase(bytes[offset + 5]);
  const bigEndian = bytes[offset] === 0x00 && bytes[offset + 1] !== 0x00;
  if (!explicit) return { uid: TRANSFER_SYNTAX.ImplicitVRLittleEndian, encoding: IMPLICIT_LITTLE, deflated: false };
  if (bigEndian) return { uid: TRANSFER_SYNTAX.ExplicitVRBigEndian, encoding: EXPLICIT_BIG, deflated: false };
  return { uid: TRANSFER_SYNTAX.ExplicitVRLittleEndian, encoding: EXPLICIT_LITTLE, deflated: false };
}

function inflate(bytes: Uint8Array): Uint8Array {
  try {
    return inflateRawSync(bytes, { maxOutputLength: MAX_INFLATED_BYTES });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw OrthancError.badFileFormat(`Cannot inflate the deflated dataset: ${reason}`);
  }
}

export interface Part10Output {
  readonly meta: readonly OutNode[];
  readonly dataset: readonly OutNode[];
  readonly transferSyntax: TransferSyntax;
}

/** Where the output's bytes go: a fresh zeroed array by default, or reused memory (every byte is written). */
export type AllocateOutput = (size: number) => Uint8Array;

const freshOutput: AllocateOutput = (size) => new Uint8Array(size);

/** Preamble of zeros (whatever the source preamble held is not carried over), "DICM", meta, dataset. */
export function writePart10(output: Part10Output, allocate: AllocateOutput = freshOutput): Uint8Array {
  const { encoding, deflated } = output.transferSyntax;
  const metaSize = datasetSize(output.meta, EXPLICIT_LITTLE);
  const headerSize = PREAMBLE_LENGTH + 4 + metaSize;
  if (deflated) {
    const plain = new Uint8Array(datasetSize(output.dataset, encoding));
    new DatasetWriter(plain).writeDataset(output.dataset, encoding);
    const compressed = deflateRawSync(plain, { level: zlibConstants.Z_DEFAULT_COMPRESSION });
    const out = new Uint8Array(headerSize + compressed.length);
    writeHeader(out, output.meta);
    out.set(compressed, headerSize);
    return out;
  }
  const out = allocate(headerSize + datasetSize(output.dataset, encoding));
  const writer = writeHeader(out, output.meta);
  writer.writeDataset(output.dataset, encoding);
  return out;
}

function writeHeader(out: Uint8Array, meta: readonly OutNode[]): DatasetWriter {
  out.fill(0, 0, PREAMBLE_LENGTH);
  out.set(DICM, PREAMBLE_LENGTH);
  const writer = new DatasetWriter(out);
  writer.offset = PREAMBLE_LENGTH + 4;
  writer.writeDataset(meta, EXPLICIT_LITTLE);
  return writer;
}

export interface MetaValues {
  readonly version?: Uint8Array;
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
  readonly transferSyntaxUid: string;
  readonly implementationClassUid: string;
  readonly implementationVersionName: string;
  /** SourceApplicationEntityTitle (0002,0016): the calling AE of a C-STORE. */
  readonly sourceAeTitle?: string;
}

/**
 * The File Meta Information of the output, rebuilt as DCMTK does when it writes a file: the group
 * length recomputed, the SOP identifiers following the dataset, the transfer syntax unchanged, the
 * implementation of the product. Optional elements of the source (source AE title...) are dropped.
 */
export function buildMeta(values: MetaValues): OutNode[] {
  const text = (tag: Tag, vr: string, value: string): ValueNode => {
    const bytes = Buffer.from(value, 'latin1');
    const padded = bytes.length % 2 === 0 ? bytes : Buffer.concat([bytes, Buffer.of(vr === 'UI' ? 0 : 0x20)]);
    return { kind: 'value', tag, vr, value: padded };
  };
  return [
    { kind: 'groupLength', tag: TAGS.FileMetaInformationGroupLength },
    { kind: 'value', tag: TAGS.FileMetaInformationVersion, vr: 'OB', value: values.version ?? Uint8Array.of(0x00, 0x01) },
    text(TAGS.MediaStorageSOPClassUID, 'UI', values.sopClassUid),
    text(TAGS.MediaStorageSOPInstanceUID, 'UI', values.sopInstanceUid),
    text(TAGS.TransferSyntaxUID, 'UI', values.transferSyntaxUid),
    text(TAGS.ImplementationClassUID, 'UI', values.implementationClassUid),
    text(TAGS.ImplementationVersionName, 'SH', values.implementationVersionName),
    ...(values.sourceAeTitle ? [text(TAGS.SourceApplicationEntityTitle, 'AE', values.sourceAeTitle)] : []),
  ];
}

/**
 * What precedes the dataset in a Part 10 file: preamble, "DICM", the meta. A dataset already encoded
 * in the meta's transfer syntax (received over DICOM networking) follows it verbatim.
 */
export function part10Header(meta: readonly OutNode[]): Uint8Array {
  const out = new Uint8Array(PREAMBLE_LENGTH + 4 + datasetSize(meta, EXPLICIT_LITTLE));
  writeHeader(out, meta);
  return out;
}
