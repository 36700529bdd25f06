import { loadConfig } from '@deidflow/config';
import { PrismaService } from '@deidflow/database';

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
