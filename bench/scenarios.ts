import { mkdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import { objectKeyForInstance } from '../libs/storage/src/object-key';
import { BulkDataset, LARGE_IMAGE_SIZE, MainStudy } from './dataset';
import { expectSuccess, forEachConcurrently, HttpClient } from './http-client';
import type { BenchOptions, ScenarioNumber } from './options';
import type { ProcessMonitor, WindowUsage } from './process-monitor';
import { HeapProfileSummary, summarizeHeapProfile } from './heap-profile-summary';
import { ProfileSummary, summarizeProfile } from './profile-summary';
import type { ProfileKind } from './profiler';
import type { BenchStack } from './stack';
import { elapsedMs, percentile, Spread, spread } from './stats';

export interface ScenarioResult {
  scenario: ScenarioNumber;
  title: string;
  /** Each figure over the repetitions. */
  metrics: Record<string, Spread>;
  /** What every process used, one entry per measured repetition. */
  usage: WindowUsage[];
  notes: string[];
  profiles?: ProfileSummary[];
  /** --heap-prof (scenario 2): what each process allocated in one more repetition. */
  heapProfiles?: HeapProfileSummary[];
  /** Scenario 6: VmRSS (MB) of each process when the job passed 25/50/75/100% progress. */
  rssByProgress?: Record<string, Record<string, number>>;
}

export interface ScenarioContext {
  stack: BenchStack;
  options: BenchOptions;
  monitor: ProcessMonitor;
  study: MainStudy;
  /** Only scenarios 6 and 9 need it; prepared (and cached on disk) on first use. */
  bulkDataset: () => Promise<BulkDataset>;
  /** Scenario 10's study of large images, prepared (and cached on disk) on first use. */
  largeDataset: () => Promise<BulkDataset>;
  log: (message: string) => void;
  /** The main study once uploaded (by scenario 1, or by the first scenario that needs it). */
  uploaded?: UploadedStudy;
  /** Set once a job ran on the current worker processes: their code is compiled, pools are open. */
  workersWarm?: boolean;
  /**
   * Fills the memory freed since the start with page cache again (a no-op without the fill):
   * before each bulk job, once its sources are uploaded (run.ts).
   */
  refillPageCache: () => Promise<void>;
}

interface UploadAnswer {
  ID: string;
  Status: string;
  ParentStudy: string;
}

interface JobAnswer {
  State: string;
  Progress: number;
  ErrorDetails: string;
  Content: { ID?: string; InstancesCount: number; FailedInstancesCount: number; Resources?: { ID: string; Type: string }[] };
}

interface JobOutput {
  ID: string;
  FailedInstancesCount?: number;
}

const JOB_POLL_MS = 50;
const BULK_POLL_MS = 250;
const INSTANCE_WARM_UP_CALLS = 50;
const MB = 1e6;

/** The main study, as the API knows it once uploaded. */
export interface UploadedStudy {
  studyId: string;
  instanceIds: string[];
}

async function uploadFile(http: HttpClient, file: Buffer): Promise<UploadAnswer> {
  const answer = await http.send('POST', '/instances', file, 'application/dicom');
  expectSuccess('POST', '/instances', answer);
  return JSON.parse(answer.body.toString('utf8')) as UploadAnswer;
}

async function uploadStudy(ctx: ScenarioContext): Promise<UploadedStudy> {
  const answers: UploadAnswer[] = new Array(ctx.study.files.length);
  await forEachConcurrently(ctx.study.files, ctx.options.uploadConcurrency, async (file, index) => {
    answers[index] = await uploadFile(ctx.stack.http, file);
  });
  const studies = new Set(answers.map((a) => a.ParentStudy));
  const stored = answers.filter((a) => a.Status === 'Success').length;
  if (studies.size !== 1 || stored !== answers.length) {
    throw new Error(`Upload: expected ${answers.length} new instances of one study, got ${stored} new in ${studies.size} studies`);
  }
  return { studyId: answers[0].ParentStudy, instanceIds: answers.map((a) => a.ID) };
}

/** The main study, uploaded once (untimed) when scenario 1 did not run. */
async function mainStudy(ctx: ScenarioContext): Promise<UploadedStudy> {
  if (!ctx.uploaded) {
    ctx.log('  uploading the study (setup, not measured)');
    ctx.uploaded = await uploadStudy(ctx);
  }
  return ctx.uploaded;
}

async function measured<T>(ctx: ScenarioContext, work: () => Promise<T>): Promise<{ value: T; ms: number; usage: WindowUsage }> {
  const window = ctx.monitor.begin();
  const start = process.hrtime.bigint();
  const value = await work();
  const ms = elapsedMs(start);
  return { value, ms, usage: ctx.monitor.end(window) };
}

function throughput(instances: number, bytes: number, msValues: number[]): Record<string, Spread> {
  return {
    instancesPerSecond: spread(msValues.map((ms) => instances / (ms / 1000))),
    megabytesPerSecond: spread(msValues.map((ms) => bytes / MB / (ms / 1000))),
    seconds: spread(msValues.map((ms) => ms / 1000)),
  };
}

async function waitForJob(http: HttpClient, jobId: string, pollMs: number, onProgress?: (progress: number) => void): Promise<JobAnswer> {
  for (;;) {
    const job = await http.json<JobAnswer>('GET', `/jobs/${jobId}`);
    onProgress?.(job.Progress);
    if (job.State === 'Success') return job;
    if (job.State === 'Failure') throw new Error(`Job ${jobId} failed: ${job.ErrorDetails}`);
    await sleep(pollMs);
  }
}

/** Untimed check that a job's output study is complete, then its removal (the next repetition starts alike). */
async function checkAndDeleteOutputStudy(ctx: ScenarioContext, outputStudyId: string, expected: number): Promise<void> {
  const instances = await ctx.stack.http.json<unknown[]>('GET', `/studies/${outputStudyId}/instances`);
  if (instances.length !== expected) throw new Error(`Output study ${outputStudyId} has ${instances.length} instances, ${expected} expected`);
  await ctx.stack.http.json('DELETE', `/studies/${outputStudyId}`);
}

type StudyOperation = { path: 'anonymize' | 'modify'; body: Record<string, unknown> };
const ANONYMIZE: StudyOperation = { path: 'anonymize', body: {} };
const MODIFY: StudyOperation = { path: 'modify', body: { Replace: { InstitutionName: 'X' } } };

/** One synchronous study job on the main study, timed from the request to the answer. */
async function synchronousStudyJob(ctx: ScenarioContext, operation: StudyOperation): Promise<{ ms: number; usage: WindowUsage }> {
  const { studyId, instanceIds } = await mainStudy(ctx);
  return synchronousJobOn(ctx, studyId, instanceIds.length, operation);
}

/** One synchronous study job on `studyId` (of `instances` instances), checked, its output deleted. */
async function synchronousJobOn(ctx: ScenarioContext, studyId: string, instances: number, operation: StudyOperation): Promise<{ ms: number; usage: WindowUsage }> {
  const { value: output, ms, usage } = await measured(ctx, () =>
    ctx.stack.http.json<JobOutput>('POST', `/studies/${studyId}/${operation.path}`, operation.body),
  );
  if (output.FailedInstancesCount) throw new Error(`${output.FailedInstancesCount} instances failed`);
  await checkAndDeleteOutputStudy(ctx, output.ID, instances);
  return { ms, usage };
}

/**
 * One untimed job on workers that did not run any yet: the figures describe a running service, and
 * the first job after start (JIT compilation, connection pools) is reported in a note instead.
 */
async function warmUpWorkers(ctx: ScenarioContext, notes: string[]): Promise<void> {
  if (ctx.workersWarm) return;
  const { ms } = await synchronousStudyJob(ctx, ANONYMIZE);
  ctx.workersWarm = true;
  const workers = ctx.stack.workers.length;
  notes.push(`warm-up: the first study anonymize after ${workers === 1 ? 'the worker' : `the ${workers} workers`} started took ${(ms / 1000).toFixed(2)} s (not counted)`);
  ctx.log(`  warm-up job: ${(ms / 1000).toFixed(2)} s`);
}

async function repeatStudyJob(ctx: ScenarioContext, operation: StudyOperation): Promise<{ ms: number[]; usage: WindowUsage[] }> {
  return repeatJob(ctx, () => synchronousStudyJob(ctx, operation));
}

/** `job`, --reps times: each repetition's time and usage, logged as it goes. */
async function repeatJob(ctx: ScenarioContext, job: () => Promise<{ ms: number; usage: WindowUsage }>): Promise<{ ms: number[]; usage: WindowUsage[] }> {
  const ms: number[] = [];
  const usage: WindowUsage[] = [];
  for (let rep = 1; rep <= ctx.options.reps; rep++) {
    const run = await job();
    ms.push(run.ms);
    usage.push(run.usage);
    ctx.log(`  rep ${rep}: ${(run.ms / 1000).toFixed(2)} s`);
  }
  return { ms, usage };
}

async function uploadScenario(ctx: ScenarioContext): Promise<ScenarioResult> {
  const ms: number[] = [];
  const usage: WindowUsage[] = [];
  for (let rep = 1; rep <= ctx.options.reps; rep++) {
    if (ctx.uploaded) {
      await ctx.stack.http.json('DELETE', `/studies/${ctx.uploaded.studyId}`);
      ctx.uploaded = undefined;
    }
    const run = await measured(ctx, () => uploadStudy(ctx));
    ctx.uploaded = run.value;
    ms.push(run.ms);
    usage.push(run.usage);
    ctx.log(`  rep ${rep}: ${(run.ms / 1000).toFixed(2)} s`);
  }
  const result: ScenarioResult = {
    scenario: 1,
    title: `upload ${ctx.study.files.length} instances (POST /instances, ${ctx.options.uploadConcurrency} connections)`,
    metrics: throughput(ctx.study.files.length, ctx.study.bytes, ms),
    usage,
    notes: ['each repetition deletes the study first (not measured), so every upload stores new instances'],
  };
  if (ctx.options.cpuProf) {
    await ctx.stack.http.json('DELETE', `/studies/${ctx.uploaded!.studyId}`);
    result.profiles = await profiled(ctx, 'scenario1', async () => (ctx.uploaded = await uploadStudy(ctx)));
    result.notes.push('profiled in one more repetition (not counted above)');
  }
  return result;
}

async function anonymizeSyncScenario(ctx: ScenarioContext): Promise<ScenarioResult> {
  const notes: string[] = [];
  await warmUpWorkers(ctx, notes);
  const { ms, usage } = await repeatStudyJob(ctx, ANONYMIZE);
  const result: ScenarioResult = {
    scenario: 2,
    title: `study anonymize {} synchronous, ${ctx.study.files.length} instances, ${ctx.stack.workers.length} worker`,
    metrics: throughput(ctx.study.files.length, ctx.study.bytes, ms),
    usage,
    notes,
  };
  if (ctx.options.cpuProf) {
    // A separate repetition: the profiler's overhead stays out of the figures above.
    let ms = 0;
    result.profiles = await profiled(ctx, 'scenario2', async () => (ms = (await synchronousStudyJob(ctx, ANONYMIZE)).ms));
    result.notes.push(`profiled in one more repetition (${(ms / 1000).toFixed(2)} s under the profiler, not counted above)`);
  }
  if (ctx.options.heapProf) {
    // The job only: the check and the removal of its output (GET, DELETE) stay out of the profile.
    const { studyId, instanceIds } = await mainStudy(ctx);
    let output: JobOutput | undefined;
    const files = await profileFiles(ctx, 'heap', 'scenario2', async () => {
      output = await ctx.stack.http.json<JobOutput>('POST', `/studies/${studyId}/${ANONYMIZE.path}`, ANONYMIZE.body);
    });
    await checkAndDeleteOutputStudy(ctx, output!.ID, instanceIds.length);
    result.heapProfiles = Object.values(files).map((file) => summarizeHeapProfile(file, instanceIds.length));
    result.notes.push('allocations sampled in one more repetition, from the request to the answer (not counted above)');
  }
  return result;
}

async function anonymizeAsyncScenario(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { studyId, instanceIds } = await mainStudy(ctx);
  const notes = [`timed from the POST to the first GET /jobs/{id} that reads Success (resolution ${JOB_POLL_MS} ms)`];
  await warmUpWorkers(ctx, notes);
  const ms: number[] = [];
  const submitMs: number[] = [];
  const usage: WindowUsage[] = [];
  for (let rep = 1; rep <= ctx.options.reps; rep++) {
    let submitted = 0;
    const run = await measured(ctx, async () => {
      const start = process.hrtime.bigint();
      const { ID } = await ctx.stack.http.json<{ ID: string }>('POST', `/studies/${studyId}/anonymize`, { Asynchronous: true });
      submitted = elapsedMs(start);
      return waitForJob(ctx.stack.http, ID, JOB_POLL_MS);
    });
    if (run.value.Content.FailedInstancesCount) throw new Error(`${run.value.Content.FailedInstancesCount} instances failed`);
    await checkAndDeleteOutputStudy(ctx, run.value.Content.ID!, instanceIds.length);
    ms.push(run.ms);
    submitMs.push(submitted);
    usage.push(run.usage);
    ctx.log(`  rep ${rep}: ${(run.ms / 1000).toFixed(2)} s (answer with the job ID after ${submitted.toFixed(0)} ms)`);
  }
  return {
    scenario: 3,
    title: `study anonymize {} asynchronous + polling GET /jobs/{id} every ${JOB_POLL_MS} ms`,
    metrics: { ...throughput(ctx.study.files.length, ctx.study.bytes, ms), submitMs: spread(submitMs) },
    usage,
    notes,
  };
}

async function modifyScenario(ctx: ScenarioContext): Promise<ScenarioResult> {
  const notes: string[] = [];
  await warmUpWorkers(ctx, notes);
  const { ms, usage } = await repeatStudyJob(ctx, MODIFY);
  return {
    scenario: 4,
    title: `study modify {"Replace":{"InstitutionName":"X"}} synchronous, ${ctx.study.files.length} instances`,
    metrics: throughput(ctx.study.files.length, ctx.study.bytes, ms),
    usage,
    notes,
  };
}

/** Latency percentiles (ms) of `calls` sequential calls. */
async function sequentialLatencies(calls: number, call: (index: number) => Promise<void>): Promise<{ p50: number; p95: number; p99: number; mean: number }> {
  const latencies: number[] = [];
  for (let i = 0; i < calls; i++) {
    const start = process.hrtime.bigint();
    await call(i);
    latencies.push(elapsedMs(start));
  }
  latencies.sort((a, b) => a - b);
  const mean = latencies.reduce((sum, v) => sum + v, 0) / latencies.length;
  return { p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99), mean };
}

