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

// The statements a worker process runs. They are prepared statements rather than Prisma queries
// so that a worker never loads Prisma's query compiler: its WebAssembly adds ~50 MB to a process at
// the first query, ~65 MB with the first model query (measured), and the worker's RSS target is 250 MB.

const JOB_COLUMNS = `id, type, state, priority, is_anonymization AS "isAnonymization", request, secret, level,
  source_resources AS "sourceResources", keep_source AS "keepSource", permissive, user_data AS "userData",
  instances_count AS "instancesCount", processed_count AS "processedCount", failed_count AS "failedCount",
  patient_name AS "patientName", ready, generation, output, error_code AS "errorCode", error_details AS "errorDetails",
  created_at AS "createdAt", started_at AS "startedAt", completed_at AS "completedAt"`;

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

const FIND_JOB: PreparedStatement = { name: 'deidflow_find_job', text: `SELECT ${JOB_COLUMNS} FROM jobs WHERE id = $1::uuid` };

const JOB_COUNTERS: PreparedStatement = {
  name: 'deidflow_job_counters',
  text: `SELECT ${COUNTER_COLUMNS} FROM jobs WHERE id = $1::uuid`,
};

const MARK_RUNNING: PreparedStatement = {
  name: 'deidflow_mark_running',
  text: `UPDATE jobs SET state = 'Running', started_at = now() WHERE id = $1::uuid AND state = 'Pending'`,
};

/** The outcome of one instance without an output of its own (failed, or an output recorded elsewhere). */
const COMPLETE_INSTANCE: PreparedStatement = {
  name: 'deidflow_complete_instance',
  text: `WITH moved AS (
      UPDATE job_instances SET state = $3::job_instance_state, output_instance_id = COALESCE($4::text, output_instance_id),
             error = COALESCE($5::text, error), attempts = attempts + 1, updated_at = now()
      WHERE job_id = $1::uuid AND source_instance_id = $2 AND state = 'PENDING'
      RETURNING state
    )
    UPDATE jobs SET processed_count = processed_count + (SELECT count(*) FROM moved WHERE state = 'DONE'),
                    failed_count = failed_count + (SELECT count(*) FROM moved WHERE state = 'FAILED')
    WHERE id = $1::uuid AND EXISTS (SELECT 1 FROM moved)
    RETURNING ${COUNTER_COLUMNS}`,
};

const PENDING_INSTANCES: PreparedStatement = {
  name: 'deidflow_pending_instances',
  text: `SELECT source_instance_id AS id FROM job_instances
         WHERE job_id = $1::uuid AND state = 'PENDING' AND source_instance_id > $2
         ORDER BY source_instance_id LIMIT $3`,
};

const FAILED_INSTANCES: PreparedStatement = {
  name: 'deidflow_failed_instances',
  text: `SELECT source_instance_id AS "sourceInstanceId", error FROM job_instances
         WHERE job_id = $1::uuid AND state = 'FAILED' ORDER BY source_instance_id LIMIT $2`,
};

const FINISH: PreparedStatement = {
  name: 'deidflow_finish_job',
  text: `UPDATE jobs SET state = $2::job_state, output = $3::jsonb, error_code = $4, error_details = $5, completed_at = now()
         WHERE id = $1::uuid AND state NOT IN ('Success', 'Failure') RETURNING id`,
};

const UNFINISHED_JOB_IDS: PreparedStatement = {
  name: 'deidflow_unfinished_job_ids',
  text: `SELECT id FROM jobs WHERE ready AND state IN ('Pending', 'Running', 'Retry')`,
};

