import { readdirSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { objectKeyForInstance } from '@deidflow/storage';
import { generateSyntheticStudy } from '@deidflow/dicom';
import { http } from '../support/http';
import { resetDatabase, RunningApi, startApi, testConfig } from '../support/app-harness';
import { samplePath } from '../support/samples';
import { datasetOf, freePort, hasDcmtkStorescp, Storescp, startStorescp } from '../support/storescp';

const KNIX = ['orthanc-tests/Knix/Loc/IM-0001-0001.dcm', 'orthanc-tests/Knix/Loc/IM-0001-0002.dcm']; // JPEG lossless
const PLAIN = 'orthanc-tests/PrivateTags.dcm';

/** Orthanc's /modalities (DICOM_MODALITIES): listing, C-ECHO, and C-STORE of stored resources. */
describe('modalities', () => {
  let api: RunningApi;
  /** Accepts every syntax; and one that takes uncompressed syntaxes only. */
  let research: Storescp | undefined;
  let uncompressedOnly: Storescp | undefined;
  let closedPort: number;
  const call = (method: string, path: string, body?: string | object) => http(api.baseUrl, method, path, body);
  const upload = async (name: string) => (await call('POST', '/instances', readFileSync(samplePath(name)))).body as { ID: string; ParentSeries: string; ParentStudy: string };

  beforeAll(async () => {
    await resetDatabase();
    closedPort = await freePort();
    if (hasDcmtkStorescp) {
      research = await startStorescp('RESEARCH', true);
      uncompressedOnly = await startStorescp('PLAINPACS', false);
    }
    const modalities = {
      research: ['RESEARCH', '127.0.0.1', research?.port ?? closedPort],
      plain: { AET: 'PLAINPACS', Host: '127.0.0.1', Port: uncompressedOnly?.port ?? closedPort, Manufacturer: 'Generic', AllowFind: false },
      nobody: ['NOBODY', '127.0.0.1', closedPort],
    };
    api = await startApi(await testConfig('fs', { DICOM_MODALITIES: JSON.stringify(modalities), DICOM_SCU_TIMEOUT_MS: '3000', EMBEDDED_WORKER: 'true' }));
  });
  afterAll(async () => {
    research?.stop();
    uncompressedOnly?.stop();
    await api?.close();
  }, 30_000);

  it("lists the modalities, with Orthanc's parameters under ?expand, and answers 404 for an unknown name", async () => {
    expect((await call('GET', '/modalities')).body).toEqual(['research', 'plain', 'nobody']);
    const expanded = (await call('GET', '/modalities?expand')).body;
    expect(expanded.research).toEqual({
      AET: 'RESEARCH', Host: '127.0.0.1', Port: research?.port ?? closedPort, Manufacturer: 'Generic',
      AllowEcho: true, AllowEventReport: true, AllowFind: true, AllowFindWorklist: true, AllowGet: true, AllowMove: true,
      AllowNAction: true, AllowStore: true, AllowTranscoding: true, LocalAet: '', Timeout: 0, UseDicomTls: false,
    });
    expect(expanded.plain.AllowFind).toBe(false);
    expect((await call('GET', '/modalities/plain/configuration')).body).toEqual(expanded.plain);
    expect((await call('GET', '/modalities/research')).body).toEqual(['configuration', 'echo', 'store']);
    for (const [method, path] of [['GET', '/modalities/unknown'], ['POST', '/modalities/unknown/echo'], ['POST', '/modalities/unknown/store']]) {
      const answer = await call(method, path, method === 'GET' ? undefined : '{}');
      expect({ path, status: answer.status, code: answer.body.OrthancStatus }).toEqual({ path, status: 404, code: 7 });
    }
  });

  it("registers, replaces and removes modalities over REST as Orthanc's PUT and DELETE, kept in the index for every API process", async () => {
    expect((await call('PUT', '/modalities/added', ['ADDED', '127.0.0.1', closedPort])).status).toBe(200);
    expect((await call('GET', '/modalities')).body).toEqual(['research', 'plain', 'nobody', 'added']);
    expect((await call('PUT', '/modalities/added', { AET: 'ADDED2', Host: 'localhost', Port: 104, LocalAet: 'ME' })).status).toBe(200);
    expect((await call('GET', '/modalities/added/configuration')).body).toMatchObject({ AET: 'ADDED2', Host: 'localhost', Port: 104, LocalAet: 'ME', AllowStore: true });
    // Another API process over the same index sees it.
    const other = await startApi({ ...api.config, HTTP_PORT: 0, DICOM_SERVER_ENABLED: false });
    try {
      expect((await http(other.baseUrl, 'GET', '/modalities')).body).toContain('added');
    } finally {
      await other.close();
    }
    expect((await call('DELETE', '/modalities/added')).status).toBe(200);
    expect((await call('GET', '/modalities/added')).status).toBe(404);
    expect((await call('DELETE', '/modalities/added')).status).toBe(404);

    const bad = await call('PUT', '/modalities/bad', ['BAD', 'host']);
    expect(bad.status).toBe(400);
    expect(bad.body.Details).toMatch(/modality "bad": an array must be/);
    const configured = await call('PUT', '/modalities/research', ['OTHER', '127.0.0.1', 104]);
    expect(configured.status).toBe(400);
    expect(configured.body.Details).toMatch(/defined by DICOM_MODALITIES/);
    expect((await call('DELETE', '/modalities/research')).status).toBe(400);
  });

  it('answers 502 (Orthanc: 500, NetworkProtocol) when a modality cannot be reached, naming it', async () => {
    for (const path of ['/modalities/nobody/echo', '/modalities/nobody/store']) {
      const { ID } = await upload(PLAIN);
      const answer = await call('POST', path, path.endsWith('echo') ? {} : [ID]);
      expect(answer.status).toBe(502);
      expect(answer.body).toMatchObject({ OrthancStatus: 9, OrthancError: 'Error in the network protocol' });
      expect(answer.body.Details).toMatch(/NOBODY \(127\.0\.0\.1:\d+\)/);
    }
  });

  it('counts every instance failed, Permissive, when the modality cannot be reached', async () => {
    const first = await upload(KNIX[0]);
    await upload(KNIX[1]);
    const answer = await call('POST', '/modalities/nobody/store', { Resources: [first.ParentSeries], Permissive: true });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ InstancesCount: 2, FailedInstancesCount: 2, RemoteAet: 'NOBODY' });
  });

  it.each([
    ['no resources', {}],
    ['an empty list', []],
    ['an unknown field', { Resources: ['x'], Colour: 'red' }],
    ['Synchronous and Asynchronous both', { Resources: ['x'], Asynchronous: true, Synchronous: true }],
    ['a bad LocalAet', { Resources: ['x'], LocalAet: 'FAR TOO LONG FOR AN AE' }],
    ['a malformed ID', ['not-an-id']],
  ])('refuses a store request with %s (400)', async (_what, body) => {
    expect((await call('POST', '/modalities/research/store', body)).status).toBe(400);
  });

  it('answers 404 for an unknown resource to store', async () => {
    expect((await call('POST', '/modalities/research/store', '"00000000-00000000-00000000-00000000-00000000"')).status).toBe(404);
  });

  (hasDcmtkStorescp ? it : it.skip)('echoes, and sends an anonymized study byte for byte as stored, in any of Orthanc\'s body forms', async () => {
    expect((await call('POST', '/modalities/research/echo', '')).body).toEqual({});
    const [first] = await Promise.all(KNIX.map(upload));
    const anonymized = (await call('POST', `/studies/${first.ParentStudy}/anonymize`, {})).body as { ID: string };
    const study = (await call('GET', `/studies/${anonymized.ID}`)).body;
    const instanceIds = (await call('GET', `/studies/${anonymized.ID}/instances`)).body.map((instance: { ID: string }) => instance.ID) as string[];

    const answer = await call('POST', '/modalities/research/store', { Resources: [anonymized.ID], LocalAet: 'DEIDSEND' });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ Description: 'REST API', FailedInstancesCount: 0, InstancesCount: 2, LocalAet: 'DEIDSEND', ParentResources: [anonymized.ID], RemoteAet: 'RESEARCH' });
    const received = research!.received();
    for (const id of instanceIds) {
      const stored = (await call('GET', `/instances/${id}/file`)).bytes;
      expect(received.some((file) => datasetOf(file).equals(datasetOf(stored)))).toBe(true);
    }
    expect(study.MainDicomTags.StudyInstanceUID).toBeDefined();

    // A bare ID as text, and a list: the same answer.
    expect((await call('POST', '/modalities/research/store', instanceIds[0])).body.InstancesCount).toBe(1);
    expect((await call('POST', '/modalities/research/store', instanceIds)).body.InstancesCount).toBe(2);
  });

  (hasDcmtkStorescp ? it : it.skip)('streams a large instance (33.5 MB, above what is read whole) from the store, byte for byte', async () => {
    const [large] = generateSyntheticStudy({ instances: 1, imageSize: 4096, seed: 77 });
    const uploaded = (await call('POST', '/instances', Buffer.from(large.bytes))).body as { ID: string };
    const answer = await call('POST', '/modalities/research/store', { Resources: [uploaded.ID] });
    expect(answer.body).toMatchObject({ InstancesCount: 1, FailedInstancesCount: 0 });
    const received = research!.received().find((file) => file.includes(Buffer.from(large.sopInstanceUid)));
    expect(received).toBeDefined();
    expect(datasetOf(received!).equals(datasetOf(Buffer.from(large.bytes)))).toBe(true);

    // The stored file cut short behind DeidFlow's back: not sent as if whole (the association is
    // aborted before the last fragment, so the node keeps nothing), and the call says why.
    rmSync(join(research!.directory, readdirSync(research!.directory).find((name) => name.includes(large.sopInstanceUid))!));
    const path = join(api.config.STORAGE_DIR, objectKeyForInstance(uploaded.ID));
    truncateSync(path, statSync(path).size - 1000);
    const cut = await call('POST', '/modalities/research/store', { Resources: [uploaded.ID] });
    expect(cut.status).toBe(500);
    expect(cut.body).toMatchObject({ OrthancStatus: 20 });
    expect(cut.body.Details).toMatch(/holds \d+ bytes of dataset where the index expects \d+/);
    expect(research!.received().some((file) => file.includes(Buffer.from(large.sopInstanceUid)))).toBe(false);
  });

  (hasDcmtkStorescp ? it : it.skip)('fails on an instance the modality takes in no proposed syntax (the job fails, the others sent); Permissive succeeds and counts it', async () => {
    const compressed = await upload(KNIX[0]);
    const plain = await upload(PLAIN);
    const refused = await call('POST', '/modalities/plain/store', [compressed.ID, plain.ID]);
    expect(refused.status).toBe(502);
    expect(refused.body.OrthancStatus).toBe(2015);
    expect(refused.body.Details).toContain(compressed.ID);
    expect(uncompressedOnly!.received()).toHaveLength(1); // as every DeidFlow job, it went on past the failure

    const permissive = await call('POST', '/modalities/plain/store', { Resources: [compressed.ID, plain.ID], Permissive: true });
    expect(permissive.status).toBe(200);
    expect(permissive.body).toMatchObject({ InstancesCount: 2, FailedInstancesCount: 1 });
  });

  (hasDcmtkStorescp ? it : it.skip)('runs as an asynchronous DicomModalityStore job, followed in GET /jobs', async () => {
    const { ParentSeries } = await upload(KNIX[1]);
    const submitted = await call('POST', '/modalities/research/store', { Resources: [ParentSeries], Asynchronous: true });
    expect(submitted.status).toBe(200);
    expect(submitted.body).toEqual({ ID: expect.any(String), Path: `/jobs/${submitted.body.ID}` });
    let job: Record<string, any> = {};
    for (let i = 0; i < 200 && job.State !== 'Success'; i++) {
      job = (await call('GET', submitted.body.Path)).body;
      if (job.State !== 'Success') await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(job).toMatchObject({ State: 'Success', Type: 'DicomModalityStore', Progress: 100, ErrorCode: 0 });
    expect(job.Content).toEqual({ Description: 'REST API', FailedInstancesCount: 0, InstancesCount: 2, LocalAet: 'DEIDFLOW', ParentResources: [ParentSeries], RemoteAet: 'RESEARCH' });
  });
});
