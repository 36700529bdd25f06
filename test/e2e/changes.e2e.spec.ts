import { readFileSync } from 'node:fs';
import { http } from '../support/http';
import { resetDatabase, RunningApi, startApi, testConfig } from '../support/app-harness';
import { samplePath } from '../support/samples';

interface Change {
  ChangeType: string;
  Date: string;
  ID: string;
  Path: string;
  ResourceType: string;
  Seq: number;
}
interface ChangePage {
  Changes: Change[];
  Done: boolean;
  First?: number;
  Last: number;
}

const MR = 'pydicom/test_files/dicomdirtests/98892003';
// One series of MR2: ImagesInAcquisition 3 x NumberOfTemporalPositions 1, InstanceNumber 1, 2, 3.
const MR2_SERIES_136 = [`${MR}/MR2/4950`, `${MR}/MR2/5011`, `${MR}/MR2/4981`];

/**
 * Orthanc's change log (GET /changes): what an upload, a job and the passing of StableAge log, with
 * Orthanc's shapes, paging, `last` and DELETE. The worker's monitor runs every 100 ms here, with a
 * StableAge of 1 s.
 */
describe('GET /changes', () => {
  let api: RunningApi;
  const get = async (path: string) => (await http<ChangePage>(api.baseUrl, 'GET', path)).body;
  const upload = async (file: string) => (await http(api.baseUrl, 'POST', '/instances', readFileSync(samplePath(file)))).body;
  const all = async (since = 0) => {
    const changes: Change[] = [];
    for (let page = await get(`/changes?since=${since}`); ; page = await get(`/changes?since=${page.Last}`)) {
      changes.push(...page.Changes);
      if (page.Done) return changes;
    }
  };
  /** Polls the log until `condition` holds (the monitor's ticks are asynchronous); fails after 15 s. */
  const until = async (condition: (changes: Change[]) => boolean, since = 0): Promise<Change[]> => {
    for (const deadline = Date.now() + 15_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      const changes = await all(since);
      if (condition(changes)) return changes;
    }
    throw new Error(`the change log did not reach the expected state: ${JSON.stringify(await all(since))}`);
  };

  /** Waits until every resource is stable: no Stable* change is still to come from what came before. */
  const quiet = async () => {
    const stable = async () => {
      for (const level of ['patients', 'studies', 'series']) {
        const resources = (await http(api.baseUrl, 'GET', `/${level}?expand`)).body as { IsStable: boolean }[];
        if (resources.some((r) => !r.IsStable)) return false;
      }
      return true;
    };
    for (const deadline = Date.now() + 15_000; !(await stable()); await new Promise((r) => setTimeout(r, 100))) {
      if (Date.now() > deadline) throw new Error('resources did not become stable');
    }
  };

  beforeAll(async () => {
    await resetDatabase();
    // StableAge 2 s: the uploads of one test are well within it, even on a slow machine.
    api = await startApi(await testConfig('fs', { EMBEDDED_WORKER: 'true', STABLE_AGE_SECONDS: '2', CHANGE_LOG_INTERVAL_MS: '100' }));
  });
  afterAll(() => api?.close(), 30_000);

  it('logs NewInstance, then NewSeries, NewStudy and NewPatient of the first instance, in Orthanc\'s shape; nothing for a repeat', async () => {
    await http(api.baseUrl, 'DELETE', '/changes');
    const start = (await get('/changes?last')).Last;
    const first = await upload(MR2_SERIES_136[0]);
    const second = await upload(MR2_SERIES_136[1]);
    await upload(MR2_SERIES_136[1]); // AlreadyStored: no change

    const page = await get(`/changes?since=${start}`);
    expect(page.Done).toBe(true);
    const news = page.Changes.filter((c) => c.ChangeType.startsWith('New'));
    expect(news.map((c) => [c.ChangeType, c.ID])).toEqual([
      ['NewInstance', first.ID],
      ['NewSeries', first.ParentSeries],
      ['NewStudy', first.ParentStudy],
      ['NewPatient', first.ParentPatient],
      ['NewInstance', second.ID],
    ]);
    expect(news[0]).toEqual({
      ChangeType: 'NewInstance',
      Date: expect.stringMatching(/^\d{8}T\d{6}$/),
      ID: first.ID,
      Path: `/instances/${first.ID}`,
      ResourceType: 'Instance',
      Seq: start + 1,
    });
    expect(news[1]).toMatchObject({ Path: `/series/${first.ParentSeries}`, ResourceType: 'Series' });
    expect(news[2]).toMatchObject({ Path: `/studies/${first.ParentStudy}`, ResourceType: 'Study' });
    expect(news[3]).toMatchObject({ Path: `/patients/${first.ParentPatient}`, ResourceType: 'Patient' });
    // Numbered without gaps, in order; Last is the last one's.
    expect(page.Changes.map((c) => c.Seq)).toEqual(page.Changes.map((_, i) => start + 1 + i));
    expect(page.Last).toBe(page.Changes[page.Changes.length - 1].Seq);
    // Two of the three instances the series announces: no CompletedSeries, and stable in time.
    const later = await until((c) => c.some((x) => x.ChangeType === 'StablePatient'), start);
    expect(later.map((c) => c.ChangeType).slice(news.length)).toEqual(['StableSeries', 'StableStudy', 'StablePatient']);
  });

  it('logs CompletedSeries when the last announced instance arrives, then StableSeries, StableStudy, StablePatient; IsStable follows', async () => {
    const start = (await get('/changes?last')).Last;
    const third = await upload(MR2_SERIES_136[2]);
    expect((await http(api.baseUrl, 'GET', `/studies/${third.ParentStudy}`)).body.IsStable).toBe(false);

    const changes = await until((c) => c.some((x) => x.ChangeType === 'StablePatient'), start);
    expect(changes.map((c) => [c.ChangeType, c.ID])).toEqual([
      ['NewInstance', third.ID],
      ['CompletedSeries', third.ParentSeries],
      ['StableSeries', third.ParentSeries],
      ['StableStudy', third.ParentStudy],
      ['StablePatient', third.ParentPatient],
    ]);
    for (const [level, id] of [['series', third.ParentSeries], ['studies', third.ParentStudy], ['patients', third.ParentPatient]]) {
      expect((await http(api.baseUrl, 'GET', `/${level}/${id}`)).body.IsStable).toBe(true);
    }
    const series = (await http(api.baseUrl, 'GET', `/series/${third.ParentSeries}`)).body;
    expect(series.Status).toBe('Complete');
  });

  it('logs no CompletedSeries for a series that is not complete', async () => {
    const start = (await get('/changes?last')).Last;
    const knee = await upload('orthanc-tests/Knee/T1/IM-0001-0001.dcm');
    const changes = await until((c) => c.some((x) => x.ChangeType === 'StablePatient'), start);
    expect(changes.map((c) => c.ChangeType)).not.toContain('CompletedSeries');
    expect(changes.map((c) => c.ID)).toContain(knee.ParentStudy);
  });

  it('logs the outputs of a job as new resources, under their new IDs, and their stability', async () => {
    const study = (await http(api.baseUrl, 'GET', '/studies')).body[0] as string;
    const start = (await get('/changes?last')).Last;
    const answer = await http(api.baseUrl, 'POST', `/studies/${study}/anonymize`, '{}');
    expect(answer.status).toBe(200);
    const outputStudy = answer.body.ID as string;
    const changes = await until((c) => c.some((x) => x.ChangeType === 'StableStudy' && x.ID === outputStudy), start);
    const outputs = (await http(api.baseUrl, 'GET', `/studies/${outputStudy}/instances`)).body as { ID: string }[];
    expect(changes.filter((c) => c.ChangeType === 'NewInstance').map((c) => c.ID).sort()).toEqual(outputs.map((o) => o.ID).sort());
    expect(changes.filter((c) => c.ChangeType === 'NewStudy').map((c) => c.ID)).toEqual([outputStudy]);
    expect(changes.filter((c) => c.ChangeType === 'NewPatient')).toHaveLength(1);
    // The source study was left alone: nothing logged about it.
    expect(changes.map((c) => c.ID)).not.toContain(study);
  });

  it('serves the polling loop of Orthanc\'s book: anonymize each StableStudy that is not itself an output', async () => {
    let current = (await get('/changes?last')).Last;
    const source = await upload('orthanc-tests/DummyCT.dcm');
    const anonymized = new Map<string, string>(); // source study -> its anonymized copy
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
      const page = await get(`/changes?since=${current}&limit=4`);
      for (const change of page.Changes) {
        if (change.ChangeType !== 'StableStudy') continue;
        const study = (await http(api.baseUrl, 'GET', `/studies/${change.ID}`)).body;
        if (study.AnonymizedFrom || anonymized.has(change.ID)) continue;
        const answer = await http(api.baseUrl, 'POST', `/studies/${change.ID}/anonymize`, '{}');
        anonymized.set(change.ID, answer.body.ID);
      }
      current = page.Last;
      if (anonymized.has(source.ParentStudy)) break;
      if (page.Done) await new Promise((r) => setTimeout(r, 100));
    }
    const copy = anonymized.get(source.ParentStudy);
    expect(copy).toBeDefined();
    expect((await http(api.baseUrl, 'GET', `/studies/${copy}`)).body.AnonymizedFrom).toBe(source.ParentStudy);
  });

  it('pages with since and limit (Done, Last), and answers the newest alone with `last`', async () => {
    await quiet();
    const everything = await all();
    expect(everything.length).toBeGreaterThan(4);
    const first = everything[0].Seq - 1;
    const page = await get(`/changes?since=${first}&limit=2`);
    expect(page.Changes).toEqual(everything.slice(0, 2));
    expect(page).toMatchObject({ Done: false, Last: everything[1].Seq });
    const next = await get(`/changes?since=${page.Last}&limit=2`);
    expect(next.Changes).toEqual(everything.slice(2, 4));

    expect(page.First).toBe(everything[0].Seq);
    const newest = await get('/changes?last');
    const last = everything[everything.length - 1];
    expect(newest).toEqual({ Changes: [last], Done: true, First: last.Seq, Last: last.Seq });
    // Past the end: nothing, Done, and Last the highest Seq given (Orthanc's).
    expect(await get(`/changes?since=${newest.Last + 100}`)).toEqual({ Changes: [], Done: true, Last: newest.Last });
  });

  it('filters by type and reads backwards from `to` (Orthanc\'s ExtendedChanges, as Orthanc Explorer 2 lists the latest studies)', async () => {
    await quiet();
    const everything = await all();
    const studies = everything.filter((c) => c.ChangeType === 'NewStudy' || c.ChangeType === 'StableStudy');
    expect(studies.length).toBeGreaterThan(2);
    expect((await get('/changes?type=NewStudy;StableStudy&limit=1000')).Changes).toEqual(studies);
    expect((await get('/changes?type=all&limit=1000')).Changes).toEqual(everything);

    // `to` alone: the last ones up to it (inclusive), in Seq order; Done: nothing more before them.
    const to = studies[studies.length - 1].Seq;
    const latest = await get(`/changes?to=${to}&limit=2&type=NewStudy;StableStudy`);
    expect(latest).toEqual({ Changes: studies.slice(-2), Done: false, First: studies[studies.length - 2].Seq, Last: to });
    const before = await get(`/changes?to=${latest.First! - 1}&limit=1000&type=NewStudy;StableStudy`);
    expect(before).toMatchObject({ Changes: studies.slice(0, -2), Done: true });
    // `since` and `to`: the first ones of the range.
    const range = await get(`/changes?since=${everything[0].Seq}&to=${everything[3].Seq}&limit=1000`);
    expect(range.Changes).toEqual(everything.slice(1, 4));
  });

  it('refuses an unknown change type, as Orthanc does (400, even with `last`)', async () => {
    for (const query of ['type=Bogus', 'type=NewStudy;newstudy', 'last&type=Bogus']) {
      const answer = await http(api.baseUrl, 'GET', `/changes?${query}`);
      expect(answer.status).toBe(400);
      expect(answer.body.Details).toMatch(/^Invalid value for a change: (Bogus|newstudy)$/);
    }
  });

  it('refuses a since or limit that is not a non-negative integer (400; Orthanc silently reads 0 and 100)', async () => {
    for (const query of ['since=abc', 'limit=-1', 'since=1.5', 'to=x', 'since=1e21', 'to=99999999999999999999']) {
      const answer = await http(api.baseUrl, 'GET', `/changes?${query}`);
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ HttpStatus: 400, Method: 'GET', Uri: '/changes' });
    }
  });

  it('forgets the changes of a deleted resource, and of everything deleted with it (as Orthanc\'s cascade)', async () => {
    const knee = await upload('orthanc-tests/Knee/T1/IM-0001-0003.dcm');
    const before = await all();
    expect(before.map((c) => c.ID)).toContain(knee.ID);
    const study = knee.ParentStudy as string;
    const members = [study, ...((await http(api.baseUrl, 'GET', `/studies/${study}/series`)).body as { ID: string }[]).map((s) => s.ID)];
    const instances = ((await http(api.baseUrl, 'GET', `/studies/${study}/instances`)).body as { ID: string }[]).map((i) => i.ID);
    expect((await http(api.baseUrl, 'DELETE', `/studies/${study}`)).status).toBe(200);
    const after = await all();
    const gone = new Set([...members, ...instances, knee.ParentPatient]);
    expect(after.filter((c) => gone.has(c.ID))).toEqual([]);
    // The rest is as it was.
    expect(after).toEqual(before.filter((c) => !gone.has(c.ID)));
  });

  it('DELETE empties the log (empty text/plain answer); Seq goes on from where it was', async () => {
    await quiet();
    const last = (await get('/changes?last')).Last;
    const cleared = await http(api.baseUrl, 'DELETE', '/changes');
    expect(cleared.status).toBe(200);
    expect(cleared.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(cleared.bytes.length).toBe(0);
    // Last: the highest Seq ever given (above the newest left before, when a deletion purged newer ones).
    const emptied = await get('/changes');
    expect(emptied).toEqual({ Changes: [], Done: true, Last: expect.any(Number) });
    expect(emptied.Last).toBeGreaterThanOrEqual(last);
    expect(await get('/changes?last')).toEqual(emptied);

    const again = await upload('orthanc-tests/Knee/T1/IM-0001-0002.dcm');
    const page = await get('/changes');
    expect(page.Changes[0]).toMatchObject({ ChangeType: 'NewInstance', ID: again.ID });
    expect(page.Changes[0].Seq).toBe(emptied.Last + 1);
  });
});
