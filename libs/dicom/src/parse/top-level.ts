import { OrthancError } from '@deidflow/common';
import { DatasetReader, RawElement, UNDEFINED_LENGTH } from '../codec/dataset-reader';
import type { OutNode } from '../codec/out-tree';
import { hasDicomFraming, Part10Source, readPart10 } from '../codec/part10';
import { dictionaryVr } from '../dictionary/dictionary';
import { Tag, TAGS } from '../dictionary/tag';
import { isStringVr, leafValue } from '../tags/leaf-value';
import { detectEncoding } from '../tags/orthanc-encoding';

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

/** The value of a top-level element, as the index stores it; undefined when absent, a sequence, or binary. */
export type TextOf = (tag: Tag) => string | undefined;

/**
 * The value of a top-level element as Orthanc's DicomMap holds it (the same conversion as its
 * /tags JSON: padding removed, text converted from the dataset's character set, numbers printed,
 * multiple values joined by '\'); undefined when absent, a sequence, or binary. Unlike /tags, which
 * shows such elements as Orthanc does, a text attribute encoded as UN is decoded with its dictionary
 * VR, so that the files DeidFlow always indexed (rtdose_rle.dcm...) still are.
 */
export function topLevelText({ reader, elements: list }: TopLevel): TextOf {
  const elements = new Map(list.map((element) => [element.tag, element]));
  const valueOf = (tag: Tag): ElementValue | undefined => {
    const element = elements.get(tag);
    if (!element || element.isSequence || element.valueLength === UNDEFINED_LENGTH) return undefined;
    return { vr: element.vr, bytes: reader.valueOf(element) };
  };
  return textLookup(valueOf, reader.encoding.littleEndian);
}

/**
 * topLevelText() of the file that `nodes` will be written as, read from the nodes themselves: a
 * rewritten instance is indexed without parsing its bytes again. The same elements are visible as
 * readTopLevel(file, true) would see: those written before the first one at or past the Pixel
 * Data, the last of duplicates.
 */
export function outputText(nodes: readonly OutNode[], littleEndian: boolean): TextOf {
  const pixelData = nodes.findIndex((node) => node.tag >= TAGS.PixelData);
  const header = pixelData < 0 ? nodes.length : pixelData;
  const valueOf = (tag: Tag): ElementValue | undefined => {
    let node: OutNode | undefined;
    for (let i = header - 1; i >= 0 && !node; i--) if (nodes[i].tag === tag) node = nodes[i];
    if (node?.kind === 'value') return { vr: node.vr, bytes: node.value };
    if (node?.kind !== 'copy' || node.raw.isSequence || node.raw.valueLength === UNDEFINED_LENGTH) return undefined;
    return { vr: node.raw.vr, bytes: node.reader.valueOf(node.raw) };
  };
  return textLookup(valueOf, littleEndian);
}

interface ElementValue {
  vr: string;
  bytes: Uint8Array;
}

function textLookup(valueOf: (tag: Tag) => ElementValue | undefined, littleEndian: boolean): TextOf {
  const declared = valueOf(TAGS.SpecificCharacterSet);
  const encoding = detectEncoding(declared && Buffer.from(declared.bytes).toString('latin1'));
  return (tag) => {
    const value = valueOf(tag);
    if (!value) return undefined;
    // A standard text attribute written as UN (rtdose_rle.dcm: every element) is read with its dictionary VR.
    const vr = value.vr === 'UN' && isStringVr(dictionaryVr(tag)) ? dictionaryVr(tag) : value.vr;
    return leafValue(vr, value.bytes, littleEndian, encoding) ?? undefined;
  };
}
