import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { SeededRandom } from '../../libs/dicom/src/synthetic/random';
import { deeplyNestedSequence, elementLengthOf, locateSites, mutate, randomInput, truncationOffsets } from '../../libs/dicom/src/fuzz';
import { http, HttpAnswer } from '../support/http';
import { resetDatabase, RunningApi, startApi, testConfig } from '../support/app-harness';
import { allSampleFiles, samplePath } from '../support/samples';

/**
 * Issue 6, bad input through HTTP (the engine's own fuzzing, with thousands of cases, runs as unit
 * tests in libs/dicom/src/fuzz). Uploading every sample as it is: platform.e2e.spec.ts. Here:
 * truncated copies, seeded mutants, random bytes, deep nesting, lying lengths and a 600 MB body.
 * Every answer is a stored instance (readable afterwards) or a 4xx in Orthanc's shape with Details;
 * the process answers to the end.
 */
const BODY_LIMIT = 16 * 1024 * 1024;
const MUTANTS = 300;
const MAX_MUTANT_SOURCE_BYTES = 128 * 1024;

interface Tally {
  stored: number;
  refused: number;
  wrong: string[];
}

describe('bad input through HTTP', () => {
  let api: RunningApi;
  const samples = allSampleFiles().map((name) => ({ name, bytes: readFileSync(samplePath(name)) }));

  beforeAll(async () => {
    await resetDatabase();
    api = await startApi(await testConfig('fs', { EMBEDDED_WORKER: 'false', HTTP_BODY_LIMIT: String(BODY_LIMIT) }));
  });
  afterAll(() => api?.close(), 30_000);

  /** Uploads `bytes`; a stored instance must then be readable (/tags) and anonymizable (or refused clearly), a refusal must be a clear 4xx. */
  async function uploadAndCheck(what: string, bytes: Uint8Array, tally: Tally): Promise<HttpAnswer> {
    const answer = await http(api.baseUrl, 'POST', '/instances', Buffer.from(bytes));
    if (answer.status === 200 && ['Success', 'AlreadyStored'].includes(answer.body.Status)) {
      tally.stored++;
      const tags = await http(api.baseUrl, 'GET', `/instances/${answer.body.ID}/tags?short`);
      if (tags.status !== 200) tally.wrong.push(`${what}: stored, then /tags answered ${tags.status} ${tags.bytes.toString('utf8').slice(0, 200)}`);
      const anonymized = await http(api.baseUrl, 'POST', `/instances/${answer.body.ID}/anonymize`, {});
      if (anonymized.status !== 200 && !(anonymized.status < 500 && anonymized.body?.Details)) {
        tally.wrong.push(`${what}: stored, then anonymize answered ${anonymized.status} ${anonymized.bytes.toString('utf8').slice(0, 200)}`);
      }
    } else if (answer.status >= 400 && answer.status < 500 && typeof answer.body?.Details === 'string' && answer.body.HttpStatus === answer.status) {
      tally.refused++;
    } else {
      tally.wrong.push(`${what}: ${answer.status} ${answer.bytes.toString('utf8').slice(0, 200)}`);
    }
    return answer;
  }

  const newTally = (): Tally => ({ stored: 0, refused: 0, wrong: [] });
  const report = (what: string, tally: Tally) => {
    if (process.env.FUZZ_VERBOSE) console.log(`${what}: ${tally.stored} stored, ${tally.refused} refused, ${tally.wrong.length} wrong`);
  };

  it('answers truncated copies of every sample (cut in the meta, at the dataset start and in the middle)', async () => {
    const tally = newTally();
    for (const sample of samples) {
      const offsets = truncationOffsets(sample.bytes);
      // Three of the unit tests' cuts per sample through HTTP: all of them run against the engine directly.
      for (const offset of [offsets[3], offsets[offsets.length >> 1], offsets[offsets.length - 1]]) {
        if (offset !== undefined) await uploadAndCheck(`${sample.name} cut at ${offset}`, sample.bytes.subarray(0, offset), tally);
      }
    }
    report('truncated copies', tally);
    expect(tally.wrong).toEqual([]);
    expect(tally.refused).toBeGreaterThan(900);
  });

  it(`answers ${MUTANTS} seeded mutants of the samples`, async () => {
    const tally = newTally();
    const corpus = samples.filter((s) => s.bytes.length <= MAX_MUTANT_SOURCE_BYTES).map((s) => ({ ...s, sites: locateSites(s.bytes) }));
    for (let index = 0; index < MUTANTS; index++) {
      const random = new SeededRandom(424242, `http-mutant|${index}`);
      const source = corpus[random.int(0, corpus.length - 1)];
      const mutant = mutate(source.bytes, source.sites, random);
      await uploadAndCheck(`${source.name} [${mutant.mutations.join('; ')}]`, mutant.bytes, tally);
    }
    report('mutants', tally);
    expect(tally.wrong).toEqual([]);
    // Both outcomes occur: the mutants reach past the first checks.
    expect(tally.stored).toBeGreaterThan(10);
    expect(tally.refused).toBeGreaterThan(MUTANTS / 2);
  });

  it('refuses random bytes', async () => {
    const tally = newTally();
    for (let index = 0; index < 60; index++) {
      const { bytes, kind } = randomInput(new SeededRandom(99, `http-random|${index}`));
      // An empty body is refused before the engine (Orthanc's "size: 0 bytes").
      await uploadAndCheck(`${kind} #${index}`, bytes, tally);
    }
    report('random inputs', tally);
    expect(tally.wrong).toEqual([]);
    expect(tally.stored).toBe(0);
  });

  it.each(['undefined', 'defined'] as const)('refuses a sequence nested 1,000 levels deep (%s lengths)', async (lengths) => {
    const answer = await http(api.baseUrl, 'POST', '/instances', Buffer.from(deeplyNestedSequence(1000, lengths)));
    expect(answer.status).toBe(400);
    expect(answer.body.Details).toBe('Malformed DICOM dataset: sequences nested deeper than 128 levels');
  });

  it.each(['pixelData', 'implicitPatientName', 'item'] as const)('refuses an element length of 0xFFFFFFF0 (%s)', async (place) => {
    const answer = await http(api.baseUrl, 'POST', '/instances', Buffer.from(elementLengthOf(place)));
    expect(answer.status).toBe(400);
    expect(answer.body.Details).toMatch(/^Malformed DICOM dataset: truncated data: .* needs 4294967280 bytes/);
  });

  describe('a 600 MB body', () => {
    const SIZE = 600 * 1024 * 1024;

    /** Streams SIZE bytes (1 MiB chunks, with backpressure) until the server answers; measures this process's RSS. */
    function streamUpload(declareLength: boolean): Promise<{ status: number; body: any; sent: number; rssGrowth: number }> {
      return new Promise((resolve, reject) => {
        const { hostname, port } = new URL(api.baseUrl);
        const before = process.memoryUsage().rss;
        let peak = before;
        const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
        const headers = declareLength ? { 'content-length': String(SIZE) } : {};
        const req = request({ hostname, port, method: 'POST', path: '/instances', headers });
        const chunk = Buffer.alloc(1024 * 1024, 0x42);
        let sent = 0;
        let answered = false;
        req.on('response', (res) => {
          answered = true;
          const parts: Buffer[] = [];
          res.on('data', (part: Buffer) => parts.push(part));
          res.on('end', () => {
            clearInterval(sampler);
            resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(parts).toString('utf8')), sent, rssGrowth: peak - before });
          });
        });
        req.on('error', (error) => {
          if (!answered) {
            clearInterval(sampler);
            reject(error);
          }
        });
        const pump = () => {
          while (!answered && sent < SIZE) {
            sent += chunk.length;
            if (!req.write(chunk)) return void req.once('drain', pump);
          }
          if (!answered) req.end();
        };
        pump();
      });
    }

    /**
     * The server answers 413 and closes the connection; a client still writing can meet the closed
     * socket (EPIPE/ECONNRESET) before it has parsed the answer, a race on the client's side. Such an
     * attempt is made again (what a script would do); any other failure fails the test.
     */
    async function streamUploadUntilAnswered(declareLength: boolean) {
      for (let attempt = 1; ; attempt++) {
        try {
          return await streamUpload(declareLength);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (attempt >= 3 || (code !== 'EPIPE' && code !== 'ECONNRESET')) throw err;
        }
      }
    }

    it.each([
      ['streamed without a length', false],
      ['announced by Content-Length', true],
    ])('is refused with a 413 before it is buffered (%s)', async (_, declareLength) => {
      const result = await streamUploadUntilAnswered(declareLength);
      expect(result.status).toBe(413);
      expect(result.body).toMatchObject({ HttpStatus: 413, Details: 'The request body exceeds HTTP_BODY_LIMIT' });
      // The server (this process) stopped reading near the limit: far from 600 MB sent, far from 600 MB held.
      expect(result.sent).toBeLessThan(SIZE / 4);
      expect(result.rssGrowth).toBeLessThan(150 * 1024 * 1024);
    });
  });

  it('still answers after all of it', async () => {
    expect((await http(api.baseUrl, 'GET', '/system')).status).toBe(200);
    expect((await http(api.baseUrl, 'GET', '/health')).body.status).toBe('ok');
  });
});
