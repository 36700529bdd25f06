import { readFileSync } from 'node:fs';
import { http } from '../support/http';
import { resetDatabase, RunningApi, startApi, testConfig } from '../support/app-harness';
import { samplePath } from '../support/samples';

/** Orthanc's labels (1.12.0): on any resource, in its answers, in /tools/labels and /tools/find. */
describe('labels', () => {
  let api: RunningApi;
  let knee: { ID: string; ParentStudy: string; ParentPatient: string };
  let dummy: { ID: string; ParentStudy: string };
  const call = (method: string, path: string, body?: string | object) => http(api.baseUrl, method, path, body);
  const find = async (body: object) => (await call('POST', '/tools/find', { Level: 'Study', Query: {}, ...body })).body;

  beforeAll(async () => {
    await resetDatabase();
    api = await startApi(await testConfig('fs', { EMBEDDED_WORKER: 'true' }));
    knee = (await call('POST', '/instances', readFileSync(samplePath('orthanc-tests/Knee/T1/IM-0001-0001.dcm')))).body;
    dummy = (await call('POST', '/instances', readFileSync(samplePath('orthanc-tests/DummyCT.dcm')))).body;
  });
  afterAll(() => api?.close(), 30_000);

  it('adds, shows and removes labels; twice is harmless (empty text/plain answers)', async () => {
    const study = `/studies/${knee.ParentStudy}`;
    for (const label of ['b_2', 'a-1', 'b_2']) {
      const put = await call('PUT', `${study}/labels/${label}`);
      expect(put.status).toBe(200);
      expect(put.bytes.length).toBe(0);
      expect(put.headers.get('content-type')).toMatch(/^text\/plain/);
    }
    expect((await call('GET', `${study}/labels`)).body).toEqual(['a-1', 'b_2']);
    expect((await call('GET', `${study}/labels/a-1`)).status).toBe(200);
    expect((await call('GET', `${study}/labels/zzz`)).status).toBe(404);
    expect((await call('GET', study)).body.Labels).toEqual(['a-1', 'b_2']);
    const listed = (await call('GET', '/studies?expand')).body as { ID: string; Labels: string[] }[];
    expect(listed.find((s) => s.ID === knee.ParentStudy)?.Labels).toEqual(['a-1', 'b_2']);
    expect((await call('GET', `/instances/${knee.ID}`)).body.Labels).toEqual([]);

    for (let i = 0; i < 2; i++) expect((await call('DELETE', `${study}/labels/b_2`)).status).toBe(200);
    expect((await call('GET', `${study}/labels`)).body).toEqual(['a-1']);
  });

  it.each(['@', 'a%20b', 'é', 'x'.repeat(65)])('refuses the label %s (400, Orthanc\'s message)', async (label) => {
    const answer = await call('PUT', `/studies/${knee.ParentStudy}/labels/${label}`);
    expect(answer.status).toBe(400);
    expect(answer.body.Details).toMatch(/^A label must be a non-empty, alphanumeric string/);
  });

  it('answers 404 for an unknown resource, or one of another level', async () => {
    expect((await call('PUT', '/studies/00000000-00000000-00000000-00000000-00000000/labels/x')).status).toBe(404);
    expect((await call('PUT', `/series/${knee.ParentStudy}/labels/x`)).status).toBe(404);
    expect((await call('GET', `/patients/${knee.ParentStudy}/labels`)).status).toBe(404);
  });

  it('lists the labels in use in GET /tools/labels, in byte order', async () => {
    await call('PUT', `/instances/${dummy.ID}/labels/Zeta`);
    expect((await call('GET', '/tools/labels')).body).toEqual(['Zeta', 'a-1']);
  });

  it('finds by Labels with LabelsConstraint All (default), Any or None, together with the Query', async () => {
    await call('PUT', `/studies/${dummy.ParentStudy}/labels/a-1`);
    await call('PUT', `/studies/${dummy.ParentStudy}/labels/second`);
    const both = [knee.ParentStudy, dummy.ParentStudy].sort();
    expect((await find({ Labels: ['a-1'] })).sort()).toEqual(both);
    expect(await find({ Labels: ['a-1', 'second'] })).toEqual([dummy.ParentStudy]);
    expect((await find({ Labels: ['second', 'nope'], LabelsConstraint: 'Any' })).sort()).toEqual([dummy.ParentStudy]);
    expect(await find({ Labels: ['second'], LabelsConstraint: 'None' })).toEqual([knee.ParentStudy]);
    expect((await find({ Labels: [], LabelsConstraint: 'None' })).sort()).toEqual(both); // an empty list asks for nothing (Orthanc 1.12)
    expect(await find({ Labels: ['a-1'], Query: { PatientID: 'nope' } })).toEqual([]);
    const expanded = await find({ Labels: ['second'], Expand: true });
    expect(expanded[0]).toMatchObject({ ID: dummy.ParentStudy, Labels: ['a-1', 'second'] });
  });

  it.each([
    [{ Labels: 'a' }, /"Labels" must contain strings/],
    [{ Labels: [1] }, /"Labels" must contain strings/],
    [{ Labels: ['a'], LabelsConstraint: 'Some' }, /"LabelsConstraint" must be "All", "Any", or "None"/],
    [{ Labels: ['@'] }, /A label must be/],
  ])('refuses a find with %j (400)', async (body, details) => {
    const answer = await call('POST', '/tools/find', { Level: 'Study', Query: {}, ...body });
    expect(answer.status).toBe(400);
    expect(answer.body.Details).toMatch(details);
  });

  it('copies the labels of the sources to the outputs of a modification with KeepLabels (Orthanc 1.12.3), only then', async () => {
    const kept = await call('POST', `/studies/${dummy.ParentStudy}/modify`, { Replace: { StudyDescription: 'K' }, KeepLabels: true });
    expect(kept.status).toBe(200);
    expect((await call('GET', `/studies/${kept.body.ID}`)).body.Labels).toEqual(['a-1', 'second']);
    const [instance] = (await call('GET', `/studies/${kept.body.ID}/instances`)).body as { ID: string; Labels: string[] }[];
    expect(instance.Labels).toEqual(['Zeta']);

    const plain = await call('POST', `/studies/${dummy.ParentStudy}/anonymize`, {});
    expect((await call('GET', `/studies/${plain.body.ID}`)).body.Labels).toEqual([]);
    for (const output of [kept.body.ID, plain.body.ID]) expect((await call('DELETE', `/studies/${output}`)).status).toBe(200);
  });

  it('forgets the labels of a deleted resource and of everything deleted with it', async () => {
    expect((await call('DELETE', `/patients/${knee.ParentPatient}`)).status).toBe(200);
    expect((await call('GET', '/tools/labels')).body).toEqual(['Zeta', 'a-1', 'second']);
    expect((await call('DELETE', `/studies/${dummy.ParentStudy}`)).status).toBe(200);
    expect((await call('GET', '/tools/labels')).body).toEqual([]);
  });
});