async function instanceAnonymizeScenario(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { instanceIds } = await mainStudy(ctx);
  const fileCall = (method: string, suffix: string, body?: string) => async (index: number) => {
    const path = `/instances/${instanceIds[index % instanceIds.length]}/${suffix}`;
    const answer = await ctx.stack.http.download(method, path, body);
    expectSuccess(method, path, answer);
    if (answer.body.subarray(128, 132).toString('latin1') !== 'DICM') throw new Error(`${path} did not answer a DICOM file`);
  };
  const anonymize = fileCall('POST', 'anonymize', '{}');
  const download = fileCall('GET', 'file');
  for (let i = 0; i < INSTANCE_WARM_UP_CALLS; i++) {
    await anonymize(i);
    await download(i);
  }
  const figures: Record<string, number[]> = { p50Ms: [], p95Ms: [], p99Ms: [], meanMs: [], fileP50Ms: [], fileP99Ms: [] };
  const usage: WindowUsage[] = [];
  for (let rep = 1; rep <= ctx.options.reps; rep++) {
    const run = await measured(ctx, () => sequentialLatencies(ctx.options.instanceCalls, anonymize));
    const floor = await sequentialLatencies(ctx.options.instanceCalls, download);
    figures.p50Ms.push(run.value.p50);
    figures.p95Ms.push(run.value.p95);
    figures.p99Ms.push(run.value.p99);
    figures.meanMs.push(run.value.mean);
    figures.fileP50Ms.push(floor.p50);
    figures.fileP99Ms.push(floor.p99);
    usage.push(run.usage);
    ctx.log(`  rep ${rep}: p50 ${run.value.p50.toFixed(2)} ms, p99 ${run.value.p99.toFixed(2)} ms (GET /file p50 ${floor.p50.toFixed(2)} ms)`);
  }
  const result: ScenarioResult = {
    scenario: 5,
    title: `${ctx.options.instanceCalls} sequential POST /instances/{id}/anonymize {} (file in the answer)`,
    metrics: Object.fromEntries(Object.entries(figures).map(([name, values]) => [name, spread(values)])),
    usage,
    notes: [
      `after ${INSTANCE_WARM_UP_CALLS} warm-up calls; latency = request sent to last byte of the ~527 kB answer received`,
      `floor: the same number of sequential GET /instances/{id}/file (the same bytes out, no DICOM work), right after each repetition`,
    ],
  };
  if (ctx.options.cpuProf) {
    result.profiles = await profiled(ctx, 'scenario5', () => sequentialLatencies(ctx.options.instanceCalls, anonymize));
    result.notes.push('profiled in one more repetition (not counted above)');
  }
  return result;
}

