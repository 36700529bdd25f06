import { Injectable } from '@nestjs/common';
import { ChangeType, LEVEL_OF_RESOURCE_TYPE, LEVEL_PATH, orthancTimestamp } from '@deidflow/common';
import { ChangeRepository, ChangeRow } from '@deidflow/database';

/**
 * How long a read waits for a sequencer at work (a deletion holds it while it runs) before it reads
 * what is numbered: the changes committed meanwhile come in the next read.
 */
const SEQUENCER_WAIT_MS = 2_000;

/** Orthanc's default page of GET /changes. */
export const DEFAULT_CHANGES_LIMIT = 100;
/** Orthanc has no maximum; DeidFlow answers at most this many (Done: false, the client asks for the rest). */
export const MAX_CHANGES_LIMIT = 10_000;

export interface ChangePage {
  Changes: Record<string, unknown>[];
  Done: boolean;
  Last: number;
}

/**
 * GET / DELETE /changes. Each read first numbers what committed before it (ChangeRepository.sequence),
 * so a change made before the request is in the answer (unless a long deletion holds the sequencer).
 */
@Injectable()
export class ChangeLogService {
  constructor(private readonly changes: ChangeRepository) {}

  /** The changes after `since`, `limit` at most; `Last`: the last one's Seq, or the highest Seq given when there is none. */
  async page(since = 0, limit = DEFAULT_CHANGES_LIMIT): Promise<ChangePage> {
    await this.changes.sequence(SEQUENCER_WAIT_MS);
    const shown = Math.min(limit, MAX_CHANGES_LIMIT);
    // One more than shown tells whether the page is the last (Orthanc's Done).
    const rows = await this.changes.page(since, shown + 1);
    const page = rows.slice(0, shown);
    const last = page.length > 0 ? page[page.length - 1].seq : await this.changes.lastSeq();
    return { Changes: page.map(formatChange), Done: rows.length <= shown, Last: last };
  }

  /** `GET /changes?last`: the newest change alone. */
  async newest(): Promise<ChangePage> {
    await this.changes.sequence(SEQUENCER_WAIT_MS);
    const row = await this.changes.newest();
    return { Changes: row ? [formatChange(row)] : [], Done: true, Last: row ? row.seq : await this.changes.lastSeq() };
  }

  async clear(): Promise<void> {
    await this.changes.clear();
  }
}

/** One change in Orthanc's shape (ServerIndexChange::Format). */
export function formatChange(row: ChangeRow): Record<string, unknown> {
  const level = LEVEL_OF_RESOURCE_TYPE[row.resourceType];
  return {
    ChangeType: ChangeType[row.changeType],
    Date: orthancTimestamp(row.date),
    ID: row.resourceId,
    Path: `/${LEVEL_PATH[level]}/${row.resourceId}`,
    ResourceType: level,
    Seq: row.seq,
  };
}
