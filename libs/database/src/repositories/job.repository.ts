import { Injectable } from '@nestjs/common';
import { PreparedStatement, PrismaService } from '../prisma.service';
import { retryOnRace } from '../errors';
import { HIERARCHY_PARAMETERS, hierarchyInsertCtes, hierarchyInsertValues, IndexedInstance } from './hierarchy-sql';
import { OrthancErrorCode, type ResourceLevel } from '@deidflow/common';
import { Job, JobInstanceState, JobState, Prisma } from '../generated/client';
import { instanceJoin, levelColumn, statementPerLevel } from './instance-scope';
import { keysetPages } from './keyset-pages';

export type JobRow = Job;
/** A job as Orthanc's GET /jobs/{id} shows it. */
export type JobSummary = Pick<
  Job,
  | 'id' | 'type' | 'level' | 'state' | 'priority' | 'isAnonymization' | 'userData' | 'instancesCount' | 'processedCount' | 'failedCount'
  | 'output' | 'errorCode' | 'errorDetails' | 'createdAt' | 'startedAt' | 'completedAt' | 'keepSource'
>;
export { JobState };

export interface NewJob {
  id: string;
  /** Orthanc's job type: ResourceModification (the default) or DicomModalityStore. */
  type?: string;
  /** Known at submission for some types (a store's LocalAet, ParentResources, RemoteAet); set at the end otherwise. */
  output?: Prisma.InputJsonValue;
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
  /** Its instance rows are added by a worker (JobExpansionService), after the answer. */
  expansionQueued?: boolean;
}

/** An output instance of a job, with its source and its ancestors' IDs. */
export interface JobOutput {
  source: string;
  instance: string;
  series: string;
  study: string;
  patient: string;
}

export interface JobCounters {
  instancesCount: number;
  processedCount: number;
  failedCount: number;
  state: JobState;
  ready: boolean;
  generation: number;
  /** Instances done when the current pass over the job's rows began plus those queued since (see dispatchQueueWindows). */
  queuedCount: number;
}

/** Instances of a job just claimed for the work queue, with what their tasks carry. */
export interface QueueWindow {
  jobId: string;
  generation: number;
  priority: number;
  sourceInstanceIds: string[];
}

/** A job that may still have work to do, as recovery looks at it. */
export interface UnfinishedJob {
  id: string;
  /** Instances processed or failed. */
  done: number;
  instancesCount: number;
  generation: number;
  priority: number;
}

/** What a dispatch claimed, and whether jobs are left waiting for room in the queue. */
export interface QueueDispatch {
  windows: QueueWindow[];
  starved: boolean;
}

/** Jobs read at a time by a dispatch (each gets a window, until the room runs out). */
const DISPATCH_CANDIDATES = 50;

const COUNTER_COLUMNS = `instances_count AS "instancesCount", processed_count AS "processedCount", failed_count AS "failedCount",
  state, ready, generation, queued_count AS "queuedCount"`;

// The statements a worker process runs. They are prepared statements rather than Prisma queries
// so that a worker never loads Prisma's query compiler: its WebAssembly adds ~50 MB to a process at
// the first query, ~65 MB with the first model query (measured), and the worker's RSS target is 250 MB.

/** What Orthanc's job listing shows of a job (job-format.ts): not its request, secret or sources. */
const JOB_SUMMARY_COLUMNS = `id, type, level, state, priority, is_anonymization AS "isAnonymization", user_data AS "userData",
  instances_count AS "instancesCount", processed_count AS "processedCount", failed_count AS "failedCount",
  output, error_code AS "errorCode", error_details AS "errorDetails",
  created_at AS "createdAt", started_at AS "startedAt", completed_at AS "completedAt", keep_source AS "keepSource"`;

/** Every column of a job: the listing's, and what the workers and the submission need. */
const JOB_COLUMNS = `${JOB_SUMMARY_COLUMNS}, request, secret, source_resources AS "sourceResources",
  permissive, patient_name AS "patientName", ready, expansion_queued AS "expansionQueued", generation`;

const OUTPUTS_OF_JOB = `SELECT ji.source_instance_id AS source, i.id AS instance, i.series_id AS series, s.study_id AS study, st.patient_id AS patient
         FROM job_instances ji
         JOIN instances i ON i.id = ji.output_instance_id
         JOIN series s ON s.id = i.series_id
         JOIN studies st ON st.id = s.study_id
         WHERE ji.job_id = $1::uuid AND ji.state = 'DONE'`;

/** One output with its ancestors: all a single-resource job's output needs (its level is the route's). */
const ANY_OUTPUT: PreparedStatement = {
  name: 'deidflow_any_output',
  text: `${OUTPUTS_OF_JOB} ORDER BY ji.source_instance_id LIMIT 1`,
};

/** jobs.output of a finished bulk job: its Resources are rows of job_outputs (JobRepository.outputResourcePages). */
const BULK_JOB_OUTPUT = '{"Resources": []}';

/** A new resource of a bulk job, as Orthanc's MultipleOutputs lists it. */
export interface OutputResource {
  id: string;
  type: ResourceLevel;
}

/**
 * Orthanc's MultipleOutputs, built by Postgres: every new patient, study, series and instance, in the
 * order of their first appearance (outputs by source ID; a patient before its study...), as CTEs:
 * `r` holds each resource with its place (`first`, `rank`). A bulk job's output lists each of its
 * instances; built here, it never passes through the worker's memory.
 */
