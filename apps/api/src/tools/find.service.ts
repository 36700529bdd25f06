import { Injectable } from '@nestjs/common';
import { LEVEL_PATH, OrthancError, ResourceLevel } from '@deidflow/common';
import { ResourceRepository } from '@deidflow/database';
import { parseFindRequest } from '@deidflow/dicom';
import { BrowseService } from '../resources/browse.service';

/** Orthanc's /tools/find and /tools/lookup, answered from the index (no file is read). */
@Injectable()
export class FindService {
  constructor(
    private readonly resources: ResourceRepository,
    private readonly browse: BrowseService,
  ) {}

  /**
   * IDs, or with `Expand` the resources as GET /{level}/{id} shows them, oldest first: pages for the
   * answer to stream, read a page at a time (a find of a whole archive never holds it at once). The
   * request is checked here; sendJsonArray reads the first page before the answer starts.
   */
  find(body: unknown): AsyncIterable<unknown[]> {
    const request = parseFindRequest(body);
    const idPages = this.resources.findPages(request);
    return request.expand ? this.expanded(request.level, idPages) : idPages;
  }

  private async *expanded(level: ResourceLevel, idPages: AsyncIterable<string[]>): AsyncGenerator<unknown[]> {
    for await (const ids of idPages) yield* this.browse.expandedPages(level, ids);
  }

  /** The resources whose PatientID, StudyInstanceUID, SeriesInstanceUID or SOPInstanceUID is the body. */
  async lookup(body: Buffer | undefined): Promise<{ ID: string; Path: string; Type: string }[]> {
    // Surrounding whitespace (`echo`'s newline) is not part of an identifier.
    const value = (body?.toString('utf8') ?? '').trim();
    if (value === '') throw OrthancError.badRequest('The body must be the DICOM identifier to look up (PatientID or a UID)');
    const found = await this.resources.lookup(value);
    return found.map(({ level, id }) => ({ ID: id, Path: `/${LEVEL_PATH[level]}/${id}`, Type: level }));
  }
}
