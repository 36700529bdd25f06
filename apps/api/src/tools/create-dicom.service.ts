import { Injectable } from '@nestjs/common';
import { isOrthancId, OrthancError, ResourceLevel } from '@deidflow/common';
import { InstanceStoreService } from '@deidflow/core';
import { ResourceRepository } from '@deidflow/database';
import { createDicom, datasetToOrthancJson } from '@deidflow/dicom';
import { UploadAnswer, UploadService } from '../instances/upload.service';
import { parentModuleTags } from './parent-module-tags';

/** POST /tools/create-dicom: builds the instance (engine), attaches it to its "Parent", stores it. */
@Injectable()
export class CreateDicomService {
  constructor(
    private readonly resources: ResourceRepository,
    private readonly store: InstanceStoreService,
    private readonly uploads: UploadService,
  ) {}

  async create(body: unknown): Promise<UploadAnswer> {
    if (!isJsonObject(body)) throw OrthancError.badRequest('The body of /tools/create-dicom must be a JSON object');
    // Only the form with "Tags" knows "Parent" (the legacy form would read it as a tag name).
    const parentTags = 'Tags' in body && body.Parent !== undefined ? await this.parentTags(body.Parent) : undefined;
    const file = createDicom(body, { parentTags });
    return this.uploads.storeOne(Buffer.from(file.buffer, file.byteOffset, file.byteLength));
  }

  /** The module tags of the parent and its ancestors, read from one of its instances (as Orthanc does). */
  private async parentTags(parent: unknown): Promise<Record<string, string>> {
    if (typeof parent !== 'string') throw OrthancError.badRequest('"Parent" must be a string');
    const level = isOrthancId(parent) ? await this.resources.findLevel(parent) : null;
    if (!level) throw OrthancError.badRequest(`Trying to attach a new DICOM instance to an inexistent resource: ${parent}`);
    if (level === 'Instance') {
      throw OrthancError.badRequest('Trying to attach a new DICOM instance to an instance (must be a series, study or patient)');
    }
    const sibling = await this.firstInstanceOf(level, parent);
    const fullJson = datasetToOrthancJson(await this.store.readFile(sibling), 'full');
    return parentModuleTags(level, fullJson);
  }

  private async firstInstanceOf(level: ResourceLevel, id: string) {
    for await (const batch of this.resources.iterateInstances(level, id, 1)) {
      if (batch.length > 0) return batch[0];
    }
    // A parent without instance only exists while it is being deleted.
    throw OrthancError.badRequest(`Trying to attach a new DICOM instance to an inexistent resource: ${id}`);
  }
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