/** One extra, uncounted run of `work` under the CPU profiler of every API and worker process. */
async function profiled(ctx: ScenarioContext, label: string, work: () => Promise<unknown>): Promise<ProfileSummary[]> {
  const files = await profileFiles(ctx, 'cpu', label, work);
  return Object.values(files).map((file) => summarizeProfile(file, 15));
}

/** Runs `work` under one kind of profiler in every process of the stack; the profile files by process name. */
async function profileFiles(ctx: ScenarioContext, kind: ProfileKind, label: string, work: () => Promise<unknown>): Promise<Record<string, string>> {
  const directory = `${ctx.options.resultsDir}/profiles`;
  await mkdir(directory, { recursive: true });
  await ctx.stack.startProfiling(kind);
  await work();
  return ctx.stack.stopProfiling(kind, directory, label);
}

async function uploadBulkStudies(ctx: ScenarioContext, dataset: BulkDataset): Promise<string[]> {
  const studyIds: string[] = [];
  const start = process.hrtime.bigint();
  for (const files of dataset.studies) {
    const answers: UploadAnswer[] = [];
    await forEachConcurrently(files, ctx.options.uploadConcurrency, async (file) => {
      answers.push(await uploadFile(ctx.stack.http, await readFile(file)));
    });
    studyIds.push(answers[0].ParentStudy);
  }
  const instances = dataset.studies.reduce((sum, files) => sum + files.length, 0);
  ctx.log(`  uploaded ${instances} instances in ${(elapsedMs(start) / 1000).toFixed(0)} s (setup, not measured)`);
  return studyIds;
}

