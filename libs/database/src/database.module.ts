import { Global, Module } from '@nestjs/common';
import { PrismaService } from './prisma.service';
import { ResourceRepository } from './repositories/resource.repository';
import { MetadataRepository } from './repositories/metadata.repository';
import { JobRepository } from './repositories/job.repository';
import { LineageRepository } from './repositories/lineage.repository';
import { ObjectDeletionRepository } from './repositories/object-deletion.repository';
import { ChangeRepository } from './repositories/change.repository';
import { LabelRepository } from './repositories/label.repository';
import { ModalityRepository } from './repositories/modality.repository';

const REPOSITORIES = [ResourceRepository, MetadataRepository, JobRepository, LineageRepository, ObjectDeletionRepository, ChangeRepository, LabelRepository, ModalityRepository];

@Global()
@Module({
  providers: [PrismaService, ...REPOSITORIES],
  exports: [PrismaService, ...REPOSITORIES],
})
export class DatabaseModule {}
