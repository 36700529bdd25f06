/** How the elements of a dataset are laid out on the wire. */
export interface Encoding {
  readonly explicitVr: boolean;
  readonly littleEndian: boolean;
}

export const IMPLICIT_LITTLE: Encoding = { explicitVr: false, littleEndian: true };
export const EXPLICIT_LITTLE: Encoding = { explicitVr: true, littleEndian: true };
export const EXPLICIT_BIG: Encoding = { explicitVr: true, littleEndian: false };

export const TRANSFER_SYNTAX = {
  ImplicitVRLittleEndian: '1.2.840.10008.1.2',
  ExplicitVRLittleEndian: '1.2.840.10008.1.2.1',
  DeflatedExplicitVRLittleEndian: '1.2.840.10008.1.2.1.99',
  ExplicitVRBigEndian: '1.2.840.10008.1.2.2',
} as const;

export interface TransferSyntax {
  readonly uid: string;
  readonly encoding: Encoding;
  /** The dataset (not the meta header) is a raw deflate stream (PS3.5 A.5). */
  readonly deflated: boolean;
}

/** Every other transfer syntax (JPEG, RLE, MPEG...) is explicit VR little endian with encapsulated pixels. */
export function transferSyntaxOf(uid: string): TransferSyntax {
  switch (uid) {
    case TRANSFER_SYNTAX.ImplicitVRLittleEndian:
      return { uid, encoding: IMPLICIT_LITTLE, deflated: false };
    case TRANSFER_SYNTAX.ExplicitVRBigEndian:
      return { uid, encoding: EXPLICIT_BIG, deflated: false };
    case TRANSFER_SYNTAX.DeflatedExplicitVRLittleEndian:
      return { uid, encoding: EXPLICIT_LITTLE, deflated: true };
    default:
      return { uid, encoding: EXPLICIT_LITTLE, deflated: false };
  }
}

/** VRs whose explicit header has 2 reserved bytes and a 32-bit length (PS3.5 7.1.2). */
const LONG_HEADER_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

export function hasLongHeader(vr: string): boolean {
  return LONG_HEADER_VRS.has(vr);
}

/** Text VRs: what DCMTK (and so Orthanc's visitors) handle as strings. */
const STRING_VRS = new Set(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UI', 'UR', 'UT']);

export function isStringVr(vr: string): boolean {
  return STRING_VRS.has(vr);
}

/** Text VRs whose values are not in the character set of the dataset but in the default repertoire. */
export function usesCharacterSet(vr: string): boolean {
  return vr === 'LO' || vr === 'LT' || vr === 'PN' || vr === 'SH' || vr === 'ST' || vr === 'UC' || vr === 'UT';
}