/** VmRSS of each process when the job first reached each quarter of its progress. */
function rssByProgress(usage: WindowUsage): Record<string, Record<string, number>> {
  const byQuarter: Record<string, Record<string, number>> = {};
  for (const quarter of [25, 50, 75, 100]) {
    const sample = usage.rssTimeline?.find((s) => (s.progress ?? 0) >= quarter);
    if (sample) byQuarter[`${quarter}%`] = sample.rssMb;
  }
  return byQuarter;
}

/**
 * Redis' used_memory every 200 ms while a job runs; stop() gives its peak above the value at the
 * start, in MB: what the jobs' queue entries took (QUEUE_WINDOW_PER_JOB and QUEUE_MAX_TASKS bound it).
 */
function redisMemorySampler(url: string): { started: Promise<void>; stop: () => Promise<number> } {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
  let baseline = 0;
  let peak = 0;
  let sampling = true;
  const started = usedMemory().then((bytes) => void (baseline = peak = bytes));
  const loop = started.then(async () => {
    while (sampling) {
      peak = Math.max(peak, await usedMemory());
      await sleep(200);
    }
  });
  return {
    started,
    async stop() {
      sampling = false;
      await loop;
      redis.disconnect();
      return (peak - baseline) / (1024 * 1024);
    },
  };
}

