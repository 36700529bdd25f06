import { Injectable } from '@nestjs/common';
import { PreparedStatement, PrismaService } from '../prisma.service';

/**
 * The statement that queues files for deletion, run by the transactions that delete instances'
 * rows (ResourceRepository); `rows` selects (object_key, instance_id). A key queued already stays
 * queued once.
 */
export function queueObjectDeletions(rows: string): string {
  return `INSERT INTO object_deletions (object_key, instance_id) ${rows} ON CONFLICT (object_key) DO NOTHING`;
}

export interface ClaimedDeletion {
  objectKey: string;
  /** An instance of the same ID was stored again under this key since: its file is not garbage. */
  stored: boolean;
}

/**
 * Files still to delete from the object store (table object_deletions): queued with the deletion
 * of their rows, done once the files are gone. What a process left queued when it died is claimed
 * later by a sweep.
 */
@Injectable()
export class ObjectDeletionRepository {
  constructor(private readonly prisma: PrismaService) {}

  /** The files are gone from the store. */
  async done(objectKeys: readonly string[]): Promise<void> {
    if (objectKeys.length > 0) await this.prisma.prepared(DONE, [objectKeys]);
  }

  /**
   * Up to `limit` deletions queued before `queuedBefore` (left behind), claimed: their time moves
   * to `now`, so that another sweep leaves them alone unless this one dies too.
   */
  async claimLeftovers(queuedBefore: Date, now: Date, limit: number): Promise<ClaimedDeletion[]> {
    return this.prisma.prepared<ClaimedDeletion>(CLAIM_LEFTOVERS, [queuedBefore, limit, now]);
  }

  async pendingCount(): Promise<number> {
    const [row] = await this.prisma.prepared<{ n: number }>(PENDING_COUNT, []);
    return row.n;
  }
}

const DONE: PreparedStatement = {
  name: 'deidflow_object_deletions_done',
  text: 'DELETE FROM object_deletions WHERE object_key = ANY($1::text[])',
};

const CLAIM_LEFTOVERS: PreparedStatement = {
  name: 'deidflow_object_deletions_claim',
  text: `WITH claimed AS (
           UPDATE object_deletions d SET queued_at = $3
           WHERE d.object_key IN (
             SELECT object_key FROM object_deletions WHERE queued_at < $1 ORDER BY queued_at LIMIT $2 FOR UPDATE SKIP LOCKED)
           RETURNING d.object_key, d.instance_id)
         SELECT c.object_key AS "objectKey",
                EXISTS (SELECT 1 FROM instances i WHERE i.id = c.instance_id AND i.object_key = c.object_key) AS stored
         FROM claimed c`,
};

const PENDING_COUNT: PreparedStatement = {
  name: 'deidflow_object_deletions_pending',
  text: 'SELECT count(*)::int AS n FROM object_deletions',
};
