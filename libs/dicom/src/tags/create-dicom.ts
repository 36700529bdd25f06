import { randomUUID } from 'node:crypto';
import { OrthancError, OrthancErrorCode } from '@deidflow/common';
import { OutNode, upsertNode } from '../codec/out-tree';
import { buildMeta, writePart10 } from '../codec/part10';
import { EXPLICIT_LITTLE, TRANSFER_SYNTAX, transferSyntaxOf } from '../codec/transfer-syntax';
import { CharacterSet } from '../dictionary/charset';
import { lookupTag, parseTag } from '../dictionary/dictionary';
import { formatTag, isGroupLengthTag, isPrivateCreatorTag, isPrivateTag, Tag, TAGS } from '../dictionary/tag';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from '../modification/product';
import { CastContext, castReplacement, DatasetText } from '../modification/replace-values';
import type { JsonValue } from '../modification/request-types';
import { isKnownCharacterSet } from './orthanc-encoding';
import { lookupPrivateTag } from './tag-names';

export interface CreateDicomContext {
  /**
   * With "Parent": the main tags of the parent's patient, study and series (those that exist), keyed
   * by keyword or 'gggg,eeee'. They are copied into the new instance, which they attach to the parent.
   */
  readonly parentTags?: Readonly<Record<string, string>>;
  /** The creation time (Orthanc stamps dates and times in UTC); defaults to now. */
  readonly now?: Date;
}

const SECONDARY_CAPTURE_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.7';

/** The dates and times Orthanc stamps on a created instance. */
const CREATION_STAMPS = {
  AcquisitionDate: 0x00080022,
  AcquisitionTime: 0x00080032,
  ContentDate: 0x00080023,
  ContentTime: 0x00080033,
  InstanceCreationDate: 0x00080012,
  InstanceCreationTime: 0x00080013,
  SeriesDate: 0x00080021,
  SeriesTime: 0x00080031,
  StudyDate: 0x00080020,
  StudyTime: 0x00080030,
} as const;

/** Tags that "Tags" may set although the new instance already has them (CreateDicomV2's InjectTags). */
const OVERRIDABLE = new Set<Tag>([TAGS.PatientID, ...Object.values(CREATION_STAMPS)]);

type JsonObject = { [key: string]: JsonValue };

/** The dataset being built, elements in tag order, and the SOP identifiers the meta header repeats. */
class NewInstance {
  readonly nodes: OutNode[] = [];
  readonly sopIdentifiers = new Map<Tag, string>();

  constructor(readonly context: CastContext) {}

  has(tag: Tag): boolean {
    return this.nodes.some((node) => node.tag === tag);
  }

  set(tag: Tag, value: JsonValue): void {
    if (tag === TAGS.SOPClassUID || tag === TAGS.SOPInstanceUID) {
      if (typeof value !== 'string') throw new OrthancError(OrthancErrorCode.BadParameterType, `${formatTag(tag)} must be a string`);
      this.sopIdentifiers.set(tag, value);
    }
    upsertNode(this.nodes, newElement(tag, value, this.context));
  }
}

/**
 * POST /tools/create-dicom (OrthancRestAnonymizeModify.cpp, CreateDicomV1 and CreateDicomV2), as a
 * DICOM file in Explicit VR Little Endian with its File Meta Information:
 * - the legacy form {"PatientName": "...", ...}: string values of public tags, set as given;
 * - the form with "Tags" (nested sequences as arrays of objects; private tags typed from the private
 *   dictionary for "PrivateCreator", else UN; no creator element is inserted, as in Orthanc), with
 *   "Parent" (`context.parentTags`), "Force" (allows overriding the identifiers and the parent's tags),
 *   "InterpretBinaryTags" and "PrivateCreator"; creation dates and times are set as Orthanc does.
 * PatientID, Study/Series/SOP Instance UIDs are generated when missing, SOPClassUID defaults to
 * Secondary Capture. Text goes in Latin-1 (ISO_IR 100, Orthanc's default), or in UTF-8 (ISO_IR 192)
 * when it has characters Latin-1 lacks; the legacy form declares a character set only when needed.
 * "Content" (pixel data or PDF from a data URI) is not supported yet: 400.
 */
