import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { BufferPool, LruCache, ResourceLevel } from '@deidflow/common';
import { InstanceStoreService } from '@deidflow/core';
import { DicomModification, ModificationRequest, needsGeneratedPatientName, Operation, parseModificationRequest } from '@deidflow/dicom';
import { JobControlService, JobSubmissionService, PatientNamesService } from '@deidflow/jobs';
import { assertId } from '../resources/browse.service';

/**
 * Anonymize/modify calls. Instances: computed here and answered as a file, nothing stored.
 * Series, studies, patients and bulk: a job, answered when it ends (Orthanc's default) or at once
 * with its ID when "Asynchronous" is set.
 */
@Injectable()
export class ModificationService {
  private readonly parsedRequests = new LruCache<string, ModificationRequest>(256);

  constructor(
    private readonly store: InstanceStoreService,
    private readonly submissions: JobSubmissionService,
    private readonly control: JobControlService,
    private readonly patientNames: PatientNamesService,
    private readonly buffers: BufferPool,
  ) {}

  /**
   * The new file, in BufferPool memory: the caller releases it once answered. The source and the
   * new file are both held whole: `reserveMemory` is asked for their bytes first (the caller's
   * budget, see ModificationController); null when it refused (the client went away meanwhile).
   */
  async instanceFile(operation: Operation, id: string, body: unknown, reserveMemory: (bytes: number) => Promise<boolean>): Promise<Buffer | null> {
    assertId(id);
    const request = this.parseInstanceRequest(operation, body);
    const instance = await this.store.findInstanceOrThrow(id);
    const patientName = needsGeneratedPatientName(request) ? await this.patientNames.nextName() : undefined;
    // A fresh secret per call: like Orthanc, every call gives new UIDs.
    const modification = DicomModification.fromRequest(request, { secret: randomBytes(32).toString('hex'), patientName });
    if (!(await reserveMemory(this.buffers.rewriteMemory(Number(instance.fileSize))))) return null;
    const source = await this.store.readFile(instance, this.buffers.acquire);
    try {
      const file = modification.apply(source, this.buffers.acquire);
      return Buffer.from(file.buffer, file.byteOffset, file.byteLength);
    } finally {
      this.buffers.release(source);
    }
  }

  /**
   * Requests are immutable once parsed: scripts repeat the same body for every instance, so the
   * parsed form is kept (by operation and body) instead of validated again each time.
   */
  private parseInstanceRequest(operation: Operation, body: unknown): ModificationRequest {
    const key = `${operation}:${JSON.stringify(body)}`;
    let request = this.parsedRequests.get(key);
    if (!request) {
      request = parseModificationRequest(body, { operation, level: 'Instance', scope: 'download' });
      this.parsedRequests.set(key, request);
    }
    return request;
  }

  async submit(operation: Operation, target: ResourceLevel | 'Bulk', resourceId: string | undefined, body: unknown) {
    if (resourceId !== undefined) assertId(resourceId);
    const { jobId, request } = await this.submissions.submit({ operation, target, resourceId, body });
    if (!request.synchronous) return { ID: jobId, Path: `/jobs/${jobId}` };
    return this.control.contentWhenFinished(jobId);
  }
}
