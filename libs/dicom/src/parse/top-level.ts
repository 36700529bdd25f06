import { OrthancError } from '@deidflow/common';
import { DatasetReader, RawElement, UNDEFINED_LENGTH } from '../codec/dataset-reader';
import { hasDicomFraming, Part10Source, readPart10 } from '../codec/part10';
import { dictionaryVr } from '../dictionary/dictionary';
import { Tag, TAGS } from '../dictionary/tag';
import { isStringVr, leafValue } from '../tags/leaf-value';
import { detectEncoding, OrthancEncoding } from '../tags/orthanc-encoding';

/** The top-level elements of an uploaded file, located by the engine's own bounded codec. */
export interface TopLevel {
  readonly source: Part10Source;
  readonly reader: DatasetReader;
  /** In file order. */
  readonly elements: readonly RawElement[];
}

/**
 * Frames `bytes` (with or without preamble and meta) and locates the top-level elements, up to the
 * Pixel Data when `untilPixelData` (all the index needs). Throws OrthancError(BadFileFormat): with
 * Orthanc's words for what is not DICOM at all, with the codec's reason for a malformed dataset.
 */
export function readTopLevel(bytes: Uint8Array, untilPixelData: boolean): TopLevel {
  if (!hasDicomFraming(bytes)) {
    throw OrthancError.badFileFormat(`Cannot parse an invalid DICOM file (size: ${bytes.length} bytes)`);
  }
  const source = readPart10(bytes);
  const reader = new DatasetReader(source.dataset, source.transferSyntax.encoding);
  const elements: RawElement[] = [];
  const end = source.dataset.length;
  for (let offset = 0; offset < end; ) {
    if (untilPixelData && offset + 4 <= end && reader.tagAt(offset) >= TAGS.PixelData) break;
    const element = reader.readElement(offset, end, 0);
    elements.push(element);
    offset = element.end;
  }
  return { source, reader, elements };
}

/**
 * The value of a top-level element as Orthanc's DicomMap holds it (the same conversion as its
 * /tags JSON: padding removed, text converted from the dataset's character set, numbers printed,
 * multiple values joined by '\'); undefined when absent, a sequence, or binary. Unlike /tags, which
 * shows such elements as Orthanc does, a text attribute encoded as UN is decoded with its dictionary
 * VR, so that the files DeidFlow always indexed (rtdose_rle.dcm...) still are.
 */
export function topLevelText({ reader, elements: list }: TopLevel): (tag: Tag) => string | undefined {
  const elements = new Map(list.map((element) => [element.tag, element]));
  const encoding = characterSetOf(reader, elements);
  return (tag) => {
    const element = elements.get(tag);
    if (!element || element.isSequence || element.valueLength === UNDEFINED_LENGTH) return undefined;
    const bytes = reader.valueOf(element);
    // A standard text attribute written as UN (rtdose_rle.dcm: every element) is read with its dictionary VR.
    const vr = element.vr === 'UN' && isStringVr(dictionaryVr(tag)) ? dictionaryVr(tag) : element.vr;
    return leafValue(vr, bytes, reader.encoding.littleEndian, encoding) ?? undefined;
  };
}

function characterSetOf(reader: DatasetReader, elements: ReadonlyMap<Tag, RawElement>): OrthancEncoding {
  const declared = elements.get(TAGS.SpecificCharacterSet);
  if (!declared || declared.isSequence || declared.valueLength === UNDEFINED_LENGTH) return detectEncoding(undefined);
  return detectEncoding(Buffer.from(reader.valueOf(declared)).toString('latin1'));
}