export function createDicom(body: unknown, context: CreateDicomContext = {}): Uint8Array {
  if (!isObject(body)) throw OrthancError.badRequest('The body of /tools/create-dicom must be a JSON object');
  const instance = 'Tags' in body ? createV2(body, context) : createV1(body);
  if (!instance.has(TAGS.SOPClassUID)) instance.set(TAGS.SOPClassUID, SECONDARY_CAPTURE_IMAGE_STORAGE);
  if (instance.context.text.upgradedToUtf8) instance.set(TAGS.SpecificCharacterSet, 'ISO_IR 192');
  const meta = buildMeta({
    sopClassUid: instance.sopIdentifiers.get(TAGS.SOPClassUID) ?? '',
    sopInstanceUid: instance.sopIdentifiers.get(TAGS.SOPInstanceUID) ?? '',
    transferSyntaxUid: TRANSFER_SYNTAX.ExplicitVRLittleEndian,
    implementationClassUid: IMPLEMENTATION_CLASS_UID,
    implementationVersionName: IMPLEMENTATION_VERSION_NAME,
  });
  return writePart10({ meta, dataset: instance.nodes, transferSyntax: transferSyntaxOf(TRANSFER_SYNTAX.ExplicitVRLittleEndian) });
}

/** Compatibility with Orthanc <= 0.9.3: every member is a public tag with a string value. */
function createV1(body: JsonObject): NewInstance {
  const members = sortedEntries(body).map(([name, value]) => {
    if (typeof value !== 'string') {
      throw OrthancError.badRequest(`Only string values are supported when creating DICOM instances (${name})`);
    }
    return { name, tag: parseTag(name), value };
  });
  const requested = members.find(({ tag }) => tag === TAGS.SpecificCharacterSet)?.value;
  const instance = withIdentifiers(requested === undefined ? CharacterSet.DEFAULT : CharacterSet.fromDeclaration(requested), undefined);
  for (const { name, tag, value } of members) {
    if (tag === TAGS.PixelData) throw contentNotSupported();
    if (isPrivateTag(tag)) throw OrthancError.badRequest(`Private tags need the "Tags" form of /tools/create-dicom (${name})`);
    if (!isGroupLengthTag(tag)) instance.set(tag, value);
  }
  return instance;
}

function createV2(body: JsonObject, context: CreateDicomContext): NewInstance {
  const tags = body.Tags;
  if (!isObject(tags)) throw OrthancError.badRequest('"Tags" must be a JSON object');
  const force = optionalField(body, 'Force', 'boolean') ?? false;
  const privateCreator = optionalField(body, 'PrivateCreator', 'string') as string | undefined;
  optionalField(body, 'InterpretBinaryTags', 'boolean');
  optionalField(body, 'Parent', 'string');
  if (body.Content !== undefined && !(Array.isArray(body.Content) && body.Content.length === 0)) throw contentNotSupported();

  const requested = tags.SpecificCharacterSet;
  if (requested !== undefined && (typeof requested !== 'string' || !isKnownCharacterSet(requested))) {
    throw new OrthancError(OrthancErrorCode.ParameterOutOfRange, `Unknown specific character set: ${JSON.stringify(requested)}`);
  }
  const needsUtf8 = requested === undefined && /[^\u0000-\u00ff]/.test(JSON.stringify([tags, context.parentTags ?? {}]));
  const declared = requested ?? (needsUtf8 ? 'ISO_IR 192' : 'ISO_IR 100');
  const instance = withIdentifiers(CharacterSet.fromDeclaration(declared), privateCreator);
  instance.set(TAGS.SpecificCharacterSet, declared);

  const parent = new Map(Object.entries(context.parentTags ?? {}).map(([name, value]) => [parseTag(name), value]));
  for (const [tag, value] of parent) {
    if (tag !== TAGS.SpecificCharacterSet) instance.set(tag, value);
  }
  stampCreation(instance, context.now ?? new Date(), parent);

  for (const [name, value] of sortedEntries(tags)) {
    const tag = parseTag(name);
    if (tag === TAGS.SpecificCharacterSet || isGroupLengthTag(tag)) continue;
    if (!force && !OVERRIDABLE.has(tag) && instance.has(tag)) {
      throw OrthancError.badRequest(`Trying to override a value inherited from a parent module, or an identifier (use "Force"): ${name}`);
    }
    if (tag === TAGS.PixelData) throw contentNotSupported();
    instance.set(tag, value);
  }
  return instance;
}

/** A new instance with the identifiers Orthanc generates (ParsedDicomFile(true)). */
function withIdentifiers(charset: CharacterSet, privateCreator: string | undefined): NewInstance {
  const instance = new NewInstance({ text: new DatasetText(charset), encoding: EXPLICIT_LITTLE, privateCreator });
  instance.set(TAGS.PatientID, randomUUID());
  instance.set(TAGS.StudyInstanceUID, generateUid());
  instance.set(TAGS.SeriesInstanceUID, generateUid());
  instance.set(TAGS.SOPInstanceUID, generateUid());
  return instance;
}

