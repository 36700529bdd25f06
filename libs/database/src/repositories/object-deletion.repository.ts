import { Injectable } from '@nestjs/common';
import { PreparedStatement, PrismaService } from '../prisma.service';
import { keysetPages } from './keyset-pages';

export interface QueuedDeletion {
  objectKey: string;
  instanceId: string;
  /** An instance of the same ID was stored again under this key since: its file is not garbage. */
  stored: boolean;
}

/** An instance's object found in the store, and the instance its key names. */
export interface StoreObject {
  objectKey: string;
  instanceId: string;
}

/**
 * Files still to delete from the object store (table object_deletions), each under the ID of the
 * deletion that queued it with the deletion of its rows (ResourceRepository.deleteResources); done
 * once the file is gone. What a process left queued when it died is taken over by a sweep.
 */
@Injectable()
export class ObjectDeletionRepository {
  constructor(private readonly prisma: PrismaService) {}

  /**
   * Deletes the files queued under `deletionId`, a page at a time in key order: each page is locked
   * while `deleteFiles` deletes its files and leaves the queue with them, in one transaction. The
   * lock is what withdraw() waits for: an instance stored again under a key being deleted is
   * written once its old file is gone, never before. Resolves to how many entries it handled.
   */
  async drain(deletionId: string, pageSize: number, deleteFiles: (page: QueuedDeletion[]) => Promise<void>): Promise<number> {
    let handled = 0;
    const deletePage = (after: string) =>
      this.prisma.preparedTransaction(async (run) => {
        const page = await run<QueuedDeletion>(LOCK_QUEUED, [deletionId, after, pageSize]);
        if (page.length === 0) return page;
        await deleteFiles(page);
        await run(DONE, [deletionId, page.map((q) => q.objectKey)]);
        handled += page.length;
        return page;
      });
    // Every key sorts after ''.
    for await (const _ of keysetPages(pageSize, '', deletePage, (last) => last.objectKey));
    return handled;
  }

  /**
   * The object `objectKey` is about to be written again (its instance uploaded, or produced, again):
   * it leaves the queue, once a deletion deleting its old file right now (drain) has done so.
   * Resolves to whether the instance `instanceId` is indexed, in which case its file is the stored one.
   */
  async withdraw(objectKey: string, instanceId: string): Promise<boolean> {
    const [row] = await this.prisma.prepared<{ indexed: boolean }>(WITHDRAW, [objectKey, instanceId]);
    return row.indexed;
  }

  /**
   * Up to `limit` deletions queued before `queuedBefore` (left behind), taken over by the sweep
   * `sweepId` at `now`: another sweep leaves them alone unless this one dies too. Resolves to how many.
   */
  async takeOverLeftovers(queuedBefore: Date, limit: number, sweepId: string, now: Date): Promise<number> {
    const [row] = await this.prisma.prepared<{ n: number }>(TAKE_OVER_LEFTOVERS, [queuedBefore, limit, sweepId, now]);
    return row.n;
  }

  /**
   * withdraw() for an object found in the store without its instance's row: under the object's lock,
   * withdrawn, then, unless the instance is indexed meanwhile, `write` replaces it. Resolves to
   * whether it wrote. The lock keeps deleteIfOrphan() from deleting what `write` just wrote.
   */
  async replaceUnindexed(objectKey: string, instanceId: string, write: () => Promise<void>): Promise<boolean> {
    return this.prisma.preparedTransaction(async (run) => {
      await run(LOCK_OBJECT, [objectKey]);
      const [row] = await run<{ indexed: boolean }>(WITHDRAW, [objectKey, instanceId]);
      if (row.indexed) return false;
      await write();
      return true;
    });
  }

  /** Of these objects found in the store, those that no instance row points to and no deletion has queued. */
  async unindexed(objects: readonly StoreObject[]): Promise<StoreObject[]> {
    if (objects.length === 0) return [];
    return this.prisma.prepared<StoreObject>(UNINDEXED, [objects.map((o) => o.objectKey), objects.map((o) => o.instanceId)]);
  }

