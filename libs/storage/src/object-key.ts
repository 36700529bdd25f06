import { createHash } from 'node:crypto';
import { OrthancError, OrthancErrorCode, isOrthancId } from '@deidflow/common';

// Relative, slash-separated segments of safe characters; no `.`/`..` segments, no empty segment.
const KEY_PATTERN = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;
const MAX_KEY_LENGTH = 512;

export function isValidObjectKey(key: string): boolean {
  return (
    typeof key === 'string' &&
    key.length <= MAX_KEY_LENGTH &&
    KEY_PATTERN.test(key) &&
    !key.includes('..') &&
    key.split('/').every((segment) => segment !== '.')
  );
}

/** Keys are built by our code, never taken from requests: a bad one is a bug, refused loudly. */
export function assertValidObjectKey(key: string): void {
  if (!isValidObjectKey(key)) {
    const shown = typeof key === 'string' ? JSON.stringify(key.slice(0, 100)) : typeof key;
    throw new OrthancError(OrthancErrorCode.ParameterOutOfRange, `Invalid object storage key: ${shown}`);
  }
}

/** Instance keys fan out on the first 3 hex digits of the ID: one level of 4,096 directories. */
const INSTANCE_FANOUT_DIGITS = 3;

/**
 * Storage key of an instance's DICOM file, fanned out on the first hex digits of its Orthanc ID
 * (`instances/0a1/<id>.dcm`) so that no directory holds millions of entries: 2,400 per directory at
 * 10 million instances, which ext4 and XFS index. One level, not Orthanc's two (`0a/1b/`, 65,536
 * directories): the fs store makes its 4,096 directories once (INSTANCE_KEY_DIRECTORIES), where two
 * levels made a young store create and fsync a directory for nearly every object it stored.
 *
 * Keys are recorded with each instance: objects stored under the earlier two-level keys stay where
 * they are and are read from there.
 */
export function objectKeyForInstance(instanceId: string): string {
  if (typeof instanceId !== 'string' || !isOrthancId(instanceId)) {
    throw new OrthancError(OrthancErrorCode.ParameterOutOfRange, 'Not an Orthanc instance ID');
  }
  return `instances/${instanceId.slice(0, INSTANCE_FANOUT_DIGITS)}/${instanceId}.dcm`;
}

/** Every directory objectKeyForInstance can put a key in. */
export const INSTANCE_KEY_DIRECTORIES: readonly string[] = Array.from(
  { length: 16 ** INSTANCE_FANOUT_DIGITS },
  (_, i) => `instances/${i.toString(16).padStart(INSTANCE_FANOUT_DIGITS, '0')}`,
);

/** An instance's object under any key layout so far: `instances/<hex dirs>/<id>.dcm`. */
const INSTANCE_OBJECT_KEY = /^instances\/(?:[0-9a-f]+\/)+([0-9a-f]{8}(?:-[0-9a-f]{8}){4})\.dcm$/;

/** The instance ID of an instance object's key (objectKeyForInstance, or an earlier layout); undefined for any other key. */
export function instanceIdOfObjectKey(key: string): string | undefined {
  return INSTANCE_OBJECT_KEY.exec(key)?.[1];
}

/**
 * Orthanc's FileUuid of a stored object: a UUID (name-based, version 5 layout, from the object's
 * key), the same at every call, as Orthanc's is its storage file's name.
 */
export function fileUuidOf(objectKey: string): string {
  const hash = createHash('sha1').update(`deidflow-object:${objectKey}`).digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
