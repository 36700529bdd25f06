import { DatasetReader, RawElement, UNDEFINED_LENGTH } from '../codec/dataset-reader';
import { readPart10 } from '../codec/part10';
import { hasLongHeader } from '../codec/transfer-syntax';
import { Tag } from '../dictionary/tag';
import { walkDataset } from '../parse/walk-dataset';

/** A place in a DICOM file where the fuzzer aims: an element header, an item, or a delimiter. */
export interface Site {
  readonly kind: 'element' | 'item' | 'itemDelimiter' | 'sequenceDelimiter';
  /** File offset of the tag. */
  readonly offset: number;
  /** File offset of the length field, and its width (2 for short explicit VR headers). */
  readonly lengthOffset: number;
  readonly lengthSize: 2 | 4;
  /** File offset of the two VR bytes (explicit VR elements only). */
  readonly vrOffset?: number;
  readonly littleEndian: boolean;
  readonly tag: Tag;
  /** The defined length read there (UNDEFINED_LENGTH for undefined). */
  readonly length: number;
  /** Offset just after the structure (element value, item content, or delimiter). */
  readonly end: number;
}

/** Mutation sites past this many add nothing. */
const MAX_SITES = 4000;

/**
 * Every element header, item and delimiter of a DICOM file, found with the engine's own codec.
 * Deflated datasets are not mapped (their bytes on disk are a deflate stream); malformed files
 * give the sites found before the first error.
 */
export function locateSites(file: Uint8Array): Site[] {
  const sites: Site[] = [];
  let source;
  try {
    source = readPart10(file);
  } catch {
    return sites;
  }
  for (const element of source.meta.values()) sites.push(elementSite(element, source.metaReader, 0));
  if (source.transferSyntax.deflated) return sites;
  const base = source.dataset.byteOffset - file.byteOffset;
  const reader = new DatasetReader(source.dataset, source.transferSyntax.encoding);
  try {
    walkDataset(reader, reader.readElements(0, source.dataset.length, 0), {
      element: (element, elementReader) => {
        sites.push(elementSite(element, elementReader, base));
        if (element.isSequence && element.valueLength === UNDEFINED_LENGTH) {
          const itemReader = elementReader.forItemsOf(element);
          sites.push(delimiterSite('sequenceDelimiter', element.end - 8, itemReader, base, element.end));
        }
      },
      item: (item, itemReader) => {
        sites.push(delimiterSite('item', item.start, itemReader, base, item.end));
        if (item.undefinedLength) sites.push(delimiterSite('itemDelimiter', item.end - 8, itemReader, base, item.end));
      },
    });
  } catch {
    // Malformed past some point: the sites found before it are enough to mutate.
  }
  return sites.slice(0, MAX_SITES);
}

function elementSite(element: RawElement, reader: DatasetReader, base: number): Site {
  const explicit = reader.encoding.explicitVr;
  const longHeader = !explicit || hasLongHeader(element.vr);
  return {
    kind: 'element',
    offset: base + element.start,
    lengthOffset: base + element.start + (explicit ? (longHeader ? 8 : 6) : 4),
    lengthSize: longHeader ? 4 : 2,
    vrOffset: explicit ? base + element.start + 4 : undefined,
    littleEndian: reader.encoding.littleEndian,
    tag: element.tag,
    length: element.valueLength,
    end: base + element.end,
  };
}

function delimiterSite(kind: Site['kind'], start: number, reader: DatasetReader, base: number, end: number): Site {
  return {
    kind,
    offset: base + start,
    lengthOffset: base + start + 4,
    lengthSize: 4,
    littleEndian: reader.encoding.littleEndian,
    tag: reader.tagAt(start),
    length: reader.uint32(start + 4),
    end: base + end,
  };
}
