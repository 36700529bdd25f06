import { Global, Module } from '@nestjs/common';
import { PrismaService } from './prisma.service';
import { ResourceRepository } from './repositories/resource.repository';
import { MetadataRepository } from './repositories/metadata.repository';

const REPOSITORIES = [ResourceRepository, MetadataRepository];

@Global()
@Module({
  providers: [PrismaService, ...REPOSITORIES],
  exports: [PrismaService, ...REPOSITORIES],
})
export class DatabaseModule {}
