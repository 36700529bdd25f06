import { Injectable } from '@nestjs/common';
import { isOrthancId, OrthancError, OrthancErrorCode } from '@deidflow/common';
import { ResourceRepository } from '@deidflow/database';
import { BrowseService } from '../resources/browse.service';

/**
 * POST /tools/bulk-delete (Orthanc 1.9.4+ BulkDelete): deletes each listed resource, whatever its
 * level, with the usual cascade to emptied parents. As in Orthanc, IDs that are unknown, or gone
 * because an earlier one of the list took them along, are skipped without error.
 */
@Injectable()
export class BulkDeleteService {
  constructor(
    private readonly resources: ResourceRepository,
    private readonly browse: BrowseService,
  ) {}

  async delete(body: unknown): Promise<void> {
    const ids = resourcesOf(body);
    const levels = await this.resources.findLevels(ids.filter(isOrthancId));
    for (const id of ids) {
      const level = levels.get(id);
      if (!level) continue;
      await this.browse.delete(level, id).catch((err: unknown) => {
        // Deleted in the meantime (by an earlier item's cascade or another client): nothing left to do.
        if (!(err instanceof OrthancError && err.code === OrthancErrorCode.UnknownResource)) throw err;
      });
    }
  }
}

/** The distinct IDs of "Resources", in sorted order (Orthanc reads them into a std::set). */
function resourcesOf(body: unknown): string[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw OrthancError.badRequest('The body must contain a JSON object');
  }
  const resources = (body as Record<string, unknown>).Resources;
  if (!Array.isArray(resources) || !resources.every((id): id is string => typeof id === 'string')) {
    throw OrthancError.badFileFormat('List of strings expected in field: Resources');
  }
  return [...new Set(resources)].sort();
}
