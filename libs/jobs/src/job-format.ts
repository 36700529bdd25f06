import { randomUUID } from 'node:crypto';
import { JsonAnswer, JsonPieces, JsonText, LEVEL_PATH, orthancErrorMessage, OrthancErrorCode, orthancTimestamp, type ResourceLevel } from '@deidflow/common';
import type { JobOutput, JobSummary, OutputResource } from '@deidflow/database';
import { MODALITY_STORE_JOB } from './modality-store-job';

/** A finished bulk job's new resources, a page at a time (JobRepository.outputResourcePages). */
export type OutputResourcePages = () => AsyncIterable<OutputResource[]>;

/** Stands for a bulk job's Resources in the answer until they are written in (unique to this process). */
const PLACEHOLDER = `deidflow-resources-${randomUUID()}`;

/**
 * The job's output fields. A finished bulk job's output is `{"Resources": []}`, its resources being
 * rows of their own (job_outputs): there PLACEHOLDER stands for them.
 */
function outputFields(job: JobSummary): { fields: Record<string, unknown>; listed: boolean } {
  const fields = (job.output as Record<string, unknown> | null) ?? {};
  const listed = job.level === 'Bulk' && Array.isArray(fields.Resources);
  return { fields: listed ? { ...fields, Resources: PLACEHOLDER } : fields, listed };
}

/**
 * `value` as JSON; with a bulk job's resources, in pieces: the text before them, the resources a
 * page at a time, the text after. For a large cohort they are megabytes (Orthanc lists every new
 * instance): never held whole, in Postgres's answer or in the API's.
 */
function answer(value: Record<string, unknown>, listed: boolean, resources: OutputResourcePages): JsonAnswer {
  const json = JSON.stringify(value);
  if (!listed) return new JsonText(json);
  const [before, after] = json.split(`"${PLACEHOLDER}"`);
  return new JsonPieces(withResources(before, resources(), after));
}

async function* withResources(before: string, pages: AsyncIterable<OutputResource[]>, after: string): AsyncGenerator<string> {
  yield `${before}[`;
  let separator = '';
  for await (const page of pages) {
    if (page.length === 0) continue;
    yield separator + page.map((r) => JSON.stringify({ ID: r.id, Path: `/${LEVEL_PATH[r.type]}/${r.id}`, Type: r.type })).join(',');
    separator = ',';
  }
  yield `]${after}`;
}

/**
 * The public Content of a job: a ResourceModification's while it runs (the output fields come at
 * the end), a DicomModalityStore's (LocalAet, ParentResources, RemoteAet, stored at submission).
 */
function content(job: JobSummary, output: Record<string, unknown>): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    Description: 'REST API',
    FailedInstancesCount: job.failedCount,
    InstancesCount: job.instancesCount,
    ...(job.type === MODALITY_STORE_JOB ? {} : { IsAnonymization: job.isAnonymization }),
    ...output,
  };
  // Orthanc answers with sorted keys (see orthanc-reference/02-*).
  return Object.fromEntries(Object.entries(fields).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** The job's Content: the answer of a synchronous call. */
export function jobContent(job: JobSummary, resources: OutputResourcePages): JsonAnswer {
  const { fields, listed } = outputFields(job);
  return answer(content(job, fields), listed, resources);
}

/** Success and Failure are final (a resubmit starts a failed job over). */
export function isFinished(state: JobSummary['state']): boolean {
  return state === 'Success' || state === 'Failure';
}

/** Orthanc's JobInfo::Format (GET /jobs/{id}); see orthanc-reference/04-job-after-success.txt. */
export function formatJob(job: JobSummary, resources: OutputResourcePages, now = new Date()): JsonAnswer {
  const finished = isFinished(job.state);
  const started = job.startedAt ?? job.createdAt;
  const end = job.completedAt ?? now;
  const done = job.processedCount + job.failedCount;
  // Orthanc counts one more step for the final post-processing, and one for the deletion of the
  // sources when KeepSource is false (TSIJ GetProgress).
  const ratio = done / (job.instancesCount + 1 + (job.keepSource ? 0 : 1));
  const progress = finished && job.state === 'Success' ? 100 : Math.floor(100 * ratio);
  const runtime = job.startedAt ? Math.max(0, (end.getTime() - started.getTime()) / 1000) : 0;
  const { fields, listed } = outputFields(job);
  return answer(
    {
      ...(finished ? { CompletionTime: orthancTimestamp(end, true) } : {}),
      Content: content(job, fields),
      CreationTime: orthancTimestamp(job.createdAt, true),
      EffectiveRuntime: runtime,
      ErrorCode: job.errorCode,
      ErrorDescription: job.errorCode === 0 ? 'Success' : orthancErrorMessage(job.errorCode as OrthancErrorCode),
      ErrorDetails: job.errorDetails,
      ...(job.state === 'Running' ? estimatedTimeOfArrival(ratio, runtime, now) : {}),
      ID: job.id,
      Priority: job.priority,
      Progress: progress,
      State: job.state,
      Timestamp: orthancTimestamp(now, true),
      Type: job.type,
      ...(job.userData !== null && job.userData !== undefined ? { UserData: job.userData } : {}),
    },
    listed,
    resources,
  );
}

/**
 * Orthanc's JobInfo ETA, shown while the job runs: the remaining share of the work at the pace so
 * far, once the job has done more than 1% and run more than 10 ms.
 */
function estimatedTimeOfArrival(ratio: number, runtimeSeconds: number, now: Date): { EstimatedTimeOfArrival?: string } {
  if (ratio <= 0.01 || runtimeSeconds <= 0.01) return {};
  const remainingMs = Math.round(((1 - ratio) / ratio) * runtimeSeconds * 1000);
  return { EstimatedTimeOfArrival: orthancTimestamp(new Date(now.getTime() + remainingMs), true) };
}

/** Orthanc's SingleOutput: the new resource at the level of the route, and its patient (one output instance tells them all). */
export function singleOutput(level: ResourceLevel, any: JobOutput | undefined): { ID: string; Path: string; PatientID: string; Type: ResourceLevel } | Record<string, never> {
  if (!any) return {};
  const id = { Patient: any.patient, Study: any.study, Series: any.series, Instance: any.instance }[level];
  return { ID: id, Path: `/${LEVEL_PATH[level]}/${id}`, PatientID: any.patient, Type: level };
}
