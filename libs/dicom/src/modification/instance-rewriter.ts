import { CharacterSet } from '../dictionary/charset';
import { dictionaryVr } from '../dictionary/dictionary';
import { isGroupLengthTag, isPrivateTag, privateCreatorOf, Tag, TAGS } from '../dictionary/tag';
import { DatasetReader, RawElement, UNDEFINED_LENGTH } from '../codec/dataset-reader';
import { copyNode, findNode, OutItem, OutNode, SequenceNode, upsertNode, ValueNode } from '../codec/out-tree';
import { isStringVr } from '../codec/transfer-syntax';
import { CastContext, castReplacement, DatasetText, privateCreatorNode, vrForNewElement } from './replace-values';
import type { Level } from './request-types';
import { isRemoved, ModificationRules, PathReplacement } from './rules';
import { CompiledPath, ParentItem, pathCovers } from './tag-path';
import { stripIdentifier, UidLevel, UidMapper } from './uid-mapping';

const LEVEL_RANK: Record<Level, number> = { Patient: 0, Study: 1, Series: 2, Instance: 3 };

/** The main identifiers, each regenerated when the modification level is at or above its own (DM Apply, step 6). */
const MAIN_UIDS: readonly { tag: Tag; level: UidLevel }[] = [
  { tag: TAGS.StudyInstanceUID, level: 'Study' },
  { tag: TAGS.SeriesInstanceUID, level: 'Series' },
  { tag: TAGS.SOPInstanceUID, level: 'Instance' },
];

function textNode(tag: Tag, vr: string, text: string): ValueNode {
  const bytes = Buffer.from(text, 'latin1');
  const value = bytes.length % 2 === 0 ? bytes : Buffer.concat([bytes, Buffer.of(vr === 'UI' ? 0 : 0x20)]);
  return { kind: 'value', tag, vr, value };
}

/** In explicit VR files a standard attribute is sometimes written as UN: decide on its dictionary VR. */
function effectiveVr(raw: RawElement): string {
  return raw.vr === 'UN' && !raw.isSequence ? dictionaryVr(raw.tag) : raw.vr;
}

/**
 * Applies the rules to one instance, in the order of Orthanc's DicomModification::Apply: private
 * tags, clearings, removals, replacements, main UIDs, the relationships visitor (anonymization:
 * nested removals, clearings and UID remapping), then the paths into sequences. Untouched elements
 * and untouched sequences stay references to the source bytes.
 */
export class InstanceRewriter {
  private readonly text: DatasetText;
  private readonly context: CastContext;
  /** Identities this file fixes for itself (forced or kept main UIDs) that its references must follow. */
  private readonly pinned = new Map<string, string>();
  private readonly handledReplacements = new Set<Tag>();

  constructor(
    private readonly rules: ModificationRules,
    private readonly mapper: UidMapper,
    private readonly reader: DatasetReader,
    private readonly elements: readonly RawElement[],
  ) {
    this.text = new DatasetText(this.characterSet());
    this.context = { text: this.text, encoding: reader.encoding, privateCreator: rules.privateCreator };
    if (rules.operation === 'anonymize') this.pinMainUids();
  }

  /**
   * The top-level element with this tag (the last one, should a damaged file repeat it). A scan: the
   * few lookups of an instance cost less than indexing its hundreds of elements.
   */
  private topElement(tag: Tag): RawElement | undefined {
    return this.elements.findLast((element) => element.tag === tag);
  }

  /** The character set new text is written in: the one the output declares. */
  private characterSet(): CharacterSet {
    const replaced = this.rules.replacements.get(TAGS.SpecificCharacterSet)?.value;
    if (typeof replaced === 'string') return CharacterSet.fromDeclaration(replaced);
    const declared = this.topElement(TAGS.SpecificCharacterSet);
    return declared ? CharacterSet.fromDeclaration(this.reader.asciiOf(declared)) : CharacterSet.DEFAULT;
  }

  rewrite(): OutNode[] {
    const nodes: OutNode[] = [];
    for (const raw of this.elements) {
      const node = this.rewriteTopLevel(raw);
      if (node) nodes.push(node);
    }
    this.insertMissing(nodes);
    this.restorePrivateCreators(nodes);
    for (const path of this.rules.removePaths) this.atPath(nodes, path, 0, (item) => this.removeFrom(item, path.tag));
    for (const replacement of this.rules.replacePaths) {
      this.atPath(nodes, replacement.path, 0, (item, node) => this.replaceIn(item, replacement, node));
    }
    if (this.text.upgradedToUtf8) upsertNode(nodes, textNode(TAGS.SpecificCharacterSet, 'CS', 'ISO_IR 192'));
    return nodes;
  }

