import { createHash, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Inject, Injectable } from '@nestjs/common';
import { Allocate, LruCache, OrthancError, OrthancErrorCode } from '@deidflow/common';
import { InstanceRow, ObjectDeletionRepository, ResourceRepository, retryOnRace, StoredObject, StoreStatus } from '@deidflow/database';
import { normalizeToPart10, ParsedInstance, parseInstance } from '@deidflow/dicom';
import { isInexistentObject, OBJECT_STORAGE, ObjectStorage, objectKeyForInstance } from '@deidflow/storage';

export interface StoredInstance {
  parsed: ParsedInstance;
  status: StoreStatus;
}

/**
 * Stores and reads DICOM instances: bytes in the object store, hierarchy in the index. Used by
 * uploads (API) and by job outputs (workers) alike, so both follow the same rules:
 * the object is written before the index points to it, and keys derive from the Orthanc ID only.
 */
@Injectable()
export class InstanceStoreService {
  /**
   * Index rows of instances read lately: a row never changes once written (only deleted), so reads
   * of the same instance (anonymize/modify/file/tags in a row) skip the database. A row whose
   * instance was deleted elsewhere is caught when its object is missing (see readFile).
   */
  private readonly rows = new LruCache<string, InstanceRow>(10_000);

  constructor(
    private readonly resources: ResourceRepository,
    private readonly deletions: ObjectDeletionRepository,
    @Inject(OBJECT_STORAGE) private readonly storage: ObjectStorage,
  ) {}

  /**
   * A received file (upload): normalised (a bare dataset gets its Part 10 header), parsed, stored
   * and indexed. Throws OrthancError(BadFileFormat) for non-DICOM and for malformed or truncated files.
   */
  async store(received: Buffer): Promise<StoredInstance> {
    const normalized = normalizeToPart10(received);
    const bytes = normalized === received ? received : Buffer.from(normalized.buffer, normalized.byteOffset, normalized.byteLength);
    const parsed = parseInstance(bytes);
    const object = await this.writeObject(bytes, parsed);
    if (!object) return { parsed, status: 'AlreadyStored' };
    const status = await retryOnRace(() => this.resources.storeInstance(parsed, object));
    if (status === 'AlreadyStored') await this.dropUnindexedCopy(parsed.ids.instance, object.objectKey);
    return { parsed, status };
  }

  /**
   * The instance was indexed already, under another key than the one just written: an instance
   * stored under an earlier key layout (object-key.ts), uploaded again. The index keeps the first
   * copy, so the new one would be an orphan file.
   */
  private async dropUnindexedCopy(id: string, objectKey: string): Promise<void> {
    const row = await this.resources.findInstance(id);
    if (row && row.objectKey !== objectKey) await this.storage.delete(objectKey);
  }

  /**
   * Writes the object of an instance about to be indexed; the caller indexes it next (the object
   * is always written before the index points to it). Null when the instance is already stored:
   * Orthanc keeps the first copy (OverwriteInstances is off by default), so its object is left
   * alone. An object without an index row was left by a write interrupted before its indexing,
   * whole or in part (ObjectStorage.putIfAbsent), or by a deletion whose file deletion is still
   * queued or under way: it is replaced, so that the index describes the bytes it points to, once
   * that deletion can no longer delete it (ObjectDeletionRepository.withdraw).
   */
  async writeObject(bytes: Buffer, parsed: ParsedInstance): Promise<StoredObject | null> {
    const id = parsed.ids.instance;
    const objectKey = objectKeyForInstance(id);
    // Hashed once: recorded in the index, and the S3 driver signs and checksums its upload with it.
    const sha256 = objectDigest().update(bytes).digest('hex');
    if (!(await this.storage.putIfAbsent(objectKey, bytes, sha256))) {
      if (await this.deletions.withdraw(objectKey, id)) return null;
      // Rare (an orphan, or a file whose deletion is queued): under the object's lock, which the orphan sweep takes too.
      if (!(await this.deletions.replaceUnindexed(objectKey, id, () => this.storage.put(objectKey, bytes, sha256)))) return null;
    }
    return { objectKey, fileSize: bytes.length, sha256 };
  }

  async findInstanceOrThrow(id: string): Promise<InstanceRow> {
    const cached = this.rows.get(id);
    if (cached) return cached;
    const row = await this.resources.findInstance(id);
    if (!row) throw OrthancError.unknownResource();
    this.rows.set(id, row);
    return row;
  }

  /** `allocate`: where to read it (a BufferPool's acquire, see ObjectStorage.get). */
  async readFile(instance: InstanceRow, allocate?: Allocate): Promise<Buffer> {
    return this.storage.get(instance.objectKey, allocate).catch((err: unknown) => this.missingObject(instance, err));
  }

  /** The file to answer with: in memory when typical, streamed when large (multi-frame, whole-slide). */
  async readForAnswer(instance: InstanceRow): Promise<Buffer | Readable> {
    return instance.fileSize <= STREAM_ABOVE_BYTES ? this.readFile(instance) : this.readStream(instance);
  }

  async readStream(instance: InstanceRow): Promise<Readable> {
    return this.storage.getStream(instance.objectKey).catch((err: unknown) => this.missingObject(instance, err));
  }

  /**
   * The SHA-256 of the bytes in the store now (streamed), to compare with the one recorded when the
   * object was written: storage corruption or a file changed behind DeidFlow's back.
   */
  async digestOfStoredFile(instance: InstanceRow): Promise<string> {
    const digest = objectDigest();
    for await (const chunk of await this.readStream(instance)) digest.update(chunk as Buffer);
    return digest.digest('hex');
  }

  /** Rows cached (bounded: at most 10,000). */
  get cachedRows(): number {
    return this.rows.size;
  }

  /** Deleted instances: their cached rows go at once (other processes find out through readFile). */
  forget(ids: readonly string[]): void {
    for (const id of ids) this.rows.delete(id);
  }

  /** The instance was deleted since its row was read (or cached): answer as for an unknown one. */
  private async missingObject(instance: InstanceRow, err: unknown): Promise<never> {
    this.rows.delete(instance.id);
    if (isInexistentObject(err) && !(await this.resources.instanceExists(instance.id))) throw OrthancError.unknownResource();
    throw err;
  }
}

export const STREAM_ABOVE_BYTES = 16n * 1024n * 1024n;

/** The digest recorded for every stored object (instances.sha256). */
function objectDigest(): Hash {
  return createHash('sha256');
}

export function assertFound<T>(value: T | null | undefined, what = 'resource'): T {
  if (value === null || value === undefined) {
    throw new OrthancError(OrthancErrorCode.UnknownResource, `Unknown ${what}`);
  }
  return value;
}
