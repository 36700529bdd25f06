import { orthancErrorMessage, OrthancErrorCode, orthancTimestamp } from '@deidflow/common';
import type { JobSummary } from '@deidflow/database';

/** The public Content of a ResourceModification job while it runs (the output fields come at the end). */
export function jobContent(job: JobSummary): Record<string, unknown> {
  const content: Record<string, unknown> = {
    Description: 'REST API',
    FailedInstancesCount: job.failedCount,
    InstancesCount: job.instancesCount,
    IsAnonymization: job.isAnonymization,
    ...((job.output as Record<string, unknown> | null) ?? {}),
  };
  // Orthanc answers with sorted keys (see orthanc-reference/02-*).
  return Object.fromEntries(Object.entries(content).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Orthanc's JobInfo::Format (GET /jobs/{id}); see orthanc-reference/04-job-after-success.txt. */
export function formatJob(job: JobSummary, now = new Date()): Record<string, unknown> {
  const finished = job.state === 'Success' || job.state === 'Failure';
  const started = job.startedAt ?? job.createdAt;
  const end = job.completedAt ?? now;
  const done = job.processedCount + job.failedCount;
  // Orthanc counts one more step for the final post-processing (TSIJ GetProgress).
  const progress = finished && job.state === 'Success' ? 100 : Math.floor((100 * done) / (job.instancesCount + 1));
  return {
    ...(finished ? { CompletionTime: orthancTimestamp(end, true) } : {}),
    Content: jobContent(job),
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
  };
}
