import { Injectable } from '@nestjs/common';
import type { ParsedInstance } from '@deidflow/dicom';
import { PreparedStatement, PrismaService } from '../prisma.service';
import { HIERARCHY_PARAMETERS, hierarchyInsertCtes, hierarchyInsertValues, StoredObject } from './hierarchy-sql';
import { INSTANCE_COLUMNS, InstanceRecord, instanceRow } from './instance-row-sql';
import type { InstanceRow } from './resource.repository';
import type { ResourceLevel } from '@deidflow/common';
import { Job, JobInstanceState, JobState, Prisma } from '../generated/client';
import { instanceJoin, levelColumn } from './instance-scope';

export type JobRow = Job;
export { JobState };

export interface NewJob {
  id: string;
  priority: number;
  isAnonymization: boolean;
  request: Prisma.InputJsonValue;
  secret: string;
  level: string;
  sourceResources: Prisma.InputJsonValue;
  keepSource: boolean;
  permissive: boolean;
  userData?: Prisma.InputJsonValue;
  patientName?: string;
}

export interface JobCounters {
  instancesCount: number;
  processedCount: number;
  failedCount: number;
  state: JobState;
  ready: boolean;
  generation: number;
}

const COUNTERS = {
  instancesCount: true,
  processedCount: true,
  failedCount: true,
  state: true,
  ready: true,
  generation: true,
} as const;

const FINISHED: JobState[] = [JobState.Success, JobState.Failure];

const COUNTER_COLUMNS = `instances_count AS "instancesCount", processed_count AS "processedCount", failed_count AS "failedCount",
  state, ready, generation`;

const OUTPUT_HIERARCHY: PreparedStatement = {
  name: 'deidflow_output_hierarchy',
  text: `SELECT ji.source_instance_id AS source, i.id AS instance, i.series_id AS series, s.study_id AS study, st.patient_id AS patient
         FROM job_instances ji
         JOIN instances i ON i.id = ji.output_instance_id
         JOIN series s ON s.id = i.series_id
         JOIN studies st ON st.id = s.study_id
         WHERE ji.job_id = $1::uuid AND ji.state = 'DONE'
         ORDER BY ji.source_instance_id`,
};

/** What the completion statements record besides the output itself. */
export interface InstanceCompletion {
  jobId: string;
  sourceInstanceId: string;
  operation: 'anonymize' | 'modify';
  requestDigest: string;
  /** AnonymizedFrom/ModifiedFrom links of the output's levels. */
  metadata: { resourceId: string; name: string; value: string }[];
}

/** The completion statements' parameters after the output's: source, job, operation, digest, metadata. */
function completionValues(c: InstanceCompletion): unknown[] {
  return [
    c.sourceInstanceId,
    c.jobId,
    c.operation,
    c.requestDigest,
    c.metadata.map((m) => m.resourceId),
    c.metadata.map((m) => m.name),
    c.metadata.map((m) => m.value),
  ];
}

export interface InstanceContext extends JobCounters {
  priority: number;
  instanceState: JobInstanceState | null;
  source: { instance: InstanceRow; ancestors: { patient: string; study: string; series: string } } | null;
}

type ContextRecord = JobCounters & { priority: number; instanceState: JobInstanceState | null; studyId: string | null; patientId: string | null } & {
  [column in keyof InstanceRecord]: InstanceRecord[column] | null;
};

const INSTANCE_CONTEXT: PreparedStatement = {
  name: 'deidflow_instance_context',
  text: `SELECT j.state, j.generation, j.priority, j.ready, j.instances_count AS "instancesCount",
           j.processed_count AS "processedCount", j.failed_count AS "failedCount", ji.state AS "instanceState",
           ${INSTANCE_COLUMNS}, st.id AS "studyId", st.patient_id AS "patientId"
         FROM jobs j
         LEFT JOIN job_instances ji ON ji.job_id = j.id AND ji.source_instance_id = $2
         LEFT JOIN (instances i JOIN series se ON se.id = i.series_id JOIN studies st ON st.id = se.study_id) ON i.id = $2
         WHERE j.id = $1::uuid`,
};