  private rewriteTopLevel(raw: RawElement): OutNode | null {
    const { rules } = this;
    const tag = raw.tag;
    if (tag === TAGS.DataSetTrailingPadding) return null;
    // File Meta Information found in the dataset (a meta group cut short by a foreign element): the
    // output's meta is rebuilt, and these, written right after it, would be read as part of it.
    if (tag >>> 16 === 0x0002) return null;
    const replacement = rules.replacements.get(tag);
    if (replacement) {
      this.handledReplacements.add(tag);
      const vr = raw.vr === 'UN' ? vrForNewElement(tag, replacement.value) : raw.vr;
      return castReplacement(tag, vr, replacement.value, this.context);
    }
    if (rules.removePrivateTags && this.isRemovedPrivate(tag)) return null;
    if (isGroupLengthTag(tag)) return { kind: 'groupLength', tag };
    if (rules.clearings.has(tag)) return this.emptied(raw, this.reader);
    if (isRemoved(rules, tag)) return null;
    const mainUid = MAIN_UIDS.find((uid) => uid.tag === tag);
    if (mainUid) {
      if (!this.regenerates(mainUid.level)) return copyNode(raw, this.reader);
      return textNode(tag, raw.vr, this.mapper.map(mainUid.level, this.reader.asciiOf(raw), this.pinned));
    }
    if (rules.operation === 'anonymize' && rules.uids.has(tag) && isStringVr(effectiveVr(raw))) {
      return this.mapped(raw, tag === TAGS.PatientID ? 'Patient' : 'Instance', this.reader) ?? copyNode(raw, this.reader);
    }
    if (raw.isSequence && this.visitsNested(tag)) return this.rewriteSequence(raw, this.reader, [], 0);
    return copyNode(raw, this.reader);
  }

  /** Orthanc's RemovePrivateTags(privateTagsToKeep_), keeping the creators of the kept tags too. */
  private isRemovedPrivate(tag: Tag): boolean {
    return isPrivateTag(tag) && !this.rules.privateTagsToKeep.has(tag) && !this.rules.keptPrivateCreators.has(tag);
  }

  private visitsNested(tag: Tag): boolean {
    if (this.rules.operation === 'modify') return this.rules.removePrivateTags;
    return !this.isKeptByPath([], tag);
  }

  private isKeptByPath(parents: readonly ParentItem[], tag: Tag): boolean {
    return this.rules.keepPaths.some((path) => pathCovers(path, parents, tag));
  }

  /** DM Apply step 6: the UID of `level` is regenerated unless the request replaces or keeps it. */
  private regenerates(level: UidLevel): boolean {
    const { rules } = this;
    if (LEVEL_RANK[rules.level] > LEVEL_RANK[level]) return false;
    if (level === 'Study') return !rules.replacements.has(TAGS.StudyInstanceUID) && !rules.keepStudyInstanceUid;
    if (level === 'Series') return !rules.replacements.has(TAGS.SeriesInstanceUID) && !rules.keepSeriesInstanceUid;
    return !rules.replacements.has(TAGS.SOPInstanceUID) && !rules.keepSopInstanceUid;
  }

  /** DM Apply step 1, extended to kept UIDs: references in this file follow the identifiers it pins. */
  private pinMainUids(): void {
    const kept = {
      Study: this.rules.keepStudyInstanceUid,
      Series: this.rules.keepSeriesInstanceUid,
      Instance: this.rules.keepSopInstanceUid,
    } as const;
    for (const { tag, level } of MAIN_UIDS) {
      const raw = this.topElement(tag);
      if (!raw) continue;
      const original = this.reader.asciiOf(raw);
      const forced = this.rules.replacements.get(tag)?.value;
      if (typeof forced === 'string') this.pinned.set(UidMapper.pinKey(level, original), stripIdentifier(forced));
      else if (kept[level as keyof typeof kept]) this.pinned.set(UidMapper.pinKey(level, original), stripIdentifier(original));
    }
  }

