import { buildMeta, writePart10 } from '../codec/part10';
import { datasetSize, DatasetWriter, OutNode } from '../codec/out-tree';
import { TRANSFER_SYNTAX, transferSyntaxOf } from '../codec/transfer-syntax';
import { CharacterSet } from '../dictionary/charset';
import { parseTag } from '../dictionary/dictionary';
import { castReplacement, DatasetText, vrForNewElement } from '../modification/replace-values';
import type { JsonValue } from '../modification/request-types';

export interface BuildOptions {
  readonly transferSyntax?: string;
  /** false: the bare dataset, without preamble nor meta header. */
  readonly meta?: boolean;
  /** Sequences and items with undefined lengths and delimiters. */
  readonly undefinedLengths?: boolean;
  /** VRs for tags the dictionary does not know (private ones), by key as in `spec`. */
  readonly vrs?: Record<string, string>;
}

function withUndefinedLengths(node: OutNode): OutNode {
  if (node.kind !== 'sequence') return node;
  return {
    ...node,
    undefinedLength: true,
    items: node.items.map((item) => ({ elements: item.elements.map(withUndefinedLengths), undefinedLength: true })),
  };
}

/**
 * A DICOM file for tests, from tags written as in "Replace" (keyword or gggg,eeee -> JSON value;
 * arrays of objects are sequences), encoded in any transfer syntax by DeidFlow's own writer.
 */
export function buildDicom(spec: Record<string, JsonValue>, options: BuildOptions = {}): Uint8Array {
  const transferSyntax = transferSyntaxOf(options.transferSyntax ?? TRANSFER_SYNTAX.ExplicitVRLittleEndian);
  const charset = typeof spec.SpecificCharacterSet === 'string' ? CharacterSet.fromDeclaration(spec.SpecificCharacterSet) : CharacterSet.DEFAULT;
  const context = { text: new DatasetText(charset), encoding: transferSyntax.encoding, privateCreator: 'DEIDFLOW TEST' };
  const nodes = Object.entries(spec)
    .map(([name, value]) => {
      const tag = parseTag(name);
      const node = castReplacement(tag, options.vrs?.[name] ?? vrForNewElement(tag, value), value, context);
      return options.undefinedLengths ? withUndefinedLengths(node) : node;
    })
    .sort((a, b) => a.tag - b.tag);
  if (options.meta === false) {
    const out = new Uint8Array(datasetSize(nodes, transferSyntax.encoding));
    new DatasetWriter(out).writeDataset(nodes, transferSyntax.encoding);
    return out;
  }
  const meta = buildMeta({
    sopClassUid: String(spec.SOPClassUID ?? ''),
    sopInstanceUid: String(spec.SOPInstanceUID ?? ''),
    transferSyntaxUid: transferSyntax.uid,
    implementationClassUid: '1.2.3.4',
    implementationVersionName: 'TEST',
  });
  return writePart10({ meta, dataset: nodes, transferSyntax });
}
