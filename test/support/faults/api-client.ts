import type { SyntheticInstance } from '../../../libs/dicom/src/synthetic';
import { http, HttpAnswer } from '../http';
import { sleep } from './child-service';

export interface JobAnswer {
  ID: string;
  State: string;
  Progress: number;
  ErrorCode: number;
  ErrorDetails: string;
  Content: { ID?: string; InstancesCount: number; FailedInstancesCount: number };
}

const UPLOAD_CONNECTIONS = 8;
const POLL_MS = 100;

/**
 * The REST calls of the fault tests. Polling tolerates failed calls (the API may be down, or its
 * database connections just killed) and counts them, so that a fault never ends a wait early.
 */
export class ApiClient {
  /** Calls that failed while polling (connection refused, 5xx): a figure of the report. */
  failedPolls = 0;

  constructor(private readonly baseUrl: string) {}

  async get<T = any>(path: string): Promise<T> {
    const answer = await http<T>(this.baseUrl, 'GET', path);
    if (answer.status !== 200) throw new Error(`GET ${path}: ${answer.status} ${answer.bytes.toString('utf8').slice(0, 500)}`);
    return answer.body;
  }

  post(path: string, body: Buffer | object = {}): Promise<HttpAnswer> {
    return http(this.baseUrl, 'POST', path, body);
  }

  delete(path: string): Promise<HttpAnswer> {
    return http(this.baseUrl, 'DELETE', path);
  }

  /** Uploads over a few parallel connections; returns the Orthanc IDs in the order given, and the study. */
  async upload(instances: SyntheticInstance[]): Promise<{ ids: string[]; study: string }> {
    const ids: string[] = [];
    for (let start = 0; start < instances.length; start += UPLOAD_CONNECTIONS) {
      const batch = instances.slice(start, start + UPLOAD_CONNECTIONS);
      const answers = await Promise.all(batch.map((i) => http(this.baseUrl, 'POST', '/instances', Buffer.from(i.bytes))));
      for (const answer of answers) {
        if (answer.status !== 200) throw new Error(`upload: ${answer.status} ${answer.bytes.toString('utf8')}`);
        ids.push(answer.body.ID);
      }
    }
    const study = (await this.get(`/instances/${ids[0]}/study`)).ID as string;
    return { ids, study };
  }

  async submitAsync(path: string, body: object = {}): Promise<string> {
    const answer = await this.post(path, { ...body, Asynchronous: true });
    if (answer.status !== 200) throw new Error(`POST ${path}: ${answer.status} ${answer.bytes.toString('utf8')}`);
    return answer.body.ID;
  }

  /** The job, or undefined when the call failed (counted). */
  async pollJob(id: string): Promise<JobAnswer | undefined> {
    try {
      return await this.get<JobAnswer>(`/jobs/${id}`);
    } catch {
      this.failedPolls += 1;
      return undefined;
    }
  }

  /**
   * Waits until the job has done at least `progress` percent, and fails if it ended first: a
   * fault injected after the end would prove nothing.
   */
  async waitForProgress(id: string, progress: number, timeoutMs: number): Promise<JobAnswer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const job = await this.pollJob(id);
      if (job && isFinished(job)) throw new Error(`Job ${id} ended (${job.State}) before the fault: make it longer`);
      if (job && job.Progress >= progress) return job;
      if (Date.now() > deadline) throw new Error(`Job ${id} did not reach ${progress}% within ${timeoutMs} ms (${job?.Progress}%)`);
      await sleep(POLL_MS / 5);
    }
  }

  async waitForEnd(id: string, timeoutMs: number, diagnostics: () => string = () => ''): Promise<JobAnswer> {
    const deadline = Date.now() + timeoutMs;
    let last: JobAnswer | undefined;
    for (;;) {
      last = (await this.pollJob(id)) ?? last;
      if (last && isFinished(last)) return last;
      if (Date.now() > deadline) {
        throw new Error(`Job ${id} still ${last?.State} (${last?.Progress}%) after ${timeoutMs} ms\n${diagnostics()}`);
      }
      await sleep(POLL_MS);
    }
  }
}

function isFinished(job: JobAnswer): boolean {
  return job.State === 'Success' || job.State === 'Failure';
}
