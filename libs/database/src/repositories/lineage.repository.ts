import { Injectable } from '@nestjs/common';
import { PrismaService } from '../prisma.service';
import { Operation } from '../generated/client';

export { Operation };

export interface LineageEdge {
  outputInstanceId: string;
  sourceInstanceId: string;
  jobId: string | null;
  operation: Operation;
  requestDigest: string;
  createdAt: Date;
  /** Generations away from the instance asked about (1 = direct parent or child). */
  depth: number;
}

/**
 * Which instance was derived from which, by which job and operation, across generations. Edges are
 * written with the end of each instance (JobRepository.completeInstances).
 */
@Injectable()
export class LineageRepository {
  constructor(private readonly prisma: PrismaService) {}

  /** Every ancestor of the given instances (sources of sources...), nearest first. */
  async ancestors(instanceIds: string[], maxDepth = 100): Promise<LineageEdge[]> {
    return this.walk(instanceIds, 'up', maxDepth);
  }

  /** Every descendant of the given instances, nearest first. */
  async descendants(instanceIds: string[], maxDepth = 100): Promise<LineageEdge[]> {
    return this.walk(instanceIds, 'down', maxDepth);
  }

  private async walk(instanceIds: string[], direction: 'up' | 'down', maxDepth: number): Promise<LineageEdge[]> {
    if (instanceIds.length === 0) return [];
    // A recursive CTE follows the edges in one round trip; UNION (not ALL) stops on cycles.
    const rows =
      direction === 'up'
        ? await this.prisma.$queryRaw<RawEdge[]>`
          WITH RECURSIVE walk AS (
            SELECT l.*, 1 AS depth FROM lineage l WHERE l.output_instance_id = ANY(${instanceIds})
            UNION
            SELECT l.*, w.depth + 1 FROM lineage l JOIN walk w ON l.output_instance_id = w.source_instance_id
            WHERE w.depth < ${maxDepth}
          ) SELECT * FROM walk ORDER BY depth, created_at`
        : await this.prisma.$queryRaw<RawEdge[]>`
          WITH RECURSIVE walk AS (
            SELECT l.*, 1 AS depth FROM lineage l WHERE l.source_instance_id = ANY(${instanceIds})
            UNION
            SELECT l.*, w.depth + 1 FROM lineage l JOIN walk w ON l.source_instance_id = w.output_instance_id
            WHERE w.depth < ${maxDepth}
          ) SELECT * FROM walk ORDER BY depth, created_at`;
    return rows.map((r) => ({
      outputInstanceId: r.output_instance_id,
      sourceInstanceId: r.source_instance_id,
      jobId: r.job_id,
      operation: r.operation,
      requestDigest: r.request_digest,
      createdAt: r.created_at,
      depth: Number(r.depth),
    }));
  }
}

interface RawEdge {
  output_instance_id: string;
  source_instance_id: string;
  job_id: string | null;
  operation: Operation;
  request_digest: string;
  created_at: Date;
  depth: number | bigint;
}
