import { createHmac } from 'node:crypto';
import type { Level } from './request-types';

/**
 * Pseudonyms as pure functions of (job secret, level, original value). Orthanc keeps a UID map in
 * the memory of one job; DeidFlow derives every new identifier from an HMAC instead, so that any
 * number of worker processes, on any machine, agree without coordination and a retried instance
 * gets the same identifiers again.
 */

function digest(secret: string, kind: string, value: string): Buffer {
  return createHmac('sha256', secret).update(kind).update('\0').update(value).digest();
}

/** 128 bits of the HMAC shaped as an RFC 9562 version 8 ("custom") UUID. */
function uuidBytes(secret: string, kind: string, value: string): Buffer {
  const bytes = digest(secret, kind, value).subarray(0, 16);
  bytes[6] = (bytes[6] & 0x0f) | 0x80;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  return bytes;
}

/** Orthanc strips spaces before looking an identifier up (Toolbox::StripSpaces); DICOM pads UIDs with NUL. */
export function stripIdentifier(value: string): string {
  return value.replace(/^[\s\0]+|[\s\0]+$/g, '');
}

/** The new UID of `uid` at `level`: '2.25.' followed by the UUID as a decimal integer (at most 44 characters). */
export function mapUid(secret: string, level: string, uid: string): string {
  const bytes = uuidBytes(secret, level, stripIdentifier(uid));
  return `2.25.${BigInt(`0x${bytes.toString('hex')}`).toString(10)}`;
}

/** The new PatientID: a 36-character UUID, like the random one of Orthanc, but derived from the original. */
export function mapPatientId(secret: string, patientId: string): string {
  const hex = uuidBytes(secret, 'PatientID', stripIdentifier(patientId)).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A PatientName for callers that did not allocate Orthanc's "AnonymizedN": stable for one job. */
export function derivedPatientName(secret: string): string {
  return `Anonymized${digest(secret, 'PatientName', '').readUInt32BE(0)}`;
}

/** UID levels of Orthanc's uidMap_ (ResourceType): the same original maps differently per level. */
export type UidLevel = Level;

const CACHE_LIMIT = 4096;

/**
 * The mapping used while applying one plan: HMAC results memoised (Study and Series UIDs repeat
 * across the instances of a job), plus the identities a file pins for itself (a UID replaced with
 * Force, or kept), which references inside the same file must follow (DM Apply, step 1).
 */
export class UidMapper {
  private readonly cache = new Map<string, string>();

  constructor(private readonly secret: string) {}

  map(level: UidLevel, uid: string, pinned?: ReadonlyMap<string, string>): string {
    const stripped = stripIdentifier(uid);
    const key = `${level}\0${stripped}`;
    const fixed = pinned?.get(key);
    if (fixed !== undefined) return fixed;
    let mapped = this.cache.get(key);
    if (mapped === undefined) {
      mapped = level === 'Patient' ? mapPatientId(this.secret, stripped) : mapUid(this.secret, level, stripped);
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(key, mapped);
    }
    return mapped;
  }

  static pinKey(level: UidLevel, uid: string): string {
    return `${level}\0${stripIdentifier(uid)}`;
  }
}
