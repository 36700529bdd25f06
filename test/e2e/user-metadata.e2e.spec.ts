import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { http } from '../support/http';
import { resetDatabase, RunningApi, startApi, testConfig } from '../support/app-harness';
import { samplePath } from '../support/samples';

const etag = (value: string) => `"0-${createHash('md5').update(value).digest('hex')}"`;

/**
 * Orthanc's user-defined metadata: PUT / GET / DELETE /{level}/{id}/metadata/{name} for the names
 * of USER_METADATA and the numbers 1024-65535, refused for system metadata, logged as UpdatedMetadata.
 */
describe('user-defined metadata', () => {
  let api: RunningApi;
  let study: string;
  let patient: string;
  const url = (path: string) => `/studies/${study}/metadata${path}`;

  beforeAll(async () => {
    await resetDatabase();
    api = await startApi(await testConfig('fs', { EMBEDDED_WORKER: 'false', USER_METADATA: '{"Sample": 1024, "Batch": 1025}' }));
    const upload = (await http(api.baseUrl, 'POST', '/instances', readFileSync(samplePath('orthanc-tests/DummyCT.dcm')))).body;
    ({ ParentStudy: study, ParentPatient: patient } = upload);
  });
  afterAll(() => api?.close(), 30_000);

  it('sets, reads, lists and overwrites a declared one, by name or number (empty text/plain answers, ETag as Orthanc)', async () => {
    const put = await http(api.baseUrl, 'PUT', url('/Sample'), 'first value');
    expect(put.status).toBe(200);
    expect(put.bytes.length).toBe(0);
    expect(put.headers.get('etag')).toBe(etag('first value'));
    await http(api.baseUrl, 'PUT', url('/Sample'), 'hello');

    const got = await http(api.baseUrl, 'GET', url('/Sample'));
    expect(got).toMatchObject({ status: 200, body: 'hello' });
    expect(got.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(got.headers.get('etag')).toBe(etag('hello'));
    expect((await http(api.baseUrl, 'GET', url('/1024'))).body).toBe('hello');

    // An undeclared number works too, shown as the number.
    expect((await http(api.baseUrl, 'PUT', url('/2000'), 'x')).status).toBe(200);
    expect((await http(api.baseUrl, 'GET', url(''))).body).toEqual(['LastUpdate', 'Sample', '2000']);
    expect((await http(api.baseUrl, 'GET', url('?numeric'))).body).toEqual([7, 1024, 2000]);
    expect((await http(api.baseUrl, 'GET', url('?expand'))).body).toEqual({ 2000: 'x', LastUpdate: expect.any(String), Sample: 'hello' });
  });

  it.each([
    ['ModifiedFrom', 403],
    ['LastUpdate', 403],
    ['7', 403],
    ['70000', 403],
    ['Nope', 404],
  ])('refuses to set or delete %s (%d)', async (name, status) => {
    for (const method of ['PUT', 'DELETE']) {
      const answer = await http(api.baseUrl, method, url(`/${name}`), 'x');
      expect(answer.status).toBe(status);
      expect(answer.body).toMatchObject({ HttpStatus: status, Method: method });
    }
  });

  it('refuses a value that is not UTF-8 text, or holds a NUL (400, not a 500 from Postgres)', async () => {
    for (const body of [Buffer.from([0x61, 0x00, 0x62]), Buffer.from([0xff, 0xfe, 0x41])]) {
      const answer = await http(api.baseUrl, 'PUT', url('/Batch'), body);
      expect(answer.status).toBe(400);
      expect(answer.body.Details).toMatch(/UTF-8 text, without NUL/);
    }
  });

  it('answers 404 for an unknown resource, or one of another level', async () => {
    expect((await http(api.baseUrl, 'PUT', '/studies/00000000-00000000-00000000-00000000-00000000/metadata/Sample', 'x')).status).toBe(404);
    expect((await http(api.baseUrl, 'PUT', `/patients/${study}/metadata/Sample`, 'x')).status).toBe(404);
    expect((await http(api.baseUrl, 'GET', `/patients/${patient}/metadata/Sample`)).status).toBe(404);
  });

  it('deletes one (empty answer), then answers 404 for it', async () => {
    await http(api.baseUrl, 'PUT', url('/Batch'), 'b1');
    const deleted = await http(api.baseUrl, 'DELETE', url('/Batch'));
    expect(deleted.status).toBe(200);
    expect(deleted.bytes.length).toBe(0);
    expect((await http(api.baseUrl, 'GET', url('/Batch'))).status).toBe(404);
    expect((await http(api.baseUrl, 'DELETE', url('/Batch'))).status).toBe(404);
  });

  it('logs each change as UpdatedMetadata of the resource in GET /changes', async () => {
    const start = (await http(api.baseUrl, 'GET', '/changes?last')).body.Last;
    await http(api.baseUrl, 'PUT', url('/Batch'), 'b2');
    await http(api.baseUrl, 'DELETE', url('/Batch'));
    await http(api.baseUrl, 'DELETE', url('/Batch')); // nothing deleted: nothing logged
    const changes = (await http(api.baseUrl, 'GET', `/changes?since=${start}`)).body.Changes;
    expect(changes.map((c: { ChangeType: string; ResourceType: string; ID: string }) => [c.ChangeType, c.ResourceType, c.ID])).toEqual([
      ['UpdatedMetadata', 'Study', study],
      ['UpdatedMetadata', 'Study', study],
    ]);
  });

  it('lists the declared names in GET /system, and forgets the values with their resource', async () => {
    expect((await http(api.baseUrl, 'GET', '/system')).body.UserMetadata).toEqual({ Batch: 1025, Sample: 1024 });
    expect((await http(api.baseUrl, 'DELETE', `/studies/${study}`)).status).toBe(200);
    await http(api.baseUrl, 'POST', '/instances', readFileSync(samplePath('orthanc-tests/DummyCT.dcm')));
    expect((await http(api.baseUrl, 'GET', url('/Sample'))).status).toBe(404);
  });
});
