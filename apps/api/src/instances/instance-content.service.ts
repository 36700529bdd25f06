import { Injectable } from '@nestjs/common';
import { InstanceStoreService } from '@deidflow/core';
import { ContentResult, datasetToOrthancJson, readContent, TagsFormat } from '@deidflow/dicom';
import { assertId } from '../resources/browse.service';

/** The read side of one stored instance: Orthanc's /tags JSON and raw /content values. */
@Injectable()
export class InstanceContentService {
  constructor(private readonly store: InstanceStoreService) {}

  async tags(id: string, format: TagsFormat): Promise<Record<string, unknown>> {
    return datasetToOrthancJson(await this.file(id), format);
  }

  /** `path` alternates tags (keyword, 'gggg-eeee' or 'gggg,eeee') and item indexes. */
  async content(id: string, path: string[]): Promise<ContentResult> {
    return readContent(await this.file(id), path);
  }

  private async file(id: string): Promise<Buffer> {
    assertId(id);
    return this.store.readFile(await this.store.findInstanceOrThrow(id));
  }
}
