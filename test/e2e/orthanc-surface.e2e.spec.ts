import { createHash } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { http, HttpAnswer } from '../support/http';
import { samplePath } from '../support/samples';
import { unzipSync } from 'fflate';
import { objectKeyForInstance } from '@deidflow/storage';
import { resetDatabase, RunningApi, startApi, testConfig } from '../support/app-harness';

/**
 * The part of Orthanc's REST surface that its clients and its integration tests (orthanc-tests,
 * Tests/Tests.py) use besides anonymize/modify: /tags, /content, /tools/create-dicom,
 * /tools/bulk-delete, AnonymizedFrom/ModifiedFrom, and DeidFlow's /lineage. Tests named after an
 * orthanc-tests test assert what it asserts, on the same sample file.
 */

const REFERENCE_DIR = join(__dirname, '../../../shared/orthanc-reference/browse');

const DUMMY_CT = {
  file: 'orthanc-tests/DummyCT.dcm',
  instance: '66a662ce-7430e543-bad44d47-0dc5a943-ec7a538d',
  series: 'f2635388-f01d497a-15f7c06b-ad7dba06-c4c599fe',
  study: 'b9c08539-26f93bde-c81ab0d7-bffaf2cb-a4d0bdd0',
  patient: '6816cb19-844d5aee-85245eba-28e841e6-2414fae2',
};

const UNKNOWN_ID = '00000000-00000000-00000000-00000000-00000000';

/** Toolbox.py GenerateTestSequence() of orthanc-tests. */
const TEST_SEQUENCE = [
  { StudyDescription: 'Hello^', ReferencedStudySequence: [{ StudyDescription: 'Toto' }, { StudyDescription: 'Tata' }] },
  { StudyDescription: 'Sébastien^' },
];

/** The JSON body of a captured Orthanc answer (request line, status, headers, blank line, body). */
function referenceBody(name: string): string {
  const text = readFileSync(join(REFERENCE_DIR, name), 'utf8');
  return text.slice(text.indexOf('\n{') + 1);
}

