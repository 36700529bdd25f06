import { Inject, Injectable } from '@nestjs/common';
import { ObjectDeletionRepository, type StoreObject } from '@deidflow/database';
import { instanceIdOfObjectKey, isInexistentObject, OBJECT_STORAGE, ObjectStorage } from '@deidflow/storage';

/** Objects checked against the index per statement. */
const CHECK_BATCH = 1000;

export interface OrphanSweepResult {
  /** Instance objects old enough to be orphans, checked against the index. */
  examined: number;
  deleted: number;
}

/**
 * Deletes the store's orphan instance objects: files that no index row points to, left by a write
 * whose indexing never came (a process killed between the two, an upload refused for a full store
 * and never sent again). Nothing else deletes them, and they may hold patient data that DELETE on
 * the REST API can no longer reach.
 *
 * An object is deleted only when, under its lock (ObjectDeletionRepository.deleteIfOrphan), it is
 * unindexed, not queued for deletion (the deletion sweep handles those), and no write touched it
 * for `minAgeMs`. The age spares a write in progress or about to be indexed; the lock spares an
 * orphan being replaced by its instance stored again (InstanceStoreService.writeObject), whose
 * fresh time the sweep then sees.
 */
@Injectable()
export class OrphanObjectService {
  constructor(
    private readonly deletions: ObjectDeletionRepository,
    @Inject(OBJECT_STORAGE) private readonly storage: ObjectStorage,
  ) {}

  /** `signal`: stops the sweep between two objects (a process shutting down); what it did stays done. */
  async deleteOrphans(minAgeMs: number, now = Date.now(), signal?: AbortSignal): Promise<OrphanSweepResult> {
    const writtenBefore = now - minAgeMs;
    const result: OrphanSweepResult = { examined: 0, deleted: 0 };
    let batch: StoreObject[] = [];
    const check = async () => {
      result.examined += batch.length;
      for (const orphan of await this.deletions.unindexed(batch)) {
        if (signal?.aborted) return;
        const isStale = () => this.writtenBefore(orphan.objectKey, writtenBefore);
        if (await this.deletions.deleteIfOrphan(orphan, isStale, () => this.storage.delete(orphan.objectKey))) result.deleted++;
      }
      batch = [];
    };
    for await (const object of this.storage.list('instances/')) {
      if (signal?.aborted) return result;
      const instanceId = instanceIdOfObjectKey(object.key);
      if (instanceId === undefined || object.modifiedAt.getTime() >= writtenBefore) continue;
      batch.push({ objectKey: object.key, instanceId });
      if (batch.length === CHECK_BATCH) await check();
    }
    await check();
    return result;
  }

  /** Whether the object, as it is now, was last written before `time` (a missing one was not). */
  private async writtenBefore(objectKey: string, time: number): Promise<boolean> {
    try {
      return (await this.storage.stat(objectKey)).modifiedAt.getTime() < time;
    } catch (err) {
      if (isInexistentObject(err)) return false;
      throw err;
    }
  }
}
