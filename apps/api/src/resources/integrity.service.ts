import { Injectable, Logger } from '@nestjs/common';
import { OrthancError, OrthancErrorCode, ResourceLevel } from '@deidflow/common';
import { InstanceStoreService } from '@deidflow/core';
import { ResourceRepository } from '@deidflow/database';
import { existingResource } from './browse.service';

export interface IntegrityReport {
  InstancesCount: number;
  /** Stored bytes that no longer match the SHA-256 recorded when they were written. */
  CorruptedInstances: string[];
  /** Indexed instances whose object is gone from the store. */
  MissingInstances: string[];
}

/**
 * Reads back every stored file below a resource and checks it against the SHA-256 the index
 * recorded (DeidFlow; the per-instance check is POST /instances/{id}/attachments/dicom/verify-sha256).
 * One file at a time: memory does not grow with the resource.
 */
@Injectable()
export class IntegrityService {
  private readonly logger = new Logger(IntegrityService.name);

  constructor(
    private readonly resources: ResourceRepository,
    private readonly store: InstanceStoreService,
  ) {}

  async verify(level: ResourceLevel, id: string): Promise<IntegrityReport> {
    await existingResource(this.resources, level, id);
    const report: IntegrityReport = { InstancesCount: 0, CorruptedInstances: [], MissingInstances: [] };
    for await (const batch of this.resources.iterateInstances(level, id)) {
      for (const instance of batch) {
        report.InstancesCount++;
        let digest: string;
        try {
          digest = await this.store.digestOfStoredFile(instance);
        } catch (err) {
          if (err instanceof OrthancError && err.code === OrthancErrorCode.InexistentFile) {
            report.MissingInstances.push(instance.id);
            continue;
          }
          if (err instanceof OrthancError && err.code === OrthancErrorCode.UnknownResource) continue; // deleted meanwhile
          throw err;
        }
        if (instance.sha256 && digest !== instance.sha256) report.CorruptedInstances.push(instance.id);
      }
    }
    if (report.CorruptedInstances.length + report.MissingInstances.length > 0) {
      this.logger.warn(
        { level, id, corrupted: report.CorruptedInstances.length, missing: report.MissingInstances.length },
        'stored files do not match the index',
      );
    }
    return report;
  }
}
