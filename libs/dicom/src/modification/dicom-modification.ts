import { OrthancError, OrthancErrorCode } from '@deidflow/common';
import { Tag, TAGS } from '../dictionary/tag';
import { DatasetReader } from '../codec/dataset-reader';
import { findNode, OutNode } from '../codec/out-tree';
import { AllocateOutput, buildMeta, Part10Source, readPart10, writePart10 } from '../codec/part10';
import { indexRecord, ParsedInstance } from '../parse/parse-instance';
import { outputText } from '../parse/top-level';
import { InstanceRewriter } from './instance-rewriter';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from './product';
import type { ModificationRequest } from './request-types';
import { compileRules, ModificationRules } from './rules';
import { derivedPatientName, UidMapper } from './uid-mapping';

export interface ModificationKeys {
  /** The job's secret: every pseudonym (UIDs, PatientID) derives from it. */
  readonly secret: string;
  /** Orthanc's "AnonymizedN", allocated by the caller when the user gave no PatientName. */
  readonly patientName?: string;
}

/** A rewritten instance: its file and what the index holds of it. */
export interface DerivedInstance {
  readonly file: Uint8Array;
  readonly parsed: ParsedInstance;
}

/**
 * Orthanc's DicomModification: the immutable plan built once per job from the request, then applied
 * the same way to every instance, by any worker.
 *
 * What Orthanc does (OrthancFramework/Sources/DicomParsing/DicomModification.cpp and
 * OrthancServer/Sources/OrthancRestApi/OrthancRestAnonymizeModify.cpp, read in the jodogne/OrthancMirror
 * copy, commits 021497be and 0267d5a8), and this class copies:
 * - Apply() regenerates the main UIDs at and below the modification level: level Patient or Study
 *   maps StudyInstanceUID, SeriesInstanceUID and SOPInstanceUID; Series maps the last two; Instance
 *   only SOPInstanceUID ("level_ <= ResourceType_Study" etc., step 6). A UID that the request
 *   replaces (Force) or keeps (Keep + Force) is left alone. Absent UIDs are inserted.
 * - The level is the route's for series/study/patient modify; for instance modify and bulk modify
 *   without "Level" the REST layer detects it (DetectModifyLevel: PatientID replaced -> Patient,
 *   StudyInstanceUID -> Study, SeriesInstanceUID -> Series, else Instance). Anonymization is always
 *   at level Patient (SetupAnonymization), whatever the route.
 * - Only anonymization runs the RelationshipsVisitor (nested UIDs and references remapped, nested
 *   X/Z tags removed or emptied, nested private tags removed); a modification leaves nested
 *   references alone.
 * Where DeidFlow differs: UIDs come from an HMAC of the job secret instead of DCMTK's random
 * generator (so independent workers agree), an empty UID stays empty, nested PatientName and
 * PatientID follow the new top-level values, a kept private tag keeps its creator and is kept in
 * sequences too, and RemovePrivateTags also removes private tags nested in sequences.
 */
export class DicomModification {
  private readonly mapper: UidMapper;

  private constructor(
    readonly request: ModificationRequest,
    private readonly rules: ModificationRules,
    secret: string,
  ) {
    this.mapper = new UidMapper(secret);
  }

  static fromRequest(request: ModificationRequest, keys: ModificationKeys): DicomModification {
    if (!keys.secret) throw new OrthancError(OrthancErrorCode.InternalError, 'A modification needs a non-empty secret');
    const patientName = keys.patientName ?? derivedPatientName(keys.secret);
    return new DicomModification(request, compileRules(request, patientName), keys.secret);
  }

  /**
   * The new DICOM file. Throws OrthancError: BadFileFormat for malformed input, BadRequest for values
   * that cannot be written. `allocate` gives the memory of the output (a worker reuses buffers).
   */
  apply(file: Uint8Array, allocate?: AllocateOutput): Uint8Array {
    return this.write(this.rewrite(file), allocate);
  }

  /**
   * apply(), and the output's index record, read from the rewritten elements instead of parsing the
   * new file again (what parseInstance(file) gives: the engine's tests hold the two equal). Throws
   * as parseInstance does when the output cannot be indexed (a required UID removed).
   */
  derive(file: Uint8Array, allocate?: AllocateOutput): DerivedInstance {
    const output = this.rewrite(file);
    const { encoding, uid } = output.source.transferSyntax;
    const parsed = indexRecord(outputText(output.dataset, encoding.littleEndian), uid, output.sopClassUid);
    return { file: this.write(output, allocate), parsed };
  }

  private rewrite(file: Uint8Array): RewrittenDataset {
    const source = readPart10(file);
    const reader = new DatasetReader(source.dataset, source.transferSyntax.encoding);
    const elements = reader.readElements(0, source.dataset.length, 0);
    const dataset = new InstanceRewriter(this.rules, this.mapper, reader, elements).rewrite();
    const metaSopClass = source.meta.get(TAGS.MediaStorageSOPClassUID);
    const sopClassUid = uidOf(dataset, TAGS.SOPClassUID) || (metaSopClass ? source.metaReader.asciiOf(metaSopClass) : '');
    return { source, dataset, sopClassUid };
  }

  private write({ source, dataset, sopClassUid }: RewrittenDataset, allocate?: AllocateOutput): Uint8Array {
    const version = source.meta.get(TAGS.FileMetaInformationVersion);
    const meta = buildMeta({
      version: version ? source.metaReader.valueOf(version) : undefined,
      sopClassUid,
      sopInstanceUid: uidOf(dataset, TAGS.SOPInstanceUID),
      transferSyntaxUid: source.transferSyntax.uid,
      implementationClassUid: IMPLEMENTATION_CLASS_UID,
      implementationVersionName: IMPLEMENTATION_VERSION_NAME,
    });
    return writePart10({ meta, dataset, transferSyntax: source.transferSyntax }, allocate);
  }
}

/** The output's dataset before it is written, with what its File Meta Information needs of the source. */
interface RewrittenDataset {
  readonly source: Part10Source;
  readonly dataset: OutNode[];
  /** The output's SOP class: its dataset's, else the source's File Meta Information's. */
  readonly sopClassUid: string;
}

/** The value of a UID element of the output dataset ('' when absent). */
function uidOf(nodes: readonly OutNode[], tag: Tag): string {
  const node = findNode(nodes, tag);
  if (node?.kind === 'copy') return node.reader.asciiOf(node.raw);
  if (node?.kind === 'value') return Buffer.from(node.value).toString('latin1').replace(/[\s\0]+$/, '');
  return '';
}
