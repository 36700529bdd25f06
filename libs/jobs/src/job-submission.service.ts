import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { OrthancError, ResourceLevel, isOrthancId } from '@deidflow/common';
import { JobRepository, Prisma, ResourceRepository } from '@deidflow/database';
import { ModificationRequest, needsGeneratedPatientName, Operation, parseModificationRequest } from '@deidflow/dicom';
import { JobEnqueuer } from './job-enqueuer.service';
import { JobExpansionService, SourceResource } from './job-expansion.service';
import { MODALITY_STORE_JOB, ModalityStoreSubmission } from './modality-store-job';
import { PatientNamesService } from './patient-names.service';

export interface Submission {
  operation: Operation;
  /** The level of the route, or 'Bulk' for /tools/bulk-{modify,anonymize}. */
  target: ResourceLevel | 'Bulk';
  resourceId?: string;
  body: unknown;
}

export interface SubmittedJob {
  jobId: string;
  request: ModificationRequest;
}

/**
 * Turns a REST call into a job: validates the whole request first (a bad request creates nothing),
 * records the job and one row per source instance (set-based, inside Postgres), answers, and enqueues
 * one BullMQ job per instance meanwhile. A large asynchronous submission answers once the job is
 * recorded (with the rows it could list quickly), the rest added by a worker (JobExpansionService).
 * The plan is stored once, in the job row.
 */
@Injectable()
export class JobSubmissionService {
  private readonly logger = new Logger(JobSubmissionService.name);

  constructor(
    private readonly jobs: JobRepository,
    private readonly resources: ResourceRepository,
    private readonly enqueuer: JobEnqueuer,
    private readonly expansion: JobExpansionService,
    private readonly patientNames: PatientNamesService,
  ) {}

  async submit(submission: Submission): Promise<SubmittedJob> {
    const request = parseModificationRequest(submission.body, {
      operation: submission.operation,
      level: submission.target,
      scope: 'store',
    });
    rejectSelfOverwrite(request);
    const bulk = submission.target === 'Bulk';
    const sources = await this.resolveSources(bulk ? (request.resources ?? []) : [submission.resourceId ?? ''], bulk);
    const patientName = needsGeneratedPatientName(request) ? await this.patientNames.nextName() : undefined;

    const jobId = randomUUID();
    const expandsInWorker = this.expansion.expandsInWorker(sources, request.synchronous);
    await this.jobs.create({
      id: jobId,
      priority: request.priority,
      isAnonymization: request.operation === 'anonymize',
      request: request as unknown as Prisma.InputJsonValue,
      secret: randomBytes(32).toString('hex'),
      level: submission.target === 'Bulk' ? 'Bulk' : submission.target,
      sourceResources: sources as unknown as Prisma.InputJsonValue,
      keepSource: request.keepSource,
      permissive: request.permissive,
      userData: request.userData as Prisma.InputJsonValue | undefined,
      patientName,
      expansionQueued: expandsInWorker,
    });
    await this.start(jobId, sources, { synchronous: request.synchronous, priority: request.priority, expandsInWorker, what: request.operation });
    return { jobId, request };
  }

  /**
   * POST /modalities/{name}/store as Orthanc's DicomModalityStore job: one C-STORE per instance, by
   * any worker, with the job's progress, cancel, pause, resubmit and retention. Its Content (LocalAet,
   * ParentResources, RemoteAet) is known at once and stored with it. Resolves to the job's ID.
   */
  async submitStore(submission: ModalityStoreSubmission): Promise<string> {
    const sources = await this.resolveSources(submission.resources, true);
    const jobId = randomUUID();
    const expandsInWorker = this.expansion.expandsInWorker(sources, submission.synchronous);
    await this.jobs.create({
      id: jobId,
      type: MODALITY_STORE_JOB,
      priority: submission.priority,
      isAnonymization: false,
      request: submission.store as unknown as Prisma.InputJsonValue,
      secret: randomBytes(32).toString('hex'),
      level: 'Bulk',
      sourceResources: sources as unknown as Prisma.InputJsonValue,
      keepSource: true,
      permissive: submission.permissive,
      output: { LocalAet: submission.store.localAet, ParentResources: submission.resources, RemoteAet: submission.store.remote.aet },
      expansionQueued: expandsInWorker,
    });
    await this.start(jobId, sources, { synchronous: submission.synchronous, priority: submission.priority, expandsInWorker, what: 'store' });
    return jobId;
  }

