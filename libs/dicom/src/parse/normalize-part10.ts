import { copyNode } from '../codec/out-tree';
import { buildMeta, writePart10 } from '../codec/part10';
import { Tag, TAGS } from '../dictionary/tag';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from '../modification/product';
import { readTopLevel, TopLevel } from './top-level';
import { walkDataset } from './walk-dataset';

/**
 * What an upload stores: a DICOM Part 10 file the whole engine can read.
 * - A file with the preamble, "DICM" and a transfer syntax in its meta comes back unchanged (same bytes).
 * - A raw dataset (no preamble: PrivateMDNTags.dcm, rtstruct.dcm, ExplVR_*NoMeta.dcm...) or a meta
 *   without a transfer syntax, which Orthanc (DCMTK) reads all the same, gets a preamble and a File
 *   Meta Information built from the dataset (SOP class and instance, the transfer syntax recognised
 *   from the first element); the dataset is copied verbatim.
 * Either way every element and item is located first (sequences included), so that a truncated or
 * malformed file, or one nested deeper than the engine reads, is refused here with
 * OrthancError(BadFileFormat) rather than stored and failing every later job.
 */
export function normalizeToPart10(file: Uint8Array): Uint8Array {
  const topLevel = readTopLevel(file, false);
  walkDataset(topLevel.reader, topLevel.elements, {});
  if (isPart10(file, topLevel)) return file;
  const { source, reader, elements } = topLevel;
  const metaSopClass = source.meta.get(TAGS.MediaStorageSOPClassUID);
  const meta = buildMeta({
    sopClassUid: uidOf(topLevel, TAGS.SOPClassUID) || (metaSopClass ? source.metaReader.asciiOf(metaSopClass) : ''),
    sopInstanceUid: uidOf(topLevel, TAGS.SOPInstanceUID),
    transferSyntaxUid: source.transferSyntax.uid,
    implementationClassUid: IMPLEMENTATION_CLASS_UID,
    implementationVersionName: IMPLEMENTATION_VERSION_NAME,
  });
  const dataset = elements.map((element) => copyNode(element, reader));
  return writePart10({ meta, dataset, transferSyntax: source.transferSyntax });
}

function isPart10(file: Uint8Array, { source }: TopLevel): boolean {
  const prefixed = file.length >= 132 && file[128] === 0x44 && file[129] === 0x49 && file[130] === 0x43 && file[131] === 0x4d;
  const declared = source.meta.get(TAGS.TransferSyntaxUID);
  return prefixed && declared !== undefined && source.metaReader.asciiOf(declared) !== '';
}

function uidOf({ reader, elements }: TopLevel, tag: Tag): string {
  const element = elements.find((candidate) => candidate.tag === tag);
  return element && !element.isSequence ? reader.asciiOf(element) : '';
}
