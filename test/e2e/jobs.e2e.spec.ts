import { rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as dcmjs from 'dcmjs';
import type { AppConfig } from '@deidflow/config';
import { processInstanceJobId, QueueName } from '@deidflow/queue';
import { objectKeyForInstance } from '@deidflow/storage';
import { generateSyntheticStudy, SyntheticInstance, SyntheticStudyOptions } from '../../libs/dicom/src/synthetic';
import { resetDatabase, RunningApi, startApi, testConfig } from '../support/app-harness';
import { http } from '../support/http';
import { parseMetrics } from '../support/prometheus';
import { ensureWorkerBuild, killAllWorkers, startWorker, workerEnvironment, WorkerProcess } from '../support/worker-process';
import { deleteRedisKeys, withRedis } from '../setup/services';

/**
 * The distributed jobs end to end: the API (EMBEDDED_WORKER=false) hands the work to separate
 * worker processes started from dist/, over the real Postgres, Redis and fs storage. The tests run
 * in order: first with no worker (jobs wait, so cancel/pause are deterministic), then with one
 * worker at concurrency 1 (priority order), then with two, and last one of them is killed.
 */

// Its own queue prefix: no other test file's embedded worker may take these jobs.
const QUEUE_PREFIX = `${process.env.QUEUE_PREFIX ?? 'deidflow-test'}-jobs`;
// Smaller than every job here but the smallest: each is queued a window at a time, refilled by the workers.
const QUEUE_WINDOW = 16;
// Room for two windows and a half across all jobs: past it, jobs wait their turn.
const QUEUE_ROOM = 40;
const SMALL = { imageSize: 32 } as const;
const JOB_TIMEOUT_MS = 30_000;
// A SIGKILLed worker's jobs stay locked for BullMQ's lockDuration (30 s), then wait for the next
// stalled check of a surviving worker (stalledInterval, 30 s).
const STALLED_RECOVERY_TIMEOUT_MS = 100_000;

interface Uploaded {
  instance: SyntheticInstance;
  id: string;
  study: string;
  patient: string;
}

interface JobAnswer {
  ID: string;
  State: string;
  Progress: number;
  Priority: number;
  ErrorCode: number;
  ErrorDetails: string;
  CreationTime: string;
  CompletionTime?: string;
  EffectiveRuntime: number;
  Content: { ID?: string; InstancesCount: number; FailedInstancesCount: number; Resources?: { ID: string; Type: string }[] };
}

interface OutputTags {
  sopInstanceUid: string;
  referencedSopInstanceUid?: string;
  frameOfReferenceUid: string;
  institutionName?: string;
}

function readTags(bytes: Buffer): OutputTags {
  const { dict } = dcmjs.data.DicomMessage.readFile(Uint8Array.from(bytes).buffer);
  const tags = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict);
  return {
    sopInstanceUid: tags.SOPInstanceUID,
    referencedSopInstanceUid: tags.ReferencedImageSequence?.[0]?.ReferencedSOPInstanceUID,
    frameOfReferenceUid: tags.FrameOfReferenceUID,
    institutionName: tags.InstitutionName,
  };
}

