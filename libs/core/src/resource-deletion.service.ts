import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ResourceLevel } from '@deidflow/common';
import { DeletedResources, ObjectDeletionRepository, ResourceRepository } from '@deidflow/database';
import { OBJECT_STORAGE, ObjectStorage } from '@deidflow/storage';
import { InstanceStoreService } from './instance-store.service';

/** A deletion still queued this long after it was queued was left by a process that died (or failed). */
export const LEFTOVER_DELETION_AFTER_MS = 10 * 60_000;
/** Files deleted per round: bounds the memory and each statement, whatever the size of the deletion. */
const FILE_BATCH = 1000;

/**
 * Deletes resources: their index rows first, in one statement that also queues their files for
 * deletion, then the files, a batch at a time, each batch marked done once its files are gone. The
 * index never points to a missing file, and a file whose deletion was cut short (process killed,
 * store unavailable) stays queued until sweepLeftovers deletes it: a deleted source's patient data
 * does not stay behind in the store.
 */
@Injectable()
export class ResourceDeletionService {
  private readonly logger = new Logger(ResourceDeletionService.name);

  constructor(
    private readonly resources: ResourceRepository,
    private readonly queue: ObjectDeletionRepository,
    private readonly store: InstanceStoreService,
    @Inject(OBJECT_STORAGE) private readonly storage: ObjectStorage,
  ) {}

  /** DELETE /{level}/{id}: the resource, its descendants and the parents it leaves empty. Null when unknown. */
  async deleteResource(level: ResourceLevel, id: string): Promise<DeletedResources | null> {
    const deleted = await this.deleteResources(level, [id]);
    return deleted.deletedIds.length > 0 ? deleted : null;
  }

  /** Resources of one level (KeepSource: false: instances), and so on as deleteResource; those already gone are skipped. */
  async deleteResources(level: ResourceLevel, ids: readonly string[]): Promise<DeletedResources> {
    const deletionId = randomUUID();
    const deleted = await this.resources.deleteResources(level, ids, deletionId);
    try {
      await this.deleteQueuedFiles(deletionId);
    } catch (err) {
      // The rows are gone and the files queued: the sweep deletes them later.
      this.logger.warn({ err: (err as Error).message, deletionId }, 'files of deleted instances left to the sweep');
    }
    return deleted;
  }

  /**
   * Deletes the files that deletions queued before `now - LEFTOVER_DELETION_AFTER_MS` left behind.
   * Resolves to how many files it deleted. Safe to run in several processes at once: each takes
   * over a batch of its own.
   */
  async sweepLeftovers(now = Date.now()): Promise<number> {
    const queuedBefore = new Date(now - LEFTOVER_DELETION_AFTER_MS);
    let deleted = 0;
    for (;;) {
      const sweepId = randomUUID();
      const taken = await this.queue.takeOverLeftovers(queuedBefore, FILE_BATCH, sweepId, new Date(now));
      deleted += await this.deleteQueuedFiles(sweepId);
      if (taken < FILE_BATCH) return deleted;
    }
  }

  /**
   * The files queued under `deletionId`, a batch at a time; a file whose instance was stored again
   * under the same key since is left alone. Resolves to how many files it deleted.
   */
  private async deleteQueuedFiles(deletionId: string): Promise<number> {
    let deleted = 0;
    await this.queue.drain(deletionId, FILE_BATCH, async (batch) => {
      this.store.forget(batch.map((q) => q.instanceId));
      const garbage = batch.filter((q) => !q.stored).map((q) => q.objectKey);
      await this.storage.deleteMany(garbage);
      deleted += garbage.length;
    });
    return deleted;
  }
}
