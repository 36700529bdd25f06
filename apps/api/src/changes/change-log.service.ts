import { Injectable } from '@nestjs/common';
import { ChangeType, LEVEL_OF_RESOURCE_TYPE, LEVEL_PATH, orthancTimestamp } from '@deidflow/common';
import { ChangeRepository, ChangeRow, readsBackwards } from '@deidflow/database';

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
  /** The smallest Seq of the page (Orthanc >= 1.12.5), absent when it is empty. */
  First?: number;
  Last: number;
}

/** GET /changes's parameters: Orthanc's `since` (default 0), `limit` (default 100), and its ExtendedChanges `to` and `type`. */
export interface ChangeLogQuery {
  since?: number;
  limit?: number;
  to?: number;
  types?: ChangeType[];
}

/**
 * GET / DELETE /changes. Each read first numbers what committed before it (ChangeRepository.sequence),
 * so a change made before the request is in the answer (unless a long deletion holds the sequencer).
 */
@Injectable()
export class ChangeLogService {
  constructor(private readonly changes: ChangeRepository) {}

  /**
   * The first changes after `since` (up to `to`), or with `to` alone the last ones up to it, in Seq
   * order either way; `Done`: nothing more that way. `Last`: the page's last Seq, or the highest Seq
   * given when the page is empty (Orthanc's, whatever the filters).
   */
  async page(query: ChangeLogQuery = {}): Promise<ChangePage> {
    const limit = Math.min(query.limit ?? DEFAULT_CHANGES_LIMIT, MAX_CHANGES_LIMIT);
    const since = query.since ?? 0;
    const backwards = readsBackwards({ since, to: query.to });
    return this.changes.read(SEQUENCER_WAIT_MS, async (log, locked) => {
      // One more than asked tells whether there is more that way (Orthanc's Done).
      const rows = await log.page({ since, to: query.to, limit: limit + 1, types: query.types });
      const done = rows.length <= limit;
      const page = done ? rows : backwards ? rows.slice(1) : rows.slice(0, limit);
      return answer(page, done, () => (locked ? log.lastSeq() : Promise.resolve(since)));
    });
  }

  /** `GET /changes?last`: the newest change alone. */
  async newest(): Promise<ChangePage> {
    return this.changes.read(SEQUENCER_WAIT_MS, async (log, locked) => {
      const row = await log.newest();
      return answer(row ? [row] : [], true, () => (locked ? log.lastSeq() : Promise.resolve(0)));
    });
  }

  async clear(): Promise<void> {
    await this.changes.clear();
  }
}

/**
 * `Last`: the page's last Seq, or for an empty page the highest Seq given (Orthanc's), read under
 * the sequencer's lock; without it (deletions held it too long), where the client stands (`since`).
 */
async function answer(page: ChangeRow[], done: boolean, lastSeqGiven: () => Promise<number>): Promise<ChangePage> {
  if (page.length === 0) return { Changes: [], Done: done, Last: await lastSeqGiven() };
  return { Changes: page.map(formatChange), Done: done, First: page[0].seq, Last: page[page.length - 1].seq };
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