describe('distributed jobs with separate worker processes', () => {
  let api: RunningApi;
  let config: AppConfig;
  const workers: WorkerProcess[] = [];

  const get = async <T = any>(path: string): Promise<T> => {
    const answer = await http<T>(api.baseUrl, 'GET', path);
    if (answer.status !== 200) throw new Error(`GET ${path}: ${answer.status} ${answer.bytes.toString('utf8')}`);
    return answer.body;
  };
  const post = (path: string, body: object = {}) => http(api.baseUrl, 'POST', path, body);

  async function upload(options: SyntheticStudyOptions): Promise<Uploaded[]> {
    const instances = generateSyntheticStudy({ ...SMALL, ...options });
    const uploaded: Uploaded[] = [];
    // A few parallel connections, as a DICOM router would.
    for (let start = 0; start < instances.length; start += 8) {
      const batch = instances.slice(start, start + 8);
      const answers = await Promise.all(batch.map((instance) => http(api.baseUrl, 'POST', '/instances', Buffer.from(instance.bytes))));
      answers.forEach(({ status, body, bytes }, i) => {
        if (status !== 200) throw new Error(`Upload failed: ${status} ${bytes.toString('utf8')}`);
        uploaded.push({ instance: batch[i], id: body.ID, study: body.ParentStudy, patient: body.ParentPatient });
      });
    }
    return uploaded;
  }

  const studyOf = (set: Uploaded[], studyIndex: number) => set.filter((u) => u.instance.studyIndex === studyIndex);

  async function waitForJob(id: string, timeoutMs = JOB_TIMEOUT_MS): Promise<JobAnswer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const job = await get<JobAnswer>(`/jobs/${id}`);
      if (job.State === 'Success' || job.State === 'Failure') return job;
      if (Date.now() > deadline) {
        const logs = workers.map((w) => `--- worker ${w.pid}:\n${w.output().slice(-3000)}`).join('\n');
        throw new Error(`Job ${id} still ${job.State} (${job.Progress}%) after ${timeoutMs} ms\n${logs}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async function submitAsync(path: string, body: object = {}): Promise<string> {
    const answer = await post(path, { ...body, Asynchronous: true });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ ID: expect.any(String), Path: `/jobs/${answer.body.ID}` });
    return answer.body.ID;
  }

  async function instanceCount(): Promise<number> {
    return (await get<string[]>('/instances')).length;
  }

  /**
   * Every source has exactly one output in the new study, each output names its source in its
   * metadata (AnonymizedFrom / ModifiedFrom), and no other instance is there.
   */
  async function expectOutputs(studyId: string, sources: Uploaded[], metadataName: 'AnonymizedFrom' | 'ModifiedFrom') {
    const instances = await get<{ ID: string }[]>(`/studies/${studyId}/instances`);
    const outputIds = instances.map((i) => i.ID);
    expect(new Set(outputIds).size).toBe(outputIds.length);
    expect(outputIds).toHaveLength(sources.length);
    const sourceOf = new Map<string, Uploaded>();
    for (const id of outputIds) {
      const origin = await http(api.baseUrl, 'GET', `/instances/${id}/metadata/${metadataName}`);
      expect(origin.status).toBe(200);
      const source = sources.find((s) => s.id === origin.body);
      expect(source).toBeDefined();
      sourceOf.set(id, source!);
    }
    expect(new Set([...sourceOf.values()].map((s) => s.id)).size).toBe(sources.length);
    return sourceOf;
  }

  async function downloadTags(outputIds: Iterable<string>): Promise<Map<string, OutputTags>> {
    const tags = new Map<string, OutputTags>();
    for (const id of outputIds) {
      const file = await http(api.baseUrl, 'GET', `/instances/${id}/file`);
      expect(file.status).toBe(200);
      tags.set(id, readTags(file.bytes));
    }
    return tags;
  }

  /** Samples how many tasks the work queue holds (waiting, prioritized, active, delayed) until stopped; the most seen. */
  function sampleQueueDepth(): { stop: () => Promise<number> } {
    let sampling = true;
    let most = 0;
    const sampler = withRedis(async (redis) => {
      const key = (name: string) => `${QUEUE_PREFIX}:${QueueName.Modification}:${name}`;
      while (sampling) {
        const [prioritized, waiting, active, delayed] = await Promise.all([
          redis.zcard(key('prioritized')),
          redis.llen(key('wait')),
          redis.llen(key('active')),
          redis.zcard(key('delayed')),
        ]);
        most = Math.max(most, prioritized + waiting + active + delayed);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    });
    return {
      stop: async () => {
        sampling = false;
        await sampler;
        return most;
      },
    };
  }

  async function addWorker(concurrency: number): Promise<WorkerProcess> {
    // Short locks: a killed worker's instances go back to the queue within seconds, not 30 s.
    const worker = await startWorker(
      workerEnvironment(config, {
        WORKER_CONCURRENCY: String(concurrency),
        WORKER_LOCK_DURATION_MS: '5000',
        WORKER_STALLED_INTERVAL_MS: '2000',
        WORKER_METRICS_PORT: '0',
        QUEUE_WINDOW_PER_JOB: String(QUEUE_WINDOW),
        QUEUE_MAX_TASKS: String(QUEUE_ROOM),
      }),
    );
    workers.push(worker);
    return worker;
  }

  let main: Uploaded[];
  let control: Uploaded[];
  let bulk: Uploaded[];
  let crash: Uploaded[];
  let disposable: Uploaded[];
  let graceful: Uploaded[];
  let cohort: Uploaded[];
  /** A large asynchronous submission, canceled before any worker listed its instances. */
  let listedByWorker: string;

  beforeAll(async () => {
    ensureWorkerBuild();
    await resetDatabase();
    config = await testConfig('fs', { STORAGE_DIR: process.env.STORAGE_DIR!, QUEUE_PREFIX, EMBEDDED_WORKER: 'false',
      QUEUE_WINDOW_PER_JOB: String(QUEUE_WINDOW),
      QUEUE_MAX_TASKS: String(QUEUE_ROOM),
    });
    api = await startApi(config);
    main = await upload({ instances: 60, series: 3, seed: 11 });
    // Five studies of 10: canceled, paused, low priority, high priority, failing then resubmitted.
    control = await upload({ instances: 50, series: 2, studies: 5, patients: 5, seed: 12 });
    bulk = await upload({ instances: 12, series: 2, studies: 3, patients: 2, seed: 13 });
    crash = await upload({ instances: 200, series: 2, seed: 14 });
    disposable = await upload({ instances: 10, series: 1, seed: 15 });
    graceful = await upload({ instances: 150, series: 2, seed: 16 });
    cohort = await upload({ instances: 250, series: 2, seed: 17 });
  }, 300_000);

  afterAll(async () => {
    // SIGTERM first (graceful shutdown), then anything left is killed.
    await Promise.all(workers.map((w) => w.stop()));
    await killAllWorkers();
    await api?.close();
    await deleteRedisKeys(QUEUE_PREFIX);
  }, 60_000);

  describe('while no worker runs', () => {
    it('keeps a submitted job Pending, cancels it into Failure (CanceledJob), and refuses wrong transitions', async () => {
      const id = await submitAsync(`/studies/${studyOf(control, 0)[0].study}/anonymize`);
      expect(await get(`/jobs/${id}`)).toMatchObject({ State: 'Pending', Progress: 0, Type: 'ResourceModification' });
      expect(await get<string[]>('/jobs')).toContain(id);

      expect((await post(`/jobs/${id}/cancel`)).status).toBe(200);
      const canceled = await get<JobAnswer>(`/jobs/${id}`);
      expect(canceled).toMatchObject({ State: 'Failure', ErrorCode: 37, CompletionTime: expect.any(String) });
      // Orthanc: canceling a finished job does nothing and still answers {}.
      expect(await post(`/jobs/${id}/cancel`)).toMatchObject({ status: 200, body: {} });
      expect((await post(`/jobs/${id}/resume`)).status).toBe(400);
      expect((await post(`/jobs/${id}/pause`)).status).toBe(200);
      expect((await get<JobAnswer>(`/jobs/${id}`)).State).toBe('Failure');
    });

    it('an API shut down right after answering a submission has queued the first window of it', async () => {
      // The queue entries are added after the answer; closing waits for them (deterministically
      // checked in job-enqueuer.service.spec.ts). A second API: the other tests keep theirs.
      const answering = await startApi(config);
      const answer = await http<{ ID: string }>(answering.baseUrl, 'POST', `/studies/${crash[0].study}/anonymize`, { Asynchronous: true });
      expect(answer.status).toBe(200);
      await answering.close();
      const jobId = answer.body.ID;
      const sources = crash.map((source) => source.id).sort();
      const queued = await withRedis((redis) =>
        Promise.all(sources.map((id) => redis.exists(`${QUEUE_PREFIX}:${QueueName.Modification}:${processInstanceJobId(jobId, id, 0)}`))),
      );
      // The first QUEUE_WINDOW sources in key order; the workers queue the rest as they go.
      expect(queued).toEqual(sources.map((_, i) => (i < QUEUE_WINDOW ? 1 : 0)));
      // Canceled: no worker will do it (the crash study is used again below).
      expect((await post(`/jobs/${jobId}/cancel`)).status).toBe(200);
    });

    it('answers a large asynchronous submission before its instances are listed, which a worker does', async () => {
      // More resources than one statement of a submission takes (200): no worker runs, so none is listed yet.
      listedByWorker = await submitAsync('/tools/bulk-anonymize', { Resources: cohort.map((u) => u.id) });
      expect(await get(`/jobs/${listedByWorker}`)).toMatchObject({ State: 'Pending', Progress: 0, Content: { InstancesCount: 0 } });
      const beingListed = async () => parseMetrics((await http(api.baseUrl, 'GET', '/tools/metrics-prometheus')).body).deidflow_jobs_being_listed;
      expect(await beingListed()).toBe(1);
      // Resubmitted below, once workers run.
      expect((await post(`/jobs/${listedByWorker}/cancel`)).status).toBe(200);
      expect(await beingListed()).toBe(0); // canceled: its resubmit lists it
    });

    it('answers 404 to GET and 400 to actions on an unknown job', async () => {
      const unknown = '00000000-0000-4000-8000-000000000000';
      expect((await http(api.baseUrl, 'GET', `/jobs/${unknown}`)).status).toBe(404);
      expect((await post(`/jobs/${unknown}/pause`)).status).toBe(400);
    });
  });

  describe('with one worker at concurrency 1', () => {
    let paused: string;
    let low: string;
    let high: string;
    let failing: string;
    let removedObject: { path: string; aside: string; source: Uploaded };

    beforeAll(async () => {
      paused = await submitAsync(`/studies/${studyOf(control, 1)[0].study}/anonymize`);
      expect((await post(`/jobs/${paused}/pause`)).status).toBe(200);
      low = await submitAsync(`/studies/${studyOf(control, 2)[0].study}/anonymize`, { Priority: 0 });
      high = await submitAsync(`/studies/${studyOf(control, 3)[0].study}/anonymize`, { Priority: 10 });
      // A source object lost from storage: that instance fails for good (no retry), so does the job.
      const source = studyOf(control, 4)[3];
      const path = join(config.STORAGE_DIR, objectKeyForInstance(source.id));
      removedObject = { path, aside: `${path}.aside`, source };
      await rename(path, removedObject.aside);
      failing = await submitAsync(`/studies/${source.study}/anonymize`);
      await addWorker(1);
    }, 60_000);

    it('runs the higher priority job first, although it was submitted last', async () => {
      const [lowJob, highJob] = [await waitForJob(low), await waitForJob(high)];
      expect([lowJob.State, highJob.State]).toEqual(['Success', 'Success']);
      expect(highJob.Priority).toBe(10);
      // Orthanc timestamps sort as text; the low job started (completion - runtime) after the high one ended.
      expect(highJob.CompletionTime! < lowJob.CompletionTime!).toBe(true);
      const lowStarted = Date.parse(orthancToIso(lowJob.CompletionTime!)) - lowJob.EffectiveRuntime * 1000;
      expect(lowStarted).toBeGreaterThanOrEqual(Date.parse(orthancToIso(highJob.CompletionTime!)) - 1); // 1 ms: float rounding
      await expectOutputs(highJob.Content.ID!, studyOf(control, 3), 'AnonymizedFrom');
    });

    it('leaves a paused job alone while the worker runs, and finishes it once resumed', async () => {
      await waitForJob(failing);
      // The worker has gone past every queued instance of the paused job by now.
      expect(await get(`/jobs/${paused}`)).toMatchObject({ State: 'Paused', Progress: 0 });
      expect((await post(`/jobs/${paused}/resubmit`)).status).toBe(400);
      expect((await post(`/jobs/${paused}/resume`)).status).toBe(200);
      const job = await waitForJob(paused);
      expect(job).toMatchObject({ State: 'Success', Progress: 100, Content: { InstancesCount: 10, FailedInstancesCount: 0 } });
      await expectOutputs(job.Content.ID!, studyOf(control, 1), 'AnonymizedFrom');
    });

    it('fails a job whose source object is gone, naming the instance, and resubmits it once repaired', async () => {
      const failed = await waitForJob(failing);
      // ErrorCode: the failed instance's, UnknownResource (its source is gone).
      expect(failed).toMatchObject({ State: 'Failure', ErrorCode: 17, ErrorDescription: 'Unknown resource', Content: { InstancesCount: 10, FailedInstancesCount: 1 } });
      expect(failed.ErrorDetails).toContain(removedObject.source.id);

      await rename(removedObject.aside, removedObject.path);
      expect((await post(`/jobs/${failing}/resubmit`)).status).toBe(200);
      const job = await waitForJob(failing);
      expect(job).toMatchObject({ State: 'Success', ErrorCode: 0, Content: { InstancesCount: 10, FailedInstancesCount: 0 } });
      // Outputs of the first run are found again (same IDs), not duplicated.
      await expectOutputs(job.Content.ID!, studyOf(control, 4), 'AnonymizedFrom');
    });

    it('never ran the canceled jobs', async () => {
      const canceled = (await get<JobAnswer[]>('/jobs?expand')).filter((j) => j.ErrorCode === 37);
      expect(canceled).toHaveLength(3);
      for (const job of canceled) expect(job).toMatchObject({ State: 'Failure', Progress: 0, EffectiveRuntime: 0 });
    });
  });

  /** A worker process's own figures, from its /metrics endpoint (its port is in its log). */
  async function workerMetrics(worker: WorkerProcess): Promise<Record<string, number>> {
    const line = worker.output().split('\n').find((l) => l.includes('metrics served at /metrics'));
    const port = line ? (JSON.parse(line) as { port?: number }).port : undefined;
    if (!port) throw new Error(`No metrics port in the log of worker ${worker.pid}`);
    const answer = await http<string>(`http://127.0.0.1:${port}`, 'GET', '/metrics');
    expect(answer.status).toBe(200);
    return parseMetrics(answer.bytes.toString('utf8'));
  }

  describe('with two worker processes', () => {
    const before: Record<string, number>[] = [];
    beforeAll(async () => {
      await addWorker(2);
      for (const worker of workers) before.push(await workerMetrics(worker));
    }, 60_000);

    it.each([
      { operation: 'anonymize', synchronous: true },
      { operation: 'anonymize', synchronous: false },
      { operation: 'modify', synchronous: true },
      { operation: 'modify', synchronous: false },
    ] as const)('$operation of a study of 60 instances in 3 series (synchronous: $synchronous)', async ({ operation, synchronous }) => {
      const before = await instanceCount();
      const sourceStudy = main[0].study;
      const body = operation === 'modify' ? { Replace: { InstitutionName: 'X' } } : {};
      let newStudy: string;
      if (synchronous) {
        const answer = await post(`/studies/${sourceStudy}/${operation}`, body);
        expect(answer.status).toBe(200);
        expect(answer.body).toMatchObject({
          Type: 'Study',
          InstancesCount: 60,
          FailedInstancesCount: 0,
          IsAnonymization: operation === 'anonymize',
          Path: `/studies/${answer.body.ID}`,
        });
        newStudy = answer.body.ID;
      } else {
        const job = await waitForJob(await submitAsync(`/studies/${sourceStudy}/${operation}`, body));
        expect(job).toMatchObject({ State: 'Success', Progress: 100, Content: { Type: 'Study', InstancesCount: 60, FailedInstancesCount: 0 } });
        newStudy = job.Content.ID!;
      }
      expect(newStudy).not.toBe(sourceStudy);
      expect(await instanceCount()).toBe(before + 60);
      expect((await get(`/studies/${newStudy}`)).Series).toHaveLength(3);

      const metadataName = operation === 'anonymize' ? 'AnonymizedFrom' : 'ModifiedFrom';
      const sourceOf = await expectOutputs(newStudy, main, metadataName);
      const tags = await downloadTags(sourceOf.keys());
      const newSopOf = new Map([...sourceOf].map(([output, source]) => [source.instance.sopInstanceUid, tags.get(output)!.sopInstanceUid]));
      expect(new Set(newSopOf.values()).size).toBe(60);
      for (const [output, source] of sourceOf) {
        const { referencedSopInstanceUid, frameOfReferenceUid, institutionName } = tags.get(output)!;
        const originalReference = source.instance.referencedSopInstanceUid;
        if (operation === 'anonymize') {
          // The reference follows the referenced instance to its new SOPInstanceUID, whichever worker wrote it.
          expect(referencedSopInstanceUid).toBe(originalReference === undefined ? undefined : newSopOf.get(originalReference));
          expect(frameOfReferenceUid).not.toBe(source.instance.frameOfReferenceUid);
        } else {
          // Orthanc updates references only when anonymizing (DicomModification::Apply, step 7).
          expect(referencedSopInstanceUid).toBe(originalReference);
          expect(institutionName).toBe('X');
        }
      }
      expect(new Set([...tags.values()].map((t) => t.frameOfReferenceUid)).size).toBe(1);
    });

    it('bulk-anonymizes 3 studies of 2 patients into 3 new studies of 2 new patients', async () => {
      const studies = [...new Set(bulk.map((u) => u.study))];
      expect(studies).toHaveLength(3);
      const answer = await post('/tools/bulk-anonymize', { Resources: studies });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ InstancesCount: 12, FailedInstancesCount: 0, IsAnonymization: true });
      const resources: { ID: string; Type: string; Path: string }[] = answer.body.Resources;
      const count = (type: string) => resources.filter((r) => r.Type === type).length;
      expect([count('Patient'), count('Study'), count('Series'), count('Instance')]).toEqual([2, 3, 6, 12]);
      // Each resource once, in the order of first appearance over the outputs sorted by source ID: a
      // patient, then its study, its series, its instance.
      const outputs = [];
      for (const { ID: instance } of resources.filter((r) => r.Type === 'Instance')) {
        const source = (await http(api.baseUrl, 'GET', `/instances/${instance}/metadata/AnonymizedFrom`)).body as string;
        const series: string = (await get(`/instances/${instance}`)).ParentSeries;
        const study: string = (await get(`/series/${series}`)).ParentStudy;
        outputs.push({ source, levels: [['Patient', (await get(`/studies/${study}`)).ParentPatient], ['Study', study], ['Series', series], ['Instance', instance]] });
      }
      const firstSeen = new Map<string, string>();
      for (const { levels } of outputs.sort((a, b) => (a.source < b.source ? -1 : 1))) for (const [type, id] of levels) if (!firstSeen.has(id)) firstSeen.set(id, type);
      const paths: Record<string, string> = { Patient: 'patients', Study: 'studies', Series: 'series', Instance: 'instances' };
      expect(resources).toEqual([...firstSeen].map(([id, type]) => ({ ID: id, Path: `/${paths[type]}/${id}`, Type: type })));

      const sourcePatientsOf = new Map<string, Set<string>>();
      for (const { ID: newStudy } of resources.filter((r) => r.Type === 'Study')) {
        const sourceStudy = (await http(api.baseUrl, 'GET', `/studies/${newStudy}/metadata/AnonymizedFrom`)).body;
        const sources = bulk.filter((u) => u.study === sourceStudy);
        expect(sources).toHaveLength(4);
        await expectOutputs(newStudy, sources, 'AnonymizedFrom');
        const newPatient = (await get(`/studies/${newStudy}`)).ParentPatient;
        sourcePatientsOf.set(newPatient, (sourcePatientsOf.get(newPatient) ?? new Set()).add(sources[0].patient));
      }
      // One new patient per source patient, the same for every study of that patient in the job.
      expect([...sourcePatientsOf.values()].map((set) => set.size)).toEqual([1, 1]);
      expect(new Set([...sourcePatientsOf.values()].flatMap((set) => [...set])).size).toBe(2);
    });

    it('bulk-anonymizes 250 instances listed one by one and their 2 series: each once, whatever statement of the submission named it', async () => {
      // More resources than one statement of the submission takes (200), and every instance named
      // twice: by itself, and again through its series in a later statement.
      const series = [...new Set(await Promise.all(cohort.map(async (u) => (await get(`/instances/${u.id}`)).ParentSeries as string)))];
      expect(series).toHaveLength(2);
      // Meanwhile the queue holds a window and a half of it at most: refilled once half a window is left.
      const sampling = sampleQueueDepth();
      const answer = await post('/tools/bulk-anonymize', { Resources: [...cohort.map((u) => u.id), ...series] });
      const mostQueued = await sampling.stop();
      expect(mostQueued).toBeGreaterThan(0);
      expect(mostQueued).toBeLessThanOrEqual(1.5 * QUEUE_WINDOW + 1); // + its finalize task
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ InstancesCount: 250, FailedInstancesCount: 0 });
      const outputs = (answer.body.Resources as { Type: string }[]).filter((r) => r.Type === 'Instance');
      expect(outputs).toHaveLength(250);
    });

    it('each worker serves its own figures at /metrics: together, every instance of these jobs once', async () => {
      const after = await Promise.all(workers.map(workerMetrics));
      const delta = (name: string) => after.reduce((sum, figures, i) => sum + figures[name] - before[i][name], 0);
      expect(delta('deidflow_worker_instances_total{outcome="processed"}')).toBe(4 * 60 + 12 + 250);
      expect(delta('deidflow_worker_instances_total{outcome="failed"}')).toBe(0);
      expect(delta('deidflow_worker_instances_total{outcome="retried"}')).toBe(0);
      expect(delta('deidflow_worker_instance_seconds_count')).toBe(4 * 60 + 12 + 250);
      expect(delta('deidflow_worker_completion_batch_size_sum')).toBe(4 * 60 + 12 + 250);
      for (const figures of after) expect(figures.deidflow_worker_process_resident_memory_bytes).toBeGreaterThan(10 * 1024 * 1024);
    });
  });

  describe('many jobs submitted together', () => {
    it(`keep within the room of the queue (${QUEUE_ROOM} tasks), wait their turn and all complete`, async () => {
      const seriesOf = async (sources: Uploaded[]) => [...new Set(await Promise.all(sources.map(async (u) => (await get(`/instances/${u.id}`)).ParentSeries as string)))];
      const submissions = [
        ...(await seriesOf(main)).map((id) => ({ path: `/series/${id}/anonymize`, instances: 20 })),
        ...(await seriesOf(cohort)).map((id) => ({ path: `/series/${id}/anonymize`, instances: 125 })),
        ...[...new Set(bulk.map((u) => u.study))].map((id) => ({ path: `/studies/${id}/anonymize`, instances: 4 })),
      ];
      // Queued whole per window, these 8 jobs would take ~90 tasks at once.
      const sampling = sampleQueueDepth();
      const ids = [];
      for (const { path } of submissions) ids.push(await submitAsync(path));
      const jobs = await Promise.all(ids.map((id) => waitForJob(id)));
      const mostQueued = await sampling.stop();
      expect(mostQueued).toBeGreaterThan(0);
      expect(mostQueued).toBeLessThanOrEqual(QUEUE_ROOM + submissions.length); // + their finalize tasks
      expect(jobs.map((job) => [job.State, job.Content.InstancesCount, job.Content.FailedInstancesCount])).toEqual(
        submissions.map(({ instances }) => ['Success', instances, 0]),
      );
    });
  });

  describe('a large asynchronous submission canceled before a worker listed its instances', () => {
    it('is listed whole and runs once resubmitted', async () => {
      expect((await post(`/jobs/${listedByWorker}/resubmit`)).status).toBe(200);
      const job = await waitForJob(listedByWorker);
      expect(job).toMatchObject({ State: 'Success', Content: { InstancesCount: 250, FailedInstancesCount: 0 } });
      expect(job.Content.Resources!.filter((r) => r.Type === 'Instance')).toHaveLength(250);
    });
  });

  describe('KeepSource: false', () => {
    it('deletes the sources only once every output is stored', async () => {
      const before = await instanceCount();
      const pendingDeletions = async () => parseMetrics((await http(api.baseUrl, 'GET', '/tools/metrics-prometheus')).body).deidflow_object_deletions_pending;
      const pendingBefore = await pendingDeletions();
      const source = disposable[0].study;
      const answer = await post(`/studies/${source}/modify`, { Replace: { InstitutionName: 'Y' }, KeepSource: false });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ InstancesCount: 10, FailedInstancesCount: 0 });
      expect((await http(api.baseUrl, 'GET', `/studies/${source}`)).status).toBe(404);
      for (const { id } of disposable) expect((await http(api.baseUrl, 'GET', `/instances/${id}`)).status).toBe(404);
      expect((await get(`/studies/${answer.body.ID}/instances`)).length).toBe(10);
      expect(await instanceCount()).toBe(before);
      // Their files are gone too (patient data), and no deletion is left queued.
      const present = await Promise.all(disposable.map(({ id }) => stat(join(config.STORAGE_DIR, objectKeyForInstance(id))).then(() => id, () => null)));
      expect(present.filter(Boolean)).toEqual([]);
      expect(await pendingDeletions()).toBe(pendingBefore);
    });
  });

  describe('when a worker process is stopped (SIGTERM) in the middle of a job', () => {
    it('finishes what it holds, exits cleanly, and the job ends with every instance exactly once', async () => {
      const leaving = await addWorker(2);
      const before = await instanceCount();
      const id = await submitAsync(`/studies/${graceful[0].study}/anonymize`);
      for (const deadline = Date.now() + JOB_TIMEOUT_MS; (await get<JobAnswer>(`/jobs/${id}`)).Progress < 10; ) {
        if (Date.now() > deadline) throw new Error('The job did not reach 10%');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await leaving.stop();
      // What it held was finished while Postgres was still connected, not handed back for a retry.
      expect(leaving.output()).not.toContain('instance will be retried');
      workers.splice(workers.indexOf(leaving), 1);
      // It closed on its own (Nest re-raises SIGTERM once shut down), not by the harness's SIGKILL fallback.
      expect(leaving.exit()?.signal).not.toBe('SIGKILL');
      expect([0, null]).toContain(leaving.exit()?.code);
      const job = await waitForJob(id);
      expect(job).toMatchObject({ State: 'Success', Content: { InstancesCount: 150, FailedInstancesCount: 0 } });
      await expectOutputs(job.Content.ID!, graceful, 'AnonymizedFrom');
      expect(await instanceCount()).toBe(before + 150);
    });
  });

  describe('when a worker process is killed in the middle of a job', () => {
    it('still ends in Success with every instance exactly once', async () => {
      const before = await instanceCount();
      const id = await submitAsync(`/studies/${crash[0].study}/anonymize`);
      // Kill once the job is well under way, while both workers hold active instances.
      let progress = 0;
      for (const deadline = Date.now() + JOB_TIMEOUT_MS; progress < 15; ) {
        if (Date.now() > deadline) throw new Error(`The job did not reach 15% (at ${progress}%)`);
        await new Promise((resolve) => setTimeout(resolve, 20));
        progress = (await get<JobAnswer>(`/jobs/${id}`)).Progress;
      }
      const victim = workers[workers.length - 1];
      await victim.kill();
      const atKill = await get<JobAnswer>(`/jobs/${id}`);
      expect(atKill).toMatchObject({ State: 'Running', Content: { FailedInstancesCount: 0 } });
      expect(atKill.Progress).toBeLessThan(90);

      const job = await waitForJob(id, STALLED_RECOVERY_TIMEOUT_MS);
      expect(job).toMatchObject({ State: 'Success', Content: { InstancesCount: 200, FailedInstancesCount: 0 } });
      await expectOutputs(job.Content.ID!, crash, 'AnonymizedFrom');
      expect(await instanceCount()).toBe(before + 200);
    }, STALLED_RECOVERY_TIMEOUT_MS + 60_000);
  });
});

/** `20260101T120000.123000` → ISO 8601, for Date.parse. */
function orthancToIso(timestamp: string): string {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})/.exec(timestamp)!;
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}Z`;
}
