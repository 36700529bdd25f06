import { DatasetReader, RawElement } from '../codec/dataset-reader';
import { readPart10 } from '../codec/part10';
import { Tag } from '../dictionary/tag';

/** One element of a file, anywhere in it, for tests: path as the reference diffs print it. */
export interface FlatElement {
  /** '(0008,1110)[0].(0008,1155)', upper-case hex; meta elements included at the top. */
  readonly path: string;
  readonly tag: Tag;
  readonly vr: string;
  readonly parents: readonly Tag[];
  /** Value bytes (empty for sequences). */
  readonly value: Uint8Array;
  /** Number of items for sequences. */
  readonly items?: number;
  /** The element's encoded bytes, header included. */
  readonly encoded: Uint8Array;
}

function formatUpper(tag: Tag): string {
  const hex = tag.toString(16).toUpperCase().padStart(8, '0');
  return `(${hex.slice(0, 4)},${hex.slice(4)})`;
}

/** Every element of a DICOM file, depth first, with its path. */
export function flattenDicom(file: Uint8Array): FlatElement[] {
  const source = readPart10(file);
  const out: FlatElement[] = [];
  for (const element of source.meta.values()) out.push(entry(element, source.metaReader, '', []));
  const reader = new DatasetReader(source.dataset, source.transferSyntax.encoding);
  visit(reader.readElements(0, source.dataset.length, 0), reader, '', [], out, 0);
  return out;
}

function entry(element: RawElement, reader: DatasetReader, prefix: string, parents: Tag[], items?: number): FlatElement {
  return {
    path: prefix + formatUpper(element.tag),
    tag: element.tag,
    vr: element.vr,
    parents,
    value: element.isSequence ? new Uint8Array(0) : reader.valueOf(element),
    items,
    encoded: reader.bytes.subarray(element.start, element.end),
  };
}

function visit(elements: RawElement[], reader: DatasetReader, prefix: string, parents: Tag[], out: FlatElement[], depth: number): void {
  for (const element of elements) {
    if (!element.isSequence) {
      out.push(entry(element, reader, prefix, parents));
      continue;
    }
    const itemReader = reader.forItemsOf(element);
    const items = itemReader.readItems(element, depth + 1);
    out.push(entry(element, reader, prefix, parents, items.length));
    items.forEach((item, index) => {
      const children = item.undefinedLength
        ? itemReader.readUntilItemDelimiter(item.contentStart, item.end, depth + 1).elements
        : itemReader.readElements(item.contentStart, item.contentEnd, depth + 1);
      visit(children, itemReader, `${prefix}${formatUpper(element.tag)}[${index}].`, [...parents, element.tag], out, depth + 1);
    });
  }
}

/** The text of a value, padding stripped. */
export function text(value: Uint8Array): string {
  return Buffer.from(value).toString('latin1').replace(/[\s\0]+$/, '');
}
