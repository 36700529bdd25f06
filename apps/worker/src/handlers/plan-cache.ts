import { Injectable } from '@nestjs/common';
import { JobRepository } from '@deidflow/database';
import { DicomModification, ModificationRequest } from '@deidflow/dicom';
import { MODALITY_STORE_JOB, ModalityStoreRequest, requestDigest } from '@deidflow/jobs';

/** What a ResourceModification job does to each instance. */
export interface JobPlan {
  kind: 'modification';
  jobId: string;
  modification: DicomModification;
  request: ModificationRequest;
  digest: string;
}

/** Where a DicomModalityStore job sends each instance. */
export interface StorePlan {
  kind: 'store';
  jobId: string;
  request: ModalityStoreRequest;
}

const MAX_PLANS = 64;

/**
 * One plan per job (a DicomModification, or a store's destination), built once per worker from the request stored in the job row:
 * per-instance payloads carry IDs only. A small LRU bounds memory whatever the number of jobs.
 */
@Injectable()
export class PlanCache {
  private readonly plans = new Map<string, Promise<JobPlan | StorePlan>>();

  constructor(private readonly jobs: JobRepository) {}

  get(jobId: string): Promise<JobPlan | StorePlan> {
    const cached = this.plans.get(jobId);
    if (cached) {
      // Re-insert: Map order is the LRU order.
      this.plans.delete(jobId);
      this.plans.set(jobId, cached);
      return cached;
    }
    const plan = this.load(jobId);
    plan.catch(() => this.plans.delete(jobId));
    this.plans.set(jobId, plan);
    if (this.plans.size > MAX_PLANS) this.plans.delete(this.plans.keys().next().value!);
    return plan;
  }

  /** Plans held: at most one per recent job, never one per instance. */
  get size(): number {
    return this.plans.size;
  }

  private async load(jobId: string): Promise<JobPlan | StorePlan> {
    const job = await this.jobs.find(jobId);
    if (!job) throw new Error(`Job ${jobId} disappeared`);
    if (job.type === MODALITY_STORE_JOB) return { kind: 'store', jobId, request: job.request as unknown as ModalityStoreRequest };
    const request = job.request as unknown as ModificationRequest;
    return {
      kind: 'modification',
      jobId,
      request,
      digest: requestDigest(request),
      modification: DicomModification.fromRequest(request, { secret: job.secret, patientName: job.patientName ?? undefined }),
    };
  }
}