  /** The element with its identifier remapped; null when the value is empty (nothing to pseudonymise). */
  private mapped(raw: RawElement, level: UidLevel, reader: DatasetReader): ValueNode | null {
    const value =
      level === 'Patient'
        ? stripIdentifier(this.text.characterSet.decode(reader.valueOf(raw)))
        : stripIdentifier(reader.asciiOf(raw));
    if (value === '') return null;
    return textNode(raw.tag, raw.vr, this.mapper.map(level, value, this.pinned));
  }

  private emptied(raw: RawElement, reader: DatasetReader): OutNode {
    if (!raw.isSequence) return { kind: 'value', tag: raw.tag, vr: raw.vr, value: new Uint8Array(0) };
    const itemEncoding = reader.forItemsOf(raw).encoding;
    return { kind: 'sequence', tag: raw.tag, vr: raw.vr, undefinedLength: raw.valueLength === UNDEFINED_LENGTH, items: [], itemEncoding };
  }

  /** A sequence with its items visited; the source bytes are kept when nothing inside changed. */
  private rewriteSequence(raw: RawElement, reader: DatasetReader, parents: readonly ParentItem[], depth: number): OutNode {
    const itemReader = reader.forItemsOf(raw);
    let changed = false;
    const items: OutItem[] = this.readItems(raw, reader, depth).map((elements, index) => {
      const here = [...parents, { sequence: raw.tag, index }];
      const nodes: OutNode[] = [];
      for (const element of elements.elements) {
        const node = this.rewriteNested(element, itemReader, here, depth + 1);
        if (node === null || node.kind !== 'copy') changed = true;
        if (node !== null) nodes.push(node);
      }
      return { elements: nodes, undefinedLength: elements.undefinedLength };
    });
    if (!changed) return copyNode(raw, reader);
    const node: SequenceNode = {
      kind: 'sequence',
      tag: raw.tag,
      vr: raw.vr,
      undefinedLength: raw.valueLength === UNDEFINED_LENGTH,
      items,
      itemEncoding: itemReader.encoding,
    };
    return node;
  }

  private readItems(raw: RawElement, reader: DatasetReader, depth: number): { elements: RawElement[]; undefinedLength: boolean }[] {
    const itemReader = reader.forItemsOf(raw);
    return itemReader.readItems(raw, depth + 1).map((item) => ({
      elements: item.undefinedLength
        ? itemReader.readUntilItemDelimiter(item.contentStart, item.end, depth + 1).elements
        : itemReader.readElements(item.contentStart, item.contentEnd, depth + 1),
      undefinedLength: item.undefinedLength,
    }));
  }

  /** Orthanc's RelationshipsVisitor below the first level (anonymization), or private tags removal (modify). */
  private rewriteNested(raw: RawElement, reader: DatasetReader, parents: readonly ParentItem[], depth: number): OutNode | null {
    const { rules } = this;
    const tag = raw.tag;
    if (rules.operation === 'anonymize') {
      if (this.isKeptByPath(parents, tag)) return copyNode(raw, reader);
      if (rules.removePrivateTags && this.isRemovedPrivate(tag)) return null;
      if (isGroupLengthTag(tag)) return { kind: 'groupLength', tag };
      if (isRemoved(rules, tag)) return null;
      const vr = effectiveVr(raw);
      if (rules.clearings.has(tag)) return isStringVr(vr) ? this.emptied(raw, reader) : null;
      if (isStringVr(vr)) {
        const identifier = this.nestedIdentifier(raw, reader, parents);
        if (identifier) return identifier;
      }
    } else if (rules.removePrivateTags && this.isRemovedPrivate(tag)) {
      return null;
    }
    if (isGroupLengthTag(tag)) return { kind: 'groupLength', tag };
    return raw.isSequence ? this.rewriteSequence(raw, reader, parents, depth) : copyNode(raw, reader);
  }

  private nestedIdentifier(raw: RawElement, reader: DatasetReader, parents: readonly ParentItem[]): OutNode | null {
    const tag = raw.tag;
    const mainUid = MAIN_UIDS.find((uid) => uid.tag === tag);
    if (mainUid) return this.mapped(raw, mainUid.level, reader);
    if (tag === TAGS.PatientID && this.rules.uids.has(tag)) return this.mapped(raw, 'Patient', reader);
    if (tag === TAGS.PatientName || tag === TAGS.PatientID) {
      // Not in Orthanc, which leaves nested names (and IDs the user replaced) alone: they get the new value too.
      const replacement = this.rules.replacements.get(tag);
      return replacement ? castReplacement(tag, raw.vr, replacement.value, this.context) : null;
    }
    if (!this.rules.uids.has(tag)) return null;
    // RT-STRUCT: this ReferencedSOPInstanceUID holds a StudyInstanceUID (DM VisitString).
    const studyReference =
      tag === TAGS.ReferencedSOPInstanceUID &&
      parents.length === 2 &&
      parents[0].sequence === TAGS.ReferencedFrameOfReferenceSequence &&
      parents[1].sequence === TAGS.RTReferencedStudySequence;
    return this.mapped(raw, studyReference ? 'Study' : 'Instance', reader);
  }