/** Acquisition, content and creation dates are now; study and series ones too unless the parent has them. */
function stampCreation(instance: NewInstance, now: Date, parent: ReadonlyMap<Tag, string>): void {
  const iso = now.toISOString();
  const date = iso.slice(0, 10).replace(/-/g, '');
  const time = `${iso.slice(11, 19).replace(/:/g, '')}.000000`;
  const stamps: [Tag, Tag][] = [
    [CREATION_STAMPS.AcquisitionDate, CREATION_STAMPS.AcquisitionTime],
    [CREATION_STAMPS.ContentDate, CREATION_STAMPS.ContentTime],
    [CREATION_STAMPS.InstanceCreationDate, CREATION_STAMPS.InstanceCreationTime],
  ];
  if (!parent.has(TAGS.SeriesInstanceUID)) stamps.push([CREATION_STAMPS.SeriesDate, CREATION_STAMPS.SeriesTime]);
  if (!parent.has(TAGS.StudyInstanceUID)) stamps.push([CREATION_STAMPS.StudyDate, CREATION_STAMPS.StudyTime]);
  for (const [dateTag, timeTag] of stamps) {
    instance.set(dateTag, date);
    instance.set(timeTag, time);
  }
}

/** The VR DCMTK gives a new element: the dictionary's, the private dictionary's for the creator, else UN. */
function vrOf(tag: Tag, privateCreator: string | undefined, value: JsonValue): string {
  if (isPrivateCreatorTag(tag)) return 'LO';
  const vr = isPrivateTag(tag)
    ? privateCreator === undefined
      ? undefined
      : lookupPrivateTag(tag, privateCreator)?.vr
    : lookupTag(tag)?.vr;
  const known = vr === undefined || vr === 'UN' ? 'UN' : vr;
  if (Array.isArray(value) && known !== 'SQ') {
    throw new OrthancError(OrthancErrorCode.BadParameterType, `Bad Parameter type for tag ${formatTag(tag)}: not a sequence`);
  }
  return known;
}

/** The element `tag` holding `value` (FromDcmtkBridge::FromJson). */
function newElement(tag: Tag, value: JsonValue, context: CastContext): OutNode {
  const vr = vrOf(tag, context.privateCreator, value);
  return vr === 'SQ' ? sequence(tag, value, context) : castReplacement(tag, vr, value, context);
}

/** A sequence from a JSON array of objects (an empty array stands for an empty item, as Lua writes it). */
function sequence(tag: Tag, value: JsonValue, context: CastContext): OutNode {
  if (!Array.isArray(value)) {
    throw new OrthancError(OrthancErrorCode.BadParameterType, `Bad Parameter type for tag ${formatTag(tag)}: expected an array of objects`);
  }
  const items = value.map((item) => {
    if (Array.isArray(item) && item.length === 0) return { elements: [], undefinedLength: false };
    if (!isObject(item)) {
      throw new OrthancError(OrthancErrorCode.BadParameterType, `Bad Parameter type for an item of ${formatTag(tag)}`);
    }
    const elements: OutNode[] = [];
    for (const [name, member] of sortedEntries(item)) {
      const memberTag = parseTag(name);
      if (elements.some((node) => node.tag === memberTag)) continue; // DcmItem::insert keeps the first one
      upsertNode(elements, newElement(memberTag, member, context));
    }
    return { elements, undefinedLength: false };
  });
  return { kind: 'sequence', tag, vr: 'SQ', undefinedLength: false, items, itemEncoding: context.encoding };
}

/** A UUID-derived UID (2.25.<128-bit integer>), as Orthanc's GenerateDicomPrivateUniqueIdentifier. */
function generateUid(): string {
  return `2.25.${BigInt(`0x${randomUUID().replace(/-/g, '')}`).toString(10)}`;
}

function contentNotSupported(): OrthancError {
  return new OrthancError(
    OrthancErrorCode.BadRequest,
    'DeidFlow does not support "Content" (nor PixelData) in /tools/create-dicom yet: pixel data or PDF from a data URI cannot be embedded',
  );
}

function optionalField(body: JsonObject, field: string, type: 'boolean' | 'string'): JsonValue | undefined {
  const value = body[field];
  if (value !== undefined && typeof value !== type) throw OrthancError.badRequest(`"${field}" must be a ${type}`);
  return value;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** jsoncpp iterates the members of an object in sorted order. */
function sortedEntries(object: JsonObject): [string, JsonValue][] {
  return Object.entries(object).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
