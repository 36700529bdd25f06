import { DatasetReader, RawElement, UNDEFINED_LENGTH } from '../codec/dataset-reader';
import { readPart10 } from '../codec/part10';

/** One dataset level (the file's dataset, or one item of a sequence), elements located not decoded. */
export interface DatasetLevel {
  readonly reader: DatasetReader;
  readonly elements: readonly RawElement[];
  readonly depth: number;
}

/** The dataset of a DICOM file: Orthanc's /tags and /content never show the File Meta Information. */
export function readDataset(file: Uint8Array): DatasetLevel {
  const { dataset, transferSyntax } = readPart10(file);
  const reader = new DatasetReader(dataset, transferSyntax.encoding);
  return { reader, elements: reader.readElements(0, dataset.length, 0), depth: 0 };
}

/** The items of a sequence element of `level`, each with its elements located. */
export function itemsOf(level: DatasetLevel, element: RawElement): DatasetLevel[] {
  const reader = level.reader.forItemsOf(element);
  const depth = level.depth + 1;
  return reader
    .readItems(element, depth)
    .map((item) => ({ reader, elements: reader.readElements(item.contentStart, item.contentEnd, depth), depth }));
}

/** The raw value bytes of an element, padding included (up to the delimiter for encapsulated pixel data). */
export function valueBytes(level: DatasetLevel, element: RawElement): Uint8Array {
  const end = element.valueLength === UNDEFINED_LENGTH ? element.end : element.valueStart + element.valueLength;
  return level.reader.bytes.subarray(element.valueStart, end);
}
