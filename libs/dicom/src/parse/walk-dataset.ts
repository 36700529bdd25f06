import { DatasetReader, RawElement, RawItem } from '../codec/dataset-reader';

export interface DatasetVisitor {
  element?(element: RawElement, reader: DatasetReader): void;
  /** An item of a sequence, before its elements; `reader` is the items' reader (implicit VR inside UN). */
  item?(item: RawItem, reader: DatasetReader): void;
}

/**
 * Visits every element of a dataset and of its sequences, depth first. Every item is located and
 * read, so a malformed nested dataset ends in OrthancError(BadFileFormat); the codec bounds the
 * nesting depth, which keeps the recursion safe.
 */
export function walkDataset(reader: DatasetReader, elements: readonly RawElement[], visitor: DatasetVisitor, depth = 0): void {
  for (const element of elements) {
    visitor.element?.(element, reader);
    if (!element.isSequence) continue;
    const itemReader = reader.forItemsOf(element);
    for (const item of itemReader.readItems(element, depth + 1)) {
      visitor.item?.(item, itemReader);
      const content = item.undefinedLength
        ? itemReader.readUntilItemDelimiter(item.contentStart, item.end, depth + 1).elements
        : itemReader.readElements(item.contentStart, item.contentEnd, depth + 1);
      walkDataset(itemReader, content, visitor, depth + 1);
    }
  }
}
