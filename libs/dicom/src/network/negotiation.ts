import { TRANSFER_SYNTAX } from '../codec/transfer-syntax';

export const VERIFICATION_SOP_CLASS = '1.2.840.10008.1.1';

/** The root of the storage SOP classes of PS3.4 (images, waveforms, SR, RT, documents...); query/retrieve models are 5.1.4.1.2. */
const STORAGE_SOP_CLASS_ROOT = '1.2.840.10008.5.1.4.1.1.';

/**
 * The storage SOP classes outside that root, one by one (their neighbours are query, retrieve or
 * worklist classes): RT Beams / Brachy Delivery Instruction, Hanging Protocol, Color Palette, Generic
 * Implant Template, Implant Assembly Template, Implant Template Group.
 */
const OTHER_STORAGE_SOP_CLASSES = new Set([
  '1.2.840.10008.5.1.4.34.7',
  '1.2.840.10008.5.1.4.34.10',
  '1.2.840.10008.5.1.4.38.1',
  '1.2.840.10008.5.1.4.39.1',
  '1.2.840.10008.5.1.4.43.1',
  '1.2.840.10008.5.1.4.44.1',
  '1.2.840.10008.5.1.4.45.1',
]);

export function isStorageSopClass(uid: string): boolean {
  return uid.startsWith(STORAGE_SOP_CLASS_ROOT) || OTHER_STORAGE_SOP_CLASSES.has(uid);
}

/**
 * Uncompressed syntaxes, preferred in this order whenever the caller offers one, as DCMTK's storescp
 * does by default (explicit VR in this host's byte order, then the other, then implicit VR): a
 * caller that offers its file's own syntax among them sends it as it is.
 */
const PREFERRED_TRANSFER_SYNTAXES: readonly string[] = [
  TRANSFER_SYNTAX.ExplicitVRLittleEndian,
  TRANSFER_SYNTAX.ExplicitVRBigEndian,
  TRANSFER_SYNTAX.ImplicitVRLittleEndian,
  TRANSFER_SYNTAX.DeflatedExplicitVRLittleEndian,
];

/**
 * Encapsulated syntaxes (PS3.5 A.4), stored as received, as Orthanc's AcceptedTransferSyntaxes do
 * by default: RLE, JPEG, JPEG-LS, JPEG 2000, MPEG-2/4, HEVC, JPEG XL, HTJ2K.
 */
const ENCAPSULATED_TRANSFER_SYNTAXES = new Set([
  '1.2.840.10008.1.2.5',
  ...['50', '51', '57', '70', '80', '81', '90', '91', '92', '93'].map((n) => `1.2.840.10008.1.2.4.${n}`),
  ...['100', '101', '102', '103', '104', '105', '106', '107', '108'].map((n) => `1.2.840.10008.1.2.4.${n}`),
  ...['110', '111', '112', '201', '202', '203'].map((n) => `1.2.840.10008.1.2.4.${n}`),
]);

/** A presentation context proposed in an A-ASSOCIATE-RQ. */
export interface ProposedContext {
  readonly id: number;
  readonly abstractSyntaxUid: string;
  readonly transferSyntaxUids: readonly string[];
}

export type ContextAnswer =
  | { readonly id: number; readonly transferSyntaxUid: string }
  | { readonly id: number; readonly rejected: 'abstract-syntax-not-supported' | 'transfer-syntaxes-not-supported' };

/**
 * The answer of a storage SCP to each proposed context: Verification and the storage SOP classes
 * are accepted (others, such as queries, are not served), each with an uncompressed transfer
 * syntax when one is offered, else the first encapsulated one offered that is known.
 */
export function negotiateStorage(proposed: readonly ProposedContext[]): ContextAnswer[] {
  return proposed.map(({ id, abstractSyntaxUid, transferSyntaxUids }) => {
    const uid = abstractSyntaxUid.trim();
    if (uid !== VERIFICATION_SOP_CLASS && !isStorageSopClass(uid)) return { id, rejected: 'abstract-syntax-not-supported' };
    const offered = transferSyntaxUids.map((ts) => ts.trim());
    const chosen =
      PREFERRED_TRANSFER_SYNTAXES.find((ts) => offered.includes(ts)) ??
      (uid === VERIFICATION_SOP_CLASS ? undefined : offered.find((ts) => ENCAPSULATED_TRANSFER_SYNTAXES.has(ts)));
    return chosen ? { id, transferSyntaxUid: chosen } : { id, rejected: 'transfer-syntaxes-not-supported' };
  });
}
