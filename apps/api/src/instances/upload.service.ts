import { Inject, Injectable } from '@nestjs/common';
import { unzipSync } from 'fflate';
import { OrthancError, OrthancErrorCode } from '@deidflow/common';
import { APP_CONFIG, AppConfig } from '@deidflow/config';
import { InstanceStoreService } from '@deidflow/core';

export interface UploadAnswer {
  ID: string;
  ParentPatient: string;
  ParentSeries: string;
  ParentStudy: string;
  Path: string;
  Status: 'Success' | 'AlreadyStored';
}

/** A file of a ZIP upload that could not be stored (the others still are). */
export interface UploadFailure {
  Filename: string;
  Status: 'Failure';
  Details: string;
}

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];

/** POST /instances: one DICOM file, or a ZIP archive of them (one answer per file). */
@Injectable()
export class UploadService {
  constructor(
    private readonly store: InstanceStoreService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async upload(body: Buffer): Promise<UploadAnswer | (UploadAnswer | UploadFailure)[]> {
    if (isZip(body)) return this.uploadZip(body);
    return this.storeOne(body);
  }

  /** Stores one DICOM file, answered as Orthanc answers an upload (also /tools/create-dicom). */
  async storeOne(bytes: Buffer): Promise<UploadAnswer> {
    const { parsed, status } = await this.store.store(bytes);
    const { ids } = parsed;
    return {
      ID: ids.instance,
      ParentPatient: ids.patient,
      ParentSeries: ids.series,
      ParentStudy: ids.study,
      Path: `/instances/${ids.instance}`,
      Status: status,
    };
  }

  private async uploadZip(body: Buffer): Promise<(UploadAnswer | UploadFailure)[]> {
    let entries: Record<string, Uint8Array>;
    // A ZIP bomb must not fill memory: the content may not exceed the body limit, decompressed.
    // (fflate inflates each entry into a buffer of its declared size, so declared sizes bound it.)
    const limit = this.config.HTTP_BODY_LIMIT;
    let total = 0;
    try {
      entries = unzipSync(body, {
        filter: (file) => {
          if (file.name.endsWith('/')) return false; // directories
          total += file.originalSize;
          if (total > limit) throw new OrthancError(OrthancErrorCode.RequestEntityTooLarge, `The ZIP archive holds more than ${limit} bytes`);
          return true;
        },
      });
    } catch (err) {
      if (err instanceof OrthancError) throw err;
      throw OrthancError.badFileFormat(`Cannot read the ZIP archive: ${(err as Error).message}`);
    }
    const answers: (UploadAnswer | UploadFailure)[] = [];
    for (const [name, data] of Object.entries(entries).sort(([a], [b]) => a.localeCompare(b))) {
      try {
        answers.push(await this.storeOne(Buffer.from(data.buffer, data.byteOffset, data.byteLength)));
      } catch (err) {
        if (!(err instanceof OrthancError) || !err.isPermanent) throw err;
        answers.push({ Filename: name, Status: 'Failure', Details: err.details ?? err.message });
      }
    }
    return answers;
  }
}

function isZip(body: Buffer): boolean {
  return body.length >= 4 && ZIP_MAGIC.every((byte, i) => body[i] === byte);
}