/** How scenarios 6 and 9 submit the bulk dataset's studies: one bulk job, or a job per study. */
interface BulkSubmission {
  scenario: 6 | 9;
  title: (studies: number, perStudy: number, instances: number) => string;
  /** Submits the studies asynchronously; the IDs of the jobs. */
  submit: (ctx: ScenarioContext, studyIds: string[]) => Promise<string[]>;
  /** Deletes the outputs of a finished job (the next repetition starts alike). */
  deleteOutputs: (ctx: ScenarioContext, job: JobAnswer) => Promise<void>;
}

const ONE_BULK_JOB: BulkSubmission = {
  scenario: 6,
  title: (studies, perStudy, instances) => `bulk anonymize ${studies} studies x ${perStudy} = ${instances} instances (asynchronous, polled every ${BULK_POLL_MS} ms)`,
  submit: async (ctx, studyIds) => [(await ctx.stack.http.json<{ ID: string }>('POST', '/tools/bulk-anonymize', { Resources: studyIds, Asynchronous: true })).ID],
  deleteOutputs: async (ctx, job) => {
    for (const patient of (job.Content.Resources ?? []).filter((r) => r.Type === 'Patient')) await ctx.stack.http.json('DELETE', `/patients/${patient.ID}`);
  },
};

const A_JOB_PER_STUDY: BulkSubmission = {
  scenario: 9,
  title: (studies, perStudy, instances) =>
    `${studies} study anonymize jobs of ${perStudy} submitted together = ${instances} instances (asynchronous, polled every ${BULK_POLL_MS} ms)`,
  submit: async (ctx, studyIds) => {
    const ids: string[] = [];
    for (const studyId of studyIds) ids.push((await ctx.stack.http.json<{ ID: string }>('POST', `/studies/${studyId}/anonymize`, { Asynchronous: true })).ID);
    return ids;
  },
  deleteOutputs: async (ctx, job) => void (await ctx.stack.http.json('DELETE', `/studies/${job.Content.ID}`)),
};

