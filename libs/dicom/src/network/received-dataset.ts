import { OrthancError } from '@deidflow/common';
import { buildMeta, part10Header } from '../codec/part10';
import { Tag, TAGS } from '../dictionary/tag';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from '../modification/product';
import { readTopLevel, TopLevel } from '../parse/top-level';

/** What a C-STORE request says of the dataset it carries. */
export interface StoreCommand {
  /** AffectedSOPClassUID of the command. */
  readonly sopClassUid: string;
  /** AffectedSOPInstanceUID of the command. */
  readonly sopInstanceUid: string;
  /** The transfer syntax accepted for the presentation context the dataset comes on. */
  readonly transferSyntaxUid: string;
  /** The calling AE title, recorded as the file's SourceApplicationEntityTitle. */
  readonly callingAeTitle: string;
}

/** The dataset is not the instance its C-STORE request announced (status A900 in DICOM terms). */
export class DatasetMismatchError extends Error {}

/**
 * The start of the Part 10 file of a dataset received by C-STORE (preamble, "DICM", a File Meta
 * Information made from the request), known before the dataset arrives: the dataset's bytes follow
 * it verbatim, in the transfer syntax they travelled in (deflated if that one is).
 */
export function storedFileHeader(command: StoreCommand): Uint8Array {
  return part10Header(
    buildMeta({
      sopClassUid: command.sopClassUid.trim(),
      sopInstanceUid: command.sopInstanceUid.trim(),
      transferSyntaxUid: command.transferSyntaxUid,
      implementationClassUid: IMPLEMENTATION_CLASS_UID,
      implementationVersionName: IMPLEMENTATION_VERSION_NAME,
      sourceAeTitle: command.callingAeTitle.trim(),
    }),
  );
}

/**
 * Checks the file made of storedFileHeader and a received dataset before it is stored: a dataset
 * the engine cannot read is refused as an upload would be (OrthancError, BadFileFormat), and its SOP
 * class and instance must be the request's (PS3.4 B.2.3; Orthanc's StoreScp checks them too):
 * DatasetMismatchError otherwise.
 */
export function assertAnnouncedInstance(file: Uint8Array, command: StoreCommand): void {
  const topLevel = readTopLevel(file, true);
  const sopClassUid = uidOf(topLevel, TAGS.SOPClassUID);
  const sopInstanceUid = uidOf(topLevel, TAGS.SOPInstanceUID);
  // Without them it is no instance at all (C000, as DCMTK and Orthanc answer), rather than another one (A900).
  if (!sopClassUid || !sopInstanceUid) throw OrthancError.badFileFormat('The dataset has no SOP Class UID or no SOP Instance UID');
  if (sopClassUid !== command.sopClassUid.trim()) {
    throw new DatasetMismatchError('the SOP Class UID of the dataset is not the one of its C-STORE request');
  }
  if (sopInstanceUid !== command.sopInstanceUid.trim()) {
    throw new DatasetMismatchError('the SOP Instance UID of the dataset is not the one of its C-STORE request');
  }
}

function uidOf({ reader, elements }: TopLevel, tag: Tag): string | undefined {
  const element = elements.find((candidate) => candidate.tag === tag);
  return element && !element.isSequence ? reader.asciiOf(element).trim() : undefined;
}
