export * from './database.module';
export * from './prisma.service';
export * from './migrate';
export * from './repositories/resource.repository';
export * from './repositories/metadata.repository';
export * from './repositories/job.repository';
export * from './repositories/lineage.repository';
export { Prisma } from './generated/client';
export * from './errors';
