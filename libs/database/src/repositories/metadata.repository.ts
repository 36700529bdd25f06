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

  async getMany(resourceIds: string[]): Promise<Map<string, Record<string, string>>> {
    const rows = await this.prisma.resourceMetadata.findMany({ where: { resourceId: { in: resourceIds } } });
    const out = new Map<string, Record<string, string>>();
    for (const r of rows) {
      const entry = out.get(r.resourceId) ?? {};
      entry[r.name] = r.value;
      out.set(r.resourceId, entry);
    }
    return out;
  }
}
