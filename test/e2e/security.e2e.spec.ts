import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { JobRepository, LineageRepository, MetadataRepository, PrismaService, ResourceRepository } from '@deidflow/database';
import { OBJECT_STORAGE } from '@deidflow/storage';
import { BrowseService } from '../../apps/api/src/resources/browse.service';
import { http, HttpAnswer } from '../support/http';
import { resetDatabase, RunningApi, startApi, testConfig } from '../support/app-harness';
import { samplePath } from '../support/samples';

/**
 * Issue 6, security: Orthanc-like authentication (HTTP Basic users, plus bearer tokens), helmet's
 * headers, no CORS, no stack traces, and IDs checked by pattern before any database or storage access.
 */
const USER = 'alice';
const PASSWORD = 'pa:ss word';
const TOKEN = 'token-two';
const BASIC = { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` };
const BEARER = { authorization: `Bearer ${TOKEN}` };

const DUMMY_CT_ID = '66a662ce-7430e543-bad44d47-0dc5a943-ec7a538d';

/** One route of each kind, Nest's and not (Swagger, an unknown path). */
const ROUTES: [string, string][] = [
  ['GET', '/system'],
  ['GET', '/patients'],
  ['GET', `/instances/${DUMMY_CT_ID}/file`],
  ['POST', `/instances/${DUMMY_CT_ID}/attachments/dicom/verify-sha256`],
  ['POST', '/instances'],
  ['POST', `/studies/${DUMMY_CT_ID}/anonymize`],
  ['POST', '/tools/bulk-modify'],
  ['DELETE', `/series/${DUMMY_CT_ID}`],
  ['GET', '/jobs'],
  ['GET', '/docs'],
  ['GET', '/openapi.json'],
  ['GET', '/tools/metrics-prometheus'], // the index's size and the jobs: not for anyone on the network
  ['GET', '/no/such/route'],
];

/** What must never be in an answer: stack frames, source paths, exception names. */
const INTERNALS = /\n\s+at |\.ts:\d+|\.js:\d+|node_modules|\/work\/|TypeError|ReferenceError|Prisma|ECONNREFUSED|stack/;

/** A request sent exactly as written: fetch would resolve `..` and `%2e%2e` segments before sending. */
function raw(baseUrl: string, method: string, path: string, body: string | undefined, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(baseUrl);
    const req = httpRequest({ hostname, port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function expectOrthancError(answer: HttpAnswer, status: number): void {
  expect(answer.status).toBe(status);
  expect(answer.headers.get('content-type')).toContain('application/json');
  expect(Object.keys(answer.body).sort()).toEqual(
    expect.arrayContaining(['HttpError', 'HttpStatus', 'Message', 'Method', 'OrthancError', 'OrthancStatus', 'Uri']),
  );
  expect(answer.body.HttpStatus).toBe(status);
  expect(answer.bytes.toString('utf8')).not.toMatch(INTERNALS);
}

describe('security', () => {
  let api: RunningApi;
  const as = (headers: Record<string, string>) => (method: string, path: string, body?: Buffer | string | object) =>
    http(api.baseUrl, method, path, body, headers);
  const authorized = as(BASIC);

  beforeAll(async () => {
    await resetDatabase();
    api = await startApi(
      await testConfig('fs', {
        EMBEDDED_WORKER: 'false',
        AUTHENTICATION_ENABLED: 'true',
        REGISTERED_USERS: `${USER}:${PASSWORD},bob:hunter2`,
        API_TOKENS: `token-one,${TOKEN}`,
      }),
    );
    const upload = await authorized('POST', '/instances', readFileSync(samplePath('orthanc-tests/DummyCT.dcm')));
    expect(upload.body.ID).toBe(DUMMY_CT_ID);
  });
  afterAll(() => api?.close(), 30_000);

  describe('authentication', () => {
    it.each(ROUTES)('answers %s %s without credentials with a 401 in Orthanc\'s shape', async (method, path) => {
      const answer = await as({})(method, path, method === 'POST' ? '{}' : undefined);
      expectOrthancError(answer, 401);
      expect(answer.headers.get('www-authenticate')).toBe('Basic realm="DeidFlow"');
      expect(answer.body).toMatchObject({ HttpError: 'Unauthorized', Message: 'Bad credentials were provided to an HTTP request', OrthancStatus: 29, Method: method });
    });

    it.each([
      ['a wrong password', `Basic ${Buffer.from(`${USER}:wrong`).toString('base64')}`],
      ['an unknown user', `Basic ${Buffer.from('mallory:hunter2').toString('base64')}`],
      ['an unknown token', 'Bearer token-three'],
      ['a malformed header', 'Basic'],
    ])('refuses %s', async (_, authorization) => {
      expectOrthancError(await as({ authorization })('GET', '/patients'), 401);
    });

    it('lets registered users and API tokens in', async () => {
      expect((await authorized('GET', '/patients')).body).toHaveLength(1);
      expect((await as(BEARER)('GET', '/patients')).status).toBe(200);
      expect((await as({ authorization: `Basic ${Buffer.from('bob:hunter2').toString('base64')}` })('GET', '/system')).status).toBe(200);
    });

    it('refuses an unauthenticated upload before reading its body', async () => {
      let sent = 0;
      async function* body() {
        const chunk = Buffer.alloc(1 << 20);
        for (let i = 0; i < 256; i++) {
          sent += chunk.length;
          yield chunk;
        }
      }
      const response = await fetch(`${api.baseUrl}/instances`, { method: 'POST', body: body() as any, duplex: 'half' } as RequestInit);
      expect(response.status).toBe(401);
      await response.arrayBuffer();
      expect(sent).toBeLessThan(256 << 20);
    });

    it('keeps /health open, with statuses only', async () => {
      const health = await as({})('GET', '/health');
      expect(health.status).toBe(200);
      expect(health.body.status).toBe('ok');
      for (const section of ['info', 'details']) {
        for (const check of Object.values(health.body[section] as Record<string, object>)) expect(check).toEqual({ status: 'up' });
      }
      expect(health.bytes.toString('utf8')).not.toMatch(/postgres(ql)?:\/\/|redis:\/\/|127\.0\.0\.1|\/tmp\/|Version|password/i);
    });

    it('does not open other methods or spellings of /health', async () => {
      for (const [method, path] of [['POST', '/health'], ['GET', '/health/'], ['GET', '/HEALTH'], ['GET', '//health']]) {
        expect((await as({})(method, path)).status).toBe(401);
      }
    });
  });

  describe('headers', () => {
    it.each([
      ['a JSON answer', '/patients'],
      ['a DICOM file', `/instances/${DUMMY_CT_ID}/file`],
      ['an error', '/studies/00000000-00000000-00000000-00000000-00000000'],
      ['the Swagger UI', '/docs'],
    ])('sends helmet\'s headers with %s', async (_, path) => {
      const answer = await authorized('GET', path);
      expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
      expect(answer.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(answer.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(answer.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(answer.headers.get('strict-transport-security')).toMatch(/^max-age=\d+/);
      expect(answer.headers.get('referrer-policy')).toBe('no-referrer');
      expect(answer.headers.get('cross-origin-resource-policy')).toBe('same-origin');
      expect(answer.headers.get('x-powered-by')).toBeNull();
    });

    it('sends them with a 401 too', async () => {
      const answer = await as({})('GET', '/patients');
      expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
      expect(answer.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    });

    it('keeps CORS off: no Access-Control-* header, even to a preflight', async () => {
      const origin = { ...BASIC, origin: 'https://elsewhere.example' };
      const simple = await as(origin)('GET', '/patients');
      const preflight = await as({ ...origin, 'access-control-request-method': 'DELETE' })('OPTIONS', '/patients');
      for (const answer of [simple, preflight]) {
        expect([...answer.headers.keys()].filter((name) => name.startsWith('access-control-'))).toEqual([]);
      }
      expect(preflight.status).toBe(404);
    });
  });

  describe('cross-site requests', () => {
    it.each([
      ['a cross-site page (Fetch Metadata)', { 'sec-fetch-site': 'cross-site' }],
      ['another origin (no Fetch Metadata)', { origin: 'https://elsewhere.example' }],
    ])('refuses a state-changing request from %s, even with the credentials a browser keeps', async (_, headers) => {
      const answer = await as({ ...BASIC, ...headers })('POST', '/tools/bulk-delete', { Resources: [] });
      expectOrthancError(answer, 403);
    });

    it('lets the same origin (the Swagger UI) and non-browser clients through', async () => {
      expect((await as({ ...BASIC, 'sec-fetch-site': 'same-origin' })('POST', '/tools/bulk-delete', { Resources: [] })).status).toBe(200);
      expect((await as(BASIC)('POST', '/tools/bulk-delete', { Resources: [] })).status).toBe(200);
      expect((await as({ ...BASIC, 'sec-fetch-site': 'cross-site' })('GET', '/patients')).status).toBe(200);
    });
  });

  describe('no internals in answers', () => {
    it.each<[string, string, string, (Buffer | string)?, number?]>([
      ['invalid JSON', 'POST', `/studies/${DUMMY_CT_ID}/anonymize`, '{"Replace": ', 400],
      ['a wrongly typed option', 'POST', `/studies/${DUMMY_CT_ID}/anonymize`, '{"Keep": 3}', 400],
      ['an unknown route', 'GET', '/no/such/route', undefined, 404],
      ['a bad percent-encoding', 'GET', '/instances/%E0%A4%A', undefined, 400],
      ['a non-DICOM upload', 'POST', '/instances', Buffer.from('hello'), 400],
      ['a bad query parameter', 'GET', '/patients?limit=-1', undefined, 400],
      ['a path parameter over 100 characters', 'GET', `/patients/${'x'.repeat(200)}`, undefined, 414],
    ])('answers %s with a plain Orthanc error', async (_, method, path, body, status) => {
      expectOrthancError(await authorized(method, path, body), status as number);
    });

    it('answers a failure of ours with a bare 500 and the request id, never the error', async () => {
      const browse = api.app.get(BrowseService);
      const failure = new TypeError('Cannot read properties of undefined (connection postgresql://secret@db/deidflow)');
      const spy = jest.spyOn(browse, 'statistics').mockRejectedValueOnce(failure);
      try {
        const answer = await as({ ...BASIC, 'x-request-id': 'security-e2e-500' })('GET', '/statistics');
        expectOrthancError(answer, 500);
        expect(answer.body).toMatchObject({ Message: 'Internal error', OrthancStatus: -1 });
        expect(answer.body.Details).toBeUndefined();
        expect(answer.bytes.toString('utf8')).not.toContain('secret');
        expect(answer.headers.get('x-request-id')).toBe('security-e2e-500');
      } finally {
        spy.mockRestore();
      }
    });
  });

  describe('IDs are checked by pattern before any database or storage access', () => {
    const BAD_IDS = [
      '..%2F..%2Fetc%2Fpasswd',
      '%2e%2e',
      '..',
      "1'%20OR%20'1'='1",
      encodeURIComponent('66a662ce-7430e543-bad44d47-0dc5a943-ec7a538D'),
      '66a662ce-7430e543-bad44d47-0dc5a943-ec7a538d%00',
      '66a662ce-7430e543-bad44d47-0dc5a943',
      'x'.repeat(2000),
    ];
    const ROUTES_WITH_IDS: [string, string, string?][] = [
      ...['patients', 'studies', 'series', 'instances'].flatMap((level): [string, string, string?][] => [
        ['GET', `/${level}/:id`],
        ['DELETE', `/${level}/:id`],
        ['GET', `/${level}/:id/metadata`],
        ['GET', `/${level}/:id/metadata/AnonymizedFrom`],
        ['GET', `/${level}/:id/lineage`],
        ['GET', `/${level}/:id/instances`],
        ['POST', `/${level}/:id/anonymize`, '{}'],
        ['POST', `/${level}/:id/modify`, '{"Replace":{"InstitutionName":"x"}}'],
      ]),
      ['GET', '/studies/:id/series'],
      ['GET', '/instances/:id/patient'],
      ['GET', '/instances/:id/file'],
      ['GET', '/instances/:id/tags'],
      ['GET', '/instances/:id/simplified-tags'],
      ['GET', '/instances/:id/content'],
      ['GET', '/instances/:id/content/0010-0010'],
      ['GET', '/jobs/:id'],
      ['DELETE', '/jobs/:id'],
      ['POST', '/jobs/:id/cancel'],
      ['POST', '/jobs/:id/resubmit'],
    ];

    /** Every method of the repositories and of the object store, spied on. */
    function spyOnDataAccess(): jest.SpyInstance[] {
      const targets: object[] = [
        api.app.get(ResourceRepository),
        api.app.get(MetadataRepository),
        api.app.get(JobRepository),
        api.app.get(LineageRepository),
        api.app.get(OBJECT_STORAGE),
      ];
      const prisma = api.app.get(PrismaService) as unknown as Record<string, unknown>;
      const spies: jest.SpyInstance[] = [];
      for (const target of targets) {
        const methods = Object.getOwnPropertyNames(Object.getPrototypeOf(target)).filter(
          (name) => name !== 'constructor' && typeof (target as Record<string, unknown>)[name] === 'function',
        );
        for (const name of methods) spies.push(jest.spyOn(target as Record<string, () => unknown>, name));
      }
      for (const name of ['$queryRaw', '$executeRaw', '$queryRawUnsafe', '$executeRawUnsafe', '$transaction', 'prepared']) {
        if (typeof prisma[name] === 'function') spies.push(jest.spyOn(prisma as Record<string, () => unknown>, name));
      }
      return spies;
    }

    it(`answers ${BAD_IDS.length} hostile IDs on every route with a 4xx, touching neither the database nor the storage`, async () => {
      const spies = spyOnDataAccess();
      try {
        const wrong: string[] = [];
        for (const [method, route, body] of ROUTES_WITH_IDS) {
          for (const id of BAD_IDS) {
            const answer = await raw(api.baseUrl, method, route.replace(':id', id), body, BASIC);
            const clean = answer.status >= 400 && answer.status < 500 && !INTERNALS.test(answer.text);
            if (!clean) wrong.push(`${method} ${route} with ${id.slice(0, 40)}: ${answer.status} ${answer.text.slice(0, 200)}`);
          }
        }
        expect(wrong).toEqual([]);
        expect(spies.filter((spy) => spy.mock.calls.length > 0).map((spy) => spy.getMockName())).toEqual([]);
        // The spies do see accesses: a valid ID reads the index.
        expect((await authorized('GET', `/instances/${DUMMY_CT_ID}`)).status).toBe(200);
        expect(spies.some((spy) => spy.mock.calls.length > 0)).toBe(true);
      } finally {
        for (const spy of spies) spy.mockRestore();
      }
    });

    // `name in metadata` let Object.prototype members through (200, empty body): Object.hasOwn now.
    it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])('answers metadata named %s (an Object.prototype member) with a 404', async (name) => {
      const answer = await raw(api.baseUrl, 'GET', `/instances/${DUMMY_CT_ID}/metadata/${name}`, undefined, BASIC);
      expect(answer.status).toBe(404);
    });

    it('checks the IDs inside bodies too (bulk operations, Parent)', async () => {
      const spies = spyOnDataAccess();
      try {
        const bulk = await authorized('POST', '/tools/bulk-anonymize', { Resources: ['../../etc/passwd'] });
        expect(bulk.status).toBe(400);
        const parent = await authorized('POST', '/tools/create-dicom', { Parent: "x' OR 1=1", Tags: { PatientName: 'x' } });
        expect(parent.status).toBeGreaterThanOrEqual(400);
        expect(spies.filter((spy) => spy.mock.calls.length > 0).map((spy) => spy.getMockName())).toEqual([]);
      } finally {
        for (const spy of spies) spy.mockRestore();
      }
    });
  });
});