/** Parameters: the hierarchy's 18, then source, job, operation, digest, metadata arrays. */
const COMPLETE_INSTANCE_WITH_OUTPUT: PreparedStatement = (() => {
  const $ = (n: number) => `$${HIERARCHY_PARAMETERS + n}`;
  return {
    name: 'deidflow_complete_instance_with_output',
    text: `WITH ${hierarchyInsertCtes(1)}, lin AS (
        INSERT INTO lineage (output_instance_id, source_instance_id, job_id, operation, request_digest)
        VALUES ($10, ${$(1)}, ${$(2)}::uuid, ${$(3)}::operation, ${$(4)})
        ON CONFLICT DO NOTHING
      ), meta AS (
        INSERT INTO resource_metadata (resource_id, name, value)
        SELECT * FROM unnest(${$(5)}::text[], ${$(6)}::text[], ${$(7)}::text[])
        ON CONFLICT DO NOTHING
      ), moved AS (
        UPDATE job_instances SET state = 'DONE', output_instance_id = $10, attempts = attempts + 1, updated_at = now()
        WHERE job_id = ${$(2)}::uuid AND source_instance_id = ${$(1)} AND state = 'PENDING'
        RETURNING 1
      ), job AS (
        UPDATE jobs SET processed_count = processed_count + 1
        WHERE id = ${$(2)}::uuid AND EXISTS (SELECT 1 FROM moved)
        RETURNING ${COUNTER_COLUMNS}
      )
      SELECT * FROM job`,
  };
})();

const COMPLETE_INSTANCE_WITH_LINEAGE: PreparedStatement = {
  name: 'deidflow_complete_instance_with_lineage',
  text: `WITH lin AS (
      INSERT INTO lineage (output_instance_id, source_instance_id, job_id, operation, request_digest)
      VALUES ($1, $2, $3::uuid, $4::operation, $5)
      ON CONFLICT DO NOTHING
    ), meta AS (
      INSERT INTO resource_metadata (resource_id, name, value)
      SELECT * FROM unnest($6::text[], $7::text[], $8::text[])
      ON CONFLICT DO NOTHING
    ), moved AS (
      UPDATE job_instances SET state = 'DONE', output_instance_id = $1, attempts = attempts + 1, updated_at = now()
      WHERE job_id = $3::uuid AND source_instance_id = $2 AND state = 'PENDING'
      RETURNING 1
    )
    UPDATE jobs SET processed_count = processed_count + 1
    WHERE id = $3::uuid AND EXISTS (SELECT 1 FROM moved)
    RETURNING ${COUNTER_COLUMNS}`,
};

/** Jobs and their per-instance rows. Counters only move when a row leaves PENDING, so they stay exact. */
@Injectable()
export class JobRepository {
  constructor(private readonly prisma: PrismaService) {}

  async create(job: NewJob): Promise<void> {
    await this.prisma.job.create({ data: { ...job, state: JobState.Pending } });
  }

  /**
   * Adds every instance below a resource to a job, in one statement: the list never goes through
   * Node, whatever its size. Idempotent (an instance is counted once). Returns how many were new.
   */
  async addInstancesOf(jobId: string, level: ResourceLevel, resourceId: string): Promise<number> {
    const [row] = await this.prisma.$queryRaw<{ added: number }[]>(Prisma.sql`
      WITH added AS (
        INSERT INTO job_instances (job_id, source_instance_id)
        SELECT ${jobId}::uuid, i.id FROM instances i ${instanceJoin(level)} WHERE ${levelColumn(level)} = ${resourceId}
        ON CONFLICT DO NOTHING
        RETURNING 1
      )
      UPDATE jobs SET instances_count = instances_count + (SELECT count(*) FROM added)
      WHERE id = ${jobId}::uuid
      RETURNING (SELECT count(*) FROM added)::int AS added`);
    return row?.added ?? 0;
  }

  /** Every JobInstance row exists: workers may now finish the job. Returns the counters at that point. */
  async markReady(jobId: string): Promise<JobCounters> {
    return this.prisma.job.update({ where: { id: jobId }, data: { ready: true }, select: COUNTERS });
  }

  async counters(jobId: string): Promise<JobCounters | null> {
    return this.prisma.job.findUnique({ where: { id: jobId }, select: COUNTERS });
  }

  async find(id: string): Promise<JobRow | null> {
    return this.prisma.job.findUnique({ where: { id } });
  }

  async listIds(): Promise<string[]> {
    return (await this.prisma.job.findMany({ select: { id: true }, orderBy: { createdAt: 'asc' } })).map((j) => j.id);
  }

