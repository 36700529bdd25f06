import { readFileSync } from 'node:fs';
import { generateSyntheticStudy, parseInstance } from '@deidflow/dicom';
import { OBJECT_STORAGE, ObjectStorage, objectKeyForInstance } from '@deidflow/storage';
import { readDataset } from '../support/dicom';
import { allSampleFiles, samplePath } from '../support/samples';
import { http } from '../support/http';
import { resetDatabase, RunningApi, startApi, StorageKind, testConfig } from '../support/app-harness';

const DUMMY_CT = {
  instance: '66a662ce-7430e543-bad44d47-0dc5a943-ec7a538d',
  series: 'f2635388-f01d497a-15f7c06b-ad7dba06-c4c599fe',
  study: 'b9c08539-26f93bde-c81ab0d7-bffaf2cb-a4d0bdd0',
  patient: '6816cb19-844d5aee-85245eba-28e841e6-2414fae2',
};

describe.each<StorageKind>(['fs', 's3'])('platform with the %s storage driver', (storage) => {
  let api: RunningApi;
  const get = (path: string) => http(api.baseUrl, 'GET', path);

  beforeAll(async () => {
    await resetDatabase();
    api = await startApi(await testConfig(storage, { EMBEDDED_WORKER: 'false' }));
  });
  afterAll(() => api?.close(), 30_000);

  it('stores DummyCT.dcm under the Orthanc IDs, then answers AlreadyStored', async () => {
    const bytes = readFileSync(samplePath('orthanc-tests/DummyCT.dcm'));
    const first = await http(api.baseUrl, 'POST', '/instances', bytes);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({
      ID: DUMMY_CT.instance,
      ParentPatient: DUMMY_CT.patient,
      ParentSeries: DUMMY_CT.series,
      ParentStudy: DUMMY_CT.study,
      Path: `/instances/${DUMMY_CT.instance}`,
      Status: 'Success',
    });
    const again = await http(api.baseUrl, 'POST', '/instances', bytes);
    expect(again.body.Status).toBe('AlreadyStored');
  });

  it('answers each level in Orthanc\'s shape (orthanc-reference/browse)', async () => {
    const study = await get(`/studies/${DUMMY_CT.study}`);
    expect(study.status).toBe(200);
    // The captured 1.10.1 answer's fields, and Labels (Orthanc >= 1.12.0).
    expect(Object.keys(study.body).sort()).toEqual(
      ['ID', 'IsStable', 'Labels', 'LastUpdate', 'MainDicomTags', 'ParentPatient', 'PatientMainDicomTags', 'Series', 'Type'].sort(),
    );
    expect(study.body.PatientMainDicomTags).toEqual({ PatientID: 'ozp00SjY2xG', PatientName: 'KNIX' });
    expect(study.body.Series).toEqual([DUMMY_CT.series]);
    expect(study.body.LastUpdate).toMatch(/^\d{8}T\d{6}$/);

    const series = await get(`/series/${DUMMY_CT.series}`);
    expect(series.body).toMatchObject({ ExpectedNumberOfInstances: null, Instances: [DUMMY_CT.instance], ParentStudy: DUMMY_CT.study, Status: 'Unknown', Type: 'Series' });
    const instance = await get(`/instances/${DUMMY_CT.instance}`);
    expect(instance.body).toMatchObject({ FileSize: 2472, IndexInSeries: 1, ParentSeries: DUMMY_CT.series, Type: 'Instance' });
    const patient = await get(`/patients/${DUMMY_CT.patient}`);
    expect(patient.body).toMatchObject({ MainDicomTags: { PatientID: 'ozp00SjY2xG', PatientName: 'KNIX' }, Studies: [DUMMY_CT.study] });

    expect((await get('/studies')).body).toEqual([DUMMY_CT.study]);
    expect((await get('/studies?expand')).body[0].ID).toBe(DUMMY_CT.study);
    expect((await get(`/studies/${DUMMY_CT.study}/instances`)).body.map((i: { ID: string }) => i.ID)).toEqual([DUMMY_CT.instance]);
    expect((await get(`/instances/${DUMMY_CT.instance}/patient`)).body.ID).toBe(DUMMY_CT.patient);
    expect((await get(`/instances/${DUMMY_CT.instance}/series`)).body.ID).toBe(DUMMY_CT.series);
  });

  it('downloads the stored bytes unchanged', async () => {
    const file = await get(`/instances/${DUMMY_CT.instance}/file`);
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toBe('application/dicom');
    expect(file.bytes.equals(readFileSync(samplePath('orthanc-tests/DummyCT.dcm')))).toBe(true);
  });

  it('keeps every byte of concurrent uploads and instance-level answers (bodies and answers use pooled memory)', async () => {
    // 24 files of 4 sizes, 6 in flight: a buffer handed back too early would show as another file's bytes.
    const files = [16, 64, 256, 512].flatMap((imageSize, n) =>
      generateSyntheticStudy({ instances: 6, imageSize, seed: 900 + n }).map((i) => Buffer.from(i.bytes)),
    );
    const ids = new Array<string>(files.length);
    await forEachConcurrently(files.keys(), 6, async (n) => {
      const answer = await http(api.baseUrl, 'POST', '/instances', files[n], { 'content-type': 'application/dicom' });
      expect(answer.status).toBe(200);
      ids[n] = answer.body.ID;
    });
    await forEachConcurrently(files.keys(), 6, async (n) => {
      expect((await get(`/instances/${ids[n]}/file`)).bytes.equals(files[n])).toBe(true);
      const replaced = await http(api.baseUrl, 'POST', `/instances/${ids[n]}/modify`, { Replace: { InstitutionName: `Site ${n}` }, Force: true });
      expect(replaced.status).toBe(200);
      // Its own source's series, instance number and pixels (the last 1,000 bytes), and the new value.
      const [before, after] = [readDataset(files[n]).dataset, readDataset(replaced.bytes).dataset];
      expect([after.SeriesInstanceUID, after.InstanceNumber]).toEqual([before.SeriesInstanceUID, before.InstanceNumber]);
      expect(replaced.bytes.subarray(-1000).equals(files[n].subarray(-1000))).toBe(true);
      expect(after.InstitutionName).toBe(`Site ${n}`);
    });
  });

  it('replaces an object that a writer left, whole or cut short, without indexing it', async () => {
    // A process killed between writing an instance's object and indexing it; the next store of that
    // instance must not keep the leftover (putIfAbsent finds the name taken, the index says no).
    const storage = api.app.get<ObjectStorage>(OBJECT_STORAGE);
    for (const [seed, leftover] of [[950, (b: Buffer) => b.subarray(0, 1000)], [951, (b: Buffer) => Buffer.concat([b, b])]] as const) {
      const bytes = Buffer.from(generateSyntheticStudy({ instances: 1, imageSize: 64, seed })[0].bytes);
      const id = parseInstance(bytes).ids.instance;
      await storage.put(objectKeyForInstance(id), leftover(bytes));
      const stored = await http(api.baseUrl, 'POST', '/instances', bytes, { 'content-type': 'application/dicom' });
      expect(stored.body).toMatchObject({ ID: id, Status: 'Success' });
      expect((await get(`/instances/${id}/file`)).bytes.equals(bytes)).toBe(true);
      expect((await http(api.baseUrl, 'POST', `/instances/${id}/attachments/dicom/verify-sha256`, {})).status).toBe(200);
    }
  });

  it('answers 404 in Orthanc\'s error shape for unknown and malformed IDs', async () => {
    const unknown = await get('/studies/00000000-00000000-00000000-00000000-00000000');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ HttpStatus: 404, Message: 'Unknown resource', OrthancStatus: 17, Method: 'GET' });
    expect((await get('/instances/../../etc/passwd/file')).status).toBe(404);
  });

  it('accepts a ZIP of DICOM files with one answer per file', async () => {
    const { zipSync } = await import('fflate');
    const zip = zipSync({
      'a/DummyCT.dcm': readFileSync(samplePath('orthanc-tests/DummyCT.dcm')),
      'b/not-dicom.txt': Buffer.from('hello'),
    });
    const answer = await http(api.baseUrl, 'POST', '/instances', Buffer.from(zip));
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual([
      expect.objectContaining({ ID: DUMMY_CT.instance, Status: 'AlreadyStored' }),
      expect.objectContaining({ Filename: 'b/not-dicom.txt', Status: 'Failure' }),
    ]);
  });

  it('deletes a study with its objects, and the emptied patient with it', async () => {
    const before = await get(`/instances/${DUMMY_CT.instance}`);
    expect(before.status).toBe(200);
    const deleted = await http(api.baseUrl, 'DELETE', `/studies/${DUMMY_CT.study}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ RemainingAncestor: null });
    expect((await get(`/instances/${DUMMY_CT.instance}`)).status).toBe(404);
    expect((await get(`/patients/${DUMMY_CT.patient}`)).status).toBe(404);
    expect((await get(`/instances/${DUMMY_CT.instance}/file`)).status).toBe(404);
    // The object is gone from the store too: re-uploading writes it anew.
    const storage = api.app.get<import('@deidflow/storage').ObjectStorage>(require('@deidflow/storage').OBJECT_STORAGE);
    const { objectKeyForInstance } = await import('@deidflow/storage');
    expect(await storage.exists(objectKeyForInstance(DUMMY_CT.instance))).toBe(false);
  });

  it('keeps the patient when another study remains (RemainingAncestor)', async () => {
    const dir = 'orthanc-tests/PatientWith2studies';
    const files = allSampleFiles().filter((f) => f.startsWith(dir));
    const answers = [];
    expect(files.length).toBeGreaterThan(1);
    for (const f of files) answers.push((await http(api.baseUrl, 'POST', '/instances', readFileSync(samplePath(f)))).body);
    const studies = [...new Set(answers.map((a) => a.ParentStudy))];
    expect(studies.length).toBe(2);
    const deleted = await http(api.baseUrl, 'DELETE', `/studies/${studies[0]}`);
    expect(deleted.body.RemainingAncestor).toEqual({ ID: answers[0].ParentPatient, Path: `/patients/${answers[0].ParentPatient}`, Type: 'Patient' });
    expect((await get(`/patients/${answers[0].ParentPatient}`)).body.Studies).toEqual([studies[1]]);
  });

  it('uploads every sample: stored, already stored, or a clear 400', async () => {
    const outcomes: Record<string, string> = {};
    for (const name of allSampleFiles()) {
      const answer = await http(api.baseUrl, 'POST', '/instances', readFileSync(samplePath(name)));
      if (answer.status === 200) {
        expect(['Success', 'AlreadyStored']).toContain(answer.body.Status);
        const file = await get(`/instances/${answer.body.ID}/file`);
        expect(file.status).toBe(200);
        expect(file.bytes.subarray(128, 132).toString('latin1')).toBe('DICM');
        outcomes[name] = answer.body.Status;
      } else {
        expect(answer.status).toBe(400);
        expect(answer.body).toMatchObject({ HttpStatus: 400, OrthancStatus: 15 });
        expect(typeof answer.body.Details).toBe('string');
        outcomes[name] = `400: ${answer.body.Details}`;
      }
    }
    const stored = Object.values(outcomes).filter((o) => o === 'Success' || o === 'AlreadyStored').length;
    // Most real files are storable; a few are deliberately not instances (DICOMDIR, no header...).
    expect(stored).toBeGreaterThan(Object.keys(outcomes).length * 0.7);
    expect(outcomes['orthanc-tests/DummyCT.dcm']).toBe('Success'); // deleted by the test above
    // Bare datasets (no preamble, no meta) are stored as Part 10 files, as Orthanc stores them.
    for (const bare of ['orthanc-tests/PrivateMDNTags.dcm', 'pydicom/test_files/rtstruct.dcm', 'pydicom/test_files/ExplVR_LitEndNoMeta.dcm', 'pydicom/test_files/ExplVR_BigEndNoMeta.dcm']) {
      expect(outcomes[bare]).toMatch(/^(Success|AlreadyStored)$/);
    }
    // Truncated files are refused, as DCMTK refuses them: no job would be able to read them.
    for (const truncated of ['pydicom/test_files/MR_truncated.dcm', 'pydicom/test_files/rtplan_truncated.dcm']) {
      expect(outcomes[truncated]).toMatch(/^400: Malformed DICOM dataset: truncated data/);
    }
    if (process.env.SHOW_OUTCOMES) console.log(outcomes);
  });

  it('reports statistics and system', async () => {
    const stats = await get('/statistics');
    expect(stats.body).toMatchObject({ CountPatients: expect.any(Number), TotalDiskSize: expect.any(String) });
    const system = await get('/system');
    expect(system.body).toMatchObject({ Version: expect.any(String), ApiVersion: expect.any(Number), Name: 'DeidFlow' });
  });
});

describe('ZIP uploads', () => {
  it('refuses an archive whose content exceeds the body limit (a ZIP bomb) with 413', async () => {
    const { zipSync } = await import('fflate');
    const api = await startApi(await testConfig('fs', { EMBEDDED_WORKER: 'false', HTTP_BODY_LIMIT: String(1024 * 1024) }));
    try {
      // 8 MiB of zeros compress to a few kB: small on the wire, large once inflated.
      const bomb = Buffer.from(zipSync({ 'a.dcm': new Uint8Array(8 * 1024 * 1024) }, { level: 9 }));
      expect(bomb.length).toBeLessThan(100_000);
      const answer = await http(api.baseUrl, 'POST', '/instances', bomb);
      expect(answer.status).toBe(413);
      expect(answer.body.Details).toMatch(/ZIP archive holds more than/);
    } finally {
      await api.close();
    }
  });
});

async function forEachConcurrently(keys: Iterable<number>, concurrency: number, work: (n: number) => Promise<void>): Promise<void> {
  const queue = [...keys];
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let n = queue.shift(); n !== undefined; n = queue.shift()) await work(n);
  }));
}