const BULK_RESOURCES = `o AS (SELECT row_number() OVER (ORDER BY source) AS n, * FROM (${OUTPUTS_OF_JOB}) outputs),
       r AS (SELECT id, type, rank, min(n) AS first FROM (
               SELECT patient AS id, 'Patient' AS type, 0 AS rank, n FROM o
               UNION ALL SELECT study, 'Study', 1, n FROM o
               UNION ALL SELECT series, 'Series', 2, n FROM o
               UNION ALL SELECT instance, 'Instance', 3, n FROM o) levels
             GROUP BY id, type, rank)`;

/**
 * Sources of the job's outputs that are not outputs of the job themselves (KeepSource: false), in
 * batches. "Is an output of this job" goes through the lineage's key (output, source) and then the
 * job's own key: job_instances has no index on its outputs, and a scan per source would be quadratic.
 */
const SOURCES_TO_DELETE: PreparedStatement = {
  name: 'deidflow_sources_to_delete',
  text: `SELECT ji.source_instance_id AS id FROM job_instances ji
         WHERE ji.job_id = $1::uuid AND ji.state = 'DONE' AND ji.source_instance_id > $2
           AND NOT EXISTS (
             SELECT 1 FROM lineage l
             JOIN job_instances o ON o.job_id = ji.job_id AND o.source_instance_id = l.source_instance_id
             WHERE l.output_instance_id = ji.source_instance_id AND o.output_instance_id = ji.source_instance_id)
         ORDER BY ji.source_instance_id LIMIT $3`,
};

/** Jobs in order of creation, a page after (created_at, id): keyset paging on the created_at index. */
const JOB_SUMMARIES_AFTER: PreparedStatement = {
  name: 'deidflow_job_summaries_after',
  text: `SELECT ${JOB_SUMMARY_COLUMNS} FROM jobs
         WHERE created_at >= $1 AND (created_at > $1 OR id > $2::uuid)
         ORDER BY created_at, id LIMIT $3`,
};

const RESET_JOB: PreparedStatement = {
  name: 'deidflow_reset_job',
  long: true,
  text: `WITH job AS (
           UPDATE jobs SET state = 'Pending', processed_count = 0, failed_count = 0, error_code = 0, error_details = '',
                           output = CASE WHEN type = 'DicomModalityStore' THEN output END, completed_at = NULL, started_at = NULL, generation = generation + 1
           WHERE id = $1::uuid AND state = 'Failure' RETURNING id
         ), instances AS (
           UPDATE job_instances SET state = 'PENDING', output_instance_id = NULL, error = NULL, error_code = NULL, updated_at = now()
           WHERE job_id IN (SELECT id FROM job)
         ), outputs AS (
           DELETE FROM job_outputs WHERE job_id IN (SELECT id FROM job)
         )
         SELECT count(*)::int AS n FROM job`,
};

/**
 * A new job, Pending. Prepared rather than Prisma's create: the plan and a bulk job's resources are
 * JSON, which Prisma's query pipeline took 20-35 ms to write for 2,000 resources (2-4 ms for a
 * study job: half of its submission's time); this takes ~1 ms.
 */