  async list(): Promise<JobRow[]> {
    return this.prisma.job.findMany({ orderBy: { createdAt: 'asc' } });
  }

  /**
   * What a worker reads before touching an instance, in one query: the job's state and generation,
   * whether this instance is still to do, and the source instance with its ancestors' IDs (null
   * when it was deleted).
   */
  async instanceContext(jobId: string, sourceInstanceId: string): Promise<InstanceContext | null> {
    const [r] = await this.prisma.prepared<ContextRecord>(INSTANCE_CONTEXT, [jobId, sourceInstanceId]);
    if (!r) return null;
    const context = {
      state: r.state,
      generation: r.generation,
      priority: r.priority,
      ready: r.ready,
      instancesCount: r.instancesCount,
      processedCount: r.processedCount,
      failedCount: r.failedCount,
      instanceState: r.instanceState,
    };
    const source =
      r.id === null
        ? null
        : { instance: instanceRow(r as InstanceRecord), ancestors: { patient: r.patientId!, study: r.studyId!, series: r.seriesId! } };
    return { ...context, source };
  }

  /**
   * The end of one instance whose output object is stored, in one statement (the worker's hot
   * path): the output is indexed with its hierarchy, its lineage edge and metadata links are
   * recorded, the source's row leaves PENDING and the job's counter moves with it. All idempotent:
   * a repeat records nothing twice and returns null (the row had already moved).
   */
  async completeInstanceWithOutput(input: InstanceCompletion & { output: ParsedInstance; object: StoredObject }): Promise<JobCounters | null> {
    const [r] = await this.prisma.prepared<JobCounters>(COMPLETE_INSTANCE_WITH_OUTPUT, [
      ...hierarchyInsertValues(input.output, input.object),
      ...completionValues(input),
    ]);
    return r ?? null;
  }

  /** The end of one instance without a new output (its output was already indexed): lineage, metadata, counter. */
  async completeInstanceWithLineage(input: InstanceCompletion & { outputInstanceId: string }): Promise<JobCounters | null> {
    const [r] = await this.prisma.prepared<JobCounters>(COMPLETE_INSTANCE_WITH_LINEAGE, [input.outputInstanceId, ...completionValues(input)]);
    return r ?? null;
  }

  /** Pending → Running when the first instance starts (no-op otherwise). */
  async markRunning(jobId: string): Promise<void> {
    await this.prisma.job.updateMany({
      where: { id: jobId, state: JobState.Pending },
      data: { state: JobState.Running, startedAt: new Date() },
    });
  }

  /**
   * Records the outcome of one instance, once: the row moves out of PENDING and the job's counter
   * moves with it in the same transaction. Returns the counters after the move, or null when the
   * row had already left PENDING (a duplicate delivery).
   */
  async completeInstance(
    jobId: string,
    sourceInstanceId: string,
    outcome: { outputInstanceId: string } | { error: string },
  ): Promise<JobCounters | null> {
    const failed = 'error' in outcome;
    return this.prisma.$transaction(async (tx) => {
      const moved = await tx.jobInstance.updateMany({
        where: { jobId, sourceInstanceId, state: JobInstanceState.PENDING },
        data: failed
          ? { state: JobInstanceState.FAILED, error: outcome.error, attempts: { increment: 1 } }
          : { state: JobInstanceState.DONE, outputInstanceId: outcome.outputInstanceId, attempts: { increment: 1 } },
      });
      if (moved.count === 0) return null;
      return tx.job.update({
        where: { id: jobId },
        data: failed ? { failedCount: { increment: 1 } } : { processedCount: { increment: 1 } },
        select: COUNTERS,
      });
    });
  }

  /** Source instances still to do, in batches (recovery, resume, resubmit). */
  async *pendingInstances(jobId: string, batchSize = 1000): AsyncGenerator<string[]> {
    let cursor: string | undefined;
    for (;;) {
      const rows = await this.prisma.jobInstance.findMany({
        where: { jobId, state: JobInstanceState.PENDING, ...(cursor ? { sourceInstanceId: { gt: cursor } } : {}) },
        select: { sourceInstanceId: true },
        orderBy: { sourceInstanceId: 'asc' },
        take: batchSize,
      });
      if (rows.length === 0) return;
      yield rows.map((r) => r.sourceInstanceId);
      cursor = rows[rows.length - 1].sourceInstanceId;
      if (rows.length < batchSize) return;
    }
  }

