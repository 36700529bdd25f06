import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { readdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { BufferPool } from '@deidflow/common';
import { InstanceStoreService } from '@deidflow/core';
import { generateSyntheticStudy } from '@deidflow/dicom';
import { JobEnqueuer, JobEventsService } from '@deidflow/jobs';
import { ArchiveService } from '../../apps/api/src/resources/archive.service';
import { CompletionBatcher } from '../../apps/worker/src/handlers/completion-batcher';
import { InstanceMemoryBudget } from '../../apps/worker/src/handlers/instance-memory-budget';
import { PlanCache } from '../../apps/worker/src/handlers/plan-cache';
import { resetDatabase, RunningApi, startApi, testConfig } from '../support/app-harness';
import { http } from '../support/http';
import { parseMetrics } from '../support/prometheus';

/**
 * Issue 5: memory flat as N grows. No timing here: what the API and an (embedded) worker keep in
 * memory after a job of 20 instances and after one of 200 must be the same, whatever N. The caches
 * are bounded by design (plans per job, pooled bytes); the queues drain. The 10,000-instance
 * figures (RSS at each quarter of a bulk job) are in BENCHMARKS.md.
 */
describe('what a job leaves in memory does not grow with its number of instances', () => {
  let api: RunningApi;

  beforeAll(async () => {
    await resetDatabase();
    api = await startApi(await testConfig('fs', { EMBEDDED_WORKER: 'true', WORKER_CONCURRENCY: '8' }));
  });
  afterAll(() => api?.close(), 30_000);

  async function uploadStudy(instances: number, seed: number, imageSize = 16): Promise<string> {
    const files = generateSyntheticStudy({ instances, series: 2, imageSize, seed });
    let study = '';
    for (let start = 0; start < files.length; start += 8) {
      const answers = await Promise.all(files.slice(start, start + 8).map((f) => http(api.baseUrl, 'POST', '/instances', Buffer.from(f.bytes))));
      for (const answer of answers) {
        expect(answer.status).toBe(200);
        study = answer.body.ParentStudy;
      }
    }
    return study;
  }

  function retained() {
    const pool = api.app.get(BufferPool);
    return {
      completionsWaiting: api.app.get(CompletionBatcher).waitingCount,
      plans: api.app.get(PlanCache).size,
      waitedJobs: api.app.get(JobEventsService).waitedJobs,
      enqueuing: api.app.get(JobEnqueuer).enqueuingCount,
      instanceRowsCached: api.app.get(InstanceStoreService).cachedRows,
      pooledIdleBytesWithinCap: pool.idleBytes <= 16 * 1024 * 1024,
    };
  }

  it('is the same after a 20-instance job and after a 200-instance job', async () => {
    const after: ReturnType<typeof retained>[] = [];
    for (const [n, seed] of [[20, 31], [200, 32]]) {
      const study = await uploadStudy(n, seed);
      const job = await http(api.baseUrl, 'POST', `/studies/${study}/anonymize`, {}); // synchronous: answered at the end
      expect(job.status).toBe(200);
      expect((await http(api.baseUrl, 'GET', `/studies/${job.body.ID}/instances`)).body).toHaveLength(n);
      after.push(retained());
    }
    expect(after[0]).toEqual({ completionsWaiting: 0, plans: 1, waitedJobs: 0, enqueuing: 0, instanceRowsCached: 0, pooledIdleBytesWithinCap: true });
    // One more plan (one per job, at most 64), nothing per instance.
    expect(after[1]).toEqual({ ...after[0], plans: 2 });
  });

  it('ends an archive whose client went away mid-download (nothing left waiting), and serves the next one whole', async () => {
    const study = await uploadStudy(100, 33, 256); // 100 x 131 kB: more than the sockets buffer
    const archives = api.app.get(ArchiveService);
    const abort = new AbortController();
    const answer = await fetch(`${api.baseUrl}/studies/${study}/archive`, { signal: abort.signal });
    expect(answer.status).toBe(200);
    const reader = answer.body!.getReader();
    await reader.read();
    expect(archives.inProgress).toBe(1);
    abort.abort();
    for (const deadline = Date.now() + 5000; archives.inProgress > 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
    expect(archives.inProgress).toBe(0);
    // And the next download is whole.
    expect((await http(api.baseUrl, 'GET', `/studies/${study}/archive`)).bytes.length).toBeGreaterThan(100 * 131_072);
  });

  it('closes the files of downloads whose client went away (instances over 16 MB are streamed from the store)', async () => {
    const study = await uploadStudy(3, 34, 3000); // 3 x 18 MB
    const [instance] = (await http(api.baseUrl, 'GET', `/studies/${study}/instances`)).body as { ID: string }[];
    for (const path of [`/instances/${instance.ID}/file`, `/instances/${instance.ID}/attachments/dicom/data`]) {
      const abort = new AbortController();
      const answer = await fetch(`${api.baseUrl}${path}`, { signal: abort.signal });
      expect(answer.status).toBe(200);
      await answer.body!.getReader().read();
      abort.abort();
    }
    const archives = api.app.get(ArchiveService);
    for (let attempt = 0; attempt < 3; attempt++) {
      const abort = new AbortController();
      const answer = await fetch(`${api.baseUrl}/studies/${study}/archive`, { signal: abort.signal });
      await answer.body!.getReader().read();
      abort.abort();
      for (const deadline = Date.now() + 5000; archives.inProgress > 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
      expect(archives.inProgress).toBe(0);
    }
    // Closing a destroyed stream's file takes a turn of the thread pool.
    for (const deadline = Date.now() + 2000; storeFilesOpen().length > 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
    expect(storeFilesOpen()).toEqual([]); // on failure, which files
  });

  /**
   * Files of the store this process holds open, relative to it. Regular files only: the store's
   * background sweep of abandoned temporaries (at start) holds directories open while it walks its
   * 4,096 fan-out directories, for many seconds when jobs keep the thread pool busy.
   */
  function storeFilesOpen(): string[] {
    const store = realpathSync(api.config.STORAGE_DIR);
    return readdirSync('/proc/self/fd').flatMap((fd) => {
      try {
        const path = readlinkSync(`/proc/self/fd/${fd}`);
        return path.startsWith(store + '/') && statSync(`/proc/self/fd/${fd}`).isFile() ? [path.slice(store.length + 1)] : [];
      } catch {
        return []; // closed meanwhile
      }
    });
  }

  it('serves the embedded worker\'s figures with the API\'s metrics', async () => {
    const figures = parseMetrics((await http(api.baseUrl, 'GET', '/tools/metrics-prometheus')).bytes.toString('utf8'));
    expect(figures['deidflow_worker_instances_total{outcome="processed"}']).toBe(20 + 200);
    // Every instance's memory given back once its job ended.
    expect([figures.deidflow_worker_instances_memory_bytes, figures.deidflow_worker_instances_waiting_for_memory]).toEqual([0, 0]);
    expect(figures.deidflow_api_process_resident_memory_bytes).toBeGreaterThan(0);
  });
});

/**
 * Request bodies are read whole into memory: their total is bounded (HTTP_BODIES_MEMORY_LIMIT,
 * 1 MiB here), and an upload past it waits for room with its socket unread, rather than growing the
 * API without end (30 uploads of 100 MB at once took it to 3.4 GB).
 */
describe('the memory of request bodies being received', () => {
  const BUDGET = 1024 * 1024;
  let api: RunningApi;

  beforeAll(async () => {
    await resetDatabase();
    api = await startApi(await testConfig('fs', { EMBEDDED_WORKER: 'false', HTTP_BODIES_MEMORY_LIMIT: String(BUDGET), HTTP_BODY_IDLE_TIMEOUT_MS: '2000' }));
  });
  afterAll(() => api?.close(), 30_000);

  const bodyFigures = async () => {
    const figures = parseMetrics((await http(api.baseUrl, 'GET', '/tools/metrics-prometheus')).bytes.toString('utf8'));
    return { reserved: figures.deidflow_api_request_bodies_bytes, waiting: figures.deidflow_api_requests_waiting_for_memory };
  };
  async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
    for (const deadline = Date.now() + 5000; !(await condition()); ) {
      if (Date.now() > deadline) throw new Error(`never: ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** A client that announced the whole budget and sends its body slowly (here: never the rest), once its reservation is made. */
  async function takeTheBudget(): Promise<Socket> {
    const { port } = new URL(api.baseUrl);
    const slow = connect(Number(port), '127.0.0.1');
    try {
      await new Promise((resolve) => slow.once('connect', resolve));
      slow.write(`POST /instances HTTP/1.1\r\nHost: x\r\nContent-Length: ${BUDGET}\r\n\r\n`);
      slow.write(Buffer.alloc(100_000));
      await until(async () => (await bodyFigures()).reserved === BUDGET, 'the slow upload reserved its body');
      return slow;
    } catch (err) {
      slow.destroy(); // a request whose body never ends would hold the API's close
      throw err;
    }
  }

  it('holds an upload while the budget is taken, lets it in when the client holding it goes away', async () => {
    const slow = await takeTheBudget();
    try {

      const [file] = generateSyntheticStudy({ instances: 1, imageSize: 256, seed: 35 }); // 131 kB
      let answered = false;
      const upload = http(api.baseUrl, 'POST', '/instances', Buffer.from(file.bytes)).then((answer) => ((answered = true), answer));
      await until(async () => (await bodyFigures()).waiting === 1, 'the upload waits');
      expect(answered).toBe(false);

      slow.destroy();
      expect((await upload).status).toBe(200);
    } finally {
      slow.destroy(); // a request whose body never ends would hold the API's close
    }
    await until(async () => (await bodyFigures()).reserved === 0, 'every reservation given back');
    expect(await bodyFigures()).toEqual({ reserved: 0, waiting: 0 });
  });

  it('holds an instance-level anonymize (its source and new file held whole) while the budget is taken, and gives its memory back once answered', async () => {
    const [file] = generateSyntheticStudy({ instances: 1, imageSize: 64, seed: 38 }); // 10 kB: an upload that never waits
    const instance = (await http(api.baseUrl, 'POST', '/instances', Buffer.from(file.bytes))).body.ID as string;
    const slow = await takeTheBudget();
    try {
      let answered = false;
      const anonymized = http(api.baseUrl, 'POST', `/instances/${instance}/anonymize`, {}).then((answer) => ((answered = true), answer));
      await until(async () => (await bodyFigures()).waiting === 1, 'the anonymize call waits');
      expect(answered).toBe(false);

      slow.destroy();
      const answer = await anonymized;
      expect(answer.status).toBe(200);
      expect(answer.bytes.subarray(128, 132).toString('latin1')).toBe('DICM');
    } finally {
      slow.destroy();
    }
    await until(async () => (await bodyFigures()).reserved === 0, 'every reservation given back');
    expect(await bodyFigures()).toEqual({ reserved: 0, waiting: 0 });
  });

  it('forgets an instance-level anonymize whose client went away while it waited', async () => {
    const [file] = generateSyntheticStudy({ instances: 1, imageSize: 64, seed: 39 });
    const instance = (await http(api.baseUrl, 'POST', '/instances', Buffer.from(file.bytes))).body.ID as string;
    const slow = await takeTheBudget();
    try {
      const client = new AbortController();
      const call = fetch(`${api.baseUrl}/instances/${instance}/anonymize`, { method: 'POST', body: '{}', signal: client.signal }).catch(() => 'aborted');
      await until(async () => (await bodyFigures()).waiting === 1, 'the anonymize call waits');
      client.abort();
      expect(await call).toBe('aborted');
      await until(async () => (await bodyFigures()).waiting === 0, 'the call no longer waits');
    } finally {
      slow.destroy();
    }
    await until(async () => (await bodyFigures()).reserved === 0, 'every reservation given back');
  });

  /** POST of `body` without a length (Transfer-Encoding: chunked, as Node sends a body written in parts); the status. */
  function postChunked(path: string, body: Buffer): Promise<number> {
    return new Promise((resolve, reject) => {
      const { hostname, port } = new URL(api.baseUrl);
      const sent = httpRequest({ hostname, port, path, method: 'POST' }, (answer) => {
        answer.resume();
        answer.on('end', () => resolve(answer.statusCode!));
      });
      sent.on('error', reject);
      for (let start = 0; start < body.length; start += 16 * 1024) sent.write(body.subarray(start, start + 16 * 1024));
      sent.end();
    });
  }

  it('holds a large body sent without a length once it passes 64 kB (not a small one), without counting the wait as idleness', async () => {
    const slow = await takeTheBudget();
    try {

      // A small body without a length is read at once: its query answers while the budget is taken.
      expect(await postChunked('/tools/find', Buffer.from(JSON.stringify({ Level: 'Study', Query: {} })))).toBe(200);

      const [file] = generateSyntheticStudy({ instances: 1, imageSize: 256, seed: 37 }); // 131 kB
      let status = 0;
      const upload = postChunked('/instances', Buffer.from(file.bytes)).then((answer) => (status = answer));
      await until(async () => (await bodyFigures()).waiting === 1, 'the upload without a length waits');
      // Longer than the body idle timeout (2 s here): waiting for memory is not the client's idleness.
      // The slow client trickles meanwhile, so that its own body is not idle.
      const trickle = setInterval(() => slow.write(Buffer.alloc(1)), 500);
      await new Promise((resolve) => setTimeout(resolve, 2500));
      clearInterval(trickle);
      expect(status).toBe(0);

      slow.destroy();
      expect(await upload).toBe(200);
    } finally {
      slow.destroy();
    }
    await until(async () => (await bodyFigures()).reserved === 0, 'every reservation given back');
    expect(await bodyFigures()).toEqual({ reserved: 0, waiting: 0 });
  }, 20_000);

  it('lets a body larger than the whole budget in on its own (no deadlock), and answers it as usual', async () => {
    const answers = await Promise.all([
      http(api.baseUrl, 'POST', '/instances', Buffer.alloc(3 * BUDGET, 7)), // not DICOM: 400, once read whole
      http(api.baseUrl, 'POST', '/instances', Buffer.from(generateSyntheticStudy({ instances: 1, imageSize: 256, seed: 36 })[0].bytes)),
    ]);
    expect(answers.map((a) => a.status)).toEqual([400, 200]);
    await until(async () => (await bodyFigures()).reserved === 0, 'every reservation given back');
    expect(await bodyFigures()).toEqual({ reserved: 0, waiting: 0 });
  });

  it('answers 408 to a body that stopped arriving, closes its connection and gives its memory back', async () => {
    const stalled = await takeTheBudget();
    try {
      let answer = '';
      stalled.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
      await new Promise((resolve) => stalled.once('close', resolve)); // by the API, after the idle timeout (2 s here)
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(answer).toMatch(/\r\nconnection: close\r\n/i);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ HttpStatus: 408, Details: 'No byte of the request body for 2000 ms' });
    } finally {
      stalled.destroy();
    }
    await until(async () => (await bodyFigures()).reserved === 0, 'the reservation given back');
  });
});

/**
 * A worker reads each source whole and builds its result whole: the instances it holds at once are
 * bounded (WORKER_INSTANCES_MEMORY_LIMIT, 1 MiB here), so that WORKER_CONCURRENCY multi-frame files
 * do not take it past its memory (32 files of 32 MB took a worker to 2.2 GB). Here each instance
 * (~720 kB, held twice) wants more than the whole budget: they run one at a time, the others wait.
 */
describe('the memory of the instances a worker holds', () => {
  let api: RunningApi;

  beforeAll(async () => {
    await resetDatabase();
    api = await startApi(await testConfig('fs', { EMBEDDED_WORKER: 'true', WORKER_CONCURRENCY: '8', WORKER_INSTANCES_MEMORY_LIMIT: String(1024 * 1024) }));
  });
  afterAll(() => api?.close(), 30_000);

  it('holds one instance at a time when each takes the whole budget, and still runs the job whole', async () => {
    const budget = api.app.get(InstanceMemoryBudget);
    let holding = 0;
    let mostHeld = 0;
    let mostWaiting = 0;
    const reserve = budget.reserve.bind(budget);
    const release = budget.release.bind(budget);
    jest.spyOn(budget, 'reserve').mockImplementation(async (bytes, signal) => {
      const reservation = reserve(bytes, signal);
      mostWaiting = Math.max(mostWaiting, budget.waitingCount);
      const reserved = await reservation;
      mostHeld = Math.max(mostHeld, ++holding);
      return reserved;
    });
    jest.spyOn(budget, 'release').mockImplementation((bytes) => {
      holding--;
      release(bytes);
    });

    const files = generateSyntheticStudy({ instances: 6, imageSize: 600, seed: 35 });
    let study = '';
    for (const file of files) study = (await http(api.baseUrl, 'POST', '/instances', Buffer.from(file.bytes))).body.ParentStudy;
    const job = await http(api.baseUrl, 'POST', `/studies/${study}/anonymize`, {});
    expect(job.status).toBe(200);
    expect((await http(api.baseUrl, 'GET', `/studies/${job.body.ID}/instances`)).body).toHaveLength(6);
    expect({ mostHeld, holding, reservedAfter: budget.reserved }).toEqual({ mostHeld: 1, holding: 0, reservedAfter: 0 });
    expect(mostWaiting).toBeGreaterThan(0);
  });
});
