import { Injectable } from '@nestjs/common';
import { PrismaService } from '../prisma.service';

/** Orthanc-style metadata of any resource (AnonymizedFrom, ModifiedFrom, ...). */
@Injectable()
export class MetadataRepository {
  constructor(private readonly prisma: PrismaService) {}

  async get(resourceId: string): Promise<Record<string, string>> {
    const rows = await this.prisma.resourceMetadata.findMany({ where: { resourceId }, orderBy: { name: 'asc' } });
    return Object.fromEntries(rows.map((r) => [r.name, r.value]));
  }

  /** get() of many resources in one query: resource ID → its metadata ({} when it has none). */
  async getMany(resourceIds: readonly string[]): Promise<Map<string, Record<string, string>>> {
    const rows = await this.prisma.resourceMetadata.findMany({ where: { resourceId: { in: [...resourceIds] } }, orderBy: { name: 'asc' } });
    const metadata = new Map<string, Record<string, string>>(resourceIds.map((id) => [id, {}]));
    for (const r of rows) {
      const own = metadata.get(r.resourceId);
      if (own) own[r.name] = r.value;
    }
    return metadata;
  }
}
