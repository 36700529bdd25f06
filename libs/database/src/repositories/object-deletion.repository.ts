import { Injectable } from '@nestjs/common';
import { PreparedStatement, PrismaService } from '../prisma.service';
import { keysetPages } from './keyset-pages';

export interface QueuedDeletion {
  objectKey: string;
  instanceId: string;
  /** An instance of the same ID was stored again under this key since: its file is not garbage. */
  stored: boolean;
}

/**
 * Files still to delete from the object store (table object_deletions), each under the ID of the
 * deletion that queued it with the deletion of its rows (ResourceRepository.deleteResources); done
 * once the file is gone. What a process left queued when it died is taken over by a sweep.
 */
@Injectable()
export class ObjectDeletionRepository {
  constructor(private readonly prisma: PrismaService) {}

  /** The files queued under `deletionId`, in key order, a page at a time: the caller may mark each page done before the next. */
  queuedPages(deletionId: string, pageSize: number): AsyncGenerator<QueuedDeletion[]> {
    const read = (after: string) => this.prisma.prepared<QueuedDeletion>(QUEUED, [deletionId, after, pageSize]);
    // Every key sorts after ''.
    return keysetPages(pageSize, '', read, (last) => last.objectKey);
  }

  /** The files are gone from the store (or are another instance's now). */
  async done(deletionId: string, objectKeys: readonly string[]): Promise<void> {
    if (objectKeys.length > 0) await this.prisma.prepared(DONE, [deletionId, objectKeys]);
  }

  /**
   * Up to `limit` deletions queued before `queuedBefore` (left behind), taken over by the sweep
   * `sweepId` at `now`: another sweep leaves them alone unless this one dies too. Resolves to how many.
   */
  async takeOverLeftovers(queuedBefore: Date, limit: number, sweepId: string, now: Date): Promise<number> {
    const [row] = await this.prisma.prepared<{ n: number }>(TAKE_OVER_LEFTOVERS, [queuedBefore, limit, sweepId, now]);
    return row.n;
  }

  async pendingCount(): Promise<number> {
    const [row] = await this.prisma.prepared<{ n: number }>(PENDING_COUNT, []);
    return row.n;
  }
}

const QUEUED: PreparedStatement = {
  name: 'deidflow_object_deletions_queued',
  text: `SELECT d.object_key AS "objectKey", d.instance_id AS "instanceId",
                EXISTS (SELECT 1 FROM instances i WHERE i.id = d.instance_id AND i.object_key = d.object_key) AS stored
         FROM object_deletions d WHERE d.deletion_id = $1::uuid AND d.object_key > $2 ORDER BY d.object_key LIMIT $3`,
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
