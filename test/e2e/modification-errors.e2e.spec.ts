import { readFileSync } from 'node:fs';
import { http } from '../support/http';
import { resetDatabase, RunningApi, startApi, testConfig } from '../support/app-harness';
import { allSampleFiles, samplePath } from '../support/samples';

/**
 * Bad anonymize/modify requests: Orthanc's answers (orthanc-reference/11..17), or better where the
 * issues say so, and never a job for a request that is refused.
 */
describe('refused modification requests', () => {
  let api: RunningApi;
  let study: string;
  let series: string;
  let instance: string;

  const post = (path: string, body: string) => http(api.baseUrl, 'POST', path, body);
  const jobCount = async () => ((await http(api.baseUrl, 'GET', '/jobs')).body as string[]).length;

  beforeAll(async () => {
    await resetDatabase();
    api = await startApi(await testConfig('fs', { EMBEDDED_WORKER: 'true' }));
    let last: any;
    for (const file of allSampleFiles().filter((f) => f.startsWith('orthanc-tests/Knee/'))) {
      last = (await http(api.baseUrl, 'POST', '/instances', readFileSync(samplePath(file)))).body;
    }
    ({ ParentStudy: study, ParentSeries: series, ID: instance } = last);
  });
  afterAll(() => api?.close(), 30_000);

  it.each([
    // 12: a study UID replaced without Force
    ['studies', '{"Replace":{"StudyInstanceUID":"1.2.3"}}', 400, 8, /Marking tag "StudyInstanceUID" as to be replaced requires the "Force" option/],
    // 13: PatientID removed without Force
    ['studies', '{"Remove":["PatientID"]}', 400, 8, /Marking tag "PatientID" as to be removed requires the "Force" option/],
    // 15: not JSON
    ['studies', '{not json', 400, 15, /not valid JSON/],
    // 16: a field of the wrong type
    ['studies', '{"Replace":"x"}', 400, 8, /Replace/],
    // 17: an unknown tag name (Orthanc: 500; DeidFlow: 400 naming it)
    ['studies', '{"Replace":{"NoSuchTag":"x"}}', 400, 27, /NoSuchTag/],
    // an unknown option, with the accepted ones listed
    ['studies', '{"Replace":{},"Frobnicate":true}', 400, 8, /Frobnicate/],
    // a value that cannot be cast to the tag's VR
    ['studies', '{"Replace":{"Rows":"many"}}', 400, 8, /Rows|US/],
    // Transcode is not supported yet
    ['studies', '{"Transcode":"1.2.840.10008.1.2.1"}', 400, 8, /Transcode/],
    // an unknown DicomVersion
    ['series', '{"DicomVersion":"nope"}', 400, 3, /nope|DicomVersion/],
    // keeping the three UIDs of a study would overwrite every source
    ['studies', '{"Keep":["StudyInstanceUID","SeriesInstanceUID","SOPInstanceUID"],"Force":true}', 400, 8, /overwrite/],
  ] as const)('POST /%s/{id}/modify %s → %d', async (level, body, status, orthancStatus, details) => {
    const before = await jobCount();
    const id = level === 'studies' ? study : series;
    const operation = body.includes('DicomVersion') ? 'anonymize' : 'modify';
    const answer = await post(`/${level}/${id}/${operation}`, body);
    expect(answer.status).toBe(status);
    expect(answer.body).toMatchObject({ HttpStatus: status, OrthancStatus: orthancStatus, Method: 'POST', Uri: `/${level}/${id}/${operation}` });
    expect(answer.body.Details ?? answer.body.Message).toMatch(details);
    expect(await jobCount()).toBe(before);
  });

  it('answers 404 for an unknown resource (14) and creates no job', async () => {
    const before = await jobCount();
    const answer = await post('/studies/00000000-00000000-00000000-00000000-00000000/anonymize', '{}');
    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject({ HttpStatus: 404, Message: 'Unknown resource', OrthancStatus: 17 });
    expect(await jobCount()).toBe(before);
  });

  it('refuses PatientID without Force where the result is stored (11 at series level), not at instance level (issue 7)', async () => {
    const stored = await post(`/series/${series}/modify`, '{"Replace":{"PatientID":"P2"}}');
    expect(stored.status).toBe(400);
    expect(stored.body.Details).toBe('Marking tag "PatientID" as to be replaced requires the "Force" option to be set to true');
    const download = await post(`/instances/${instance}/modify`, '{"Replace":{"PatientID":"P2"}}');
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('application/dicom');
  });

  it('keeps the first copy when a later job produces instances already stored (no OverwriteInstances)', async () => {
    const keep = '"Keep":["StudyInstanceUID","SeriesInstanceUID","SOPInstanceUID"],"Force":true';
    const first = await post(`/series/${series}/modify`, `{"Replace":{"PatientID":"DEIDFLOW-SAME","PatientName":"FIRST"},${keep}}`);
    expect(first.status).toBe(200);
    const second = await post(`/series/${series}/modify`, `{"Replace":{"PatientID":"DEIDFLOW-SAME","PatientName":"SECOND"},${keep}}`);
    expect(second.status).toBe(200);
    expect(second.body.ID).toBe(first.body.ID);
    const outputs = (await http(api.baseUrl, 'GET', `/series/${first.body.ID}/instances`)).body as { ID: string }[];
    expect(outputs.length).toBeGreaterThan(0);
    for (const { ID } of outputs) {
      expect((await http(api.baseUrl, 'GET', `/instances/${ID}/simplified-tags`)).body.PatientName).toBe('FIRST');
      expect((await http(api.baseUrl, 'GET', `/instances/${ID}/metadata/ModifiedFrom`)).status).toBe(200);
    }
  });

  it('fails, naming its failed instances, a series modify whose results would overwrite their sources', async () => {
    const answer = await post(`/series/${series}/modify`, '{"Keep":["SeriesInstanceUID","SOPInstanceUID"],"Force":true,"Replace":{"SeriesDescription":"Y"}}');
    // The job's ErrorCode is its first failed instance's (BadRequest), and so is the answer's status, as Orthanc.
    expect(answer.status).toBe(400);
    expect(answer.body.OrthancStatus).toBe(8);
    expect(answer.body.Details).toMatch(/would overwrite the source/);
    // Details names the failed instances (the first 20 of them, in the order they failed): all of the series'.
    const members = ((await http(api.baseUrl, 'GET', `/series/${series}`)).body as { Instances: string[] }).Instances;
    expect(answer.body.Details).toMatch(new RegExp(`^${members.length} of ${members.length} instances failed: `));
    const named = [...new Set<string>(answer.body.Details.match(/[0-9a-f]{8}(?:-[0-9a-f]{8}){4}/g))];
    expect(named.length).toBe(Math.min(members.length, 20));
    expect(members).toEqual(expect.arrayContaining(named));
  });
});
