import { randomUUID } from 'node:crypto';
import { loadConfig } from '@deidflow/config';
import { JobRepository, PrismaService } from '@deidflow/database';
import { resetDatabase } from './app-harness';

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

/**
 * For a suite of job repository tests: the run's database, reset before each test, handed to
 * `opened` (a PrismaService and a JobRepository on it) before the suite.
 */
export function onJobsDatabase(opened: (db: { prisma: PrismaService; jobs: JobRepository }) => void): void {
  const database = testDatabase();
  beforeAll(() => {
    const prisma = database();
    opened({ prisma, jobs: new JobRepository(prisma) });
  });
  beforeEach(() => resetDatabase());
}

/** A new job row with the fewest settings (a study anonymization, nothing to process yet); its ID. Tests set the columns they care about. */
export async function createBareJob(jobs: JobRepository): Promise<string> {
  const id = randomUUID();
  await jobs.create({ id, priority: 0, isAnonymization: true, request: {}, secret: 's', level: 'Study', sourceResources: [], keepSource: true, permissive: false });
  return id;
}

/** The source instance IDs of createSubmittedJob's rows, in key order (1-based). */
export const bareSourceId = (n: number) => n.toString(16).padStart(44, '0');

/**
 * A submitted job of `instances` PENDING rows (bareSourceId(1..n)), ready, its first pass started,
 * as a submission leaves it before its first dispatch; its ID.
 */
export async function createSubmittedJob(prisma: PrismaService, jobs: JobRepository, instances: number, priority = 0): Promise<string> {
  const jobId = await createBareJob(jobs);
  await prisma.$executeRawUnsafe(
    `INSERT INTO job_instances (job_id, source_instance_id) SELECT $1::uuid, lpad(to_hex(g), 44, '0') FROM generate_series(1, $2::int) g`,
    jobId,
    instances,
  );
  await prisma.$executeRawUnsafe('UPDATE jobs SET instances_count = $2, ready = true, priority = $3 WHERE id = $1::uuid', jobId, instances, priority);
  await jobs.restartQueuePasses([jobId]);
  return jobId;
}
