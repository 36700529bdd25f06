import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSyntheticStudy } from '../../libs/dicom/src/synthetic';
import { SWEEP_MARKER } from '@deidflow/storage';
import { startS3Server } from '../setup/s3-server';
import { resetDatabase } from '../support/app-harness';
import { JobAnswer } from '../support/faults/api-client';
import { http } from '../support/http';
import { killAllChildServices, sleep } from '../support/faults/child-service';
import { withCleanup } from '../support/faults/cleanup';
import { recordFigures, writeFiguresIfAsked } from '../support/faults/figures';
import { auditJob } from '../support/faults/job-audit';
import { jobRowCounts, taggedDatabaseUrl, terminateConnections } from '../support/faults/postgres';
import { canRunPostgres, startPostgresServer } from '../support/faults/postgres-server';
import { queueEventCounts } from '../support/faults/queue-events';
import { startRedisServer } from '../support/faults/redis-server';
import { startSlowProxy } from '../support/faults/slow-proxy';
import { canMount, FILLER_NAME, mountSmallFilesystem } from '../support/faults/small-filesystem';
import { startStack, Stack } from '../support/faults/stack';
import { ensureWorkerBuild, killAllWorkers } from '../support/worker-process';

/**
 * Faults injected into the real stack while a job runs: the API (in this process, or a child
 * process where it is restarted), separate worker processes from dist/, Postgres, Redis and an
 * object store. Every scenario starts its own processes and services, injects its fault once the
 * job is under way, then compares the job's sources with its outputs through the REST API:
 * nothing lost, nothing duplicated. A worker SIGKILLed mid-job is covered by jobs.e2e.spec.ts.
 * FAULTS_REPORT=<file> writes the figures of the run (see RELIABILITY.md).
 */

// Tiny images: the cost is in the pipeline (queue, database, storage round trips), not in the pixels.
const SMALL = { imageSize: 32 } as const;
const INSTANCES = 200;
const FAULT_AT_PROGRESS = 10;
const DELETE_AT_PROGRESS = 5;
const PROGRESS_TIMEOUT_MS = 30_000;
const JOB_TIMEOUT_MS = 60_000;
// Job recovery looks for jobs that stopped moving every JOB_RECOVERY_INTERVAL_MS (3 s in these
// stacks): a stalled job is noticed after one or two periods.
const RECOVERY_TIMEOUT_MS = 60_000;
// An orchestrator's restart: SIGTERM, then SIGKILL after a grace period (docker's default: 10 s).
const API_GRACE_MS = 10_000;

interface Submitted {
  jobId: string;
  sources: string[];
  instancesBefore: number;
  startedAt: number;
}

async function upload(stack: Stack, seed: number, instances: number, series: number) {
  const upload = await stack.client.upload(generateSyntheticStudy({ ...SMALL, instances, series, seed }));
  return { ...upload, instancesBefore: (await stack.client.get<string[]>('/instances')).length };
}

async function submitStudyJob(stack: Stack, seed: number, instances = INSTANCES, series = 2): Promise<Submitted> {
  const { ids, study, instancesBefore } = await upload(stack, seed, instances, series);
  const startedAt = Date.now();
  const jobId = await stack.client.submitAsync(`/studies/${study}/anonymize`);
  return { jobId, sources: ids, instancesBefore, startedAt };
}

/** Attempts that failed and went back to the queue with backoff, and holds that expired. */
async function retries(stack: Stack): Promise<string> {
  const { delayed = 0, stalled = 0 } = await queueEventCounts(stack.config.REDIS_URL, stack.queuePrefix);
  return `${delayed} attempts retried with backoff, ${stalled} stalled`;
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** The files of an fs store, its sweep marker and a test's filler left out, with their sizes. */
async function storedFiles(root: string): Promise<{ name: string; size: number }[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile() && e.name !== SWEEP_MARKER && e.name !== FILLER_NAME);
  return Promise.all(files.map(async (e) => ({ name: e.name, size: (await stat(join(e.parentPath ?? e.path, e.name))).size })));
}

function secondsSince(start: number): number {
  return Math.round((Date.now() - start) / 100) / 10;
}

/** Success, one output per source (none lost, none duplicated), and the index grew by the number of sources. */
async function expectEveryInstanceOnce(stack: Stack, submitted: Submitted, figures: { scenario: string; faultsInjected: string; notes?: string }) {
  const audit = await auditJob(stack.client, submitted.jobId, submitted.sources);
  expect(audit.job).toMatchObject({ State: 'Success', Content: { InstancesCount: submitted.sources.length, FailedInstancesCount: 0 } });
  expect(audit.missing).toEqual([]);
  expect(audit.duplicated).toBe(0);
  expect(audit.outputs).toBe(submitted.sources.length);
  expect((await stack.client.get<string[]>('/instances')).length).toBe(submitted.instancesBefore + submitted.sources.length);
  recordFigures({
    ...figures,
    instances: submitted.sources.length,
    lost: audit.missing.length,
    duplicated: audit.duplicated,
    failedInstances: audit.job.Content.FailedInstancesCount,
    seconds: secondsSince(submitted.startedAt),
  });
}