  /**
   * A recorded job's instance rows and first work: listed before the answer when they are few (then
   * queued, or finalized at once when there are none), by a worker otherwise.
   */
  private async start(jobId: string, sources: SourceResource[], options: { synchronous: boolean; priority: number; expandsInWorker: boolean; what: string }): Promise<void> {
    const { synchronous, priority, expandsInWorker, what } = options;
    if (!expandsInWorker && (await this.expansion.addInstancesBeforeAnswer(jobId, sources, synchronous))) {
      const counters = await this.jobs.markReady(jobId);
      if (counters.instancesCount === 0) await this.enqueuer.enqueueFinalize(jobId, counters.generation, priority);
      else this.enqueuer.enqueuePendingLater(jobId);
      this.logger.log({ jobId, instances: counters.instancesCount, operation: what }, 'job submitted');
      return;
    }
    // More than a submission lists before answering: a worker lists the job (recorded as such first,
    // so that job recovery queues the task again if the queue refuses it now).
    if (!expandsInWorker) await this.jobs.queueExpansion(jobId);
    await this.enqueuer.enqueueExpansion(jobId).catch((err: Error) =>
      this.logger.warn({ jobId, err: err.message }, 'queueing the expansion of a submitted job failed; job recovery will queue it'),
    );
    this.logger.log({ jobId, resources: sources.length, operation: what }, 'job submitted, its instances to be listed by a worker');
  }

  /** The resources the job starts from, with their real level (Orthanc ignores the level of the URL). */
  private async resolveSources(ids: readonly string[], listed: boolean): Promise<SourceResource[]> {
    if (listed && ids.length === 0) throw OrthancError.badRequest('"Resources" must list at least one Orthanc ID');
    const distinct = [...new Set(ids)];
    const levels = await this.resources.findLevels(distinct.filter(isOrthancId));
    const out: SourceResource[] = [];
    for (const id of distinct) {
      const level = levels.get(id);
      if (!level) throw OrthancError.unknownResource(listed ? `Unknown resource in "Resources": ${id}` : undefined);
      out.push({ ID: id, Type: level });
    }
    return out;
  }
}

const MAIN_UIDS = ['0020000D', '0020000E', '00080018']; // Study, Series, SOP Instance UID
const PATIENT_ID = '00100020';

/**
 * Orthanc (RMJ PerformSanityChecks): keeping the three UIDs of a study or patient modification
 * (and the PatientID) would write every result over its source, which needs OverwriteInstances.
 * DeidFlow never overwrites a stored instance: refuse it before anything is created. (The worker
 * checks every instance as well, for the cases a request alone cannot tell.)
 */
function rejectSelfOverwrite(request: ModificationRequest): void {
  if (request.operation !== 'modify' || (request.level !== 'Study' && request.level !== 'Patient')) return;
  const topLevel = (paths: readonly { steps: readonly unknown[]; tag: string }[]) =>
    new Set(paths.filter((path) => path.steps.length === 0).map((path) => path.tag.toUpperCase()));
  const kept = topLevel(request.keep);
  const newPatientId = topLevel(request.replace.map((r) => r.path)).has(PATIENT_ID);
  if (!newPatientId && MAIN_UIDS.every((tag) => kept.has(tag))) {
    throw OrthancError.badRequest(
      'Keeping StudyInstanceUID, SeriesInstanceUID and SOPInstanceUID would overwrite every source instance with its result, which DeidFlow never does',
    );
  }
}

/** SHA-256 of the stored request: lineage records which request produced an instance. */
export function requestDigest(request: unknown): string {
  return createHash('sha256').update(JSON.stringify(request)).digest('hex');
}