  /** Every output of a job with its series, study and patient (one query, whatever the job's size). */
  /** Every output of the job with its ancestors (the finalize step), read without Prisma's per-row work: 10,000 rows for a bulk job. */
  async outputHierarchy(jobId: string): Promise<{ source: string; instance: string; series: string; study: string; patient: string }[]> {
    return this.prisma.prepared(OUTPUT_HIERARCHY, [jobId]);
  }

  async failedInstances(jobId: string, limit = 20): Promise<{ sourceInstanceId: string; error: string | null }[]> {
    return this.prisma.jobInstance.findMany({
      where: { jobId, state: JobInstanceState.FAILED },
      select: { sourceInstanceId: true, error: true },
      orderBy: { sourceInstanceId: 'asc' },
      take: limit,
    });
  }

  /** Moves a job between states only from the states given (Orthanc's allowed transitions). */
  async transition(jobId: string, from: JobState[], data: Prisma.JobUpdateManyMutationInput & { state: JobState }): Promise<boolean> {
    const { count } = await this.prisma.job.updateMany({ where: { id: jobId, state: { in: from } }, data });
    return count > 0;
  }

  /** Ends a job once (a second finalize of the same job changes nothing). */
  async finish(
    jobId: string,
    result: { state: JobState; output: Prisma.InputJsonValue; errorCode: number; errorDetails: string },
  ): Promise<boolean> {
    const { count } = await this.prisma.job.updateMany({
      where: { id: jobId, state: { notIn: FINISHED } },
      data: { ...result, completedAt: new Date() },
    });
    return count > 0;
  }

  /** Resubmit: every instance is done again (Orthanc's Reset); outputs already stored are found again. */
  async reset(jobId: string): Promise<boolean> {
    return this.prisma.$transaction(async (tx) => {
      const { count } = await tx.job.updateMany({
        where: { id: jobId, state: JobState.Failure },
        data: {
          state: JobState.Pending,
          processedCount: 0,
          failedCount: 0,
          errorCode: 0,
          errorDetails: '',
          output: Prisma.DbNull,
          completedAt: null,
          startedAt: null,
          generation: { increment: 1 },
        },
      });
      if (count === 0) return false;
      await tx.jobInstance.updateMany({ where: { jobId }, data: { state: JobInstanceState.PENDING, outputInstanceId: null, error: null } });
      return true;
    });
  }

  /** Paused → Pending, in a new generation (the queued work of the old one is skipped). */
  async resume(jobId: string): Promise<boolean> {
    const { count } = await this.prisma.job.updateMany({
      where: { id: jobId, state: JobState.Paused },
      data: { state: JobState.Pending, generation: { increment: 1 } },
    });
    return count > 0;
  }

  /** Submitted jobs that may still have work to do (recovery after a restart or a Redis loss). */
  async unfinishedJobIds(): Promise<string[]> {
    const rows = await this.prisma.job.findMany({
      where: { ready: true, state: { in: [JobState.Pending, JobState.Running, JobState.Retry] } },
      select: { id: true },
    });
    return rows.map((r) => r.id);
  }

  /** Jobs whose submission never completed (the API died while listing instances). */
  async failAbandonedSubmissions(olderThan: Date): Promise<number> {
    const { count } = await this.prisma.job.updateMany({
      where: { ready: false, createdAt: { lt: olderThan }, state: { notIn: FINISHED } },
      data: { state: JobState.Failure, errorCode: -1, errorDetails: 'The submission of the job was interrupted', completedAt: new Date() },
    });
    return count;
  }

  async delete(jobId: string): Promise<boolean> {
    const { count } = await this.prisma.job.deleteMany({ where: { id: jobId, state: { in: FINISHED } } });
    return count > 0;
  }

  /**
   * Orthanc's GlobalProperty_AnonymizationSequence, the N of "AnonymizedN", shared by every process:
   * reserves `count` numbers at once and returns the last one (the block is `last - count + 1 .. last`).
   */
  async reserveAnonymizationNumbers(count: number): Promise<number> {
    const [row] = await this.prisma.$queryRaw<{ value: bigint }[]>`
      INSERT INTO global_properties (name, value) VALUES ('AnonymizationSequence', ${count}::bigint)
      ON CONFLICT (name) DO UPDATE SET value = global_properties.value + ${count}::bigint
      RETURNING value`;
    return Number(row.value);
  }
}