/** Straight from Postgres: one row of each kind per source, none twice. */
async function expectOneRowOfEachPerSource(databaseUrl: string, submitted: Submitted) {
  const n = submitted.sources.length;
  expect(await jobRowCounts(databaseUrl, submitted.jobId)).toEqual({
    jobInstances: n,
    lineage: n,
    lineageOutputs: n,
    lineageSources: n,
    outputInstanceRows: n,
    instanceMetadataRows: n,
  });
}

describe('fault injection against real services', () => {
  beforeAll(async () => {
    ensureWorkerBuild();
    // No job left by an earlier suite: the stacks' dispatches and recovery would take it up too.
    await resetDatabase();
  }, 300_000);

  afterAll(async () => {
    await killAllWorkers();
    await killAllChildServices();
    writeFiguresIfAsked();
  }, 30_000);

  describe('Redis restarted during a job (a project-owned redis-server, never the shared one)', () => {
    it('with AOF, as docker-compose runs it: the job resumes, nothing lost', () =>
      withCleanup(async (defer) => {
        let redis = await startRedisServer({ appendOnly: true });
        defer(() => redis.dispose());
        const stack = await startStack({ name: 'redis-aof', redisUrl: redis.url, workers: 2, concurrency: 2 });
        defer(() => stack.stop());

        const submitted = await submitStudyJob(stack, 21);
        const atFault = await stack.client.waitForProgress(submitted.jobId, FAULT_AT_PROGRESS, PROGRESS_TIMEOUT_MS);
        await redis.kill();
        const downAt = Date.now();
        // Meanwhile the health check says what is down, and a metrics scrape answers (without the
        // queue's figures), both in bounded time: BullMQ's commands wait for Redis to come back.
        const [health, metrics] = await Promise.all([
          http(stack.baseUrl, 'GET', '/health'),
          http(stack.baseUrl, 'GET', '/tools/metrics-prometheus'),
        ]);
        await sleep(Math.max(0, 1000 - (Date.now() - downAt)));
        const downFor = Date.now() - downAt;
        redis = await startRedisServer({ appendOnly: true, port: redis.port, directory: redis.directory });
        expect(health.status).toBe(503);
        expect(health.body).toMatchObject({ error: { redis: { status: 'down' } }, info: { postgres: { status: 'up' }, storage: { status: 'up' } } });
        expect(metrics.status).toBe(200);
        expect(metrics.bytes.toString('utf8')).toMatch(/^orthanc_count_instances \d+$/m);
        expect(metrics.bytes.toString('utf8')).not.toMatch(/^deidflow_queue_tasks\{/m);
        expect(metrics.bytes.toString('utf8')).toMatch(/^deidflow_dependency_up\{service="redis"\} 0$/m);
        await stack.client.waitForEnd(submitted.jobId, JOB_TIMEOUT_MS, () => stack.diagnostics());
        await expectEveryInstanceOnce(stack, submitted, {
          scenario: 'Redis SIGKILLed and restarted with its AOF',
          faultsInjected: `1 Redis crash, down ${Math.round(downFor / 100) / 10} s (a health check and a metrics scrape meanwhile)`,
          notes: `${atFault.Progress}% done at the fault; ${await retries(stack)}`,
        });
      }), 120_000);

    it('without its data: job recovery enqueues the PENDING work again from Postgres', () =>
      withCleanup(async (defer) => {
        let redis = await startRedisServer({ appendOnly: false });
        defer(() => redis.dispose());
        const stack = await startStack({ name: 'redis-empty', redisUrl: redis.url, workers: 2, concurrency: 2 });
        defer(() => stack.stop());

        const submitted = await submitStudyJob(stack, 22);
        const atFault = await stack.client.waitForProgress(submitted.jobId, FAULT_AT_PROGRESS, PROGRESS_TIMEOUT_MS);
        await redis.dispose(); // killed, and its directory gone: a new machine
        await sleep(1000);
        redis = await startRedisServer({ appendOnly: false, port: redis.port });
        const restartedAt = Date.now();
        await stack.client.waitForEnd(submitted.jobId, RECOVERY_TIMEOUT_MS, () => stack.diagnostics());
        await expectEveryInstanceOnce(stack, submitted, {
          scenario: 'Redis restarted empty (no AOF, new directory)',
          faultsInjected: '1 loss of every Redis key, down 1 s',
          notes:
            `${atFault.Progress}% done at the fault; job ended ${secondsSince(restartedAt)} s after the restart ` +
            `(recovery period: 3 s); after the restart: ${await retries(stack)}`,
        });
      }), 150_000);
  });

  it('object store unavailable for 5 s (s3 driver): retries with backoff, the job completes', () =>
    withCleanup(async (defer) => {
      // A directory of our own: the restarted server finds the objects again.
      const directory = await mkdtemp(join(tmpdir(), 'deidflow-faults-s3-'));
      defer(() => rm(directory, { recursive: true, force: true }));
      const bucket = process.env.S3_TEST_BUCKET!;
      let s3 = await startS3Server({ directory, buckets: [bucket] });
      defer(() => s3.stop());
      const stack = await startStack({ name: 's3', s3Endpoint: s3.endpoint, workers: 2, concurrency: 2 });
      defer(() => stack.stop());

      const submitted = await submitStudyJob(stack, 23);
      const atFault = await stack.client.waitForProgress(submitted.jobId, FAULT_AT_PROGRESS, PROGRESS_TIMEOUT_MS);
      await s3.stop();
      // An upload meanwhile: a transient 503 (the client may send it again), nothing indexed.
      const [late] = generateSyntheticStudy({ ...SMALL, instances: 1, seed: 29 });
      const refused = await stack.client.post('/instances', Buffer.from(late.bytes));
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({ HttpStatus: 503, Message: 'Internal error' });
      expect(refused.body.Details).toMatch(/^S3 storage cannot \w+ .*(ECONNREFUSED|ECONNRESET)/);
      await sleep(5000);
      s3 = await startS3Server({ port: s3.port, directory, buckets: [bucket] });
      await stack.client.waitForEnd(submitted.jobId, JOB_TIMEOUT_MS, () => stack.diagnostics());
      const { delayed = 0 } = await queueEventCounts(stack.config.REDIS_URL, stack.queuePrefix);
      expect(delayed).toBeGreaterThan(0); // the outage was felt, and retried
      await expectEveryInstanceOnce(stack, submitted, {
        scenario: 'Object store (s3rver) stopped for 5 s',
        faultsInjected: '1 outage of 5 s (open connections cut)',
        notes: `${atFault.Progress}% done at the fault; an upload answered 503 meanwhile; ${await retries(stack)}`,
      });
      expect((await stack.client.post('/instances', Buffer.from(late.bytes))).body.Status).toBe('Success');
    }), 120_000);

  it('object store slow for 4 s (s3 driver; 200 ms added to every packet each way): no attempt fails, the job completes', () =>
    withCleanup(async (defer) => {
      const bucket = process.env.S3_TEST_BUCKET!;
      const s3 = await startS3Server({ buckets: [bucket] });
      defer(() => s3.stop());
      const proxy = await startSlowProxy(s3.port);
      defer(() => proxy.close());
      const stack = await startStack({ name: 's3-slow', s3Endpoint: proxy.endpoint, workers: 2, concurrency: 2 });
      defer(() => stack.stop());

      const submitted = await submitStudyJob(stack, 30);
      const atFault = await stack.client.waitForProgress(submitted.jobId, FAULT_AT_PROGRESS, PROGRESS_TIMEOUT_MS);
      proxy.setDelay(200);
      await sleep(4000);
      const slowed = await stack.client.pollJob(submitted.jobId);
      proxy.setDelay(0);
      await stack.client.waitForEnd(submitted.jobId, JOB_TIMEOUT_MS, () => stack.diagnostics());
      // Slow is not failed: below the driver's idle timeout (60 s) and the workers' locks (renewed),
      // nothing is cut, retried or taken over. A retry here would add load to a store already slow.
      const { delayed = 0, stalled = 0 } = await queueEventCounts(stack.config.REDIS_URL, stack.queuePrefix);
      expect({ delayed, stalled }).toEqual({ delayed: 0, stalled: 0 });
      expect(slowed && slowed.Progress < 100).toBe(true); // still running when the store got fast again
      await expectEveryInstanceOnce(stack, submitted, {
        scenario: 'Object store (s3rver) slow: 200 ms added to every packet each way, for 4 s',
        faultsInjected: `slow from ${atFault.Progress}% to ${slowed?.Progress}%`,
        notes: await retries(stack),
      });
    }), 120_000);

  // Needs root to mount a tmpfs (CI and these machines run as root).
  (canMount() ? it : it.skip)('fs store full during a job (a 16 MB tmpfs filled): retried, completes once space is freed', () =>
    withCleanup(async (defer) => {
      const disk = await mountSmallFilesystem(16 * 1024 * 1024);
      defer(() => disk.dispose());
      const stack = await startStack({ name: 'full-disk', storageDir: disk.directory, workers: 2, concurrency: 2 });
      defer(() => stack.stop());
      const { ids, study, instancesBefore } = await upload(stack, 27, INSTANCES, 2);
      const filled = await disk.fill();

      // An upload while the store is full: Orthanc's FullStorage, and nothing indexed.
      const [refused] = generateSyntheticStudy({ ...SMALL, instances: 1, seed: 28 });
      const answer = await stack.client.post('/instances', Buffer.from(refused.bytes));
      expect(answer.status).toBe(507);
      expect(answer.body).toMatchObject({ HttpStatus: 507, OrthancStatus: 19, Message: 'The file storage is full' });
      expect(answer.body.Details).toMatch(/ENOSPC/);
      expect((await stack.client.get<string[]>('/instances')).length).toBe(instancesBefore);

      // A job while the store is full: every write fails and is retried with backoff, nothing fails
      // yet. Freed once the attempts retried outnumber the instances (a second round has begun).
      const startedAt = Date.now();
      const jobId = await stack.client.submitAsync(`/studies/${study}/anonymize`);
      await waitFor(async () => ((await queueEventCounts(stack.config.REDIS_URL, stack.queuePrefix)).delayed ?? 0) > INSTANCES, PROGRESS_TIMEOUT_MS);
      const whileFull = await stack.client.get<JobAnswer>(`/jobs/${jobId}`);
      expect(whileFull).toMatchObject({ State: 'Running', Progress: 0, Content: { FailedInstancesCount: 0 } });
      const fullFor = secondsSince(startedAt);
      await disk.free();

      await stack.client.waitForEnd(jobId, JOB_TIMEOUT_MS, () => stack.diagnostics());
      await expectEveryInstanceOnce(stack, { jobId, sources: ids, instancesBefore, startedAt }, {
        scenario: 'fs store full (16 MB tmpfs filled to ENOSPC) when the job started, freed later',
        faultsInjected: `store full for ${fullFor} s (${Math.round(filled / 1024)} kB of filler), an upload refused meanwhile`,
        notes: `the refused upload: ${answer.status} ${answer.body.Message}; ${await retries(stack)}`,
      });
      // Every output whole: read back and compared with the digest recorded when it was written.
      const newStudy = (await stack.client.get<JobAnswer>(`/jobs/${jobId}`)).Content.ID;
      expect(await stack.client.post(`/studies/${newStudy}/verify-sha256`)).toMatchObject({
        status: 200,
        body: { InstancesCount: INSTANCES, CorruptedInstances: [], MissingInstances: [] },
      });
      // The refused upload goes through now, over the empty file its failed write left.
      expect((await stack.client.post('/instances', Buffer.from(refused.bytes))).status).toBe(200);
      // The store holds one whole file per indexed instance: no temporary, no partial or orphan file.
      const files = await storedFiles(disk.directory);
      expect(files.filter((f) => f.size === 0 || f.name.endsWith('.tmp'))).toEqual([]);
      expect(files.length).toBe((await stack.client.get<string[]>('/instances')).length);
    }), 120_000);

  it('API SIGKILLed while uploads are in flight: every upload answered before is kept, sending all again completes the set', () =>
    withCleanup(async (defer) => {
      const storageDir = await mkdtemp(join(tmpdir(), 'deidflow-faults-uploads-'));
      defer(() => rm(storageDir, { recursive: true, force: true }));
      const stack = await startStack({ name: 'upload-crash', apiProcess: true, storageDir, workers: 0, concurrency: 1 });
      defer(() => stack.stop());
      const files = generateSyntheticStudy({ ...SMALL, instances: 2 * INSTANCES, series: 4, seed: 29 }).map((i) => Buffer.from(i.bytes));
      const startedAt = Date.now();

      // Eight connections at once, as a modality or a gateway pushes; the API is killed a third of the way.
      const answered = new Map<number, string>();
      let failed = 0;
      let crash: Promise<void> | undefined;
      const queue = files.map((_, n) => n);
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
            const answer = await stack.client.post('/instances', files[n]).catch(() => undefined);
            if (answer?.status === 200) answered.set(n, answer.body.ID as string);
            else failed += 1;
            if (!crash && answered.size >= files.length / 3) crash = stack.crashApi();
          }
        }),
      );
      await crash;
      expect(failed).toBeGreaterThan(0); // the crash cut uploads short
      // Whatever was answered 200 is there after the crash.
      const indexed = new Set(await stack.client.get<string[]>('/instances'));
      const lost = [...answered.values()].filter((id) => !indexed.has(id));
      expect(lost).toEqual([]);
      const unindexedFiles = (await storedFiles(storageDir)).length - indexed.size;

      // The sender sends everything again: each is stored once, whole.
      const again = await Promise.all(files.map((file) => stack.client.post('/instances', file)));
      expect(again.filter((a) => a.status !== 200).map((a) => a.bytes.toString('utf8'))).toEqual([]);
      const ids = again.map((a) => a.body.ID as string);
      expect((await stack.client.get<string[]>('/instances')).sort()).toEqual([...new Set(ids)].sort());
      expect(new Set(ids).size).toBe(files.length);
      const study = (await stack.client.get<{ ID: string }>(`/instances/${ids[0]}/study`)).ID;
      expect(await stack.client.post(`/studies/${study}/verify-sha256`)).toMatchObject({
        status: 200,
        body: { InstancesCount: files.length, CorruptedInstances: [], MissingInstances: [] },
      });
      // One whole file per instance: no file left by a write the crash cut short, no temporary.
      const stored = await storedFiles(storageDir);
      expect(stored.filter((f) => f.size === 0 || f.name.endsWith('.tmp'))).toEqual([]);
      expect(stored.length).toBe(files.length);
      recordFigures({
        scenario: 'API SIGKILLed during uploads over 8 connections, then everything sent again',
        instances: files.length,
        faultsInjected: '1 API crash (SIGKILL) after a third of the uploads',
        lost: lost.length,
        duplicated: ids.length - new Set(ids).size,
        failedInstances: 0,
        seconds: secondsSince(startedAt),
        notes: `${answered.size} uploads answered 200, ${failed} cut short by the crash or refused while the API was down; ` +
          `${again.filter((a) => a.body.Status === 'AlreadyStored').length} of the ${files.length} sent again were already stored; ` +
          `${unindexedFiles} files written but not indexed when the API died, replaced when sent again`,
      });
    }), 120_000);

  it('worker SIGKILLed during a bulk job with KeepSource: false: every source once, then deleted with its file', () =>
    withCleanup(async (defer) => {
      const storageDir = await mkdtemp(join(tmpdir(), 'deidflow-faults-bulk-'));
      defer(() => rm(storageDir, { recursive: true, force: true }));
      const stack = await startStack({ name: 'bulk-crash', storageDir, workers: 2, concurrency: 2 });
      defer(() => stack.stop());
      const studies = await Promise.all([30, 31, 32].map((seed) => upload(stack, seed, INSTANCES / 2, 2)));
      const sources = studies.flatMap((s) => s.ids);
      const startedAt = Date.now();
      const jobId = await stack.client.submitAsync('/tools/bulk-anonymize', { Resources: studies.map((s) => s.study), KeepSource: false });
      const atFault = await stack.client.waitForProgress(jobId, 15, PROGRESS_TIMEOUT_MS);
      await stack.workers[1].kill();

      const job = await stack.client.waitForEnd(jobId, RECOVERY_TIMEOUT_MS, () => stack.diagnostics());
      expect(job).toMatchObject({ State: 'Success', Content: { InstancesCount: sources.length, FailedInstancesCount: 0 } });
      // The outputs the job lists: one per source, none twice.
      const resources = (job.Content as unknown as { Resources: { ID: string; Type: string }[] }).Resources;
      const outputs = resources.filter((r) => r.Type === 'Instance').map((r) => r.ID);
      const origins = await Promise.all(outputs.map((id) => stack.client.get<string>(`/instances/${id}/metadata/AnonymizedFrom`)));
      expect(new Set(origins).size).toBe(outputs.length);
      expect([...origins].sort()).toEqual([...sources].sort());
      // The sources are gone, their files too, and nothing is left queued: the store holds the outputs only.
      expect((await stack.client.get<string[]>('/instances')).sort()).toEqual([...outputs].sort());
      expect((await storedFiles(storageDir)).length).toBe(outputs.length);
      const metrics = await stack.client.get<string>('/tools/metrics-prometheus');
      expect(metrics).toMatch(/^deidflow_object_deletions_pending 0$/m);
      recordFigures({
        scenario: 'Worker SIGKILLed during a bulk anonymize of 3 studies with KeepSource: false',
        instances: sources.length,
        faultsInjected: `1 worker process of 2 SIGKILLed at ${atFault.Progress}%`,
        lost: sources.length - new Set(origins).size,
        duplicated: outputs.length - new Set(origins).size,
        failedInstances: job.Content.FailedInstancesCount,
        seconds: secondsSince(startedAt),
        notes: `${await retries(stack)}; every source deleted after the job's success, its file too`,
      });
    }), 150_000);

  it('Postgres connections terminated during a job: retried, completes, no duplicate row', () =>
    withCleanup(async (defer) => {
      // Only the connections of this scenario's API and workers, found by their application_name.
      const applicationName = `deidflow-faults-${process.pid}`;
      const databaseUrl = taggedDatabaseUrl(process.env.DATABASE_URL!, applicationName);
      const stack = await startStack({ name: 'postgres', databaseUrl, workers: 2, concurrency: 2 });
      defer(() => stack.stop());

      const submitted = await submitStudyJob(stack, 24);
      const atFault = await stack.client.waitForProgress(submitted.jobId, FAULT_AT_PROGRESS, PROGRESS_TIMEOUT_MS);
      let terminated = 0;
      for (let round = 0; round < 3; round += 1) {
        const now = await terminateConnections(process.env.DATABASE_URL!, applicationName);
        if (round === 0) expect(now).toBeGreaterThan(0);
        terminated += now;
        await sleep(300);
      }
      await stack.client.waitForEnd(submitted.jobId, JOB_TIMEOUT_MS, () => stack.diagnostics());
      await expectEveryInstanceOnce(stack, submitted, {
        scenario: 'Postgres connections terminated (pg_terminate_backend), 3 rounds 300 ms apart',
        faultsInjected: `${terminated} connections terminated`,
        notes:
          `${atFault.Progress}% done at the first round; ${stack.client.failedPolls} polls of GET /jobs/{id} failed ` +
          `meanwhile; ${await retries(stack)}`,
      });
      await expectOneRowOfEachPerSource(process.env.DATABASE_URL!, submitted);
    }), 120_000);

  // A private cluster: the shared one serves the other test files. Needs the server's binaries (CI and these machines have them).
  const itWithPrivatePostgres = canRunPostgres() ? it : it.skip;
  itWithPrivatePostgres('Postgres crashed and restarted during a job: calls answer 503 meanwhile, the job completes, no duplicate row', () =>
    withCleanup(async (defer) => {
      const postgres = await startPostgresServer();
      defer(() => postgres.dispose());
      const stack = await startStack({ name: 'postgres-restart', databaseUrl: postgres.url, workers: 2, concurrency: 2 });
      defer(() => stack.stop());

      const submitted = await submitStudyJob(stack, 27);
      const atFault = await stack.client.waitForProgress(submitted.jobId, FAULT_AT_PROGRESS, PROGRESS_TIMEOUT_MS);
      await postgres.crash();
      // Down: neither a read nor an upload can reach the index. An answer in Orthanc's shape, a
      // transient 503 (a client may try again), rather than a hang, a 500 or a crash.
      const downFor = 2000;
      const [late] = generateSyntheticStudy({ ...SMALL, instances: 1, seed: 28 });
      const whileDown = await Promise.all([
        stack.client.post('/tools/find', { Level: 'Instance', Query: {} }),
        stack.client.post('/instances', Buffer.from(late.bytes)),
      ]);
      const healthWhileDown = await http(stack.baseUrl, 'GET', '/health');
      await sleep(downFor);
      await postgres.restart();
      await stack.client.waitForEnd(submitted.jobId, JOB_TIMEOUT_MS, () => stack.diagnostics());
      for (const answer of whileDown) {
        expect(answer.status).toBe(503);
        expect(answer.body).toMatchObject({ HttpStatus: 503, OrthancError: 'The database is currently not available (probably a transient situation)' });
      }
      // The health check names what is down, for a monitor or an orchestrator.
      expect(healthWhileDown.status).toBe(503);
      expect(healthWhileDown.body).toMatchObject({ status: 'error', error: { postgres: { status: 'down' } } });
      expect(healthWhileDown.body.info).toMatchObject({ redis: { status: 'up' }, storage: { status: 'up' } });
      await expectEveryInstanceOnce(stack, submitted, {
        scenario: 'Postgres crashed (immediate shutdown: every backend killed, WAL recovery at restart), restarted',
        faultsInjected: `1 crash at ${atFault.Progress}%, down ${downFor / 1000} s`,
        notes: `a find and an upload answered 503 while it was down; ${await retries(stack)}`,
      });
      // The upload refused while it was down, sent again: stored whole, once.
      const again = await stack.client.post('/instances', Buffer.from(late.bytes));
      expect(again.status).toBe(200);
      expect(again.body.Status).toBe('Success');
      const file = await http(stack.baseUrl, 'GET', `/instances/${again.body.ID}/file`);
      expect(file.bytes.equals(Buffer.from(late.bytes))).toBe(true);
      await expectOneRowOfEachPerSource(postgres.url, submitted);
    }), 120_000);

  itWithPrivatePostgres('Postgres frozen during a job (accepts, never answers): calls answer 503 within their bounds, the job completes once thawed', () =>
    withCleanup(async (defer) => {
      const postgres = await startPostgresServer();
      defer(() => postgres.dispose());
      // Short bounds, so that the test waits seconds, not the defaults' minute. Frozen for longer
      // than they are: the calls and the workers' attempts give up meanwhile (the latter are retried).
      const FROZEN_FOR_MS = 10_000;
      const timeouts = { DATABASE_CONNECT_TIMEOUT_MS: '1000', DATABASE_STATEMENT_TIMEOUT_MS: '2000' };
      const stack = await startStack({ name: 'postgres-frozen', databaseUrl: postgres.url, workers: 2, concurrency: 2, env: timeouts });
      defer(() => stack.stop());

      const submitted = await submitStudyJob(stack, 29);
      const atFault = await stack.client.waitForProgress(submitted.jobId, FAULT_AT_PROGRESS, PROGRESS_TIMEOUT_MS);
      await postgres.freeze();
      const frozenAt = Date.now();
      const thawed = sleep(FROZEN_FOR_MS).then(() => postgres.thaw());
      // The same calls as with a crashed server: without the bounds they waited for as long as it stayed frozen.
      const [late] = generateSyntheticStudy({ ...SMALL, instances: 1, seed: 30 });
      const whileFrozen = await Promise.all([
        stack.client.post('/tools/find', { Level: 'Instance', Query: {} }),
        stack.client.post('/instances', Buffer.from(late.bytes)),
        http(stack.baseUrl, 'GET', '/health'),
      ]);
      const answeredAfter = Date.now() - frozenAt;
      // A scrape answers at once without the index's figures: Prometheus sees Postgres down, not the API.
      const metrics = await http(stack.baseUrl, 'GET', '/tools/metrics-prometheus');
      await thawed;
      await stack.client.waitForEnd(submitted.jobId, JOB_TIMEOUT_MS, () => stack.diagnostics());

      const [find, upload, health] = whileFrozen;
      for (const answer of [find, upload]) {
        expect(answer.status).toBe(503);
        expect(answer.body).toMatchObject({ HttpStatus: 503, OrthancError: 'The database is currently not available (probably a transient situation)' });
      }
      expect(health.status).toBe(503);
      expect(health.body).toMatchObject({ error: { postgres: { status: 'down' } } });
      expect(metrics.status).toBe(200);
      expect(metrics.bytes.toString('utf8')).toMatch(/^deidflow_dependency_up\{service="postgres"\} 0$/m);
      expect(metrics.bytes.toString('utf8')).not.toMatch(/^orthanc_count_instances /m);
      expect(metrics.bytes.toString('utf8')).toMatch(/^deidflow_api_process_resident_memory_bytes \d+$/m);
      // Bounded by the statement timeout and the driver's 5 s grace (a connection already open), not by the freeze.
      expect(answeredAfter).toBeLessThan(FROZEN_FOR_MS);
      // A timeout's answer is ambiguous: the upload's statement, sent before the driver gave up, may
      // have run once the server went on. Its file was written first, so either way sending it again
      // leaves it stored whole, once (as a client retrying a 503 does).
      const again = await stack.client.post('/instances', Buffer.from(late.bytes));
      expect(again.status).toBe(200);
      expect(['Success', 'AlreadyStored']).toContain(again.body.Status);
      const file = await http(stack.baseUrl, 'GET', `/instances/${again.body.ID}/file`);
      expect(file.bytes.equals(Buffer.from(late.bytes))).toBe(true);
      await expectEveryInstanceOnce(stack, { ...submitted, instancesBefore: submitted.instancesBefore + 1 }, {
        scenario: 'Postgres frozen (SIGSTOP to every server process: connections accepted, nothing answered), then thawed',
        faultsInjected: `1 freeze at ${atFault.Progress}%, ${FROZEN_FOR_MS / 1000} s`,
        notes: `a find, an upload and /health answered 503 after ${Math.round(answeredAfter / 100) / 10} s; ${await retries(stack)}`,
      });
      await expectOneRowOfEachPerSource(postgres.url, submitted);
    }), 120_000);

  it('API restarted while a synchronous call waits: the job goes on, its result is at /jobs/{id}', () =>
    withCleanup(async (defer) => {
      const stack = await startStack({ name: 'api-restart', apiProcess: true, workers: 1, concurrency: 1 });
      defer(() => stack.stop());
      const instances = 2 * INSTANCES; // one slow worker: the job outlasts the restart
      const { ids, study, instancesBefore } = await upload(stack, 25, instances, 2);

      const startedAt = Date.now();
      // The synchronous call (Orthanc's default): its connection drops with the API, as expected.
      const waiting = stack.client.post(`/studies/${study}/anonymize`, {}).then(
        (answer) => `answered ${answer.status}`,
        (err: Error) => `connection dropped (${(err.cause as { code?: string } | undefined)?.code ?? err.message})`,
      );
      let atRestart: JobAnswer | undefined;
      while (!atRestart) {
        atRestart = (await stack.client.get<JobAnswer[]>('/jobs?expand')).find((j) => j.Progress >= FAULT_AT_PROGRESS);
        if (!atRestart) await sleep(20);
      }
      expect(atRestart.State).toBe('Running');
      const ended = await stack.restartApi(API_GRACE_MS);
      const callOutcome = await waiting;
      // A graceful stop: the waiting call is answered (503, pointing to the job), the API exits
      // within the grace period on its own.
      expect(ended).not.toBe('SIGKILL');
      expect(callOutcome).toBe('answered 503');
      const afterRestart = await stack.client.get<JobAnswer>(`/jobs/${atRestart.ID}`);
      // The worker went on while the API was away.
      expect(afterRestart.Progress).toBeGreaterThan(atRestart.Progress);
      await stack.client.waitForEnd(atRestart.ID, JOB_TIMEOUT_MS, () => stack.diagnostics());
      await expectEveryInstanceOnce(
        stack,
        { jobId: atRestart.ID, sources: ids, instancesBefore, startedAt },
        {
          scenario: 'API restarted while a synchronous call waited',
          faultsInjected: `1 API restart (SIGTERM, ended by ${ended} after a ${API_GRACE_MS / 1000} s grace)`,
          notes:
            `job at ${atRestart.Progress}% at the restart, ${afterRestart.Progress}% (${afterRestart.State}) once the API was back; ` +
            `the waiting call: ${callOutcome}; ${await retries(stack)}`,
        },
      );
    }), 120_000);

  it('a resource deleted while a job reads it: those instances fail, named in ErrorDetails', () =>
    withCleanup(async (defer) => {
      const stack = await startStack({ name: 'delete', workers: 1, concurrency: 1 });
      defer(() => stack.stop());
      const instances = 80;
      const submitted = await submitStudyJob(stack, 26, instances, 4);
      await stack.client.waitForProgress(submitted.jobId, DELETE_AT_PROGRESS, PROGRESS_TIMEOUT_MS);
      // The series of the source processed last (in the order of their IDs): that one at least fails.
      const last = [...submitted.sources].sort().at(-1)!;
      const series = (await stack.client.get<{ ID: string }>(`/instances/${last}/series`)).ID;
      const deleted = (await stack.client.get<{ ID: string }[]>(`/series/${series}/instances`)).map((i) => i.ID);
      expect((await stack.client.delete(`/series/${series}`)).status).toBe(200);

      await stack.client.waitForEnd(submitted.jobId, JOB_TIMEOUT_MS, () => stack.diagnostics());
      const audit = await auditJob(stack.client, submitted.jobId, submitted.sources);
      const failed = audit.missing;
      expect(audit.job).toMatchObject({ State: 'Failure', Content: { InstancesCount: instances, FailedInstancesCount: failed.length } });
      expect(failed).toContain(last);
      // Only deleted sources failed, each named with the reason; every other source has one output.
      expect(failed.filter((id) => !deleted.includes(id))).toEqual([]);
      expect(audit.job.ErrorDetails).toMatch(new RegExp(`^${failed.length} of ${instances} instances failed: `));
      const unreported = failed.filter((id) => !audit.job.ErrorDetails.includes(`${id} (Source instance ${id} was deleted while the job ran)`));
      expect(unreported).toEqual([]);
      expect(audit.duplicated).toBe(0);
      expect(audit.outputs).toBe(instances - failed.length);
      // A deleted source is a permanent failure: reported at once, never retried.
      expect((await queueEventCounts(stack.config.REDIS_URL, stack.queuePrefix)).delayed ?? 0).toBe(0);
      recordFigures({
        scenario: 'A series deleted while the job read it',
        instances,
        faultsInjected: `1 series of ${deleted.length} instances deleted at ${DELETE_AT_PROGRESS}%`,
        lost: unreported.length,
        duplicated: audit.duplicated,
        failedInstances: failed.length,
        seconds: secondsSince(submitted.startedAt),
        notes: `${failed.length} not yet read: failed and named; ${deleted.length - failed.length} read before the deletion: processed`,
      });
    }), 120_000);
});
