import { JsonAnswer, JsonPieces, JsonText } from '@deidflow/common';
import type { JobSummary, OutputResource } from '@deidflow/database';
import { formatJob, jobContent, OutputResourcePages } from './job-format';

const job = (output: JobSummary['output'], overrides: Partial<JobSummary> = {}): JobSummary => ({
  id: '8d7c9b5e-0000-4000-8000-000000000001',
  type: 'ResourceModification',
  level: 'Study',
  state: 'Success',
  priority: 0,
  isAnonymization: true,
  userData: null,
  instancesCount: 2,
  processedCount: 2,
  failedCount: 0,
  output,
  errorCode: 0,
  errorDetails: '',
  createdAt: new Date('2026-12-07T05:00:00Z'),
  startedAt: new Date('2026-12-07T05:00:01Z'),
  completedAt: new Date('2026-12-07T05:00:03Z'),
  keepSource: true,
  ...overrides,
});

const NOW = new Date('2026-12-07T06:00:00Z');
const noResources: OutputResourcePages = () => {
  throw new Error('read the resources of a job that lists none');
};

function textSync(answer: JsonAnswer): string {
  if (!(answer instanceof JsonText)) throw new Error('a job without listed resources answers in one piece');
  return answer.text;
}

async function textOf(answer: JsonAnswer): Promise<string> {
  if (answer instanceof JsonText) return answer.text;
  let text = '';
  for await (const piece of answer.pieces) text += piece;
  return text;
}

describe('job answers', () => {
  it('puts a single output among Content\'s fields, keys sorted as Orthanc does', async () => {
    const output = { ID: 's', Path: '/studies/s', PatientID: 'p', Type: 'Study' };
    const content = JSON.parse(await textOf(jobContent(job(output), noResources)));
    expect(Object.keys(content)).toEqual(['Description', 'FailedInstancesCount', 'ID', 'InstancesCount', 'IsAnonymization', 'Path', 'PatientID', 'Type']);
    expect(content).toMatchObject({ ID: 's', Path: '/studies/s', PatientID: 'p', Type: 'Study', InstancesCount: 2 });
  });

  it('answers a running job without output, and its UserData', async () => {
    const running = job(null, { level: 'Bulk', state: 'Running', completedAt: null, userData: { a: 1 } });
    const answer = JSON.parse(await textOf(formatJob(running, noResources, new Date('2026-12-07T05:00:05Z'))));
    expect(answer).toMatchObject({ State: 'Running', Progress: 66, Content: { InstancesCount: 2 }, UserData: { a: 1 }, EffectiveRuntime: 4 });
    expect(answer).not.toHaveProperty('CompletionTime');
    expect(Object.keys(answer.Content)).toEqual(['Description', 'FailedInstancesCount', 'InstancesCount', 'IsAnonymization']);
  });

  it('counts the deletion of the sources as one more step (KeepSource: false), and estimates the arrival while running, as Orthanc', async () => {
    const at = new Date('2026-12-07T05:00:05Z'); // 4 s after the start
    const running = (overrides: Partial<JobSummary>) => JSON.parse(textSync(formatJob(job(null, { state: 'Running', completedAt: null, ...overrides }), noResources, at)));
    // 2 of 3 steps, then 2 of 4.
    expect(running({}).Progress).toBe(66);
    expect(running({ keepSource: false }).Progress).toBe(50);
    // Half done in 4 s: 4 s to go.
    expect(running({ keepSource: false }).EstimatedTimeOfArrival).toBe('20261207T050009.000000');
    // Nothing done yet, or not running: no estimate.
    expect(running({ processedCount: 0 })).not.toHaveProperty('EstimatedTimeOfArrival');
    expect(JSON.parse(textSync(formatJob(job(null), noResources, at)))).not.toHaveProperty('EstimatedTimeOfArrival');
  });

  it('writes a finished bulk job\'s resources in, a page at a time, read only when the answer gets to them', async () => {
    const pages: OutputResource[][] = [
      [
        { id: 'p1', type: 'Patient' },
        { id: 's1', type: 'Study' },
      ],
      [],
      [
        { id: 'r1', type: 'Series' },
        { id: 'i1', type: 'Instance' },
      ],
    ];
    let read = 0;
    const resources: OutputResourcePages = async function* () {
      for (const page of pages) {
        read += 1;
        yield page;
      }
    };
    const bulk = job({ Resources: [] }, { level: 'Bulk', userData: 'after Content' });
    const answer = formatJob(bulk, resources, NOW);
    expect(answer).toBeInstanceOf(JsonPieces);
    expect(read).toBe(0);
    const parsed = JSON.parse(await textOf(answer));
    expect(read).toBe(3);
    expect(parsed.Content.Resources).toEqual([
      { ID: 'p1', Path: '/patients/p1', Type: 'Patient' },
      { ID: 's1', Path: '/studies/s1', Type: 'Study' },
      { ID: 'r1', Path: '/series/r1', Type: 'Series' },
      { ID: 'i1', Path: '/instances/i1', Type: 'Instance' },
    ]);
    expect(Object.keys(parsed.Content)).toEqual(['Description', 'FailedInstancesCount', 'InstancesCount', 'IsAnonymization', 'Resources']);
    expect(parsed).toMatchObject({ State: 'Success', UserData: 'after Content', ID: bulk.id });
    // The synchronous call's answer, and a bulk job that produced nothing.
    expect(JSON.parse(await textOf(jobContent(bulk, resources))).Resources).toHaveLength(4);
    expect(JSON.parse(await textOf(jobContent(bulk, async function* () {}))).Resources).toEqual([]);
  });
});
