import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { normalizeToPart10, parseInstance } from '@deidflow/dicom';
import { createApiApp } from '../../apps/api/src/bootstrap';
import { http } from '../support/http';
import { resetDatabase, testConfig } from '../support/app-harness';
import { allSampleFiles, samplePath } from '../support/samples';

/**
 * Issue 6: no patient data in logs. The API with its embedded worker runs at LOG_LEVEL=debug, its
 * pino output captured, and everything else the process prints (console, stdout, stderr) too, while
 * uploads, reads, anonymizations, modifications and jobs (synchronous, asynchronous, bulk) and refused requests
 * run on real patients' files. Then the output is searched for the PatientName and PatientID of
 * every uploaded file, read from the files themselves: none may appear.
 */
const FILES = allSampleFiles().filter(
  (name) =>
    (name.startsWith('orthanc-tests/') && !name.slice('orthanc-tests/'.length).includes('/')) ||
    name.startsWith('orthanc-tests/Knee/') ||
    name.startsWith('pydicom/charset_files/') ||
    ['pydicom/test_files/CT_small.dcm', 'pydicom/test_files/MR_small.dcm', 'pydicom/test_files/rtstruct.dcm'].includes(name),
);

/**
 * Values that could be told apart from other log content: not too short, not a small number
 * (timestamps, counts), not a word that identifies no one (the samples' placeholders).
 */
function isDistinctive(value: string): boolean {
  return value.length >= 4 && !/^\d{1,7}$/.test(value) && !/^(anonymi[sz]ed\d*|anonymous|unknown|test|issue|pattern|hello)$/i.test(value);
}

/** The patient names (whole, and each name component) and IDs of the files, as Orthanc reads them. */
function patientStrings(files: string[]): string[] {
  const strings = new Set<string>();
  for (const name of files) {
    let patient: Record<string, string>;
    try {
      patient = parseInstance(normalizeToPart10(readFileSync(samplePath(name)))).mainDicomTags.patient;
    } catch {
      continue; // not storable: refused at upload, its content never processed
    }
    for (const value of [patient.PatientName, patient.PatientID, patient.OtherPatientIDs]) {
      if (!value) continue;
      strings.add(value);
      for (const part of value.split(/[\^=\\]/)) strings.add(part.trim());
    }
  }
  return [...strings].filter(isDistinctive);
}

/** Where `needle` appears in `haystack` as a whole token (not inside a longer word or number). */
function occurrences(haystack: string, needle: string): string[] {
  const escaped = needle.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const found: string[] = [];
  for (const match of haystack.matchAll(new RegExp(`(?<![\\p{L}\\p{N}])${escaped}(?![\\p{L}\\p{N}])`, 'gu'))) {
    found.push(haystack.slice(Math.max(0, (match.index ?? 0) - 80), (match.index ?? 0) + needle.length + 80));
  }
  return found;
}

describe('logs of an e2e run at LOG_LEVEL=debug', () => {
  let app: NestFastifyApplication;
  let baseUrl: string;
  let output = '';
  const restores: (() => void)[] = [];

  /** Everything written to the process's stdout, stderr and console from now on. */
  function captureProcessOutput(): void {
    for (const stream of [process.stdout, process.stderr]) {
      const write = stream.write.bind(stream);
      stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
        output += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
        return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
      }) as typeof stream.write;
      restores.push(() => (stream.write = write));
    }
    for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      const spy = jest.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        output += `${args.map((arg) => (typeof arg === 'string' ? arg : JSON.stringify(arg))).join(' ')}\n`;
      });
      restores.push(() => spy.mockRestore());
    }
  }

  beforeAll(async () => {
    await resetDatabase();
    const logs = new PassThrough();
    logs.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    captureProcessOutput();
    const config = await testConfig('fs', { LOG_LEVEL: 'debug', EMBEDDED_WORKER: 'true' });
    app = await createApiApp(config, { logDestination: logs });
    await app.listen({ port: 0, host: '127.0.0.1' });
    baseUrl = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  });

  afterAll(async () => {
    await app?.close();
    for (const restore of restores.reverse()) restore();
  }, 30_000);

  const call = (method: string, path: string, body?: Buffer | string | object) => http(baseUrl, method, path, body);

  async function waitForJob(id: string): Promise<string> {
    for (let attempt = 0; attempt < 300; attempt++) {
      const job = await call('GET', `/jobs/${id}`);
      if (['Success', 'Failure'].includes(job.body.State)) return job.body.State;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`job ${id} did not finish`);
  }

  it('runs uploads, reads, anonymizations, modifications and jobs, and logs no patient name or ID', async () => {
    const uploads: { ID: string; ParentSeries: string; ParentStudy: string; ParentPatient: string }[] = [];
    for (const name of FILES) {
      const answer = await call('POST', '/instances', readFileSync(samplePath(name)));
      if (answer.status === 200) uploads.push(answer.body);
    }
    // Refused uploads log too: a truncated file and a failing ZIP entry.
    const knee = readFileSync(samplePath('orthanc-tests/Knee/T1/IM-0001-0001.dcm'));
    expect((await call('POST', '/instances', knee.subarray(0, knee.length - 100))).status).toBe(400);

    const instance = uploads[0].ID;
    const study = uploads.find((u) => u.ParentStudy !== uploads[0].ParentStudy)?.ParentStudy ?? uploads[0].ParentStudy;
    for (const path of ['/patients?expand', `/instances/${instance}/tags`, `/instances/${instance}/simplified-tags`, `/instances/${instance}/content/0010-0010`]) {
      expect((await call('GET', path)).status).toBe(200);
    }
    expect((await call('POST', `/instances/${instance}/anonymize`, {})).status).toBe(200);
    expect((await call('POST', `/instances/${instance}/modify`, { Replace: { InstitutionName: 'Clinic' } })).status).toBe(200);
    expect((await call('POST', `/studies/${study}/anonymize`, {})).status).toBe(200);
    const asynchronous = await call('POST', `/series/${uploads[1].ParentSeries}/modify`, { Replace: { SeriesDescription: 'x' }, Asynchronous: true });
    expect(await waitForJob(asynchronous.body.ID)).toBe('Success');
    const patient = await call('POST', `/patients/${uploads[2].ParentPatient}/modify`, { Replace: { PatientID: 'NEWID' }, Force: true });
    expect(patient.status).toBe(200);
    const bulk = await call('POST', '/tools/bulk-anonymize', { Resources: uploads.slice(0, 6).map((u) => u.ParentStudy), Asynchronous: true });
    expect(await waitForJob(bulk.body.ID)).toBe('Success');
    expect((await call('POST', `/studies/${study}/modify`, { Replace: { NoSuchTag: 'x' } })).status).toBe(400);
    expect((await call('DELETE', `/studies/${study}`)).status).toBe(200);
    await app.close();

    // The capture works: debug request lines and the jobs' own messages are there.
    expect(output).toContain('"msg":"incoming request"');
    expect(output).toContain('job submitted');
    expect(output).toContain('job finished');
    const secrets = patientStrings(FILES);
    expect(secrets.length).toBeGreaterThan(20);
    expect(secrets).toEqual(expect.arrayContaining(['KNIX', 'ozp00SjY2xG']));
    expect(occurrences('{"msg":"name KNIX seen"}', 'KNIX')).toHaveLength(1);
    const leaks = secrets.flatMap((secret) => occurrences(output, secret).map((context) => `${secret}: …${context}…`));
    expect(leaks).toEqual([]);
  });
});
