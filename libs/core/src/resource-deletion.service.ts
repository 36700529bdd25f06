import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ResourceLevel } from '@deidflow/common';
import { DeletedInstances, DeletedResources, ObjectDeletionRepository, ResourceRepository } from '@deidflow/database';
import { OBJECT_STORAGE, ObjectStorage } from '@deidflow/storage';
import { InstanceStoreService } from './instance-store.service';

/** A deletion still queued this long after it was queued was left by a process that died (or failed). */
export const LEFTOVER_DELETION_AFTER_MS = 10 * 60_000;
const SWEEP_BATCH = 1000;

/**
 * Deletes resources: their index rows first, in one transaction that also queues their files for
 * deletion, then the files, then the queue entries. The index never points to a missing file, and a
 * file whose deletion was cut short (process killed, store unavailable) stays queued until
 * sweepLeftovers removes it: a deleted source's patient data does not stay behind in the store.
 */
@Injectable()
export class ResourceDeletionService {
  private readonly logger = new Logger(ResourceDeletionService.name);

  constructor(
    private readonly resources: ResourceRepository,
    private readonly deletions: ObjectDeletionRepository,
    private readonly store: InstanceStoreService,
    @Inject(OBJECT_STORAGE) private readonly storage: ObjectStorage,
  ) {}

  /** DELETE /{level}/{id}: the resource, its descendants and the parents it leaves empty. Null when unknown. */
  async deleteResource(level: ResourceLevel, id: string): Promise<DeletedResources | null> {
    const deleted = await this.resources.deleteResource(level, id);
    if (deleted) await this.deleteFiles(deleted);
    return deleted;
  }

  /** Instances (KeepSource: false), and the parents they leave empty; those already gone are skipped. */
  async deleteInstances(ids: readonly string[]): Promise<DeletedInstances> {
    const deleted = await this.resources.deleteInstances(ids);
    await this.deleteFiles(deleted);
    return deleted;
  }

  /**
   * Deletes the files that deletions queued before `now - LEFTOVER_DELETION_AFTER_MS` left behind,
   * except one whose instance was stored again under the same key since. Resolves to how many
   * files it deleted. Safe to run in several processes at once.
   */
  async sweepLeftovers(now = Date.now()): Promise<number> {
    const queuedBefore = new Date(now - LEFTOVER_DELETION_AFTER_MS);
    let deleted = 0;
    for (;;) {
      const claimed = await this.deletions.claimLeftovers(queuedBefore, new Date(now), SWEEP_BATCH);
      const garbage = claimed.filter((c) => !c.stored).map((c) => c.objectKey);
      await this.storage.deleteMany(garbage);
      await this.deletions.done(claimed.map((c) => c.objectKey));
      deleted += garbage.length;
      if (claimed.length < SWEEP_BATCH) return deleted;
    }
  }

  private async deleteFiles(deleted: DeletedInstances): Promise<void> {
    this.store.forget(deleted.deletedIds);
    try {
      await this.storage.deleteMany(deleted.objectKeys);
      await this.deletions.done(deleted.objectKeys);
    } catch (err) {
      // The rows are gone and the files queued: the sweep deletes them later.
      this.logger.warn({ err: (err as Error).message, count: deleted.objectKeys.length }, 'files of deleted instances left to the sweep');
    }
  }
}
