import type { JobSummary } from '@deidflow/database';
import { formatJob, jobContent } from './job-format';

const job = (outputJson: string | null, overrides: Partial<JobSummary> = {}): JobSummary => ({
  id: '8d7c9b5e-0000-4000-8000-000000000001',
  type: 'ResourceModification',
  state: 'Success',
  priority: 0,
  isAnonymization: true,
  userData: null,
  instancesCount: 2,
  processedCount: 2,
  failedCount: 0,
  outputJson,
  errorCode: 0,
  errorDetails: '',
  createdAt: new Date('2026-12-07T05:00:00Z'),
  startedAt: new Date('2026-12-07T05:00:01Z'),
  completedAt: new Date('2026-12-07T05:00:03Z'),
  ...overrides,
});

/** A bulk output as Postgres prints jsonb (a space after each colon and comma), `resources` long. */
function bulkOutputText(resources: number): string {
  const items = Array.from({ length: resources }, (_, n) => {
    const id = `${String(n).padStart(8, '0')}-11111111-22222222-33333333-44444444`;
    return `{"ID": "${id}", "Path": "/instances/${id}", "Type": "Instance"}`;
  });
  return `{"Resources": [${items.join(', ')}]}`;
}

describe('job answers', () => {
  it('puts a single output among Content\'s fields, keys sorted as Orthanc does', () => {
    const output = '{"ID": "s", "Path": "/studies/s", "PatientID": "p", "Type": "Study"}';
    const content = JSON.parse(jobContent(job(output)).text);
    expect(Object.keys(content)).toEqual(['Description', 'FailedInstancesCount', 'ID', 'InstancesCount', 'IsAnonymization', 'Path', 'PatientID', 'Type']);
    expect(content).toMatchObject({ ID: 's', Path: '/studies/s', PatientID: 'p', Type: 'Study', InstancesCount: 2 });
  });

  it('answers a running job without output, and its UserData', () => {
    const answer = JSON.parse(formatJob(job(null, { state: 'Running', completedAt: null, userData: { a: 1 } }), new Date('2026-12-07T05:00:05Z')).text);
    expect(answer).toMatchObject({ State: 'Running', Progress: 66, Content: { InstancesCount: 2 }, UserData: { a: 1 }, EffectiveRuntime: 4 });
    expect(answer).not.toHaveProperty('CompletionTime');
    expect(Object.keys(answer.Content)).toEqual(['Description', 'FailedInstancesCount', 'InstancesCount', 'IsAnonymization']);
  });

  it('puts a large bulk output in as Postgres wrote it, without parsing it, and the answer is the same JSON', () => {
    const output = bulkOutputText(2000);
    expect(output.length).toBeGreaterThan(64 * 1024);
    const expected = JSON.parse(formatJob(job(bulkOutputText(3)), new Date('2026-12-07T06:00:00Z')).text);
    const text = formatJob(job(output, { userData: { note: 'after Content' } }), new Date('2026-12-07T06:00:00Z')).text;
    expect(text).toContain(output.slice('{"Resources": '.length, -1)); // verbatim, Postgres's spacing included
    const answer = JSON.parse(text);
    expect(answer.Content.Resources).toEqual(JSON.parse(output).Resources);
    expect({ ...answer, Content: { ...answer.Content, Resources: [] }, UserData: undefined }).toEqual({
      ...expected,
      Content: { ...expected.Content, Resources: [] },
      UserData: undefined,
    });
    expect(JSON.parse(jobContent(job(output)).text).Resources).toHaveLength(2000);
  });
});
