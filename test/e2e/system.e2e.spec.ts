import { http } from '../support/http';
import { RunningApi, startApi, testConfig } from '../support/app-harness';

/** GET /system and the set-up calls Orthanc clients (and orthanc-tests' harness) make. */
describe('system and client set-up routes', () => {
  let api: RunningApi;
  beforeAll(async () => {
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
  });

  it('answers the harmless set-up calls', async () => {
    expect(await http(api.baseUrl, 'GET', '/modalities')).toMatchObject({ status: 200, body: [] });
    expect(await http(api.baseUrl, 'GET', '/peers')).toMatchObject({ status: 200, body: [] });
    expect((await http(api.baseUrl, 'DELETE', '/exports')).status).toBe(200);
    expect((await http(api.baseUrl, 'PUT', '/tools/default-encoding', 'Latin1')).status).toBe(200);
    expect((await http(api.baseUrl, 'PUT', '/tools/accepted-transfer-syntaxes', '["*"]')).status).toBe(200);
    expect((await http(api.baseUrl, 'PUT', '/tools/unknown-sop-class-accepted', '1')).status).toBe(200);
  });

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
