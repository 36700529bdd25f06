import { buildMeta, readPart10, writePart10 } from '../codec/part10';
import { hasLongHeader, TRANSFER_SYNTAX, transferSyntaxOf } from '../codec/transfer-syntax';
import { Tag, TAGS } from '../dictionary/tag';
import { SeededRandom } from '../synthetic/random';

/** Hand-made hostile DICOM files: what no writer would produce, built byte by byte. */

const UNDEFINED = 0xffffffff;
const REFERENCED_IMAGE_SEQUENCE: Tag = 0x00081140;
const SOP_CLASS = '1.2.840.10008.5.1.4.1.1.7';
const SOP_INSTANCE = '1.2.826.0.1.3680043.8.498.1';

function text(value: string): Uint8Array {
  const bytes = Buffer.from(value, 'latin1');
  return bytes.length % 2 === 0 ? bytes : Buffer.concat([bytes, Buffer.of(0)]);
}

/** One explicit VR little endian element; `length` overrides the length field (lying about the value). */
function explicitElement(tag: Tag, vr: string, value: Uint8Array, length = value.length): Uint8Array {
  const long = hasLongHeader(vr);
  const header = Buffer.alloc(long ? 12 : 8);
  header.writeUInt16LE(tag >>> 16, 0);
  header.writeUInt16LE(tag & 0xffff, 2);
  header.write(vr, 4, 'latin1');
  if (long) header.writeUInt32LE(length >>> 0, 8);
  else header.writeUInt16LE(length & 0xffff, 6);
  return Buffer.concat([header, value]);
}

/** Tag and 32-bit length: implicit VR elements, items and delimiters. */
function tagAndLength(tag: Tag, length: number): Uint8Array {
  const header = Buffer.alloc(8);
  header.writeUInt16LE(tag >>> 16, 0);
  header.writeUInt16LE(tag & 0xffff, 2);
  header.writeUInt32LE(length >>> 0, 4);
  return header;
}

/** The identifiers an instance needs to be stored, split around the (0008,1140) slot in tag order. */
function identifiersBefore(): Uint8Array[] {
  return [explicitElement(TAGS.SOPClassUID, 'UI', text(SOP_CLASS)), explicitElement(TAGS.SOPInstanceUID, 'UI', text(SOP_INSTANCE))];
}
function identifiersAfter(): Uint8Array[] {
  return [
    explicitElement(TAGS.PatientID, 'LO', text('HOSTILE')),
    explicitElement(TAGS.StudyInstanceUID, 'UI', text('1.2.826.0.1.3680043.8.498.2')),
    explicitElement(TAGS.SeriesInstanceUID, 'UI', text('1.2.826.0.1.3680043.8.498.3')),
  ];
}

/** Preamble, "DICM" and a File Meta Information, then the given dataset bytes. */
function part10File(dataset: readonly Uint8Array[], transferSyntaxUid: string = TRANSFER_SYNTAX.ExplicitVRLittleEndian): Uint8Array {
  const meta = buildMeta({
    sopClassUid: SOP_CLASS,
    sopInstanceUid: SOP_INSTANCE,
    transferSyntaxUid,
    implementationClassUid: '1.2.826.0.1.3680043.8.498.9',
    implementationVersionName: 'HOSTILE',
  });
  const header = writePart10({ meta, dataset: [], transferSyntax: transferSyntaxOf(transferSyntaxUid) });
  return Buffer.concat([header, ...dataset]);
}

/**
 * A valid instance whose ReferencedImageSequence holds one item holding the same sequence, `depth`
 * times: with undefined lengths (delimiters) or defined lengths (computed from the inside out).
 */
export function deeplyNestedSequence(depth: number, lengths: 'undefined' | 'defined'): Uint8Array {
  let inner: Uint8Array = new Uint8Array(0);
  for (let level = 0; level < depth; level++) {
    if (lengths === 'undefined') {
      inner = Buffer.concat([
        explicitElement(REFERENCED_IMAGE_SEQUENCE, 'SQ', new Uint8Array(0), UNDEFINED),
        tagAndLength(TAGS.Item, UNDEFINED),
        inner,
        tagAndLength(TAGS.ItemDelimitationItem, 0),
        tagAndLength(TAGS.SequenceDelimitationItem, 0),
      ]);
    } else {
      const item = Buffer.concat([tagAndLength(TAGS.Item, inner.length), inner]);
      inner = explicitElement(REFERENCED_IMAGE_SEQUENCE, 'SQ', item);
    }
  }
  return part10File([...identifiersBefore(), inner, ...identifiersAfter()]);
}

/** Where the lying length of `elementLengthOf` sits. */
export type LengthPlace = 'pixelData' | 'implicitPatientName' | 'item';

/**
 * A valid instance with one length field of `length` (0xFFFFFFF0 by default: just below "undefined")
 * and only a few bytes behind it: in the pixel data (explicit VR OB), in an implicit VR PatientName,
 * or in a sequence item.
 */
export function elementLengthOf(place: LengthPlace, length = 0xfffffff0): Uint8Array {
  const tail = Buffer.from('only a few bytes follow');
  switch (place) {
    case 'pixelData':
      return part10File([...identifiersBefore(), ...identifiersAfter(), explicitElement(TAGS.PixelData, 'OB', tail, length)]);
    case 'implicitPatientName': {
      const implicit = (tag: Tag, value: string) => Buffer.concat([tagAndLength(tag, text(value).length), text(value)]);
      return part10File(
        [
          implicit(TAGS.SOPClassUID, SOP_CLASS),
          implicit(TAGS.SOPInstanceUID, SOP_INSTANCE),
          tagAndLength(TAGS.PatientName, length),
          tail,
        ],
        TRANSFER_SYNTAX.ImplicitVRLittleEndian,
      );
    }
    case 'item': {
      const sequence = explicitElement(REFERENCED_IMAGE_SEQUENCE, 'SQ', Buffer.concat([tagAndLength(TAGS.Item, length), tail]), UNDEFINED);
      return part10File([...identifiersBefore(), sequence, ...identifiersAfter()]);
    }
  }
}

/**
 * Where to cut a file: inside the preamble, the prefix, the meta, at and around the start of the
 * dataset, at a quarter, half and three quarters, and one or two bytes before the end.
 */
export function truncationOffsets(file: Uint8Array): number[] {
  const { length } = file;
  const datasetStart = datasetStartOf(file);
  const candidates = [1, 64, 128, 130, 132, 140, datasetStart - 1, datasetStart, datasetStart + 5, length >> 2, length >> 1, (3 * length) >> 2, length - 2, length - 1];
  return [...new Set(candidates.filter((offset) => offset > 0 && offset < length))].sort((a, b) => a - b);
}

function datasetStartOf(file: Uint8Array): number {
  try {
    const { dataset, transferSyntax } = readPart10(file);
    return transferSyntax.deflated ? 132 : dataset.byteOffset - file.byteOffset;
  } catch {
    return 132;
  }
}

/** Random bytes: bare, behind a valid preamble and meta (past the framing checks), or after "DICM" only. */
export function randomInput(random: SeededRandom): { bytes: Uint8Array; kind: string } {
  const size = random.pick([0, 1, 7, 127, 128, 131, 132, 140, 300, 4096, 65536]);
  const noise = new Uint8Array(size);
  for (let i = 0; i < size; i++) noise[i] = random.int(0, 255);
  const kind = random.pick(['bare', 'afterMeta', 'afterDicm']);
  if (kind === 'afterMeta') return { bytes: part10File([noise]), kind };
  if (kind === 'afterDicm') return { bytes: Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), noise]), kind };
  return { bytes: noise, kind };
}
