import type { ApiClient, JobAnswer } from './api-client';

export interface JobAudit {
  job: JobAnswer;
  /** Source instances of the job without an output. */
  missing: string[];
  /** Outputs beyond one per source, plus outputs whose origin is not a source of the job. */
  duplicated: number;
  outputs: number;
}

/**
 * Compares a job's sources with its outputs through the REST API only, as a client would:
 * GET /jobs/{id} → the new study → its instances → each one's AnonymizedFrom.
 */
export async function auditJob(client: ApiClient, jobId: string, sourceIds: string[]): Promise<JobAudit> {
  const job = await client.get<JobAnswer>(`/jobs/${jobId}`);
  const newStudy = job.Content.ID;
  const outputs = newStudy ? await client.get<{ ID: string }[]>(`/studies/${newStudy}/instances`) : [];
  const outputsPerSource = new Map<string, number>(sourceIds.map((id) => [id, 0]));
  let strays = 0;
  for (const { ID } of outputs) {
    const origin = await client.get<string>(`/instances/${ID}/metadata/AnonymizedFrom`);
    if (outputsPerSource.has(origin)) outputsPerSource.set(origin, outputsPerSource.get(origin)! + 1);
    else strays += 1;
  }
  const counts = [...outputsPerSource.values()];
  return {
    job,
    missing: [...outputsPerSource].filter(([, n]) => n === 0).map(([id]) => id),
    duplicated: strays + counts.reduce((sum, n) => sum + Math.max(0, n - 1), 0),
    outputs: outputs.length,
  };
}
