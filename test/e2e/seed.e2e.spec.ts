import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { privateTags, readDataset } from '../support/dicom';
import { http } from '../support/http';
import { resetDatabase, RunningApi, startApi, testConfig } from '../support/app-harness';
import { allSampleFiles, samplePath } from '../support/samples';

/**
 * The founding document's curl calls (../shared/seed-anonymization.rst), copied character for
 * character from it at run time: only the host and the example IDs are replaced by those of this
 * run's uploads. Each call's documented effect is checked.
 */
const SEED = readFileSync(join(__dirname, '../../../shared/seed-anonymization.rst'), 'utf8');
const SEED_CALLS = SEED.split('\n')
  .map((line) => line.replace(/^\+/, '').trim())
  .filter((line) => /^\$\s+curl /.test(line))
  .map((line) => line.replace(/^\$\s+/, ''));

const DOC_IDS = {
  instance: '6e67da51-d119d6ae-c5667437-87b9a8a5-0f07c49f',
  series: '95a6e2bf-9296e2cc-bf614e2f-22b391ee-16e010e0',
  study: 'ef2ce55f-9342856a-aee23907-2667e859-9f3b734d',
  patient: '6fb47ef5-072f4557-3215aa29-f99515c1-6fa22bf0',
};

describe('the seed\'s curl calls, verbatim', () => {
  let api: RunningApi;
  let ids: typeof DOC_IDS;
  const workdir = mkdtempSync(join(tmpdir(), 'deidflow-seed-'));

  /** Runs the n-th documented call through bash and curl, as a user would (async: the API runs in this process). */
  async function run(index: number): Promise<string> {
    let command = SEED_CALLS[index].replace('http://localhost:8042', api.baseUrl);
    for (const [level, docId] of Object.entries(DOC_IDS)) command = command.replace(docId, ids[level as keyof typeof ids]);
    const { stdout } = await promisify(execFile)('bash', ['-c', `${command} --silent --show-error --fail-with-body`], { cwd: workdir });
    return stdout;
  }

  beforeAll(async () => {
    await resetDatabase();
    api = await startApi(await testConfig('fs', { EMBEDDED_WORKER: 'true' }));
    // An instance with private tags, descriptions and an institution: pydicom's CT_small.dcm.
    const ct = (await http(api.baseUrl, 'POST', '/instances', readFileSync(samplePath('pydicom/test_files/CT_small.dcm')))).body;
    // A series, study and patient with several instances: Knee.
    let knee: any;
    for (const file of allSampleFiles().filter((f) => f.startsWith('orthanc-tests/Knee/'))) {
      knee = (await http(api.baseUrl, 'POST', '/instances', readFileSync(samplePath(file)))).body;
    }
    ids = { instance: ct.ID, series: knee.ParentSeries, study: knee.ParentStudy, patient: knee.ParentPatient };
  });
  afterAll(async () => {
    await api?.close();
    rmSync(workdir, { recursive: true, force: true });
  }, 30_000);

  it('finds the nine documented calls', () => {
    expect(SEED_CALLS).toHaveLength(9);
  });

  it('1. anonymizes one instance: new UIDs, profile applied, private tags removed', async () => {
    const original = readDataset(readFileSync(samplePath('pydicom/test_files/CT_small.dcm')));
    await run(0);
    const out = readDataset(readFileSync(join(workdir, 'Anonymized.dcm')));
    for (const uid of ['StudyInstanceUID', 'SeriesInstanceUID', 'SOPInstanceUID']) {
      expect(out.dataset[uid]).toMatch(/^2\.25\.\d+$/);
      expect(out.dataset[uid]).not.toBe(original.dataset[uid]);
    }
    expect(out.meta.MediaStorageSOPInstanceUID).toBe(out.dataset.SOPInstanceUID);
    expect(out.dataset.PatientName?.[0]?.Alphabetic ?? out.dataset.PatientName).toMatch(/^Anonymized\d+$/);
    expect(out.dataset.PatientIdentityRemoved).toBe('YES');
    expect(out.dataset.InstitutionName).toBeUndefined();
    expect(privateTags(original.raw).length).toBeGreaterThan(0);
    expect(privateTags(out.raw)).toEqual([]);
    // Nothing stored at instance level.
    expect((await http(api.baseUrl, 'GET', '/instances')).body).not.toContain(out.dataset.SOPInstanceUID);
  });

  it('2. anonymizes with Replace by name and by hex, Keep, and "KeepPrivateTags": null', async () => {
    const original = readDataset(readFileSync(samplePath('pydicom/test_files/CT_small.dcm')));
    await run(1);
    const out = readDataset(readFileSync(join(workdir, 'Anonymized.dcm')));
    expect(nameOf(out.dataset.PatientName)).toBe('hello');
    expect(out.dataset.PatientID).toBe('world');
    expect(out.dataset.StudyDescription).toBe(original.dataset.StudyDescription);
    expect(out.dataset.SeriesDescription).toBe(original.dataset.SeriesDescription);
    expect(privateTags(out.raw)).toEqual(privateTags(original.raw));
    expect(out.dataset.StudyInstanceUID).not.toBe(original.dataset.StudyInstanceUID);
  });

  it('3. modifies one instance: Replace, Remove, "RemovePrivateTags": null', async () => {
    const original = readDataset(readFileSync(samplePath('pydicom/test_files/CT_small.dcm')));
    await run(2);
    const out = readDataset(readFileSync(join(workdir, 'Modified.dcm')));
    expect(nameOf(out.dataset.PatientName)).toBe('hello');
    expect(out.dataset.PatientID).toBe('world');
    expect(original.dataset.InstitutionName).toBeDefined();
    expect(out.dataset.InstitutionName).toBeUndefined();
    expect(privateTags(out.raw)).toEqual([]);
    // Replacing PatientID makes it a patient-level modification (Orthanc's DetectModifyLevel): new UIDs.
    expect(out.dataset.StudyInstanceUID).not.toBe(original.dataset.StudyInstanceUID);
    expect(out.dataset.SOPInstanceUID).not.toBe(original.dataset.SOPInstanceUID);
    expect(out.dataset.StudyDate).toBe(original.dataset.StudyDate);
  });

  it('4-5. modifies a series and a study: {ID, Path} of the stored result, tag replaced', async () => {
    for (const [call, level] of [[3, 'series'], [4, 'studies']] as const) {
      const answer = JSON.parse(await run(call));
      expect(answer.ID).toMatch(/^[0-9a-f]{8}(-[0-9a-f]{8}){4}$/);
      expect(answer.Path).toBe(`/${level}/${answer.ID}`);
      expect(answer.ID).not.toBe(level === 'series' ? ids.series : ids.study);
      const resource = (await http(api.baseUrl, 'GET', answer.Path)).body;
      expect(resource.ModifiedFrom).toBe(level === 'series' ? ids.series : ids.study);
      const instances = (await http(api.baseUrl, 'GET', `${answer.Path}/instances`)).body;
      expect(instances.length).toBeGreaterThan(0);
      const file = (await http(api.baseUrl, 'GET', `/instances/${instances[0].ID}/file`)).bytes;
      expect(readDataset(file).dataset.InstitutionName).toBe('My own clinic');
    }
  });

  it('6. modifies a patient: PatientID replaced, answer with PatientID and Type', async () => {
    const answer = JSON.parse(await run(5));
    expect(answer).toMatchObject({ Path: `/patients/${answer.ID}`, PatientID: answer.ID, Type: 'Patient' });
    const patient = (await http(api.baseUrl, 'GET', answer.Path)).body;
    expect(patient.MainDicomTags).toMatchObject({ PatientID: 'Hello', PatientName: 'Sample patient name' });
    // The source is kept (KeepSource defaults to true).
    expect((await http(api.baseUrl, 'GET', `/patients/${ids.patient}`)).status).toBe(200);
  });

  it('6b. refuses a patient modify that does not replace PatientID, with the reason', async () => {
    const answer = await http(api.baseUrl, 'POST', `/patients/${ids.patient}/modify`, '{"Replace":{"PatientName":"x"}}');
    expect(answer.status).toBe(400);
    expect(answer.body.Details).toMatch(/PatientID is required to be modified/);
  });

  it('7-9. anonymizes a patient, a study and a series', async () => {
    for (const [call, level, type] of [[6, 'patients', 'Patient'], [7, 'studies', 'Study'], [8, 'series', 'Series']] as const) {
      const answer = JSON.parse(await run(call));
      expect(answer).toMatchObject({ Path: `/${level}/${answer.ID}`, Type: type, IsAnonymization: true, FailedInstancesCount: 0 });
      const resource = (await http(api.baseUrl, 'GET', answer.Path)).body;
      expect(resource.AnonymizedFrom).toBe(ids[type.toLowerCase() as 'patient' | 'study' | 'series']);
    }
  });
});

function nameOf(value: unknown): string {
  if (Array.isArray(value)) return nameOf(value[0]);
  if (value && typeof value === 'object') return (value as { Alphabetic?: string }).Alphabetic ?? '';
  return String(value ?? '');
}