/** Every job of `ids` finished (Success); progress is their mean. */
async function waitForJobs(http: HttpClient, ids: string[], onProgress: (progress: number) => void): Promise<JobAnswer[]> {
  const progress = new Map(ids.map((id) => [id, 0]));
  const report = () => onProgress([...progress.values()].reduce((a, b) => a + b, 0) / ids.length);
  const jobs: JobAnswer[] = [];
  for (const id of ids) {
    jobs.push(await waitForJob(http, id, BULK_POLL_MS, (p) => (progress.set(id, p), report())));
    progress.set(id, 100);
  }
  return jobs;
}

const bulkScenario = (ctx: ScenarioContext) => bulkDatasetScenario(ctx, ONE_BULK_JOB);
const studyJobsScenario = (ctx: ScenarioContext) => bulkDatasetScenario(ctx, A_JOB_PER_STUDY);

async function bulkDatasetScenario(ctx: ScenarioContext, how: BulkSubmission): Promise<ScenarioResult> {
  const notes = [
    `instances/s over the whole ${how.scenario === 6 ? 'job' : 'set of jobs'}: from the first POST to the first GET /jobs/{id} that reads Success (of the last job)`,
    'tail after 99%: from the first poll with Progress >= 99 to Success: the last 1% of the instances, then the finalize step',
  ];
  await warmUpWorkers(ctx, notes);
  const dataset = await ctx.bulkDataset();
  const instances = dataset.studies.reduce((sum, files) => sum + files.length, 0);
  const studyIds = await uploadBulkStudies(ctx, dataset);
  const ms: number[] = [];
  const submitMs: number[] = [];
  const tailSeconds: number[] = [];
  const usage: WindowUsage[] = [];
  const redisPeakMb: number[] = [];
  const bulkJob = async (): Promise<{ ms: number; submitMs: number; usage: WindowUsage }> => {
    await ctx.refillPageCache();
    const redis = redisMemorySampler(ctx.options.redisUrl);
    await redis.started;
    const window = ctx.monitor.begin({ timeline: true });
    const start = process.hrtime.bigint();
    const ids = await how.submit(ctx, studyIds);
    const submitted = elapsedMs(start);
    const jobs = await waitForJobs(ctx.stack.http, ids, (progress) => (window.progress = progress));
    const ms = elapsedMs(start);
    const used = ctx.monitor.end(window);
    redisPeakMb.push(await redis.stop());
    const done = jobs.reduce((sum, job) => sum + job.Content.InstancesCount, 0);
    const failed = jobs.reduce((sum, job) => sum + job.Content.FailedInstancesCount, 0);
    if (done !== instances || failed !== 0) throw new Error(`Bulk dataset: ${done} instances (${instances} expected), ${failed} failed`);
    for (const job of jobs) await how.deleteOutputs(ctx, job);
    return { ms, submitMs: submitted, usage: used };
  };
  let profiles: ProfileSummary[] | undefined;
  try {
    for (let rep = 1; rep <= ctx.options.bulkReps; rep++) {
      const run = await bulkJob();
      ms.push(run.ms);
      submitMs.push(run.submitMs);
      usage.push(run.usage);
      const at99 = run.usage.rssTimeline?.find((sample) => (sample.progress ?? 0) >= 99);
      if (at99) tailSeconds.push(run.usage.wallSeconds - at99.seconds);
      ctx.log(`  rep ${rep}: submitted in ${run.submitMs.toFixed(0)} ms, done in ${(run.ms / 1000).toFixed(1)} s`);
    }
    if (ctx.options.cpuProf && how.scenario === 6) {
      // One more bulk job under the profiler, not counted: where a bulk instance's time goes, next to scenario 2's.
      let profiledMs = 0;
      profiles = await profiled(ctx, 'scenario6', async () => (profiledMs = (await bulkJob()).ms));
      notes.push(`profiled in one more bulk job (${(profiledMs / 1000).toFixed(1)} s under the profiler, not counted above)`);
    }
  } finally {
    for (const studyId of studyIds) await ctx.stack.http.json('DELETE', `/studies/${studyId}`);
  }
  return {
    scenario: how.scenario,
    title: how.title(dataset.studies.length, dataset.studies[0].length, instances),
    metrics: {
      ...throughput(instances, dataset.bytes, ms),
      submitMs: spread(submitMs),
      ...(tailSeconds.length > 0 ? { tailAfter99PercentSeconds: spread(tailSeconds) } : {}),
      peakRssApiMb: peakRss(usage, isApi),
      peakRssWorkerMb: peakRss(usage, isWorker),
      redisPeakAboveStartMb: spread(redisPeakMb),
    },
    usage,
    rssByProgress: rssByProgress(usage[usage.length - 1]),
    notes,
    ...(profiles ? { profiles } : {}),
  };
}