  /**
   * Deletes an object of the store that no instance row points to (left by a write whose indexing
   * never came: a process killed between the two, a failed upload), under the object's lock: only
   * if, once the lock is held, it is still unindexed, not queued for deletion, and `isStale` (its
   * time) says no write touched it lately. Resolves to whether `remove` ran.
   */
  async deleteIfOrphan({ objectKey, instanceId }: StoreObject, isStale: () => Promise<boolean>, remove: () => Promise<void>): Promise<boolean> {
    return this.prisma.preparedTransaction(async (run) => {
      await run(LOCK_OBJECT, [objectKey]);
      const unindexed = await run(UNINDEXED, [[objectKey], [instanceId]]);
      if (unindexed.length === 0 || !(await isStale())) return false;
      await remove();
      return true;
    });
  }

  async pendingCount(): Promise<number> {
    const [row] = await this.prisma.prepared<{ n: number }>(PENDING_COUNT, []);
    return row.n;
  }
}

const LOCK_QUEUED: PreparedStatement = {
  name: 'deidflow_object_deletions_lock_queued',
  text: `SELECT d.object_key AS "objectKey", d.instance_id AS "instanceId",
                EXISTS (SELECT 1 FROM instances i WHERE i.id = d.instance_id AND i.object_key = d.object_key) AS stored
         FROM object_deletions d WHERE d.deletion_id = $1::uuid AND d.object_key > $2 ORDER BY d.object_key LIMIT $3
         FOR UPDATE OF d`,
};

// The DELETE waits for a drain holding the row; the EXISTS reads the statement's snapshot, taken
// before, where the instance's deletion (committed before its file was queued) shows.
const WITHDRAW: PreparedStatement = {
  name: 'deidflow_object_deletions_withdraw',
  text: `WITH withdrawn AS (DELETE FROM object_deletions WHERE object_key = $1)
         SELECT EXISTS (SELECT 1 FROM instances WHERE id = $2) AS indexed`,
};

/** "deob": the class of the objects' advisory locks, apart from the one-key locks (queue dispatch, migrations). */
const OBJECT_LOCK_CLASS = 0x64656f62;

/** Held until the transaction ends; two keys hashing alike only wait for each other. */
const LOCK_OBJECT: PreparedStatement = {
  name: 'deidflow_object_lock',
  text: `SELECT pg_advisory_xact_lock(${OBJECT_LOCK_CLASS}, hashtext($1))`,
};

const UNINDEXED: PreparedStatement = {
  name: 'deidflow_objects_unindexed',
  text: `SELECT o.key AS "objectKey", o.instance_id AS "instanceId" FROM unnest($1::text[], $2::bpchar[]) AS o(key, instance_id)
         WHERE NOT EXISTS (SELECT 1 FROM instances i WHERE i.id = o.instance_id AND i.object_key = o.key)
           AND NOT EXISTS (SELECT 1 FROM object_deletions d WHERE d.object_key = o.key)`,
};

const DONE: PreparedStatement = {
  name: 'deidflow_object_deletions_done',
  text: 'DELETE FROM object_deletions WHERE deletion_id = $1::uuid AND object_key = ANY($2::text[])',
};

const TAKE_OVER_LEFTOVERS: PreparedStatement = {
  name: 'deidflow_object_deletions_take_over',
  text: `WITH taken AS (
           UPDATE object_deletions SET deletion_id = $3::uuid, queued_at = $4
           WHERE object_key IN (
             SELECT object_key FROM object_deletions WHERE queued_at < $1 ORDER BY queued_at LIMIT $2 FOR UPDATE SKIP LOCKED)
           RETURNING 1)
         SELECT count(*)::int AS n FROM taken`,
};

const PENDING_COUNT: PreparedStatement = {
  name: 'deidflow_object_deletions_pending',
  text: 'SELECT count(*)::int AS n FROM object_deletions',
};