const FAIL_ABANDONED_SUBMISSIONS: PreparedStatement = {
  name: 'deidflow_fail_abandoned_submissions',
  text: `UPDATE jobs SET state = 'Failure', error_code = -1, error_details = 'The submission of the job was interrupted', completed_at = now()
         WHERE NOT ready AND created_at < $1 AND state NOT IN ('Success', 'Failure') RETURNING id`,
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

/**
 * The completion of one instance with an output, as CTEs ending in `job` (the counters after the
 * move): lineage edge, metadata links, the row leaving PENDING, the counter. `output` is the output
 * instance ID's parameter; the completionValues() parameters start at `first`.
 */
function completionCtes(output: string, first: number): string {
  const $ = (n: number) => `$${first + n - 1}`;
  return `lin AS (
      INSERT INTO lineage (output_instance_id, source_instance_id, job_id, operation, request_digest)
      VALUES (${output}, ${$(1)}, ${$(2)}::uuid, ${$(3)}::operation, ${$(4)})
      ON CONFLICT DO NOTHING
    ), meta AS (
      INSERT INTO resource_metadata (resource_id, name, value)
      SELECT * FROM unnest(${$(5)}::text[], ${$(6)}::text[], ${$(7)}::text[])
      ON CONFLICT DO NOTHING
    ), moved AS (
      UPDATE job_instances SET state = 'DONE', output_instance_id = ${output}, attempts = attempts + 1, updated_at = now()
      WHERE job_id = ${$(2)}::uuid AND source_instance_id = ${$(1)} AND state = 'PENDING'
      RETURNING 1
    ), job AS (
      UPDATE jobs SET processed_count = processed_count + 1
      WHERE id = ${$(2)}::uuid AND EXISTS (SELECT 1 FROM moved)
      RETURNING ${COUNTER_COLUMNS}
    )`;
}

/** Parameters: the hierarchy's 18 (the output instance ID is the 10th), then completionValues(). */
const COMPLETE_INSTANCE_WITH_OUTPUT: PreparedStatement = {
  name: 'deidflow_complete_instance_with_output',
  text: `WITH ${hierarchyInsertCtes(1)}, ${completionCtes('$10', HIERARCHY_PARAMETERS + 1)} SELECT * FROM job`,
};

/** Parameters: the output instance ID, then completionValues(). */
const COMPLETE_INSTANCE_WITH_LINEAGE: PreparedStatement = {
  name: 'deidflow_complete_instance_with_lineage',
  text: `WITH ${completionCtes('$1', 2)} SELECT * FROM job`,
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
    const [r] = await this.prisma.prepared<JobCounters>(JOB_COUNTERS, [jobId]);
    return r ?? null;
  }

  async find(id: string): Promise<JobRow | null> {
    const [r] = await this.prisma.prepared<JobRow>(FIND_JOB, [id]);
    return r ?? null;
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
    await this.prisma.prepared(MARK_RUNNING, [jobId]);
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
    const [r] = await this.prisma.prepared<JobCounters>(COMPLETE_INSTANCE, [
      jobId,
      sourceInstanceId,
      failed ? JobInstanceState.FAILED : JobInstanceState.DONE,
      failed ? null : outcome.outputInstanceId,
      failed ? outcome.error : null,
    ]);
    return r ?? null;
  }

  /** Source instances still to do, in batches (recovery, resume, resubmit). */
  async *pendingInstances(jobId: string, batchSize = 1000): AsyncGenerator<string[]> {
    let cursor = ''; // every ID sorts after ''
    for (;;) {
      const rows = await this.prisma.prepared<{ id: string }>(PENDING_INSTANCES, [jobId, cursor, batchSize]);
      if (rows.length === 0) return;
      yield rows.map((r) => r.id);
      cursor = rows[rows.length - 1].id;
      if (rows.length < batchSize) return;
    }
  }

  /** Every output of the job with its ancestors (the finalize step), read without Prisma's per-row work: 10,000 rows for a bulk job. */
  async outputHierarchy(jobId: string): Promise<{ source: string; instance: string; series: string; study: string; patient: string }[]> {
    return this.prisma.prepared(OUTPUT_HIERARCHY, [jobId]);
  }

  async failedInstances(jobId: string, limit = 20): Promise<{ sourceInstanceId: string; error: string | null }[]> {
    return this.prisma.prepared(FAILED_INSTANCES, [jobId, limit]);
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
    const rows = await this.prisma.prepared(FINISH, [jobId, result.state, JSON.stringify(result.output), result.errorCode, result.errorDetails]);
    return rows.length > 0;
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
    return (await this.prisma.prepared<{ id: string }>(UNFINISHED_JOB_IDS, [])).map((r) => r.id);
  }

  /** Jobs whose submission never completed (the API died while listing instances). */
  async failAbandonedSubmissions(olderThan: Date): Promise<number> {
    return (await this.prisma.prepared(FAIL_ABANDONED_SUBMISSIONS, [olderThan])).length;
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