const isApi = (group: string) => group === 'api';
const isWorker = (group: string) => group.startsWith('worker-');

/** The highest VmRSS of the processes of the chosen groups, per measured window. */
function peakRss(usage: WindowUsage[], group: (name: string) => boolean): Spread {
  return spread(usage.map((u) => Math.max(...Object.entries(u.groups).filter(([name]) => group(name)).map(([, g]) => g.peakRssMb ?? 0))));
}

/**
 * Scenario 10 (not in the issue): scenario 2 on large files, the size of a multi-frame CT, MR or
 * tomosynthesis object (4096 x 4096 x 16 bits, 33.5 MB each), where the memory a worker holds and
 * the cost of fresh memory decide the throughput rather than the per-instance overheads.
 */
async function largeInstancesScenario(ctx: ScenarioContext): Promise<ScenarioResult> {
  const notes = [`a study of ${ctx.options.largeInstances} instances of ${LARGE_IMAGE_SIZE} x ${LARGE_IMAGE_SIZE} pixels (--large-instances N), anonymized synchronously as in scenario 2`];
  await warmUpWorkers(ctx, notes);
  const dataset = await ctx.largeDataset();
  const instances = dataset.studies[0].length;
  // The upload, measured once: a modality or a gateway sending the study (the job's repetitions reuse it).
  const upload = await measured(ctx, () => uploadBulkStudies(ctx, dataset));
  let studyId = upload.value[0];
  const api = upload.usage.groups.api;
  notes.push(
    `the upload (${ctx.options.uploadConcurrency} connections) measured once, before the job's repetitions: ${(upload.ms / 1000).toFixed(1)} s; ` +
      `API CPU ${((api.cpuSeconds * 1000) / instances).toFixed(0)} ms per instance (kernel ${((api.systemCpuSeconds * 1000) / instances).toFixed(0)}), ` +
      `the client's ${((upload.usage.harnessCpuSeconds * 1000) / instances).toFixed(0)}`,
  );
  const job = () => synchronousJobOn(ctx, studyId, instances, ANONYMIZE);
  let runs: { ms: number[]; usage: WindowUsage[] };
  const profiles: ProfileSummary[] = [];
  try {
    runs = await repeatJob(ctx, job);
    if (ctx.options.cpuProf) {
      let profiledMs = 0;
      profiles.push(...(await profiled(ctx, 'scenario10', async () => (profiledMs = (await job()).ms))));
      notes.push(`profiled in one more repetition (${(profiledMs / 1000).toFixed(2)} s under the profiler, not counted above)`);
      await ctx.stack.http.json('DELETE', `/studies/${studyId}`);
      profiles.push(...(await profiled(ctx, 'scenario10-upload', async () => ([studyId] = await uploadBulkStudies(ctx, dataset)))));
      notes.push('the upload profiled once more (not counted above)');
    }
  } finally {
    await ctx.stack.http.json('DELETE', `/studies/${studyId}`);
  }
  const uploadRate = throughput(instances, dataset.bytes, [upload.ms]);
  return {
    scenario: 10,
    title: `study anonymize {}, sync, ${instances} large instances (${(dataset.bytes / instances / MB).toFixed(1)} MB each)`,
    metrics: {
      ...throughput(instances, dataset.bytes, runs.ms),
      peakRssWorkerMb: peakRss(runs.usage, isWorker),
      uploadMegabytesPerSecond: uploadRate.megabytesPerSecond,
      uploadPeakRssApiMb: peakRss([upload.usage], isApi),
    },
    usage: runs.usage, // the CPU tables cover the job's repetitions; the upload has its own figures
    notes,
    ...(profiles.length > 0 ? { profiles } : {}),
  };
}

