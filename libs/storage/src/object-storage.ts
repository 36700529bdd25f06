import type { Readable } from 'node:stream';
import { Allocate, OrthancError, OrthancErrorCode } from '@deidflow/common';

export interface ObjectStat {
  key: string;
  size: number;
  /** When the object was last written. */
  modifiedAt: Date;
  etag?: string;
}

/**
 * Where DICOM files live: the local filesystem (`fs`) or an S3-compatible bucket (`s3`).
 * Every failure is an OrthancError: a missing object is InexistentFile (404); an unreachable
 * store is a 5xx error (`isPermanent === false`), so callers may retry it.
 */
export interface ObjectStorage {
  readonly driver: 'fs' | 's3';
  /** fs: creates the directory; s3: creates the bucket when missing. */
  init(): Promise<void>;
  /**
   * Atomic: readers see the previous object or the whole new one, never a partial one. `sha256`:
   * the hex SHA-256 of `data` when the caller has it; a driver that sends one (S3) uses it instead
   * of hashing the bytes again.
   */
  put(key: string, data: Buffer, sha256?: string): Promise<void>;
  /**
   * Like put(), but an object already under `key` is left as it is (Orthanc keeps the first copy of
   * an instance); true when this call wrote the object. Not atomic for readers: until the call
   * resolves, and after a crash interrupted it, `key` may hold part of the object (the fs driver
   * writes small objects in place, for speed). So an object must not be read before its write
   * resolved: instances are indexed only then, and an object found without its index row is
   * replaced with put() (InstanceStoreService.writeObject).
   */
  putIfAbsent(key: string, data: Buffer, sha256?: string): Promise<boolean>;
  /** Atomic like put(); when `size` is given, a stream of another length is rejected. */
  putStream(key: string, stream: Readable, size?: number): Promise<void>;
  /**
   * The whole object. `allocate` may give the memory it is read into (a BufferPool's acquire): a
   * driver that knows the size first uses it, the others ignore it.
   */
  get(key: string, allocate?: Allocate): Promise<Buffer>;
  getStream(key: string): Promise<Readable>;
  stat(key: string): Promise<ObjectStat>;
  /**
   * Every object whose key starts with `prefix`, in no particular order, streamed (a store can hold
   * millions). Objects written or deleted meanwhile may or may not be listed.
   */
  list(prefix: string): AsyncIterable<ObjectStat>;
  exists(key: string): Promise<boolean>;
  /** Idempotent: deleting a missing key succeeds. */
  delete(key: string): Promise<void>;
  deleteMany(keys: string[]): Promise<void>;
  /** Throws when the store cannot be used (health check). */
  ping(): Promise<void>;
}

export const OBJECT_STORAGE = Symbol('OBJECT_STORAGE');

export function inexistentObject(key: string): OrthancError {
  return new OrthancError(OrthancErrorCode.InexistentFile, `No object with key ${key} in the storage area`);
}

export function streamSizeMismatch(key: string, expected: number, actual: number): OrthancError {
  return new OrthancError(
    OrthancErrorCode.BadRequest,
    `Stream for object ${key} has ${actual} bytes, ${expected} were announced`,
  );
}

export function isInexistentObject(err: unknown): boolean {
  return err instanceof OrthancError && err.code === OrthancErrorCode.InexistentFile;
}

/** `exists` for drivers that answer it with a stat: a missing object is `false`, other errors stay errors. */
export async function existsByStat(stat: () => Promise<unknown>): Promise<boolean> {
  try {
    await stat();
    return true;
  } catch (err) {
    if (isInexistentObject(err)) return false;
    throw err;
  }
}
