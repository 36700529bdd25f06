import { readFileSync } from 'node:fs';
import { http } from '../support/http';
import { parseMetrics } from '../support/prometheus';
import { samplePath } from '../support/samples';
import { resetDatabase, RunningApi, startApi, testConfig } from '../support/app-harness';

/** GET /system and the set-up calls Orthanc clients (and orthanc-tests' harness) make. */
describe('system and client set-up routes', () => {
  let api: RunningApi;
  beforeAll(async () => {
    // No job left by an earlier suite: a submission's dispatch would queue it here too.
    await resetDatabase();
    api = await startApi(await testConfig('fs', { EMBEDDED_WORKER: 'false' }));
  });
  afterAll(() => api?.close(), 30_000);

  it('GET /system reports a modern Orthanc API version and DeidFlow\'s own', async () => {
    const { status, body } = await http(api.baseUrl, 'GET', '/system');
    expect(status).toBe(200);
    expect(body).toMatchObject({ Name: 'DeidFlow', Product: 'DeidFlow', ApiVersion: expect.any(Number) });
    // Version-gated clients (bulk routes need >= 1.9.4) must see a recent version.
    const [major, minor] = String(body.Version).split('.').map(Number);
    expect(major * 100 + minor).toBeGreaterThanOrEqual(112);
    expect(body.ProductVersion).toMatch(/^\d+\.\d+\.\d+/);
    // Orthanc >= 1.12.5's capabilities: GET /changes takes `to` and `type`; labels (1.12.0); no extended find.
    expect(body).toMatchObject({ Capabilities: { HasExtendedChanges: true, HasExtendedFind: false }, HasLabels: true, ReadOnly: false });
  });

  it('answers the harmless set-up calls', async () => {
    expect(await http(api.baseUrl, 'GET', '/modalities')).toMatchObject({ status: 200, body: [] });
    expect(await http(api.baseUrl, 'GET', '/peers')).toMatchObject({ status: 200, body: [] });
    expect((await http(api.baseUrl, 'DELETE', '/exports')).status).toBe(200);
    expect((await http(api.baseUrl, 'PUT', '/tools/default-encoding', 'Latin1')).status).toBe(200);
    expect((await http(api.baseUrl, 'PUT', '/tools/accepted-transfer-syntaxes', '["*"]')).status).toBe(200);
    expect((await http(api.baseUrl, 'PUT', '/tools/unknown-sop-class-accepted', '1')).status).toBe(200);
  });

  it('answers Orthanc\'s /tools/metrics-prometheus: index, jobs and queue under Orthanc\'s names, and the process', async () => {
    expect(await http(api.baseUrl, 'GET', '/tools/metrics')).toMatchObject({ status: 200, body: true });
    const before = await metrics();
    const upload = await http(api.baseUrl, 'POST', '/instances', readFileSync(samplePath('orthanc-tests/DummyCT.dcm')));
    expect(upload.status).toBe(200);
    // An asynchronous job that no worker runs here (EMBEDDED_WORKER=false): pending, one task waiting
    // per instance of the study (other suites, sharing this database, may have added to that study).
    const studyInstances = ((await http(api.baseUrl, 'GET', `/studies/${upload.body.ParentStudy}/instances`)).body as unknown[]).length;
    expect(studyInstances).toBeGreaterThanOrEqual(1);
    const job = await http(api.baseUrl, 'POST', `/studies/${upload.body.ParentStudy}/anonymize`, { Asynchronous: true });
    expect(job.status).toBe(200);

    const answer = await http(api.baseUrl, 'GET', '/tools/metrics-prometheus');
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    // Tasks carry their job's priority: BullMQ keeps them as "prioritized" rather than "waiting".
    const queued = (m: Record<string, number>) => m['deidflow_queue_tasks{state="waiting"}'] + m['deidflow_queue_tasks{state="prioritized"}'];
    // The submission answers once its rows are committed and queues the task just after
    // (JobEnqueuer.enqueuePendingLater): a scrape may come first.
    let after = parseMetrics(answer.body);
    for (let i = 0; i < 100 && queued(after) < queued(before) + studyInstances; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      after = await metrics();
    }
    expect(after.orthanc_count_instances).toBe(before.orthanc_count_instances + (upload.body.Status === 'Success' ? 1 : 0));
    expect(after.orthanc_count_studies).toBeGreaterThanOrEqual(1);
    expect(after.orthanc_disk_size_mb).toBeGreaterThan(0);
    expect(after.orthanc_jobs_pending).toBe(before.orthanc_jobs_pending + 1);
    expect(queued(after)).toBe(queued(before) + studyInstances);
    expect(after.deidflow_api_process_resident_memory_bytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(after.orthanc_up_time_s).toBeGreaterThanOrEqual(0);
    expect(after['deidflow_dependency_up{service="postgres"}']).toBe(1);
    expect(after['deidflow_dependency_up{service="redis"}']).toBe(1);
    // Files of deleted instances still to delete (other suites' deletions may have left some).
    expect(after.deidflow_object_deletions_pending).toBeGreaterThanOrEqual(0);
    // The study's tasks, claimed for the queue, as Postgres accounts for them (and any other job's).
    expect(after.deidflow_queue_claimed_tasks).toBeGreaterThanOrEqual(studyInstances);
    expect(after.deidflow_jobs_waiting_for_room).toBeGreaterThanOrEqual(0);
    expect(after.deidflow_queue_max_tasks).toBe(50_000);
    await http(api.baseUrl, 'POST', `/jobs/${job.body.ID}/cancel`);
  });

  async function metrics(): Promise<Record<string, number>> {
    return parseMetrics((await http(api.baseUrl, 'GET', '/tools/metrics-prometheus')).body);
  }

  it('refuses Lua scripts with a clear 4xx', async () => {
    const answer = await http(api.baseUrl, 'POST', '/tools/execute-script', 'print(42)', { 'content-type': 'application/lua' });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ HttpStatus: 400, Details: expect.stringMatching(/Lua/) });
  });

  it('serves the OpenAPI document and the health check', async () => {
    const openapi = await http(api.baseUrl, 'GET', '/openapi.json');
    expect(openapi.status).toBe(200);
    expect(Object.keys(openapi.body.paths)).toEqual(expect.arrayContaining(['/instances', '/jobs/{id}']));
    const health = await http(api.baseUrl, 'GET', '/health');
    expect(health.body).toMatchObject({ status: 'ok', info: { postgres: { status: 'up' }, redis: { status: 'up' }, storage: { status: 'up' } } });
  });
});

