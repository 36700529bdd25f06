import { randomUUID } from 'node:crypto';
import { loadConfig } from '@deidflow/config';
import { JobRepository, PrismaService } from '@deidflow/database';

/**
 * For a suite of repository tests: a PrismaService on the run's test database, opened before the
 * suite and closed after it. Call at the top of a describe; the getter gives the open service.
 */
export function testDatabase(): () => PrismaService {
  let prisma: PrismaService | undefined;
  beforeAll(() => {
    prisma = new PrismaService(loadConfig(process.env));
  });
  afterAll(() => prisma?.onModuleDestroy());
  return () => {
    if (!prisma) throw new Error('testDatabase(): the suite has not started');
    return prisma;
  };
}

/** A new job row with the fewest settings (a study anonymization, nothing to process yet); its ID. Tests set the columns they care about. */
export async function createBareJob(jobs: JobRepository): Promise<string> {
  const id = randomUUID();
  await jobs.create({ id, priority: 0, isAnonymization: true, request: {}, secret: 's', level: 'Study', sourceResources: [], keepSource: true, permissive: false });
  return id;
}