const CREATE_JOB: PreparedStatement = {
  name: 'deidflow_create_job',
  text: `INSERT INTO jobs (id, priority, is_anonymization, request, secret, level, source_resources, keep_source, permissive,
                           user_data, patient_name, expansion_queued, type, output)
         VALUES ($1::uuid, $2, $3, $4::jsonb, $5, $6, $7::jsonb, $8, $9, $10::jsonb, $11, $12, COALESCE($13, 'ResourceModification'), $14::jsonb)`,
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
             error = COALESCE($5::text, error), error_code = COALESCE($6::int, error_code), attempts = attempts + 1, updated_at = now()
      WHERE job_id = $1::uuid AND source_instance_id = $2 AND state = 'PENDING'
        -- The outcome of the generation that is running: an earlier one's (a task still in hand at a
        -- resubmit or a resume) must not fail the rows its successor reset.
        AND EXISTS (SELECT 1 FROM jobs WHERE id = $1::uuid AND generation = $7)
      RETURNING state
    )
    UPDATE jobs SET processed_count = processed_count + (SELECT count(*) FROM moved WHERE state = 'DONE'),
                    failed_count = failed_count + (SELECT count(*) FROM moved WHERE state = 'FAILED')
    WHERE id = $1::uuid AND EXISTS (SELECT 1 FROM moved)
    RETURNING ${COUNTER_COLUMNS}`,
};

/** A job not ended yet: Success and Failure are final (a resubmit makes a failed job Pending again). */
const UNFINISHED = `state NOT IN ('Success', 'Failure')`;
/** A job whose instances may be queued: submitted whole, not paused nor finished. */
const QUEUEABLE = `ready AND state IN ('Pending', 'Running', 'Retry')`;
/** Of a queueable job: instances queued and not done yet (negative after a new pass began, while the old one's tasks still finish). */
const OUTSTANDING = `queued_count - processed_count - failed_count`;
/** Of a queueable job: more to queue in this pass, and half a window ($window) or less queued. */
const NEEDS_WINDOW = (window: string) => `queued_count < instances_count AND ${OUTSTANDING} <= ${window}::int / 2`;

/** "deidqu": the advisory lock of dispatches (migrate.ts holds another, "deidflow"). */
const QUEUE_DISPATCH_LOCK_KEY = 0x646569647175;

/** Over queueable jobs: the instance tasks in the work queue, as Postgres accounts for them (what QUEUE_MAX_TASKS bounds). */
const CLAIMED_TASKS = `COALESCE(sum(GREATEST(${OUTSTANDING}, 0)), 0)::int`;

/** Serialises dispatches across processes, so that two never spend the same free room in the queue. */
const QUEUE_DISPATCH_LOCK: PreparedStatement = {
  name: 'deidflow_queue_dispatch_lock',
  text: `SELECT pg_advisory_xact_lock(${QUEUE_DISPATCH_LOCK_KEY})`,
};

/** Instance tasks in the work queue across all jobs, as Postgres accounts for them (jobs that claimed none hold none: jobs_claimed_idx). */
const QUEUED_TASKS: PreparedStatement = {
  name: 'deidflow_queued_tasks',
  text: `SELECT ${CLAIMED_TASKS} AS queued FROM jobs WHERE ${QUEUEABLE} AND queued_count > 0`,
};

/** The queue's room as the metrics show it: instance tasks claimed and not done; jobs with more to do and nothing queued. */
const QUEUE_OCCUPANCY: PreparedStatement = {
  name: 'deidflow_queue_occupancy',
  text: `SELECT ${CLAIMED_TASKS} AS "queuedTasks",
                count(*) FILTER (WHERE queued_count < instances_count AND ${OUTSTANDING} <= 0)::int AS "jobsWaiting"
         FROM jobs WHERE ${QUEUEABLE}`,
};

/** Jobs that need a window ($1), the first to be served first: by priority, then in submission order (jobs_queueable_order_idx). */
const JOBS_NEEDING_WINDOW: PreparedStatement = {
  name: 'deidflow_jobs_needing_window',
  text: `SELECT id FROM jobs WHERE ${QUEUEABLE} AND ${NEEDS_WINDOW('$1')}
         ORDER BY priority DESC, created_at, id LIMIT $2`,
};

/**
 * Claims up to $2 of a job's PENDING rows after the last one queued ($1 job, $3 the window): the
 * cursor moves past them (queued_through) and queued_count grows by as many, or becomes
 * instances_count when the pass reached the end. The job's row is locked and its need re-checked.
 * No row when the job is not queueable or needs nothing.
 */
const CLAIM_QUEUE_WINDOW: PreparedStatement = {
  name: 'deidflow_claim_queue_window',
  text: `WITH job AS (
           SELECT id, generation, priority, queued_through AS after FROM jobs
           WHERE id = $1::uuid AND ${QUEUEABLE} AND ${NEEDS_WINDOW('$3')}
           FOR UPDATE
         ), next AS (
           SELECT ji.source_instance_id AS id FROM job_instances ji JOIN job ON ji.job_id = job.id
           WHERE ji.state = 'PENDING' AND (job.after IS NULL OR ji.source_instance_id > job.after)
           ORDER BY ji.source_instance_id LIMIT $2::int
         ), claimed AS (
           SELECT count(*)::int AS n, max(id) AS last FROM next
         ), moved AS (
           UPDATE jobs SET queued_through = COALESCE(claimed.last, jobs.queued_through),
                           queued_count = CASE WHEN claimed.n < $2::int THEN jobs.instances_count ELSE jobs.queued_count + claimed.n END
           FROM job, claimed WHERE jobs.id = job.id
         )
         SELECT job.id AS "jobId", job.generation, job.priority,
                COALESCE((SELECT array_agg(id ORDER BY id) FROM next), '{}') AS "sourceInstanceIds" FROM job`,
};

/**
 * A new pass over the job's PENDING rows, from the first (recovery, resume, resubmit, submission):
 * nothing counted as queued. No write when the pass is at its start already: recovery restarts every
 * job waiting for room at each turn.
 */
const RESTART_QUEUE_PASSES: PreparedStatement = {
  name: 'deidflow_restart_queue_passes',
  text: `UPDATE jobs SET queued_through = NULL, queued_count = processed_count + failed_count
         WHERE id = ANY($1::uuid[]) AND ${QUEUEABLE} AND (queued_through IS NOT NULL OR queued_count <> processed_count + failed_count)
         RETURNING id`,
};

const FAILED_INSTANCES: PreparedStatement = {
  name: 'deidflow_failed_instances',
  text: `SELECT source_instance_id AS "sourceInstanceId", error, error_code AS "errorCode" FROM job_instances
         WHERE job_id = $1::uuid AND state = 'FAILED' ORDER BY updated_at, source_instance_id LIMIT $2`,
};

const FINISH_COLUMNS = `state = $2::job_state, error_code = $3, error_details = $4, completed_at = now()`;
const FINISH_WHERE = `WHERE id = $1::uuid AND ${UNFINISHED} RETURNING id`;
/** The end of the generation $5 that finalized: a finalize that was still running at a cancel then a resubmit must not end the new pass. */
const FINISH_GENERATION_WHERE = `WHERE id = $1::uuid AND generation = $5 AND ${UNFINISHED} RETURNING id`;

const FINISH: PreparedStatement = {
  name: 'deidflow_finish_job',
  text: `UPDATE jobs SET ${FINISH_COLUMNS}, output = $6::jsonb ${FINISH_GENERATION_WHERE}`,
};

/** A bulk job's end: its output's resources listed in job_outputs, once (only by the UPDATE that finishes the job). */
const FINISH_BULK: PreparedStatement = {
  name: 'deidflow_finish_bulk_job',
  long: true,
  text: `WITH finished AS (UPDATE jobs SET ${FINISH_COLUMNS}, output = '${BULK_JOB_OUTPUT}'::jsonb ${FINISH_GENERATION_WHERE}),
         ${BULK_RESOURCES},
         listed AS (
           INSERT INTO job_outputs (job_id, position, resource_id, type)
           SELECT $1::uuid, row_number() OVER (ORDER BY first, rank), id, type FROM r WHERE EXISTS (SELECT 1 FROM finished))
         SELECT id FROM finished`,
};

/** A page of a bulk job's output resources, after position $2. */
const OUTPUT_RESOURCES_AFTER: PreparedStatement = {
  name: 'deidflow_output_resources_after',
  text: `SELECT position, resource_id AS id, type FROM job_outputs WHERE job_id = $1::uuid AND position > $2 ORDER BY position LIMIT $3`,
};

const JOBS_BY_STATE: PreparedStatement = {
  name: 'deidflow_jobs_by_state',
  text: `SELECT state, count(*)::int AS count FROM jobs GROUP BY state`,
};

const UNFINISHED_JOBS: PreparedStatement = {
  name: 'deidflow_unfinished_jobs',
  text: `SELECT id, processed_count + failed_count AS done, instances_count AS "instancesCount", generation, priority
         FROM jobs WHERE ${QUEUEABLE}`,
};

const FAIL_ABANDONED_SUBMISSIONS: PreparedStatement = {
  name: 'deidflow_fail_abandoned_submissions',
  text: `UPDATE jobs SET state = 'Failure', error_code = -1, error_details = 'The submission of the job was interrupted', completed_at = now()
         WHERE NOT ready AND NOT expansion_queued AND created_at < $1 AND ${UNFINISHED} RETURNING id`,
};

/** Jobs a worker is to add the instance rows of, and that may still run (a canceled one waits for a resubmit). */
const UNEXPANDED_JOBS: PreparedStatement = {
  name: 'deidflow_unexpanded_jobs',
  text: `SELECT id FROM jobs WHERE NOT ready AND expansion_queued AND ${UNFINISHED} ORDER BY created_at`,
};

/** An unfinished job ends ($2: its final state) without an output: canceled, or its instances could not be listed. */
const FINISH_WITHOUT_OUTPUT: PreparedStatement = {
  name: 'deidflow_finish_without_output',
  text: `UPDATE jobs SET ${FINISH_COLUMNS} ${FINISH_WHERE}`,
};

/** FINISH_WITHOUT_OUTPUT, but for a queueable job whose instances are all done: its finalize is its final step. */
const CANCEL: PreparedStatement = {
  name: 'deidflow_cancel_job',
  text: `UPDATE jobs SET ${FINISH_COLUMNS}
         WHERE id = $1::uuid AND ${UNFINISHED} AND NOT (${QUEUEABLE} AND processed_count + failed_count >= instances_count)
         RETURNING id`,
};

const QUEUE_EXPANSION: PreparedStatement = {
  name: 'deidflow_queue_expansion',
  text: `UPDATE jobs SET expansion_queued = true WHERE id = $1::uuid AND NOT ready RETURNING 1`,
};

const MARK_READY: PreparedStatement = {
  name: 'deidflow_mark_ready',
  text: `UPDATE jobs SET ready = true WHERE id = $1::uuid RETURNING ${COUNTER_COLUMNS}`,
};

/**
 * Adds every instance below resources of one level ($2) to a job ($1): the list never goes through
 * Node, whatever its size. Long: one resource may hold a whole archive's patient.
 */
const ADD_INSTANCES_OF = statementPerLevel(addInstancesOf);
/** The same, looking at $3 instances at most (a submission lists what it can before answering). */
const ADD_INSTANCES_UP_TO = statementPerLevel(addInstancesUpTo);

/** The IDs of the instances below resources of one level ($2). bpchar[]: the ID columns are char(44) (see LISTED_IDS). */
function instancesBelow(level: ResourceLevel): string {
  return `SELECT i.id FROM instances i ${instanceJoin(level).text} WHERE ${levelColumn(level).text} = ANY($2::bpchar[])`;
}

function addInstancesOf(level: ResourceLevel): PreparedStatement {
  return {
    name: `deidflow_add_instances_of_${level.toLowerCase()}`,
    long: true,
    text: `WITH added AS (
             INSERT INTO job_instances (job_id, source_instance_id)
             SELECT $1::uuid, below.id FROM (${instancesBelow(level)}) below
             ON CONFLICT DO NOTHING
             RETURNING 1
           )
           UPDATE jobs SET instances_count = instances_count + (SELECT count(*) FROM added)
           WHERE id = $1::uuid
           RETURNING (SELECT count(*) FROM added)::int AS added`,
  };
}

// A statement of its own rather than LIMIT NULL in the one above: a generic plan made for an
// unknown LIMIT expects few rows, the wrong plan for a listing of millions.
function addInstancesUpTo(level: ResourceLevel): PreparedStatement {
  return {
    name: `deidflow_add_instances_up_to_${level.toLowerCase()}`,
    text: `WITH listed AS (${instancesBelow(level)} LIMIT $3), added AS (
             INSERT INTO job_instances (job_id, source_instance_id)
             SELECT $1::uuid, id FROM listed
             ON CONFLICT DO NOTHING
             RETURNING 1
           )
           UPDATE jobs SET instances_count = instances_count + (SELECT count(*) FROM added)
           WHERE id = $1::uuid
           RETURNING (SELECT count(*) FROM listed)::int AS listed`,
  };
}

/**
 * Finished jobs that ended before $1, oldest first, at most $2 of them, with their job_instances
 * (ON DELETE CASCADE). SKIP LOCKED: several workers pruning at once take different jobs.
 */
/** A finished job, its instance rows and output list with it (cascades): one row when it went. */
const DELETE_FINISHED_JOB: PreparedStatement = {
  name: 'deidflow_delete_finished_job',
  long: true,
  text: `DELETE FROM jobs WHERE id = $1::uuid AND state IN ('Success', 'Failure') RETURNING 1`,
};

const DELETE_FINISHED_BEFORE: PreparedStatement = {
  name: 'deidflow_delete_finished_before',
  long: true,
  text: `WITH gone AS (
      DELETE FROM jobs WHERE id IN (
        SELECT id FROM jobs WHERE state IN ('Success', 'Failure') AND completed_at < $1
        ORDER BY completed_at LIMIT $2 FOR UPDATE SKIP LOCKED)
      RETURNING 1)
    SELECT count(*)::int AS deleted FROM gone`,
};

/** The end of one instance with an output, as the worker records it (JobRepository.completeInstances). */
export interface InstanceCompletion {
  jobId: string;
  sourceInstanceId: string;
  outputInstanceId: string;
  operation: 'anonymize' | 'modify';
  requestDigest: string;
  /** AnonymizedFrom/ModifiedFrom links of the output's levels. */
  metadata: { resourceId: string; name: string; value: string }[];
  /** The output, when this delivery stored its object: indexed in the same statement. */
  stored?: IndexedInstance;
}

/** The counters of a job after a batch, and which of its source instances that batch moved out of PENDING. */
export type BatchCounters = JobCounters & { moved: string[] };

/** completeInstances()'s parameters after the hierarchy's: the completions, then their metadata links. */
function completionValues(batch: readonly InstanceCompletion[]): unknown[] {
  // Instances of one series share their series', study's and patient's links: each is sent once.
  const links = new Map<string, InstanceCompletion['metadata'][number]>();
  for (const m of batch.flatMap((c) => c.metadata)) {
    const key = `${m.resourceId}\0${m.name}`;
    if (!links.has(key)) links.set(key, m);
  }
  const metadata = [...links.values()];
  return [
    batch.map((c) => c.jobId),
    batch.map((c) => c.sourceInstanceId),
    batch.map((c) => c.outputInstanceId),
    batch.map((c) => c.operation),
    batch.map((c) => c.requestDigest),
    metadata.map((m) => m.resourceId),
    metadata.map((m) => m.name),
    metadata.map((m) => m.value),
  ];
}

/**
 * The end of a batch of instances with outputs, in one statement: the new outputs indexed with
 * their hierarchy, lineage edges, metadata links, the source rows leaving PENDING and each job's
 * counter moving by as many rows as moved. Parameters: the hierarchy's, then completionValues().
 * The UPDATEs name their rows with `= ANY(array)` for the index (see hierarchyInsertCtes).
 */
export const COMPLETE_INSTANCES: PreparedStatement = {
  name: 'deidflow_complete_instances',
  text: (() => {
    const $ = (n: number) => `$${HIERARCHY_PARAMETERS + n}`;
    return `WITH ${hierarchyInsertCtes(1)}, c AS (
      SELECT * FROM unnest(${$(1)}::uuid[], ${$(2)}::bpchar[], ${$(3)}::bpchar[], ${$(4)}::operation[], ${$(5)}::text[])
        AS t(job_id, source_id, output_id, operation, request_digest)
    ), lin AS (
      INSERT INTO lineage (output_instance_id, source_instance_id, job_id, operation, request_digest)
      SELECT output_id, source_id, job_id, operation, request_digest FROM c
      ON CONFLICT DO NOTHING
    ), meta AS (
      INSERT INTO resource_metadata (resource_id, name, value)
      SELECT * FROM unnest(${$(6)}::bpchar[], ${$(7)}::text[], ${$(8)}::text[])
      ON CONFLICT DO NOTHING
    ), moved AS (
      UPDATE job_instances ji SET state = 'DONE', output_instance_id = c.output_id, attempts = ji.attempts + 1, updated_at = now()
      FROM c
      WHERE ji.job_id = ANY(${$(1)}::uuid[]) AND ji.source_instance_id = ANY(${$(2)}::bpchar[])
        AND ji.job_id = c.job_id AND ji.source_instance_id = c.source_id AND ji.state = 'PENDING'
      RETURNING ji.job_id, ji.source_instance_id
    ), job AS (
      UPDATE jobs SET processed_count = processed_count + m.n
      FROM (SELECT job_id, count(*)::int AS n, array_agg(source_instance_id) AS moved FROM moved GROUP BY job_id) m
      WHERE jobs.id = ANY(${$(1)}::uuid[]) AND jobs.id = m.job_id
      RETURNING jobs.id, ${COUNTER_COLUMNS}, m.moved
    )
    SELECT * FROM job`;
  })(),
};

/** What a worker needs to process one source instance of a job: the job's state, the row's, and where the source is. */
export interface InstanceContext extends JobCounters {
  priority: number;
  instanceState: JobInstanceState | null;
  /** Null when the source instance was deleted. */
  source: { objectKey: string; fileSize: number; ancestors: { patient: string; study: string; series: string } } | null;
}

type ContextRecord = JobCounters & {
  priority: number;
  instanceState: JobInstanceState | null;
  objectKey: string | null;
  /** int8, as text. */
  fileSize: string | null;
  seriesId: string | null;
  studyId: string | null;
  patientId: string | null;
};

const INSTANCE_CONTEXT: PreparedStatement = {
  name: 'deidflow_instance_context',
  text: `SELECT j.state, j.generation, j.priority, j.ready, j.instances_count AS "instancesCount",
           j.processed_count AS "processedCount", j.failed_count AS "failedCount", j.queued_count AS "queuedCount", ji.state AS "instanceState",
           i.object_key AS "objectKey", i.file_size AS "fileSize", i.series_id AS "seriesId", st.id AS "studyId", st.patient_id AS "patientId"
         FROM jobs j
         LEFT JOIN job_instances ji ON ji.job_id = j.id AND ji.source_instance_id = $2
         LEFT JOIN (instances i JOIN series se ON se.id = i.series_id JOIN studies st ON st.id = se.study_id) ON i.id = $2
         WHERE j.id = $1::uuid`,
};

/** Jobs and their per-instance rows. Counters only move when a row leaves PENDING, so they stay exact. */
@Injectable()
export class JobRepository {
  constructor(private readonly prisma: PrismaService) {}

  async create(job: NewJob): Promise<void> {
    await this.prisma.prepared(CREATE_JOB, [
      job.id,
      job.priority,
      job.isAnonymization,
      JSON.stringify(job.request),
      job.secret,
      job.level,
      JSON.stringify(job.sourceResources),
      job.keepSource,
      job.permissive,
      job.userData === undefined ? null : JSON.stringify(job.userData),
      job.patientName ?? null,
      job.expansionQueued ?? false,
      job.type ?? null,
      job.output === undefined ? null : JSON.stringify(job.output),
    ]);
  }

  /**
   * Adds every instance below resources of one level to a job, in one statement. Idempotent (an
   * instance is counted once, also when two of the resources contain it, or a retried expansion
   * names it again). Returns how many were new.
   */
  async addInstancesOf(jobId: string, level: ResourceLevel, resourceIds: readonly string[]): Promise<number> {
    const [row] = await this.prisma.prepared<{ added: number }>(ADD_INSTANCES_OF[level], [jobId, resourceIds]);
    return row?.added ?? 0;
  }

  /**
   * addInstancesOf, looking at `limit` instances at most: returns how many it looked at (`limit`
   * when the resources may hold more; the rest is not added). Idempotent as well.
   */
  async addInstancesUpTo(jobId: string, level: ResourceLevel, resourceIds: readonly string[], limit: number): Promise<number> {
    const [row] = await this.prisma.prepared<{ listed: number }>(ADD_INSTANCES_UP_TO[level], [jobId, resourceIds, limit]);
    return row?.listed ?? 0;
  }

  /** Every JobInstance row exists: workers may now finish the job. Returns the counters at that point. */
  async markReady(jobId: string): Promise<JobCounters> {
    const [row] = await this.prisma.prepared<JobCounters>(MARK_READY, [jobId]);
    if (!row) throw new Error(`Job ${jobId} is gone`);
    return row;
  }

  /**
   * Cancel (Orthanc's CanceledJob): an unfinished job ends in Failure; false when it had ended, or
   * when every instance is done and the job is in its final step (the finalize may be deleting the
   * sources of KeepSource: false): as in Orthanc, a cancel does not interrupt a step under way, and
   * the job ends as that step ends it.
   */
  async cancel(jobId: string): Promise<boolean> {
    return (await this.prisma.prepared(CANCEL, [jobId, JobState.Failure, OrthancErrorCode.CanceledJob, 'The job was canceled'])).length > 0;
  }

  /** An unfinished job ends in Failure with this error; false when it had ended already. */
  async failUnfinished(jobId: string, errorCode: number, errorDetails: string): Promise<boolean> {
    return (await this.prisma.prepared(FINISH_WITHOUT_OUTPUT, [jobId, JobState.Failure, errorCode, errorDetails])).length > 0;
  }

  /** A worker is to add the job's instance rows (it is not ready yet); false when it is ready already. */
  async queueExpansion(jobId: string): Promise<boolean> {
    return (await this.prisma.prepared(QUEUE_EXPANSION, [jobId])).length > 0;
  }

  /** Jobs whose instance rows a worker is to add, oldest first (recovery queues their expansion again). */
  async unexpandedJobs(): Promise<string[]> {
    return (await this.prisma.prepared<{ id: string }>(UNEXPANDED_JOBS, [])).map((row) => row.id);
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

  /**
   * Every job as the listing shows it, oldest first, in pages: the history is kept (JOB_RETENTION_DAYS),
   * so a listing must not hold every job at once (20,000 jobs read whole took the API from 160 to 488 MB).
   */
  summaryPages(pageSize = 500): AsyncGenerator<JobSummary[]> {
    const start = { createdAt: new Date(0), id: '00000000-0000-0000-0000-000000000000' };
    return keysetPages(
      pageSize,
      start,
      (after) => this.prisma.prepared<JobSummary>(JOB_SUMMARIES_AFTER, [after.createdAt, after.id, pageSize]),
      (last) => last,
    );
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
      queuedCount: r.queuedCount,
      instanceState: r.instanceState,
    };
    const source =
      r.objectKey === null
        ? null
        : { objectKey: r.objectKey, fileSize: Number(r.fileSize), ancestors: { patient: r.patientId!, study: r.studyId!, series: r.seriesId! } };
    return { ...context, source };
  }

  /**
   * The end of a batch of instances whose outputs are stored, in one statement (the worker's hot
   * path, see CompletionBatcher): new outputs are indexed with their hierarchy, lineage edges and
   * metadata links are recorded, the source rows leave PENDING and each job's counter moves with
   * them. All idempotent: a repeat records nothing twice and moves no counter. Returns the counters
   * of every job that moved, with the source instances that moved.
   */
  async completeInstances(batch: readonly InstanceCompletion[]): Promise<Map<string, BatchCounters>> {
    const stored = batch.flatMap((c) => (c.stored ? [c.stored] : []));
    const rows = await this.prisma.prepared<BatchCounters & { id: string }>(COMPLETE_INSTANCES, [
      ...hierarchyInsertValues(stored),
      ...completionValues(batch),
    ]);
    return new Map(rows.map(({ id, ...counters }) => [id, counters]));
  }

  /**
   * Instance tasks in the work queue as Postgres accounts for them (claimed by dispatches, not done:
   * what QUEUE_MAX_TASKS bounds), and the jobs with more to do and nothing queued (waiting for room).
   */
  async queueOccupancy(): Promise<{ queuedTasks: number; jobsWaiting: number }> {
    const [row] = await this.prisma.prepared<{ queuedTasks: number; jobsWaiting: number }>(QUEUE_OCCUPANCY, []);
    return row;
  }

  /** How many jobs are in each state (metrics). */
  async countByState(): Promise<Partial<Record<JobState, number>>> {
    const rows = await this.prisma.prepared<{ state: JobState; count: number }>(JOBS_BY_STATE, []);
    return Object.fromEntries(rows.map((r) => [r.state, r.count]));
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
    generation: number,
    // A store to a modality produces no instance: null.
    outcome: { outputInstanceId: string | null } | { error: string; errorCode: number },
  ): Promise<JobCounters | null> {
    const failed = 'error' in outcome;
    const [r] = await this.prisma.prepared<JobCounters>(COMPLETE_INSTANCE, [
      jobId,
      sourceInstanceId,
      failed ? JobInstanceState.FAILED : JobInstanceState.DONE,
      failed ? null : outcome.outputInstanceId,
      failed ? outcome.error : null,
      failed ? outcome.errorCode : null,
      generation,
    ]);
    return r ?? null;
  }

  /**
   * Fills the work queue's free room (`maxQueued` instance tasks across all jobs, less those queued
   * and not done): a window (`window` instances, or what room is left) for each job that has half a
   * window or less queued and more to do, by priority then in submission order. One dispatch at a
   * time across processes; the claimed instances are the caller's to add to the queue. `starved`:
   * jobs still needing a window are left waiting for room.
   */
  async dispatchQueueWindows(window: number, maxQueued: number): Promise<QueueDispatch> {
    return this.prisma.preparedTransaction(async (run) => {
      await run(QUEUE_DISPATCH_LOCK, []);
      const [{ queued }] = await run<{ queued: number }>(QUEUED_TASKS, []);
      let room = maxQueued - queued;
      const windows: QueueWindow[] = [];
      for (;;) {
        const candidates = await run<{ id: string }>(JOBS_NEEDING_WINDOW, [window, DISPATCH_CANDIDATES]);
        if (candidates.length === 0) return { windows, starved: false };
        if (room <= 0) return { windows, starved: true };
        let claimedAny = false;
        for (const { id } of candidates) {
          const [claimed] = await run<QueueWindow>(CLAIM_QUEUE_WINDOW, [id, Math.min(window, room), window]);
          if (!claimed) continue;
          claimedAny = true;
          if (claimed.sourceInstanceIds.length > 0) windows.push(claimed);
          room -= claimed.sourceInstanceIds.length;
          if (room <= 0) break;
        }
        if (!claimedAny) return { windows, starved: false };
      }
    });
  }

  /**
   * Starts a new pass over the jobs' PENDING rows, from the first (a submission, recovery, resume,
   * resubmit): the next dispatch gives each a window again, whatever was queued before (tasks still
   * in the queue are not added twice: their IDs are deterministic). How many passes were restarted:
   * not those of jobs that are not queueable, or whose pass is at its start already.
   */
  async restartQueuePasses(jobIds: string[]): Promise<number> {
    return (await this.prisma.prepared(RESTART_QUEUE_PASSES, [jobIds])).length;
  }

  /** One output of the job with its ancestors (a single-resource job's output), or undefined when none was made. */
  async anyOutput(jobId: string): Promise<JobOutput | undefined> {
    return (await this.prisma.prepared<JobOutput>(ANY_OUTPUT, [jobId]))[0];
  }

  /** A finished bulk job's new resources, in Orthanc's order, a page at a time (keyset on their position). */
  async *outputResourcePages(jobId: string, pageSize = 5000): AsyncGenerator<OutputResource[]> {
    const read = (after: number) => this.prisma.prepared<OutputResource & { position: number }>(OUTPUT_RESOURCES_AFTER, [jobId, after, pageSize]);
    for await (const rows of keysetPages(pageSize, 0, read, (last) => last.position)) yield rows.map(({ id, type }) => ({ id, type }));
  }

  /** The sources to delete at the end of a KeepSource: false job (none that is also an output), in batches. */
  sourcesToDelete(jobId: string, batchSize = 1000): AsyncGenerator<string[]> {
    return this.sourceIdBatches(SOURCES_TO_DELETE, jobId, batchSize);
  }

  /** Source IDs of a job that `statement` selects ($1 job, $2 after this ID, $3 batch size), in batches by ID. */
  private async *sourceIdBatches(statement: PreparedStatement, jobId: string, batchSize: number): AsyncGenerator<string[]> {
    const read = (after: string) => this.prisma.prepared<{ id: string }>(statement, [jobId, after, batchSize]);
    // Every ID sorts after ''.
    for await (const rows of keysetPages(batchSize, '', read, (last) => last.id)) yield rows.map((r) => r.id);
  }


  /** The job's failed instances, first failed first. */
  async failedInstances(jobId: string, limit = 20): Promise<{ sourceInstanceId: string; error: string | null; errorCode: number | null }[]> {
    return this.prisma.prepared(FAILED_INSTANCES, [jobId, limit]);
  }

  /** Moves a job between states only from the states given (Orthanc's allowed transitions). */
  async transition(jobId: string, from: JobState[], data: Prisma.JobUpdateManyMutationInput & { state: JobState }): Promise<boolean> {
    const { count } = await this.prisma.job.updateMany({ where: { id: jobId, state: { in: from } }, data });
    return count > 0;
  }

  /**
   * Ends a job once (a second finalize of the same job changes nothing). `output: 'bulk'` has
   * Postgres list Orthanc's MultipleOutputs from the job's outputs in job_outputs (BULK_RESOURCES).
   */
  async finish(
    jobId: string,
    generation: number,
    result: { state: JobState; output: Prisma.InputJsonValue | 'bulk'; errorCode: number; errorDetails: string },
  ): Promise<boolean> {
    const values = [jobId, result.state, result.errorCode, result.errorDetails, generation];
    const rows =
      result.output === 'bulk'
        ? await this.prisma.prepared(FINISH_BULK, values)
        : await this.prisma.prepared(FINISH, [...values, JSON.stringify(result.output)]);
    return rows.length > 0;
  }

  /**
   * Resubmit: every instance is done again (Orthanc's Reset); outputs already stored are found
   * again. One statement, whatever the number of instances. It locks the job's row, then its instance
   * rows; a completion of the canceled pass still in flight takes them the other way round: a
   * deadlock Postgres breaks by failing one of them, and the reset is tried again.
   */
  async reset(jobId: string): Promise<boolean> {
    const [row] = await retryOnRace(() => this.prisma.prepared<{ n: number }>(RESET_JOB, [jobId]));
    return row.n > 0;
  }

  /** Paused → Pending, in a new generation (the queued work of the old one is skipped). */
  async resume(jobId: string): Promise<boolean> {
    const { count } = await this.prisma.job.updateMany({
      where: { id: jobId, state: JobState.Paused },
      data: { state: JobState.Pending, generation: { increment: 1 } },
    });
    return count > 0;
  }

  /** Submitted jobs that may still have work to do, with their progress (recovery after a restart or a Redis loss), in one read. */
  async unfinishedJobs(): Promise<UnfinishedJob[]> {
    return this.prisma.prepared<UnfinishedJob>(UNFINISHED_JOBS, []);
  }

  /** Jobs whose submission never completed (the API died while listing instances). */
  async failAbandonedSubmissions(olderThan: Date): Promise<number> {
    return (await this.prisma.prepared(FAIL_ABANDONED_SUBMISSIONS, [olderThan])).length;
  }

  /** Deletes up to `limit` jobs that finished before `cutoff` (see DELETE_FINISHED_BEFORE); how many went. */
  async deleteFinishedBefore(cutoff: Date, limit: number): Promise<number> {
    const [row] = await this.prisma.prepared<{ deleted: number }>(DELETE_FINISHED_BEFORE, [cutoff, limit]);
    return row.deleted;
  }

  async delete(jobId: string): Promise<boolean> {
    return (await this.prisma.prepared(DELETE_FINISHED_JOB, [jobId])).length > 0;
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
