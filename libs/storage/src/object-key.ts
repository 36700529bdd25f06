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

/**
 * Storage key of an instance's DICOM file, fanned out on the first hex digits of its Orthanc
 * ID (`instances/ab/cd/<id>.dcm`) so that no directory holds millions of entries.
 */
export function objectKeyForInstance(instanceId: string): string {
  if (typeof instanceId !== 'string' || !isOrthancId(instanceId)) {
    throw new OrthancError(OrthancErrorCode.ParameterOutOfRange, 'Not an Orthanc instance ID');
  }
  return `instances/${instanceId.slice(0, 2)}/${instanceId.slice(2, 4)}/${instanceId}.dcm`;
}
