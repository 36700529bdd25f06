import { randomUUID } from 'node:crypto';
import { JsonText, orthancErrorMessage, OrthancErrorCode, orthancTimestamp } from '@deidflow/common';
import type { JobSummary } from '@deidflow/database';

/**
 * A bulk job's output (Orthanc's MultipleOutputs: every new patient, study, series and instance) as
 * Postgres writes jsonb, `{"Resources": [...]}`. From this size on its text goes into the answer as
 * it is: parsed and serialized again it took ~3.5 times its size in memory and ~300 ms for 120,000
 * resources, at every poll of the job.
 */
const BULK_OUTPUT_PREFIX = '{"Resources": ';
const OUTPUT_KEPT_AS_TEXT_FROM = 64 * 1024;
/** Stands for the output's text in the answer until it is serialized (unique to this process). */
const PLACEHOLDER = `deidflow-output-${randomUUID()}`;

interface Output {
  fields: Record<string, unknown>;
  /** The JSON text that PLACEHOLDER stands for. */
  text?: string;
}

function outputOf(job: JobSummary): Output {
  const json = job.outputJson;
  if (json === null) return { fields: {} };
  if (json.length >= OUTPUT_KEPT_AS_TEXT_FROM && json.startsWith(BULK_OUTPUT_PREFIX) && json.endsWith('}')) {
    return { fields: { Resources: PLACEHOLDER }, text: json.slice(BULK_OUTPUT_PREFIX.length, -1) };
  }
  return { fields: JSON.parse(json) as Record<string, unknown> };
}

function serialize(value: Record<string, unknown>, output: Output): JsonText {
  const json = JSON.stringify(value);
  return new JsonText(output.text === undefined ? json : json.replace(`"${PLACEHOLDER}"`, () => output.text!));
}

/** The public Content of a ResourceModification job while it runs (the output fields come at the end). */
function content(job: JobSummary, output: Output): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    Description: 'REST API',
    FailedInstancesCount: job.failedCount,
    InstancesCount: job.instancesCount,
    IsAnonymization: job.isAnonymization,
    ...output.fields,
  };
  // Orthanc answers with sorted keys (see orthanc-reference/02-*).
  return Object.fromEntries(Object.entries(fields).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** The job's Content: the answer of a synchronous call. */
export function jobContent(job: JobSummary): JsonText {
  const output = outputOf(job);
  return serialize(content(job, output), output);
}

/** Orthanc's JobInfo::Format (GET /jobs/{id}); see orthanc-reference/04-job-after-success.txt. */
export function formatJob(job: JobSummary, now = new Date()): JsonText {
  const finished = job.state === 'Success' || job.state === 'Failure';
  const started = job.startedAt ?? job.createdAt;
  const end = job.completedAt ?? now;
  const done = job.processedCount + job.failedCount;
  // Orthanc counts one more step for the final post-processing (TSIJ GetProgress).
  const progress = finished && job.state === 'Success' ? 100 : Math.floor((100 * done) / (job.instancesCount + 1));
  const output = outputOf(job);
  return serialize(
    {
      ...(finished ? { CompletionTime: orthancTimestamp(end, true) } : {}),
      Content: content(job, output),
      CreationTime: orthancTimestamp(job.createdAt, true),
      EffectiveRuntime: job.startedAt ? Math.max(0, (end.getTime() - started.getTime()) / 1000) : 0,
      ErrorCode: job.errorCode,
      ErrorDescription: job.errorCode === 0 ? 'Success' : orthancErrorMessage(job.errorCode as OrthancErrorCode),
      ErrorDetails: job.errorDetails,
      ID: job.id,
      Priority: job.priority,
      Progress: progress,
      State: job.state,
      Timestamp: orthancTimestamp(now, true),
      Type: job.type,
      ...(job.userData !== null && job.userData !== undefined ? { UserData: job.userData } : {}),
    },
    output,
  );
}
