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
}