describe('Orthanc REST surface: tags, content, create-dicom, bulk-delete, lineage', () => {
  let api: RunningApi;

  const get = <T = any>(path: string) => http<T>(api.baseUrl, 'GET', path);
  const post = <T = any>(path: string, body?: Buffer | string | object) => http<T>(api.baseUrl, 'POST', path, body);
  const del = (path: string) => http(api.baseUrl, 'DELETE', path);
  const ok = <T>(answer: HttpAnswer<T>): T => {
    if (answer.status !== 200) throw new Error(`HTTP ${answer.status}: ${answer.bytes.toString('utf8')}`);
    return answer.body;
  };
  const upload = async (name: string): Promise<{ ID: string; ParentSeries: string; ParentStudy: string; ParentPatient: string }> =>
    ok(await post('/instances', readFileSync(samplePath(`orthanc-tests/${name}`))));
  const uploadPrivateMdnTags = async () =>
    // A bare Implicit VR dataset (no preamble, no meta group): stored like Orthanc stores it.
    ok(await post('/instances', readFileSync(samplePath('orthanc-tests/PrivateMDNTags.dcm')))).ID as string;
  /** DoGet of orthanc-tests on a raw value: the bytes as a string, padding kept. */
  const content = async (instance: string, path: string) => ok(await get(`/instances/${instance}/content/${path}`)) as string;
  const count = async (level: string) => (ok(await get(`/${level}`)) as string[]).length;
  /** Instance-level modify/anonymize answers the new file: orthanc-tests re-uploads it. */
  const reupload = async (answer: HttpAnswer) => ok(await post('/instances', answer.bytes)).ID as string;

  beforeAll(async () => {
    api = await startApi(await testConfig('fs', { EMBEDDED_WORKER: 'true' }));
  });
  const storedPath = (instance: string) => join(api.config.STORAGE_DIR, objectKeyForInstance(instance));
  beforeEach(() => resetDatabase());
  afterAll(() => api?.close(), 30_000);

  describe('GET /instances/{id}/tags', () => {
    it('answers the full form by default, as Orthanc 1.10.1 does for DummyCT.dcm', async () => {
      await upload('DummyCT.dcm');
      const full = ok(await get(`/instances/${DUMMY_CT.instance}/tags`));
      // The captured answer is cut short: compare every complete leaf it holds, and the key order.
      // Top-level keys are indented by 3 spaces in Orthanc's styled JSON (nested items by more).
      const leaf = /^ {3}"([0-9a-f]{4},[0-9a-f]{4})" : \s*\{\s*"Name" : "([^"]*)",\s*"Type" : "([^"]*)",\s*"Value" : ("(?:[^"\\]|\\.)*"|null)\s*\}/gm;
      const captured = [...referenceBody('05-instance-tags.txt').matchAll(leaf)];
      expect(captured.length).toBeGreaterThan(30);
      for (const [, key, Name, Type, value] of captured) {
        expect({ key, ...full[key] }).toEqual({ key, Name, Type, Value: JSON.parse(value) });
      }
      const capturedKeys = [...referenceBody('05-instance-tags.txt').matchAll(/^ {3}"([0-9a-f]{4},[0-9a-f]{4})" :/gm)].map(([, key]) => key);
      expect(Object.keys(full).slice(0, capturedKeys.length)).toEqual(capturedKeys);
      expect(full['0008,9215']).toMatchObject({ Name: 'DerivationCodeSequence', Type: 'Sequence' });
      expect(full['0008,9215'].Value[0]['0008,0100']).toEqual({ Name: 'CodeValue', Type: 'String', Value: '121327' });
    });

    it('answers ?simplify and /simplified-tags exactly as Orthanc 1.10.1', async () => {
      await upload('DummyCT.dcm');
      const expected = JSON.parse(referenceBody('06-instance-simplified-tags.txt'));
      expect(ok(await get(`/instances/${DUMMY_CT.instance}/tags?simplify`))).toEqual(expected);
      expect(ok(await get(`/instances/${DUMMY_CT.instance}/simplified-tags`))).toEqual(expected);
      expect(ok(await get(`/instances/${DUMMY_CT.instance}/tags?simplify=true`))).toEqual(expected);
      // An explicit false is the default (full) form.
      expect(ok(await get(`/instances/${DUMMY_CT.instance}/tags?simplify=false`))['0010,0010'].Value).toBe('KNIX');
    });

    it('answers ?short with "gggg,eeee" keys, plain values and nested sequences as lists', async () => {
      await upload('DummyCT.dcm');
      const full = ok(await get(`/instances/${DUMMY_CT.instance}/tags`));
      const short = ok(await get(`/instances/${DUMMY_CT.instance}/tags?short`));
      expect(Object.keys(short)).toEqual(Object.keys(full));
      expect(short['0010,0010']).toBe('KNIX');
      expect(short['0008,9215']).toEqual([{ '0008,0100': '121327', '0008,0102': 'DCM', '0008,0104': expect.any(String) }]);
      for (const [key, node] of Object.entries<{ Type: string; Value: unknown }>(full)) {
        if (node.Type === 'String') expect(short[key]).toBe(node.Value);
        if (node.Type === 'Null' || node.Type === 'TooLong') expect(short[key]).toBeNull();
      }
    });

    it('answers 404 for an unknown or malformed instance', async () => {
      expect((await get(`/instances/${UNKNOWN_ID}/tags`)).status).toBe(404);
      expect((await get('/instances/nope/tags?short')).status).toBe(404);
      expect((await get(`/instances/${UNKNOWN_ID}/simplified-tags`)).body).toMatchObject({ HttpStatus: 404, OrthancStatus: 17 });
    });
  });

  describe('GET /instances/{id}/content/...', () => {
    it('answers raw values by name, "gggg-eeee" and "gggg,eeee", as application/octet-stream', async () => {
      await upload('DummyCT.dcm');
      for (const tag of ['PatientName', '0010-0010', '0010,0010', '0010%2C0010']) {
        const answer = await get(`/instances/${DUMMY_CT.instance}/content/${tag}`);
        expect(answer.status).toBe(200);
        expect(answer.headers.get('content-type')).toBe('application/octet-stream');
        expect(answer.bytes.toString('latin1')).toBe('KNIX');
      }
    });

    it('lists the tags of a dataset and the items of a sequence as JSON arrays', async () => {
      await upload('DummyCT.dcm');
      const root = await get(`/instances/${DUMMY_CT.instance}/content`);
      expect(root.headers.get('content-type')).toContain('application/json');
      expect(root.body).toEqual(expect.arrayContaining(['0008-0018', '0010-0010', '0008-9215']));
      expect(ok(await get(`/instances/${DUMMY_CT.instance}/content/`))).toEqual(root.body);
      expect(ok(await get(`/instances/${DUMMY_CT.instance}/content/DerivationCodeSequence`))).toEqual(['0']);
      expect(ok(await get(`/instances/${DUMMY_CT.instance}/content/0008-9215/0`))).toEqual(['0008-0100', '0008-0102', '0008-0104']);
      expect(await content(DUMMY_CT.instance, '0008-9215/0/CodeValue')).toBe('121327');
    });

    it('answers 404 for a missing tag or item, 400 for an unknown tag name', async () => {
      await upload('DummyCT.dcm');
      const missing = await get(`/instances/${DUMMY_CT.instance}/content/ContentSequence`);
      expect(missing.status).toBe(404);
      expect(missing.body).toMatchObject({ HttpStatus: 404, OrthancStatus: 7 });
      expect((await get(`/instances/${DUMMY_CT.instance}/content/0008-9215/1`)).status).toBe(404);
      expect((await get(`/instances/${DUMMY_CT.instance}/content/0008-9215/1/CodeValue`)).status).toBe(404);
      expect((await get(`/instances/${DUMMY_CT.instance}/content/0008-9215/x/CodeValue`)).status).toBe(404);
      expect((await get(`/instances/${DUMMY_CT.instance}/content/NoSuchTagName`)).status).toBe(400);
      expect((await get(`/instances/${UNKNOWN_ID}/content/PatientName`)).status).toBe(404);
    });

    it('test_raw_tags: private tags, nested private sequences, SOPInstanceUID of several files', async () => {
      const i = (await upload('PrivateTags.dcm')).ID;
      const file = await get(`/instances/${i}/file`);
      expect(file.status).toBe(200);
      expect(createHash('md5').update(file.bytes).digest('hex')).toBe('1a7c56cb02d6e742cc9c856a8ac182e3');
      expect((await content(i, '0008-1010')).trim()).toBe('LOGIQBOOK');
      expect((await get(`/instances/${i}/content/0008-1011`)).status).toBe(404);
      expect((await content(i, '7fe1-1001/0/7fe1-1008/0/7fe1-1057')).trim()).toBe('Abdomen');
      expect((await content(i, '7fe1-1001/0/7fe1-1008/8/7fe1-1057')).trim()).toBe('cla_3c');

      for (const name of ['Brainix/Epi/IM-0001-0001.dcm', 'Brainix/Flair/IM-0001-0001.dcm', 'Knee/T1/IM-0001-0001.dcm', 'Knee/T2/IM-0001-0001.dcm']) {
        await upload(name);
      }
      const instances = ok(await get('/instances')) as string[];
      expect(instances).toHaveLength(5);
      for (const id of instances) {
        const uid = ok(await get(`/instances/${id}`)).MainDicomTags.SOPInstanceUID;
        expect((await content(id, '0008-0018')).replace(/\0/g, '')).toBe(uid);
      }
    });

    it('test_raw_tags_mdn: a private DS value', async () => {
      const i = await uploadPrivateMdnTags();
      expect(Number.parseFloat(await content(i, '7053-1000'))).toBeCloseTo(0.000027, 9);
    });
  });

  describe('instance-level modify and anonymize, checked through /content', () => {
    it('test_modify_instance: Replace, Remove and RemovePrivateTags answer DICOM bytes; the source is unchanged', async () => {
      const i = (await upload('PrivateTags.dcm')).ID;
      const modified = await post(`/instances/${i}/modify`, {
        Replace: { PatientName: 'hello' },
        Remove: ['StationName'],
        RemovePrivateTags: true,
      });
      expect(modified.status).toBe(200);
      expect(modified.headers.get('content-type')).toBe('application/dicom');
      const j = await reupload(modified);

      expect((await content(i, '0010-0010')).trim()).not.toBe('hello');
      expect((await content(i, '0008-1010')).trim()).toBe('LOGIQBOOK');
      expect((await get(`/instances/${i}/content/6003-1010`)).status).toBe(200);

      expect((await content(j, '0010-0010')).trim()).toBe('hello');
      expect((await get(`/instances/${j}/content/0008-1010`)).status).toBe(404);
      expect((await get(`/instances/${j}/content/6003-1010`)).status).toBe(404);
    });

    it('test_anonymize_instance: Keep and Replace of a private tag, tag syntaxes, modify of a created instance', async () => {
      const a = await uploadPrivateMdnTags();
      const s1 = await content(a, 'PatientName');
      const s2 = await content(a, '00e1-10c2');
      const s3 = await content(a, 'StudyDescription');
      const s4 = await content(a, 'SeriesDescription');
      const s5 = await content(a, 'InstitutionName');
      const anonymize = async (body: object) => reupload(await post(`/instances/${a}/anonymize`, body));
      const modify = async (instance: string, body: object) => reupload(await post(`/instances/${instance}/modify`, body));

      let b = await anonymize({});
      expect(await content(b, 'PatientName')).not.toBe(s1);
      expect((await get(`/instances/${b}/content/00e1-10c2`)).status).toBe(404);

      b = await anonymize({ Keep: ['00e1-10c2'] });
      expect(await content(b, 'PatientName')).not.toBe(s1);
      expect(await content(b, '00e1-10c2')).toBe(s2);

      b = await anonymize({ Keep: ['00e1,10c2', 'PatientName'] });
      expect(await content(b, 'PatientName')).toBe(s1);
      expect(await content(b, '00e1-10c2')).toBe(s2);

      b = await anonymize({ Keep: ['PatientName'], Replace: { '00e1,10c2': 'Hello' } });
      expect(await content(b, 'PatientName')).toBe(s1);
      expect(await content(b, '00e1-10c2')).toMatch(/^Hello/);

      b = await anonymize({
        Replace: { PatientName: 'hello', '0010-0020': 'world' },
        Keep: ['StudyDescription', 'SeriesDescription'],
        KeepPrivateTags: true,
        Force: true,
      });
      expect((await content(b, '0010-0010')).trim()).toBe('hello');
      expect((await content(b, 'PatientID')).trim()).toBe('world');
      expect(await content(b, '0008,1030')).toBe(s3);
      expect(await content(b, '0008,103e')).toBe(s4);
      expect(await content(b, '0008-103E')).toBe(s4);
      expect(await content(b, '00e1-10c2')).toBe(s2);
      expect((await get(`/instances/${b}/content/InstitutionName`)).status).toBe(404);

      b = await modify(a, { Replace: { PatientName: 'hello', PatientID: 'world' }, Remove: ['InstitutionName'], RemovePrivateTags: true, Force: true });
      expect((await content(b, '0010-0010')).trim()).toBe('hello');
      expect((await content(b, 'PatientID')).trim()).toBe('world');
      expect(await content(b, '0008,1030')).toBe(s3);
      expect(await content(b, '0008,103e')).toBe(s4);
      expect((await get(`/instances/${b}/content/00e1-10c2`)).status).toBe(404);
      expect((await get(`/instances/${b}/content/InstitutionName`)).status).toBe(404);

      b = await modify(a, { Replace: { PatientName: 'hello', PatientID: 'world' }, Force: true });
      expect(await content(b, '00e1,10c2')).toBe(s2);
      expect(await content(b, '0008-103E')).toBe(s4);
      expect(await content(b, 'InstitutionName')).toBe(s5);

      // "Test modify non-existing": the legacy form of /tools/create-dicom, then a modify that adds tags.
      const created = ok(await post('/tools/create-dicom', JSON.stringify({ PatientName: 'Jodogne', Modality: 'CT' }))).ID;
      expect((await content(created, 'PatientName')).trim()).toBe('Jodogne');
      expect((await get(`/instances/${created}/content/StudyDescription`)).status).toBe(404);
      expect((await content(created, 'Modality')).trim()).toBe('CT');
      b = await modify(created, { Replace: { StudyDescription: 'hello', Modality: 'world' } });
      expect((await content(b, 'PatientName')).trim()).toBe('Jodogne');
      expect((await content(b, 'StudyDescription')).trim()).toBe('hello');
      expect((await content(b, 'Modality')).trim()).toBe('world');
    });

    it('test_create_sequence and test_modify_sequence: nested sequences in, item indexes out', async () => {
      const created = ok(
        await post('/tools/create-dicom', { Tags: { SpecificCharacterSet: 'ISO_IR 100', PatientName: 'Jodogne^', ReferencedStudySequence: TEST_SEQUENCE } }),
      ).ID;
      expect(await content(created, 'PatientName')).toBe('Jodogne^');
      expect(await content(created, 'ReferencedStudySequence/0/StudyDescription')).toBe('Hello^');
      expect(await content(created, 'ReferencedStudySequence/0/ReferencedStudySequence/0/StudyDescription')).toBe('Toto');
      expect(await content(created, 'ReferencedStudySequence/0/ReferencedStudySequence/1/StudyDescription')).toBe('Tata');
      const latin1 = await get(`/instances/${created}/content/ReferencedStudySequence/1/StudyDescription`);
      expect(latin1.bytes.equals(Buffer.from('Sébastien^', 'latin1'))).toBe(true);

      const i = (await upload('PrivateTags.dcm')).ID;
      expect((await get(`/instances/${i}/content/ReferencedStudySequence`)).status).toBe(404);
      const j = await reupload(await post(`/instances/${i}/modify`, { Replace: { PatientName: 'hello', ReferencedStudySequence: TEST_SEQUENCE } }));
      ok(await del(`/instances/${i}`));
      expect(ok(await get(`/instances/${j}/content/ReferencedStudySequence`))).toHaveLength(2);
    });
  });

  describe('series and study jobs: AnonymizedFrom / ModifiedFrom', () => {
    it('test_anonymize_series: AnonymizedFrom on the series and its instances; StationName removed', async () => {
      for (let n = 1; n <= 4; n++) await upload(`Brainix/Epi/IM-0001-000${n}.dcm`);
      const [origSeries] = ok(await get('/series')) as string[];
      const newSeries = ok(await post(`/series/${origSeries}/anonymize`, '{}')).ID;

      const series = ok(await get(`/series/${newSeries}`));
      expect(series.AnonymizedFrom).toBe(origSeries);
      expect(series.Instances).toHaveLength(4);
      for (const i of series.Instances as string[]) {
        const instance = ok(await get(`/instances/${i}`));
        const j = instance.AnonymizedFrom;
        expect(instance.ParentSeries).toBe(newSeries);
        expect(ok(await get(`/instances/${j}`)).ParentSeries).toBe(origSeries);
        expect((await get(`/instances/${j}/content/0008-1010`)).status).toBe(200);
        expect((await get(`/instances/${i}/content/0008-1010`)).status).toBe(404);
      }
    });

    it('shows AnonymizedFrom at every level whose ID changed, ModifiedFrom only where it changed', async () => {
      await upload('DummyCT.dcm');
      const anonymized = ok(await post(`/studies/${DUMMY_CT.study}/anonymize`, {})).ID;
      const study = ok(await get(`/studies/${anonymized}`));
      expect(study.AnonymizedFrom).toBe(DUMMY_CT.study);
      expect(study.ModifiedFrom).toBeUndefined();
      expect(ok(await get(`/patients/${study.ParentPatient}`)).AnonymizedFrom).toBe(DUMMY_CT.patient);
      expect(ok(await get(`/series/${study.Series[0]}`)).AnonymizedFrom).toBe(DUMMY_CT.series);
      const [instance] = ok(await get(`/studies/${anonymized}/instances`));
      expect(instance.AnonymizedFrom).toBe(DUMMY_CT.instance);
      expect(ok(await get(`/instances/${instance.ID}/metadata/AnonymizedFrom`))).toBe(DUMMY_CT.instance);
      // Orthanc's automatic metadata (orthanc-reference/browse/13-*), but RemoteIP and HttpUsername (not recorded).
      const metadata = ok(await get(`/instances/${instance.ID}/metadata?expand`));
      expect(Object.keys(metadata)).toEqual(['AnonymizedFrom', 'IndexInSeries', 'Origin', 'ReceptionDate', 'RemoteAET', 'SopClassUid', 'TransferSyntax']);
      expect(metadata).toMatchObject({ IndexInSeries: '1', Origin: 'RestApi', RemoteAET: '', SopClassUid: '1.2.840.10008.5.1.4.1.1.4', TransferSyntax: '1.2.840.10008.1.2.4.70' });
      expect(metadata.ReceptionDate).toMatch(/^\d{8}T\d{6}$/);
      // The names alone come in Orthanc's order, by metadata number (its std::map); `?expand`'s keys, as jsoncpp writes them.
      expect(ok(await get(`/instances/${DUMMY_CT.instance}/metadata`))).toEqual(['IndexInSeries', 'ReceptionDate', 'RemoteAET', 'Origin', 'TransferSyntax', 'SopClassUid']);
      expect(ok(await get(`/instances/${DUMMY_CT.instance}/metadata?numeric`))).toEqual([1, 2, 3, 8, 9, 10]);
      expect(ok(await get(`/instances/${DUMMY_CT.instance}/metadata/TransferSyntax`))).toBe('1.2.840.10008.1.2.4.70');
      expect(Object.keys(ok(await get(`/series/${DUMMY_CT.series}/metadata?expand`)))).toEqual(['LastUpdate']);

      // A study modify keeps PatientID: the patient is the source's own, without ModifiedFrom.
      const modified = ok(await post(`/studies/${DUMMY_CT.study}/modify`, { Replace: { StudyDescription: 'Modified' } })).ID;
      const modifiedStudy = ok(await get(`/studies/${modified}`));
      expect(modifiedStudy.ModifiedFrom).toBe(DUMMY_CT.study);
      expect(modifiedStudy.ParentPatient).toBe(DUMMY_CT.patient);
      const patient = ok(await get(`/patients/${DUMMY_CT.patient}`));
      expect(patient.ModifiedFrom).toBeUndefined();
      expect(patient.AnonymizedFrom).toBeUndefined();

      // A new PatientName, the same PatientID: the same patient, whose tags stay its first instance's;
      // the new study shows the name its instances carry (Orthanc's study keeps its copy).
      const renamed = ok(await post(`/studies/${DUMMY_CT.study}/modify`, { Replace: { PatientName: 'RENAMED^PATIENT', StudyDescription: 'Renamed' } })).ID;
      const renamedStudy = ok(await get(`/studies/${renamed}`));
      expect(renamedStudy.ParentPatient).toBe(DUMMY_CT.patient);
      expect(renamedStudy.PatientMainDicomTags.PatientName).toBe('RENAMED^PATIENT');
      expect(ok(await get(`/patients/${DUMMY_CT.patient}`)).MainDicomTags.PatientName).toBe(patient.MainDicomTags.PatientName);
      expect(ok(await get(`/studies/${DUMMY_CT.study}`)).PatientMainDicomTags.PatientName).toBe(patient.MainDicomTags.PatientName);
      expect(ok(await get(`/series/${modifiedStudy.Series[0]}`)).ModifiedFrom).toBe(DUMMY_CT.series);
      // The source stays as it was.
      expect(Object.keys(ok(await get(`/studies/${DUMMY_CT.study}`)))).not.toContain('ModifiedFrom');
    });

    it('test_anonymize_nested: a created instance with a nested private sequence, anonymized at study level', async () => {
      const tags = {
        MappingResourceIdentificationSequence: [
          {
            '0009,1002': 'ABCD',
            '0016,0071': '-12',
            '0034,0005': '13',
            StudyDescription: 'Hello',
            StudyDate: '20210705',
            '0009,1001': '-1234',
            ReferencedStudySequence: [{ PatientID: 'HELLO' }],
            CodeMeaning: 'MEANING1',
            EquivalentCodeSequence: [{ CodeMeaning: 'MEANING2' }],
          },
        ],
      };
      const a = ok(await post('/tools/create-dicom', JSON.stringify({ Tags: tags, PrivateCreator: 'Lunit' }))).ID;
      const study = ok(await get(`/instances/${a}/study`)).ID;
      const b = ok(await post(`/studies/${study}/anonymize`, {})).ID;
      const c = ok(await get(`/studies/${b}/instances`));
      expect(c).toHaveLength(1);

      const tags1 = ok(await get(`/instances/${a}/tags?short`));
      const tags2 = ok(await get(`/instances/${c[0].ID}/tags?short`));
      expect(tags1['0008,0124']).toHaveLength(1);
      expect(tags2['0008,0124']).toHaveLength(1);
      expect(Object.keys(tags1['0008,0124'][0])).toHaveLength(9);
      expect(Object.keys(tags2['0008,0124'][0])).toHaveLength(3);
      expect(tags2['0008,0124'][0]['0008,0020']).toBe('');
      expect(tags2['0008,0124'][0]['0008,0104']).toBe('MEANING1');
      expect(tags2['0008,0124'][0]['0008,0121'][0]['0008,0104']).toBe('MEANING2');
      expect(tags1['0008,0124'][0]).toHaveProperty(['0008,1110']);
      expect(tags2['0008,0124'][0]).not.toHaveProperty(['0008,1110']);
    });
  });

  describe('POST /tools/create-dicom', () => {
    it('stores the new instance and answers as an upload does', async () => {
      const answer = await post('/tools/create-dicom', { Tags: { PatientName: 'Hello^World', Modality: 'OT' } });
      expect(answer.status).toBe(200);
      const { ID, ParentPatient, ParentSeries, ParentStudy } = answer.body;
      expect(answer.body).toEqual({ ID, ParentPatient, ParentSeries, ParentStudy, Path: `/instances/${ID}`, Status: 'Success' });
      expect(ok(await get(`/instances/${ID}`)).ParentSeries).toBe(ParentSeries);
      expect(ok(await get(`/instances/${ID}/patient`)).ID).toBe(ParentPatient);
      const simplified = ok(await get(`/instances/${ID}/simplified-tags`));
      expect(simplified).toMatchObject({ PatientName: 'Hello^World', Modality: 'OT', SOPClassUID: '1.2.840.10008.5.1.4.1.1.7' });
      expect(ok(await get('/instances'))).toEqual([ID]);
    });

    it('attaches the instance to a "Parent" series, study or patient, with the parent\'s module tags', async () => {
      await upload('DummyCT.dcm');
      const toSeries = ok(await post('/tools/create-dicom', { Parent: DUMMY_CT.series, Tags: { ImageComments: 'in series' } }));
      expect(toSeries).toMatchObject({ ParentSeries: DUMMY_CT.series, ParentStudy: DUMMY_CT.study, ParentPatient: DUMMY_CT.patient });
      const seriesTags = ok(await get(`/instances/${toSeries.ID}/simplified-tags`));
      expect(seriesTags).toMatchObject({ PatientName: 'KNIX', PatientID: 'ozp00SjY2xG', Modality: 'MR', SeriesDate: '20070101' });

      const toStudy = ok(await post('/tools/create-dicom', { Parent: DUMMY_CT.study, Tags: { Modality: 'OT', SeriesDescription: 'PDF^Study' } }));
      expect(toStudy.ParentStudy).toBe(DUMMY_CT.study);
      expect(toStudy.ParentSeries).not.toBe(DUMMY_CT.series);
      expect(ok(await get(`/instances/${toStudy.ID}/study`)).ID).toBe(DUMMY_CT.study);
      expect(ok(await get(`/instances/${toStudy.ID}/simplified-tags`))).toMatchObject({ StudyDate: '20070101', Modality: 'OT' });

      const toPatient = ok(await post('/tools/create-dicom', { Parent: DUMMY_CT.patient, Tags: {} }));
      expect(toPatient.ParentPatient).toBe(DUMMY_CT.patient);
      expect(toPatient.ParentStudy).not.toBe(DUMMY_CT.study);
      expect(ok(await get(`/patients/${DUMMY_CT.patient}`)).Studies).toHaveLength(2);

      // Overriding what the parent's modules set needs "Force".
      const override = await post('/tools/create-dicom', { Parent: DUMMY_CT.study, Tags: { PatientName: 'Other' } });
      expect(override.status).toBe(400);
    });

    it('refuses a parent that is unknown or an instance, "Content", and malformed bodies with a 400', async () => {
      await upload('DummyCT.dcm');
      const cases: [unknown, RegExp][] = [
        [{ Parent: UNKNOWN_ID, Tags: {} }, /inexistent resource/],
        [{ Parent: 'nope', Tags: {} }, /inexistent resource/],
        [{ Parent: 42, Tags: {} }, /"Parent" must be a string/],
        [{ Parent: DUMMY_CT.instance, Tags: {} }, /must be a series, study or patient/],
        [{ Tags: { PatientName: 'x' }, Content: 'data:image/png;base64,iVBORw0KGgo=' }, /Content/],
        [{ PatientName: 42 }, /string/],
        [[1, 2], /JSON object/],
        [{ Tags: 'nope' }, /"Tags"/],
      ];
      for (const [body, details] of cases) {
        const answer = await post('/tools/create-dicom', JSON.stringify(body));
        expect({ body, status: answer.status }).toEqual({ body, status: 400 });
        expect(answer.body.Details).toMatch(details);
      }
      expect((await post('/tools/create-dicom', '{not json')).status).toBe(400);
      expect(ok(await get('/instances'))).toEqual([DUMMY_CT.instance]);
    });
  });

  describe('POST /tools/bulk-delete', () => {
    it('deletes resources of mixed levels with the cascade, ignores unknown IDs, answers an empty body', async () => {
      await upload('DummyCT.dcm');
      const knee1 = await upload('Knee/T1/IM-0001-0001.dcm');
      const knee2 = await upload('Knee/T1/IM-0001-0002.dcm');
      const knee3 = await upload('Knee/T2/IM-0001-0001.dcm');
      const brainix = await upload('Brainix/Flair/IM-0001-0001.dcm');
      expect(await count('patients')).toBe(3);

      const answer = await post('/tools/bulk-delete', {
        Resources: [DUMMY_CT.patient, knee1.ID, knee3.ParentSeries, brainix.ParentStudy, UNKNOWN_ID, 'not-an-id', knee1.ID],
      });
      expect(answer.status).toBe(200);
      expect(answer.bytes.length).toBe(0);
      expect(ok(await get('/instances'))).toEqual([knee2.ID]);
      expect(ok(await get('/series'))).toEqual([knee2.ParentSeries]);
      expect(ok(await get('/patients'))).toEqual([knee2.ParentPatient]);
    });

    it('deletes a patient and its own study in one call (the second is already gone)', async () => {
      const dummy = await upload('DummyCT.dcm');
      ok(await post('/tools/bulk-delete', { Resources: [dummy.ParentPatient, dummy.ParentStudy, dummy.ID] }));
      expect(await count('patients')).toBe(0);
      ok(await post('/tools/bulk-delete', { Resources: [] }));
    });

    it('refuses a body without a list of strings in "Resources"', async () => {
      await upload('DummyCT.dcm');
      for (const body of [{}, { Resources: 'x' }, { Resources: [1] }, [DUMMY_CT.study]]) {
        const answer = await post('/tools/bulk-delete', body);
        expect({ body, status: answer.status }).toEqual({ body, status: 400 });
      }
      expect((await post('/tools/bulk-delete', '{')).status).toBe(400);
      expect(await count('instances')).toBe(1);
    });

    it('test_bulk_modify: bulk-delete of the anonymized patient and the modified instance leaves the source', async () => {
      const instance = (await upload('DummyCT.dcm')).ID;
      const modified = ok(await post('/tools/bulk-modify', { Resources: [instance] }));
      const anonymized = ok(await post('/tools/bulk-anonymize', { Resources: [instance] }));
      const resources = (answer: { Resources: { ID: string; Type: string }[] }, type: string) =>
        answer.Resources.filter((r) => r.Type === type).map((r) => r.ID);

      expect(resources(modified, 'Series')).toEqual([DUMMY_CT.series]);
      expect(await count('instances')).toBe(3);
      expect(await count('series')).toBe(2);
      expect(await count('studies')).toBe(2);
      expect(await count('patients')).toBe(2);

      ok(await post('/tools/bulk-delete', { Resources: [...resources(anonymized, 'Patient'), ...resources(modified, 'Instance')] }));
      expect(ok(await get('/instances'))).toEqual([instance]);
      expect(ok(await get('/patients'))).toEqual([DUMMY_CT.patient]);
    });

    it('a bulk job of overlapping resources of every level takes each instance once; an unknown one is a 404 before any job', async () => {
      const a = await upload('DummyCT.dcm');
      const b = await upload('ColorTestImageJ.dcm');
      const listed = [a.ParentPatient, a.ParentStudy, a.ParentSeries, a.ID, b.ID, b.ID];
      const answer = ok(await post('/tools/bulk-anonymize', { Resources: listed }));
      expect(answer).toMatchObject({ InstancesCount: 2, FailedInstancesCount: 0 });
      expect(await count('instances')).toBe(4);
      const jobsBefore = ok(await get('/jobs')).length;
      const unknown = await post('/tools/bulk-anonymize', { Resources: [a.ID, '01234567-89abcdef-01234567-89abcdef-01234567'] });
      expect(unknown.status).toBe(404);
      expect(unknown.body.Details).toContain('01234567-89abcdef-01234567-89abcdef-01234567');
      expect(ok(await get('/jobs'))).toHaveLength(jobsBefore);
    });
  });

  describe('GET /{level}/{id}/lineage', () => {
    it('follows ancestors and descendants across generations, with the job and operation of each step', async () => {
      await upload('DummyCT.dcm');
      const anonymize = ok(await post(`/studies/${DUMMY_CT.study}/anonymize`, {}));
      const anonymizedStudy = anonymize.ID;
      const modify = ok(await post(`/studies/${anonymizedStudy}/modify`, { Replace: { StudyDescription: 'Second generation' } }));
      const modifiedStudy = modify.ID;
      const anonymizeJob = ok(await get('/jobs?expand')).find((j: any) => j.Content.ID === anonymizedStudy).ID;
      const modifyJob = ok(await get('/jobs?expand')).find((j: any) => j.Content.ID === modifiedStudy).ID;
      const [anonymizedInstance] = ok(await get(`/studies/${anonymizedStudy}/instances`));
      const [modifiedInstance] = ok(await get(`/studies/${modifiedStudy}/instances`));

      const source = ok(await get(`/studies/${DUMMY_CT.study}/lineage`));
      expect(source).toEqual({
        ID: DUMMY_CT.study,
        Type: 'Study',
        Ancestors: [],
        Descendants: [
          {
            Generation: 1,
            Operation: 'anonymize',
            Job: anonymizeJob,
            RequestDigest: expect.stringMatching(/^[0-9a-f]{64}$/),
            CreationTime: expect.stringMatching(/^\d{8}T\d{6}$/),
            Resources: [anonymizedStudy],
            Instances: [{ Source: DUMMY_CT.instance, Output: anonymizedInstance.ID }],
          },
          expect.objectContaining({
            Generation: 2,
            Operation: 'modify',
            Job: modifyJob,
            Resources: [modifiedStudy],
            Instances: [{ Source: anonymizedInstance.ID, Output: modifiedInstance.ID }],
          }),
        ],
      });

      const last = ok(await get(`/instances/${modifiedInstance.ID}/lineage`));
      expect(last.Type).toBe('Instance');
      expect(last.Descendants).toEqual([]);
      expect(last.Ancestors.map((s: any) => [s.Generation, s.Operation, s.Job, s.Resources])).toEqual([
        [1, 'modify', modifyJob, [anonymizedInstance.ID]],
        [2, 'anonymize', anonymizeJob, [DUMMY_CT.instance]],
      ]);

      // The study modify kept PatientID: both generations live in the anonymized patient, whose lineage
      // (the union over its instances) shows the modify step on both sides, pointing to itself.
      const middlePatient = ok(await get(`/studies/${anonymizedStudy}`)).ParentPatient;
      const middle = ok(await get(`/patients/${middlePatient}/lineage`));
      expect(middle.Ancestors.map((s: any) => [s.Generation, s.Operation, s.Resources])).toEqual([
        [1, 'anonymize', [DUMMY_CT.patient]],
        [1, 'modify', [middlePatient]],
      ]);
      expect(middle.Descendants.map((s: any) => [s.Generation, s.Operation, s.Resources])).toEqual([[1, 'modify', [middlePatient]]]);

      // A deleted ancestor stays in the lineage, without a resource to point to.
      ok(await del(`/studies/${DUMMY_CT.study}`));
      const orphan = ok(await get(`/series/${ok(await get(`/studies/${modifiedStudy}`)).Series[0]}/lineage`));
      expect(orphan.Ancestors[1]).toMatchObject({ Generation: 2, Resources: [], Instances: [{ Source: DUMMY_CT.instance, Output: anonymizedInstance.ID }] });
    });

    it('is documented in the OpenAPI document, at every level', async () => {
      const openApi = ok(await get('/openapi.json'));
      for (const level of ['patients', 'studies', 'series', 'instances']) {
        const operation = openApi.paths[`/${level}/{id}/lineage`]?.get;
        expect(operation?.responses['200'].content['application/json'].schema.properties).toHaveProperty('Ancestors');
      }
      expect(openApi.paths['/tools/create-dicom']?.post).toBeDefined();
      expect(openApi.paths['/tools/bulk-delete']?.post).toBeDefined();
      expect(openApi.paths['/instances/{id}/tags']?.get).toBeDefined();
    });

    it('answers empty lineages for an uploaded resource and 404 for an unknown one', async () => {
      await upload('DummyCT.dcm');
      expect(ok(await get(`/series/${DUMMY_CT.series}/lineage`))).toEqual({ ID: DUMMY_CT.series, Type: 'Series', Ancestors: [], Descendants: [] });
      expect((await get(`/studies/${UNKNOWN_ID}/lineage`)).status).toBe(404);
      expect((await get(`/studies/${DUMMY_CT.series}/lineage`)).status).toBe(404);
    });
  });

  describe('a series\' ExpectedNumberOfInstances and Status (Orthanc\'s GetSeriesStatus)', () => {
    it('counts the instances the series announces against their indexes', async () => {
      const first = ok(await post('/tools/create-dicom', { Tags: { PatientID: 'SERIES-STATUS', PatientName: 'Status', Modality: 'MR', CardiacNumberOfImages: '2', InstanceNumber: '1' } }));
      const series = first.ParentSeries;
      expect(ok(await get(`/series/${series}`))).toMatchObject({ ExpectedNumberOfInstances: 2, Status: 'Missing' });
      ok(await post('/tools/create-dicom', { Parent: series, Tags: { InstanceNumber: '2' } }));
      expect(ok(await get(`/series/${series}`))).toMatchObject({ ExpectedNumberOfInstances: 2, Status: 'Complete' });
      ok(await post('/tools/create-dicom', { Parent: series, Tags: { InstanceNumber: '2' } }));
      expect(ok(await get(`/series/${series}`))).toMatchObject({ Status: 'Inconsistent' });
      // DummyCT announces nothing (CardiacNumberOfImages 0): browse/02-series.txt.
      await upload('DummyCT.dcm');
      expect(ok(await get(`/series/${DUMMY_CT.series}`))).toMatchObject({ ExpectedNumberOfInstances: null, Status: 'Unknown' });
    });
  });

  describe('GET /{level}/{id}/statistics', () => {
    it('counts what is below the resource and sums its files, as Orthanc 1.10 answers', async () => {
      await upload('DummyCT.dcm');
      const second = ok(await post('/tools/create-dicom', { Parent: DUMMY_CT.series, Tags: { InstanceNumber: '2' } })).ID as string;
      const sizes = [(await get(`/instances/${DUMMY_CT.instance}/file`)).bytes.length, (await get(`/instances/${second}/file`)).bytes.length];
      const total = String(sizes[0] + sizes[1]);
      const sized = (bytes: string) => ({
        DicomDiskSize: bytes,
        DicomDiskSizeMB: 0,
        DicomUncompressedSize: bytes,
        DicomUncompressedSizeMB: 0,
        DiskSize: bytes,
        DiskSizeMB: 0,
        UncompressedSize: bytes,
        UncompressedSizeMB: 0,
      });
      expect(ok(await get(`/patients/${DUMMY_CT.patient}/statistics`))).toEqual({ CountStudies: 1, CountSeries: 1, CountInstances: 2, ...sized(total) });
      expect(ok(await get(`/studies/${DUMMY_CT.study}/statistics`))).toEqual({ CountSeries: 1, CountInstances: 2, ...sized(total) });
      expect(ok(await get(`/series/${DUMMY_CT.series}/statistics`))).toEqual({ CountInstances: 2, ...sized(total) });
      expect(ok(await get(`/instances/${second}/statistics`))).toEqual(sized(String(sizes[1])));
      // Keys in Orthanc's (jsoncpp's) alphabetical order, for answers that diff cleanly.
      const keys = Object.keys(ok(await get(`/patients/${DUMMY_CT.patient}/statistics`)));
      expect(keys).toEqual([...keys].sort());
      expect((await get(`/studies/${UNKNOWN_ID}/statistics`)).status).toBe(404);
    });
  });

  describe('ZIP archives: GET /{level}/{id}/archive, POST /tools/create-archive', () => {
    const unzip = (bytes: Buffer) => unzipSync(new Uint8Array(bytes));
    const fileOf = async (instance: string) => (await get(`/instances/${instance}/file`)).bytes;

    it('lays the instances out in Orthanc\'s folders, byte for byte', async () => {
      await upload('DummyCT.dcm');
      // A second instance in the same series (create-dicom with a Parent), numbered after the first.
      const second = ok(await post('/tools/create-dicom', { Parent: DUMMY_CT.series, Tags: { InstanceNumber: '2' } })).ID as string;
      const answer = await get(`/studies/${DUMMY_CT.study}/archive`);
      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-type')).toBe('application/zip');
      expect(answer.headers.get('content-disposition')).toBe(`attachment; filename="${DUMMY_CT.study}.zip"`);
      const files = unzip(answer.bytes);
      const names = Object.keys(files).sort();
      expect(names).toHaveLength(2);
      const folder = names[0].slice(0, names[0].lastIndexOf('/'));
      expect(folder).toMatch(/^ozp00SjY2xG KNIX\/[^/]+\/MR [^/]+$/);
      expect(names).toEqual([`${folder}/MR000000.dcm`, `${folder}/MR000001.dcm`]);
      const contents = new Set(names.map((name) => Buffer.from(files[name]).toString('base64')));
      expect(contents).toEqual(new Set([(await fileOf(DUMMY_CT.instance)).toString('base64'), (await fileOf(second)).toString('base64')]));
      // The same series alone, and the patient: the same two files under the same names.
      expect(Object.keys(unzip((await get(`/series/${DUMMY_CT.series}/archive`)).bytes)).sort()).toEqual(names);
      expect(Object.keys(unzip((await get(`/patients/${DUMMY_CT.patient}/archive`)).bytes)).sort()).toEqual(names);
    });

    it('archives resources of any level together with create-archive', async () => {
      await upload('DummyCT.dcm');
      const other = ok(await post('/tools/create-dicom', { Tags: { PatientID: 'P9', PatientName: 'Doe^Jane', Modality: 'OT', AccessionNumber: 'A1' } }));
      const answer = await post('/tools/create-archive', { Resources: [DUMMY_CT.instance, other.ParentStudy] });
      expect(answer.status).toBe(200);
      const names = Object.keys(unzip(answer.bytes)).sort();
      expect(names).toHaveLength(2);
      expect(names[0]).toMatch(/^P9 Doe Jane\/A1\/OT\/OT000000\.dcm$/);
      expect(names[1]).toMatch(/^ozp00SjY2xG KNIX\/.+\/MR000000\.dcm$/);
      expect(Object.keys(unzip((await post('/tools/create-archive', [other.ID])).bytes))).toEqual([names[0]]);
    });

    it('refuses unknown resources and unsupported options before streaming anything', async () => {
      await upload('DummyCT.dcm');
      expect((await get(`/studies/${UNKNOWN_ID}/archive`)).status).toBe(404);
      expect((await post('/tools/create-archive', { Resources: [DUMMY_CT.study, UNKNOWN_ID] })).status).toBe(404);
      expect((await post('/tools/create-archive', { Resources: [] })).status).toBe(400);
      expect((await post('/tools/create-archive', { Resources: [DUMMY_CT.study], Asynchronous: true })).status).toBe(400);
      expect((await post('/tools/create-archive', { Resources: [DUMMY_CT.study], Transcode: '1.2.840.10008.1.2.1' })).status).toBe(400);
    });
  });

  describe('POST /tools/find and /tools/lookup', () => {
    type Created = { ID: string; ParentPatient: string; ParentStudy: string; ParentSeries: string };
    const create = async (tags: Record<string, string>): Promise<Created> => ok(await post('/tools/create-dicom', { Tags: tags }));
    const find = async (body: object) => ok(await post('/tools/find', body)) as unknown[];
    let a: Created;
    let b: Created;
    let c: Created;

    beforeEach(async () => {
      // Created one after the other: the answers list them in this order (oldest first).
      a = await create({ PatientName: 'DOE^JOHN', PatientID: 'P-1', StudyDate: '20200115', StudyDescription: 'Chest 50%', AccessionNumber: 'ACC1', Modality: 'CT' });
      b = await create({ PatientName: 'Doe^Jane', PatientID: 'P-2', StudyDate: '20210310', StudyDescription: 'Chest 5', AccessionNumber: 'ACC2', Modality: 'MR' });
      c = await create({ PatientName: 'ROE^RICHARD', PatientID: 'P-3', StudyDate: '20190101', StudyDescription: 'Head', AccessionNumber: 'ACC3', Modality: 'CT' });
    });

    it('matches exact values, wildcards, date ranges and lists on the level and its ancestors', async () => {
      expect(await find({ Level: 'Patient', Query: { PatientName: 'doe*' } })).toEqual([a.ParentPatient, b.ParentPatient]);
      expect(await find({ Level: 'Study', Query: { StudyDate: '20200101-' } })).toEqual([a.ParentStudy, b.ParentStudy]);
      expect(await find({ Level: 'Study', Query: { StudyDate: '-20200131', PatientID: 'P-*' } })).toEqual([a.ParentStudy, c.ParentStudy]);
      expect(await find({ Level: 'Study', Query: { StudyDescription: 'Chest 5*' } })).toEqual([a.ParentStudy, b.ParentStudy]);
      // 'Chest 5' is padded to an even length in the file; the index holds it without the padding.
      expect(await find({ Level: 'Study', Query: { StudyDescription: 'Chest 5' } })).toEqual([b.ParentStudy]);
      // `%` and `_` are characters, not wildcards.
      expect(await find({ Level: 'Study', Query: { StudyDescription: 'Chest 5?%' } })).toEqual([a.ParentStudy]);
      expect(await find({ Level: 'Study', Query: { StudyDescription: 'Chest_5' } })).toEqual([]);
      expect(await find({ Level: 'Series', Query: { Modality: 'CT\\MR' } })).toEqual([a.ParentSeries, b.ParentSeries, c.ParentSeries]);
      expect(await find({ Level: 'Series', Query: { Modality: 'CT', PatientName: 'ROE*' } })).toEqual([c.ParentSeries]);
      expect(await find({ Level: 'Instance', Query: { PatientID: 'P-2', AccessionNumber: 'ACC2', Modality: 'MR' } })).toEqual([b.ID]);
      expect(await find({ Level: 'Study', Query: { ModalitiesInStudy: 'MR' } })).toEqual([b.ParentStudy]);
      expect(await find({ Level: 'Study', Query: { ModalitiesInStudy: 'C*', StudyDate: '20190101-20201231' } })).toEqual([a.ParentStudy, c.ParentStudy]);
      expect(await find({ Level: 'Study', Query: { ModalitiesInStudy: 'CT\\MR' } })).toEqual([a.ParentStudy, b.ParentStudy, c.ParentStudy]);
      expect(await find({ Level: 'Study', Query: { StudyDescription: 'chest*' } })).toEqual([]);
      expect(await find({ Level: 'Study', Query: { StudyDescription: 'chest*' }, CaseSensitive: false })).toEqual([a.ParentStudy, b.ParentStudy]);
    });

    it('matches identifiers, exact values and person names with the same answers through the indexed paths', async () => {
      const uid = async (path: string, tag: string) => ok(await get(path)).MainDicomTags[tag] as string;
      const studyUid = await uid(`/studies/${b.ParentStudy}`, 'StudyInstanceUID');
      const seriesUid = await uid(`/series/${b.ParentSeries}`, 'SeriesInstanceUID');
      const sopUid = await uid(`/instances/${b.ID}`, 'SOPInstanceUID');
      // Identifiers: their own indexed columns.
      expect(await find({ Level: 'Patient', Query: { PatientID: 'P-2' } })).toEqual([b.ParentPatient]);
      expect(await find({ Level: 'Study', Query: { PatientID: 'P-1\\P-3' } })).toEqual([a.ParentStudy, c.ParentStudy]);
      expect(await find({ Level: 'Study', Query: { StudyInstanceUID: studyUid } })).toEqual([b.ParentStudy]);
      expect(await find({ Level: 'Instance', Query: { SeriesInstanceUID: seriesUid } })).toEqual([b.ID]);
      expect(await find({ Level: 'Instance', Query: { SOPInstanceUID: sopUid } })).toEqual([b.ID]);
      expect(await find({ Level: 'Patient', Query: { PatientID: 'p-2' } })).toEqual([]);
      expect(await find({ Level: 'Patient', Query: { PatientID: 'p-2' }, CaseSensitive: false })).toEqual([b.ParentPatient]);
      // Other exact values: containment in the main tags.
      expect(await find({ Level: 'Study', Query: { AccessionNumber: 'ACC2' } })).toEqual([b.ParentStudy]);
      expect(await find({ Level: 'Study', Query: { AccessionNumber: 'acc2' } })).toEqual([]);
      expect(await find({ Level: 'Study', Query: { AccessionNumber: 'acc2' }, CaseSensitive: false })).toEqual([b.ParentStudy]);
      expect(await find({ Level: 'Study', Query: { StudyDate: '20210310' } })).toEqual([b.ParentStudy]);
      expect(await find({ Level: 'Series', Query: { Modality: 'MR', StudyDescription: 'Chest 5' } })).toEqual([b.ParentSeries]);
      // Person names: lower() on both sides, exact or prefix.
      expect(await find({ Level: 'Patient', Query: { PatientName: 'doe^jane' } })).toEqual([b.ParentPatient]);
      expect(await find({ Level: 'Study', Query: { PatientName: 'DOE^J*' } })).toEqual([a.ParentStudy, b.ParentStudy]);
      expect(await find({ Level: 'Study', Query: { PatientName: '*^RICH?RD' } })).toEqual([c.ParentStudy]);
    });

    it('pages with Limit and Since, and expands into the resources GET /{level}/{id} shows', async () => {
      expect(await find({ Level: 'Patient', Query: {}, Limit: 2 })).toEqual([a.ParentPatient, b.ParentPatient]);
      expect(await find({ Level: 'Patient', Query: {}, Since: 2, Limit: 5 })).toEqual([c.ParentPatient]);
      expect(await find({ Level: 'Study', Query: { AccessionNumber: 'ACC1' }, Expand: true })).toEqual([ok(await get(`/studies/${a.ParentStudy}`))]);
    });

    it('expands lists, finds and children in their order, each resource as GET /{level}/{id} shows it', async () => {
      const each = (path: string, ids: string[]) => Promise.all(ids.map(async (id) => ok(await get(`/${path}/${id}`))));
      for (const [path, ids] of [
        ['patients', [a.ParentPatient, b.ParentPatient, c.ParentPatient]],
        ['studies', [a.ParentStudy, b.ParentStudy, c.ParentStudy]],
        ['series', [a.ParentSeries, b.ParentSeries, c.ParentSeries]],
        ['instances', [a.ID, b.ID, c.ID]],
      ] as const) {
        expect(ok(await get(`/${path}`))).toEqual(ids);
        expect(ok(await get(`/${path}?expand`))).toEqual(await each(path, [...ids]));
        expect(ok(await get(`/${path}?expand&since=1&limit=1`))).toEqual(await each(path, [ids[1]]));
      }
      expect(await find({ Level: 'Series', Query: { Modality: 'CT' }, Expand: true })).toEqual(await each('series', [a.ParentSeries, c.ParentSeries]));
      expect(ok(await get(`/patients/${b.ParentPatient}/instances`))).toEqual(await each('instances', [b.ID]));
      expect(ok(await get(`/studies/${c.ParentStudy}/series`))).toEqual(await each('series', [c.ParentSeries]));
      expect(ok(await get(`/patients/${a.ParentPatient}`)).Studies).toEqual([a.ParentStudy]);
    });

    it('answers 400 for a tag the index cannot search, naming those it can', async () => {
      const answer = await post('/tools/find', { Level: 'Study', Query: { Modality: 'CT' } });
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ HttpStatus: 400, Details: expect.stringMatching(/"Modality" cannot be searched at the Study level; these can: .*AccessionNumber/) });
      expect((await post('/tools/find', 'not json')).status).toBe(400);
    });

    it('looks up a PatientID or a UID', async () => {
      expect(ok(await post('/tools/lookup', 'P-1\n'))).toEqual([{ ID: a.ParentPatient, Path: `/patients/${a.ParentPatient}`, Type: 'Patient' }]);
      const studyUid = ok(await get(`/studies/${b.ParentStudy}`)).MainDicomTags.StudyInstanceUID;
      expect(ok(await post('/tools/lookup', studyUid))).toEqual([{ ID: b.ParentStudy, Path: `/studies/${b.ParentStudy}`, Type: 'Study' }]);
      expect(ok(await post('/tools/lookup', 'no-such-identifier'))).toEqual([]);
      expect((await post('/tools/lookup', '')).status).toBe(400);
    });
  });

  describe('GET /instances/{id}/attachments/dicom/...', () => {
    it('describes the stored file as Orthanc does without MD5, and verifies it against its SHA-256', async () => {
      await upload('DummyCT.dcm');
      const base = `/instances/${DUMMY_CT.instance}/attachments`;
      const bytes = (await get(`/instances/${DUMMY_CT.instance}/file`)).bytes;
      const sha256 = createHash('sha256').update(bytes).digest('hex');

      expect(ok(await get(base))).toEqual(['dicom']);
      expect(ok(await get(`${base}?full`))).toEqual({ dicom: 1 });
      expect(ok(await get(`${base}/dicom`))).toEqual(['compressed-data', 'compressed-size', 'data', 'info', 'is-compressed', 'sha256', 'size', 'verify-sha256']);
      // Uuid: Orthanc's attachment UUID (8-4-4-4-12), the instance's FileUuid.
      const fileUuid = ok(await get(`/instances/${DUMMY_CT.instance}`)).FileUuid;
      expect(fileUuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(ok(await get(`${base}/dicom/info`))).toEqual({ CompressedSize: bytes.length, ContentType: 1, SHA256: sha256, UncompressedSize: bytes.length, Uuid: fileUuid });
      expect(ok(await get(`${base}/dicom/size`))).toBe(String(bytes.length));
      expect(ok(await get(`${base}/1/compressed-size`))).toBe(String(bytes.length));
      expect(ok(await get(`${base}/dicom/is-compressed`))).toBe('0');
      expect(ok(await get(`${base}/dicom/sha256`))).toBe(sha256);
      expect((await get(`${base}/dicom/data`)).bytes.equals(bytes)).toBe(true);
      expect(ok(await post(`${base}/dicom/verify-sha256`))).toEqual({});

      // One byte changed behind DeidFlow's back: the check reads the store, not the index.
      const corrupted = Buffer.from(bytes);
      corrupted[corrupted.length - 1] ^= 0xff;
      writeFileSync(storedPath(DUMMY_CT.instance), corrupted);
      const refused = await post(`${base}/dicom/verify-sha256`);
      expect(refused.status).toBe(500);
      expect(refused.body).toMatchObject({
        HttpStatus: 500,
        OrthancError: 'Corrupted file (e.g. inconsistent MD5 hash)',
        OrthancStatus: 20,
        Details: expect.stringContaining(`recorded ${sha256}, read ${createHash('sha256').update(corrupted).digest('hex')}`),
      });
    });

    it('checks every file of a study, series or patient at once, naming the corrupted and the missing ones', async () => {
      await upload('DummyCT.dcm');
      const second = ok(await post('/tools/create-dicom', { Parent: DUMMY_CT.series, Tags: { InstanceNumber: '2' } })).ID as string;
      const clean = { InstancesCount: 2, CorruptedInstances: [], MissingInstances: [] };
      for (const path of [`/patients/${DUMMY_CT.patient}`, `/studies/${DUMMY_CT.study}`, `/series/${DUMMY_CT.series}`]) {
        expect(ok(await post(`${path}/verify-sha256`))).toEqual(clean);
      }
      const bytes = (await get(`/instances/${DUMMY_CT.instance}/file`)).bytes;
      writeFileSync(storedPath(DUMMY_CT.instance), Buffer.concat([bytes, Buffer.from('tail')]));
      rmSync(storedPath(second));
      expect(ok(await post(`/studies/${DUMMY_CT.study}/verify-sha256`))).toEqual({
        InstancesCount: 2,
        CorruptedInstances: [DUMMY_CT.instance],
        MissingInstances: [second],
      });
      expect((await post(`/studies/${UNKNOWN_ID}/verify-sha256`)).status).toBe(404);
    });

    it('answers [] for a patient, study or series (they have none), 404 for an unknown attachment or resource', async () => {
      await upload('DummyCT.dcm');
      for (const path of [`/patients/${DUMMY_CT.patient}`, `/studies/${DUMMY_CT.study}`, `/series/${DUMMY_CT.series}`]) {
        expect(ok(await get(`${path}/attachments`))).toEqual([]);
      }
      expect((await get(`/studies/${UNKNOWN_ID}/attachments`)).status).toBe(404);
      expect((await get(`/instances/${DUMMY_CT.instance}/attachments/dicom-as-json/info`)).status).toBe(404);
      expect((await get(`/instances/${UNKNOWN_ID}/attachments`)).status).toBe(404);
      expect((await post(`/instances/${UNKNOWN_ID}/attachments/dicom/verify-sha256`)).status).toBe(404);
    });
  });
});