async function storageLimitScenario(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { instanceIds } = await mainStudy(ctx);
  const concurrency = ctx.options.workerConcurrency;
  const window = ctx.monitor.begin();
  const reps = await ctx.stack.runStorageProbe(instanceIds.map(objectKeyForInstance), concurrency, ctx.options.reps);
  const usage = ctx.monitor.end(window);
  for (const rep of reps) ctx.log(`  rep ${rep.rep}: ${(rep.ms / 1000).toFixed(2)} s`);
  const bytes = reps[0].bytes;
  return {
    scenario: 7,
    title: `storage limit: get + put of the ${instanceIds.length} objects, no DICOM work, ${concurrency} in flight (${ctx.stack.storage} driver)`,
    metrics: throughput(instanceIds.length, bytes, reps.map((r) => r.ms)),
    usage: [usage],
    notes: [
      "one process (the product's storage driver, the worker's environment); copies go, like a job's outputs, to fresh instance keys (putIfAbsent), deleted after each repetition (not measured)",
      'its CPU figures cover the whole probe process, start and deletions included',
    ],
  };
}

async function scalingScenario(ctx: ScenarioContext): Promise<ScenarioResult> {
  const notes: string[] = [];
  await warmUpWorkers(ctx, notes);
  const one = await repeatStudyJob(ctx, ANONYMIZE);
  await ctx.stack.startWorker();
  ctx.workersWarm = false;
  let two: { ms: number[]; usage: WindowUsage[] };
  try {
    await warmUpWorkers(ctx, notes);
    two = await repeatStudyJob(ctx, ANONYMIZE);
  } finally {
    await ctx.stack.stopLastWorker();
    ctx.workersWarm = true; // worker-1 ran jobs above
  }
  const n = ctx.study.files.length;
  return {
    scenario: 8,
    title: `scaling: scenario 2 with 1 and with 2 worker processes (WORKER_CONCURRENCY=${ctx.options.workerConcurrency} each)`,
    metrics: {
      oneWorkerInstancesPerSecond: spread(one.ms.map((ms) => n / (ms / 1000))),
      twoWorkersInstancesPerSecond: spread(two.ms.map((ms) => n / (ms / 1000))),
    },
    usage: [...one.usage, ...two.usage],
    notes: [...notes, 'the 1-worker repetitions run first, then the 2-worker ones (each set after its warm-up job)'],
  };
}

export const SCENARIOS: Record<ScenarioNumber, (ctx: ScenarioContext) => Promise<ScenarioResult>> = {
  1: uploadScenario,
  2: anonymizeSyncScenario,
  3: anonymizeAsyncScenario,
  4: modifyScenario,
  5: instanceAnonymizeScenario,
  6: bulkScenario,
  7: storageLimitScenario,
  8: scalingScenario,
  9: studyJobsScenario,
  10: largeInstancesScenario,
};