  /** Replacements of absent tags are inserted, and so are absent main UIDs (DicomReplaceMode_InsertIfAbsent). */
  private insertMissing(nodes: OutNode[]): void {
    for (const [tag, replacement] of this.rules.replacements) {
      if (this.handledReplacements.has(tag)) continue;
      upsertNode(nodes, castReplacement(tag, vrForNewElement(tag, replacement.value), replacement.value, this.context));
    }
    for (const { tag, level } of MAIN_UIDS) {
      if (!this.topElement(tag) && this.regenerates(level)) {
        upsertNode(nodes, textNode(tag, 'UI', this.mapper.map(level, '', this.pinned)));
      }
    }
  }

  /** A replaced private tag needs its block reserved: the source's creator element, else "PrivateCreator". */
  private restorePrivateCreators(nodes: OutNode[]): void {
    for (const tag of this.rules.replacements.keys()) {
      const creator = privateCreatorOf(tag);
      if (creator === undefined || findNode(nodes, creator)) continue;
      const original = this.topElement(creator);
      upsertNode(nodes, original ? copyNode(original, this.reader) : privateCreatorNode(creator, tag, this.context));
    }
  }

  /** Runs `action` on every item the path's sequence steps select (none when a step finds nothing). */
  private atPath(
    nodes: OutNode[],
    path: CompiledPath,
    step: number,
    action: (item: OutNode[], sequence: SequenceNode) => void,
    sequence?: SequenceNode,
  ): void {
    if (step === path.steps.length) {
      if (sequence) action(nodes, sequence);
      return;
    }
    const { sequence: tag, index } = path.steps[step];
    const position = nodes.findIndex((node) => node.tag === tag);
    if (position < 0) return;
    const expanded = this.expand(nodes[position]);
    if (!expanded) return;
    nodes[position] = expanded;
    const items = index === '*' ? expanded.items : expanded.items.slice(index, index + 1);
    for (const item of items) this.atPath(item.elements, path, step + 1, action, expanded);
  }

  /** A sequence node whose items can be edited: a copied sequence is split into copied elements. */
  private expand(node: OutNode): SequenceNode | undefined {
    if (node.kind === 'sequence') return node;
    if (node.kind !== 'copy' || !node.raw.isSequence) return undefined;
    const itemReader = node.reader.forItemsOf(node.raw);
    const items = this.readItems(node.raw, node.reader, 0).map((item) => ({
      elements: item.elements.map((element) => copyNode(element, itemReader)),
      undefinedLength: item.undefinedLength,
    }));
    return {
      kind: 'sequence',
      tag: node.tag,
      vr: node.raw.vr,
      undefinedLength: node.raw.valueLength === UNDEFINED_LENGTH,
      items,
      itemEncoding: itemReader.encoding,
    };
  }

  private removeFrom(item: OutNode[], tag: Tag): void {
    const position = item.findIndex((node) => node.tag === tag);
    if (position >= 0) item.splice(position, 1);
  }

  private replaceIn(item: OutNode[], replacement: PathReplacement, sequence: SequenceNode): void {
    const tag = replacement.path.tag;
    const existing = findNode(item, tag);
    const vr = existingVr(existing) ?? vrForNewElement(tag, replacement.value);
    const context: CastContext = { ...this.context, encoding: sequence.itemEncoding };
    upsertNode(item, castReplacement(tag, vr === 'UN' ? vrForNewElement(tag, replacement.value) : vr, replacement.value, context));
    const creator = privateCreatorOf(tag);
    if (creator !== undefined && !findNode(item, creator)) upsertNode(item, privateCreatorNode(creator, tag, context));
  }
}

function existingVr(node: OutNode | undefined): string | undefined {
  if (!node) return undefined;
  if (node.kind === 'copy') return node.raw.isSequence ? 'SQ' : node.raw.vr;
  if (node.kind === 'value') return node.vr;
  if (node.kind === 'sequence') return 'SQ';
  return undefined;
}
