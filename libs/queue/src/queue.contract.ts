/**
 * The queue contract: every BullMQ queue, job name and payload of DeidFlow, in one place.
 * Payloads carry IDs only — the modification plan is stored once in the job row (Postgres)
 * and cached by each worker; patient data never goes through Redis.
 */

export enum QueueName {
  /** One BullMQ job per source instance of a modification/anonymization job. */
  Modification = 'modification',
}

export enum JobName {
  /** Apply the job's plan to one source instance and store the result. */
  ProcessInstance = 'process-instance',
  /** All instances are done: compute the job's output, clean up sources (KeepSource: false). */
  FinalizeJob = 'finalize-job',
  /** Add the instance rows of a large asynchronous submission, answered before them; then queue its work. */
  ExpandJob = 'expand-job',
}

export interface ProcessInstancePayload {
  jobId: string;
  sourceInstanceId: string;
  /** The job's generation when enqueued: work of an older generation (before resume/resubmit) is skipped. */
  generation: number;
}

export interface FinalizeJobPayload {
  jobId: string;
  generation: number;
}

export interface ExpandJobPayload {
  jobId: string;
}

export interface JobPayloads {
  [JobName.ProcessInstance]: ProcessInstancePayload;
  [JobName.FinalizeJob]: FinalizeJobPayload;
  [JobName.ExpandJob]: ExpandJobPayload;
}

/** BullMQ job ID of a per-instance job: deterministic, so a re-enqueue of the same work is a no-op. */
export function processInstanceJobId(jobId: string, sourceInstanceId: string, generation: number): string {
  return `${jobId}:${generation}:${sourceInstanceId}`;
}

export function finalizeJobId(jobId: string, generation: number): string {
  return `${jobId}:${generation}:finalize`;
}

/**
 * One expansion of a job queued at a time (its rows are added idempotently, whichever generation
 * asked). No colon: BullMQ refuses a custom ID with one, unless it has exactly three parts.
 */
export function expandJobId(jobId: string): string {
  return `expand-${jobId}`;
}

/** Redis key by which one worker of the deployment claims a periodic maintenance task for its interval. */
export function maintenanceClaimKey(prefix: string, task: 'orphan-sweep'): string {
  return `${prefix}:maintenance:${task}`;
}

/** Redis pub/sub channel on which a job's end is announced (the API's synchronous calls wait on it). */
export function jobEventsChannel(prefix: string): string {
  return `${prefix}:job-events`;
}

/** Orthanc priorities: higher runs first, any integer. BullMQ: 1 is highest, 0 means "no priority", max 2^21. */
export function toBullPriority(orthancPriority: number): number {
  const clamped = Math.max(-1_000_000, Math.min(1_000_000, Math.trunc(orthancPriority)));
  return 1_000_001 - clamped;
}

/**
 * An expansion comes before any instance, whatever its job's priority: it is bookkeeping (rows in
 * Postgres, no DICOM work), and its job is then served in its own priority's turn.
 */
export const EXPAND_JOB_BULL_PRIORITY = 1;

/**
 * Retries for transient failures (storage, database unreachable): 8 attempts, 1 s doubling, so an
 * outage of about two minutes is ridden out. Bad data fails at once (the handler records it).
 */
export const PROCESS_INSTANCE_ATTEMPTS = 8;
export const PROCESS_INSTANCE_BACKOFF = { type: 'exponential' as const, delay: 1000 };
