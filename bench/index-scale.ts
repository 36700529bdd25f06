import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Logger } from '@nestjs/common';
import { Queue } from 'bullmq';
import { Client } from 'pg';
import { loadConfig } from '../libs/config/src';
import { JobRepository, PrismaService } from '../libs/database/src';
import { JobEnqueuer, JobExpansionService } from '../libs/jobs/src';
import { QueueName } from '../libs/queue/src';
import { FIND_PAGE, findIdsSql } from '../libs/database/src/repositories/find-sql';
import { parseFindRequest } from '../libs/dicom/src/find/find-request';
import { killStartedProcesses, readyWhen, startService } from './child-process';
import { readRssMb } from './process-monitor';
import { HttpClient } from './http-client';
import { clearQueuePrefix, freePort } from './stack';
import { markdownTable } from './report';
import { percentile } from './stats';

/**
 * `npm run bench:index`: the index at a PACS's size. Seeds a dedicated database with a synthetic
 * index (patients, studies, series, instances with realistic main DICOM tags; no files), starts the
 * API on it and times what a viewer, a worklist or a research script asks of a large archive:
 * /tools/find by identifier, name, date and modality, /tools/lookup, and expanded pages of
 * studies; and a long job history (GET /jobs?expand). Prints each call's latency and the scans
 * Postgres chose for the find's SQL.
 * `--keep` leaves the database for the next run (seeding takes minutes), which applies any new
 * migration to the same rows: a before/after comparison of an index.
 */

const USAGE = `Usage: npm run bench:index -- [--patients N] [--calls N] [--keep] [--database-url URL]
  --patients N    synthetic patients (default 50000); each has 2 studies of 4 series of 4 instances
  --calls N       timed calls per request, after 3 untimed ones (default 20)
  --keep          keep the seeded database for the next run (reused when its size matches)`;

const STUDIES_PER_PATIENT = 2;
const SERIES_PER_STUDY = 4;
const INSTANCES_PER_SERIES = 4;
const WARM_UP_CALLS = 3;
/** Studies of the cohort submitted at once by the bulk submission measurement (16 instances each). */
const COHORT_STUDIES = 2000;
const COHORT_SUBMISSIONS = 3;
const QUEUE_PREFIX = 'deidflowbenchindex';

interface Options {
  patients: number;
  calls: number;
  keep: boolean;
  databaseUrl: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      patients: { type: 'string' },
      calls: { type: 'string' },
      keep: { type: 'boolean', default: false },
      'database-url': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const count = (name: string, value: string | undefined, fallback: number) => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} takes a positive integer`);
    return n;
  };
  return {
    patients: count('patients', values.patients, 50_000),
    calls: count('calls', values.calls, 20),
    keep: values.keep,
    databaseUrl: values['database-url'] ?? 'postgresql://postgres@127.0.0.1:5432/deidflow_bench_index',
  };
}

/** One request of the benchmark: a find (its body), a lookup (its identifier) or a GET. */
type Probe =
  | { label: string; find: Record<string, unknown> }
  | { label: string; lookup: string }
  | { label: string; get: string };

/**
 * What the requests ask for, chosen from the seeded values (see SEED_SQL): patient 12345's
 * identifiers, a surname held by 1 patient in 50, one week of study dates.
 */
function probes(patients: number): Probe[] {
  const p = Math.min(12_345, patients);
  const study = (p - 1) * STUDIES_PER_PATIENT + 1;
  const series = (study - 1) * SERIES_PER_STUDY + 1;
  const instance = (series - 1) * INSTANCES_PER_SERIES + 1;
  return [
    { label: 'Patient: PatientID', find: { Level: 'Patient', Query: { PatientID: patientId(p) } } },
    { label: 'Study: PatientID', find: { Level: 'Study', Query: { PatientID: patientId(p) } } },
    { label: 'Study: PatientName, exact (case-insensitive)', find: { Level: 'Study', Query: { PatientName: 'garcia^maria' } } },
    { label: 'Study: PatientName, prefix "GARC*"', find: { Level: 'Study', Query: { PatientName: 'GARC*' } } },
    { label: 'Study: PatientName, infix "*MARIA*", Limit 100', find: { Level: 'Study', Query: { PatientName: '*MARIA*' }, Limit: 100 } },
    { label: 'Study: AccessionNumber', find: { Level: 'Study', Query: { AccessionNumber: accessionNumber(study) } } },
    { label: 'Study: StudyInstanceUID', find: { Level: 'Study', Query: { StudyInstanceUID: studyUid(study) } } },
    { label: 'Study: StudyDate, one week', find: { Level: 'Study', Query: { StudyDate: '20240101-20240107' } } },
    {
      label: 'Study: StudyDate, one week + ModalitiesInStudy MR',
      find: { Level: 'Study', Query: { StudyDate: '20240101-20240107', ModalitiesInStudy: 'MR' } },
    },
    { label: 'Study: StudyDate, one week, Expand', find: { Level: 'Study', Query: { StudyDate: '20240101-20240107' }, Expand: true } },
    { label: 'Study: all, Limit 100, Expand', find: { Level: 'Study', Query: {}, Limit: 100, Expand: true } },
    { label: 'Series: StudyInstanceUID', find: { Level: 'Series', Query: { StudyInstanceUID: studyUid(study) } } },
    { label: 'Series: SeriesInstanceUID', find: { Level: 'Series', Query: { SeriesInstanceUID: seriesUid(series) } } },
    { label: 'Instance: SOPInstanceUID', find: { Level: 'Instance', Query: { SOPInstanceUID: sopUid(instance) } } },
    { label: 'Instance: PatientID + InstanceNumber 1', find: { Level: 'Instance', Query: { PatientID: patientId(p), InstanceNumber: '1' } } },
    { label: 'lookup: SOPInstanceUID', lookup: sopUid(instance) },
    { label: 'GET /studies?expand&limit=100', get: '/studies?expand&limit=100' },
    { label: 'GET /patients/{id}/studies (expanded)', get: '' },
    { label: 'GET /statistics', get: '/statistics' },
    // Whole listings, as a script walking the archive asks them (Orthanc answers them whole too).
    { label: 'GET /studies (every ID)', get: '/studies' },
    { label: 'GET /instances (every ID)', get: '/instances' },
    { label: 'GET /studies?expand (every study)', get: '/studies?expand' },
    { label: 'Study: all, Expand (every study)', find: { Level: 'Study', Query: {}, Expand: true } },
  ];
}

// The seeded values, as SEED_SQL writes them (keep the two in step).
const patientId = (p: number) => `PID${String(p).padStart(8, '0')}`;
const accessionNumber = (s: number) => `ACC${String(s).padStart(9, '0')}`;
const studyUid = (s: number) => `1.2.826.0.1.3680043.10.543.1.${s}`;
const seriesUid = (s: number) => `1.2.826.0.1.3680043.10.543.2.${s}`;
const sopUid = (i: number) => `1.2.826.0.1.3680043.10.543.3.${i}`;

/**
 * The synthetic index, built by Postgres itself. Orthanc-shaped IDs are SHA-256 prefixes of the
 * UIDs (unique; the API checks their format only). Names cycle through 50 surnames and 37 given
 * names, study dates through 2000-2026, modalities through six.
 */
const SEED_SQL = (patients: number) => `
CREATE FUNCTION pg_temp.orthanc_id(t text) RETURNS text IMMUTABLE LANGUAGE sql AS $$
  SELECT regexp_replace(substr(encode(sha256(convert_to(t, 'UTF8')), 'hex'), 1, 40), '(.{8})(.{8})(.{8})(.{8})(.{8})', '\\1-\\2-\\3-\\4-\\5')
$$;
INSERT INTO patients (id, patient_id, main_dicom_tags, created_at, last_update)
SELECT pg_temp.orthanc_id('p' || p), 'PID' || lpad(p::text, 8, '0'),
  jsonb_build_object(
    'PatientID', 'PID' || lpad(p::text, 8, '0'),
    'PatientName', (ARRAY['SMITH','JOHNSON','WILLIAMS','BROWN','JONES','GARCIA','MILLER','DAVIS','RODRIGUEZ','MARTINEZ',
      'HERNANDEZ','LOPEZ','GONZALEZ','WILSON','ANDERSON','THOMAS','TAYLOR','MOORE','JACKSON','MARTIN','LEE','PEREZ','THOMPSON',
      'WHITE','HARRIS','SANCHEZ','CLARK','RAMIREZ','LEWIS','ROBINSON','WALKER','YOUNG','ALLEN','KING','WRIGHT','SCOTT','TORRES',
      'NGUYEN','HILL','FLORES','GREEN','ADAMS','NELSON','BAKER','HALL','RIVERA','CAMPBELL','MITCHELL','CARTER','ROBERTS'])[1 + p % 50]
      || '^' || (ARRAY['JAMES','MARY','ROBERT','PATRICIA','JOHN','JENNIFER','MICHAEL','LINDA','DAVID','ELIZABETH','WILLIAM','BARBARA',
      'RICHARD','SUSAN','JOSEPH','JESSICA','THOMAS','KAREN','CHARLES','SARAH','CHRISTOPHER','LISA','DANIEL','NANCY','MATTHEW',
      'BETTY','ANTHONY','SANDRA','MARK','MARGARET','DONALD','ASHLEY','STEVEN','KIMBERLY','ANDREW','EMILY','MARIA'])[1 + p % 37],
    'PatientBirthDate', to_char(date '1930-01-01' + ((p::bigint * 7919) % 30000)::int, 'YYYYMMDD'),
    'PatientSex', CASE WHEN p % 2 = 0 THEN 'F' ELSE 'M' END),
  timestamptz '2024-01-01' + p * interval '1 second', timestamptz '2024-01-01' + p * interval '1 second'
FROM generate_series(1, ${patients}) AS p;

INSERT INTO studies (id, patient_id, study_instance_uid, main_dicom_tags, created_at, last_update)
SELECT pg_temp.orthanc_id('st' || s), pg_temp.orthanc_id('p' || ((s - 1) / ${STUDIES_PER_PATIENT} + 1)),
  '1.2.826.0.1.3680043.10.543.1.' || s,
  jsonb_build_object(
    'StudyInstanceUID', '1.2.826.0.1.3680043.10.543.1.' || s,
    'StudyDate', to_char(date '2000-01-01' + ((s::bigint * 104729) % 9800)::int, 'YYYYMMDD'),
    'StudyTime', lpad(((s * 37) % 24)::text, 2, '0') || '3000',
    'AccessionNumber', 'ACC' || lpad(s::text, 9, '0'),
    'StudyID', (s % 10000)::text,
    'StudyDescription', (ARRAY['CT CHEST W/O CONTRAST','MR BRAIN W/WO','CR CHEST 2 VIEWS','US ABDOMEN COMPLETE','PET/CT WHOLE BODY','DX KNEE'])[1 + s % 6],
    'ReferringPhysicianName', 'REF^DOCTOR' || (s % 200),
    'InstitutionName', 'GENERAL HOSPITAL'),
  timestamptz '2024-01-01' + s * interval '1 second', timestamptz '2024-01-01' + s * interval '1 second'
FROM generate_series(1, ${patients * STUDIES_PER_PATIENT}) AS s;

INSERT INTO series (id, study_id, series_instance_uid, main_dicom_tags, created_at, last_update)
SELECT pg_temp.orthanc_id('se' || se), pg_temp.orthanc_id('st' || ((se - 1) / ${SERIES_PER_STUDY} + 1)),
  '1.2.826.0.1.3680043.10.543.2.' || se,
  jsonb_build_object(
    'SeriesInstanceUID', '1.2.826.0.1.3680043.10.543.2.' || se,
    'Modality', (ARRAY['CT','MR','CR','US','PT','DX'])[1 + ((se - 1) / ${SERIES_PER_STUDY} + (se - 1) % 2) % 6],
    'SeriesNumber', (1 + (se - 1) % ${SERIES_PER_STUDY})::text,
    'SeriesDescription', 'SERIES ' || (1 + (se - 1) % ${SERIES_PER_STUDY}),
    'Manufacturer', 'SYNTHETIC'),
  timestamptz '2024-01-01' + se * interval '1 second', timestamptz '2024-01-01' + se * interval '1 second'
FROM generate_series(1, ${patients * STUDIES_PER_PATIENT * SERIES_PER_STUDY}) AS se;

INSERT INTO instances (id, series_id, sop_instance_uid, sop_class_uid, transfer_syntax_uid, main_dicom_tags,
                       index_in_series, object_key, file_size, received_at)
SELECT pg_temp.orthanc_id('i' || i), pg_temp.orthanc_id('se' || ((i - 1) / ${INSTANCES_PER_SERIES} + 1)),
  '1.2.826.0.1.3680043.10.543.3.' || i, '1.2.840.10008.5.1.4.1.1.2', '1.2.840.10008.1.2.1',
  jsonb_build_object('SOPInstanceUID', '1.2.826.0.1.3680043.10.543.3.' || i, 'InstanceNumber', (1 + (i - 1) % ${INSTANCES_PER_SERIES})::text),
  1 + (i - 1) % ${INSTANCES_PER_SERIES}, 'instances/none/' || i, 527000,
  timestamptz '2024-01-01' + i * interval '1 second'
FROM generate_series(1, ${patients * STUDIES_PER_PATIENT * SERIES_PER_STUDY * INSTANCES_PER_SERIES}) AS i;
`;

/**
 * What a worker does with a large asynchronous submission (an expand-job task), run in this process:
 * no worker runs in this bench. The same code (JobExpansionService), on the same database and queue.
 */
function workerExpansion(databaseUrl: string): { expand: (jobId: string) => Promise<void>; close: () => Promise<void> } {
  Logger.overrideLogger(false); // its log lines, amid the bench's output
  const redisUrl = 'redis://127.0.0.1:6379';
  const config = loadConfig({ ...process.env, DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, QUEUE_PREFIX });
  const prisma = new PrismaService(config);
  const jobs = new JobRepository(prisma);
  const queue = new Queue(QueueName.Modification, { connection: { url: redisUrl, maxRetriesPerRequest: null }, prefix: QUEUE_PREFIX });
  const expansion = new JobExpansionService(jobs, new JobEnqueuer(jobs, queue, config), config);
  return {
    expand: (jobId) => expansion.expand(jobId),
    close: async () => {
      await queue.close();
      await prisma.onModuleDestroy();
    },
  };
}

/**
 * A research cohort submitted at once: POST /tools/bulk-anonymize of `count` studies, asynchronous:
 * the answer, then the listing of its instances as a worker does it (past 200 resources, since the
 * fifteenth session; before, the answer waited for it). Each job is canceled and deleted after.
 */
async function cohortSubmission(http: HttpClient, databaseUrl: string, count: number): Promise<string[][]> {
  const studies = await http.json<string[]>('POST', '/tools/find', { Level: 'Study', Query: {}, Limit: count });
  const worker = workerExpansion(databaseUrl);
  const answers: number[] = [];
  const listings: number[] = [];
  let instances = 0;
  try {
    // One untimed submission first: the first call of a statement prepares it on its connection.
    for (let i = -1; i < COHORT_SUBMISSIONS; i++) {
      let start = process.hrtime.bigint();
      const job = await http.json<{ ID: string }>('POST', '/tools/bulk-anonymize', { Resources: studies, Asynchronous: true });
      if (i >= 0) answers.push(Number(process.hrtime.bigint() - start) / 1e6);
      start = process.hrtime.bigint();
      await worker.expand(job.ID);
      if (i >= 0) listings.push(Number(process.hrtime.bigint() - start) / 1e6);
      instances = (await http.json<{ Content: { InstancesCount?: number } }>('GET', `/jobs/${job.ID}`)).Content.InstancesCount ?? 0;
      await http.json('POST', `/jobs/${job.ID}/cancel`, {});
      await http.json('DELETE', `/jobs/${job.ID}`);
    }
  } finally {
    await worker.close();
  }
  const row = (label: string, times: number[]) => {
    times.sort((a, b) => a - b);
    return [label, '1', percentile(times, 50).toFixed(1), percentile(times, 95).toFixed(1), ''];
  };
  return [
    row(`POST /tools/bulk-anonymize of ${count} studies (${instances} instances), asynchronous, ${COHORT_SUBMISSIONS} calls after 1: the answer`, answers),
    row(`  then its ${instances} instances listed by a worker (expand-job)`, listings),
  ];
}

/** Finished study jobs in the history for GET /jobs?expand (kept forever unless JOB_RETENTION_DAYS is set). */
const JOB_HISTORY = 20_000;
const JOB_HISTORY_CALLS = 5;

/** The process's VmRSS in MB (0 once it is gone). */
function vmRssMb(pid: number): number {
  return readRssMb(pid) ?? 0;
}

/**
 * Runs `work` while sampling the process's VmRSS every 20 ms: its value, and "before -> peak" in MB
 * (RSS seldom shrinks, so a peak also carries what earlier requests left: the "before" tells).
 */
async function withPeakRss<T>(pid: number, work: () => Promise<T>): Promise<{ value: T; rss: string }> {
  const beforeMb = vmRssMb(pid);
  let peakMb = beforeMb;
  const sampler = setInterval(() => (peakMb = Math.max(peakMb, vmRssMb(pid))), 20);
  try {
    const value = await work();
    return { value, rss: `${beforeMb.toFixed(0)} -> ${Math.max(peakMb, vmRssMb(pid)).toFixed(0)}` };
  } finally {
    clearInterval(sampler);
  }
}

/**
 * A long job history: JOB_HISTORY finished study jobs (added once to the seeded database), then
 * GET /jobs?expand, timed, with the API's peak RSS while it answers.
 */
async function jobHistory(http: HttpClient, client: Client, apiPid: number): Promise<string[]> {
  const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM jobs WHERE state = 'Success'`);
  const missing = JOB_HISTORY - Number(rows[0].n);
  if (missing > 0) {
    await client.query(
      `INSERT INTO jobs (id, state, is_anonymization, request, secret, level, source_resources, instances_count, processed_count, ready, output, created_at, started_at, completed_at)
       SELECT gen_random_uuid(), 'Success', true, '{"Replace":{},"Remove":[],"Keep":[],"KeepSource":true,"Force":false,"DicomVersion":"2023b"}',
         repeat('0', 64), 'Study', jsonb_build_array(md5(g::text)), 16, 16, true,
         jsonb_build_object('ID', md5(g::text), 'Path', '/studies/' || md5(g::text), 'PatientID', md5((g + 1)::text), 'Type', 'Study'),
         now() - make_interval(secs => g), now() - make_interval(secs => g), now() - make_interval(secs => g - 1)
       FROM generate_series(1, $1::int) g`,
      [missing],
    );
  }
  const times: number[] = [];
  const { value: listed, rss } = await withPeakRss(apiPid, async () => {
    let count = 0;
    for (let i = 0; i < JOB_HISTORY_CALLS; i++) {
      const start = process.hrtime.bigint();
      count = (await http.json<unknown[]>('GET', '/jobs?expand')).length;
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    return count;
  });
  times.sort((a, b) => a - b);
  return [`GET /jobs?expand over ${JOB_HISTORY} finished jobs, ${JOB_HISTORY_CALLS} calls`, String(listed), percentile(times, 50).toFixed(1), percentile(times, 95).toFixed(1), rss, ''];
}

/** POST /tools/lookup takes the identifier as the raw body, not as JSON. */
async function lookup(http: HttpClient, identifier: string): Promise<{ ID: string }[]> {
  const answer = await http.send('POST', '/tools/lookup', identifier, 'text/plain');
  if (answer.status !== 200) throw new Error(`POST /tools/lookup: ${answer.status} ${answer.body.toString('utf8')}`);
  return JSON.parse(answer.body.toString('utf8')) as { ID: string }[];
}

async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function adminUrl(databaseUrl: string): { admin: string; name: string } {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  if (!/^[A-Za-z0-9_]+$/.test(name) || ['postgres', 'test'].includes(name)) throw new Error(`Refusing to use database "${name}"`);
  url.pathname = '/postgres';
  return { admin: url.toString(), name };
}

/** The scan nodes of the find's plan (`Index Scan using ...`, `Seq Scan on ...`), as Postgres chose them. */
async function scansOf(client: Client, body: Record<string, unknown>): Promise<string> {
  // The first page, as the API reads it.
  const sql = findIdsSql(parseFindRequest(body), { offset: 0, take: FIND_PAGE });
  const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql.text}`, sql.values);
  const scans = rows
    .map((r) => r['QUERY PLAN'].trim().replace(/^->\s*/, ''))
    .filter((line) => /Scan/.test(line))
    .map((line) => line.replace(/\s+\(cost=.*$/, '').replace(/^(Parallel )?/, ''));
  return [...new Set(scans)].join('; ');
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const distRoot = resolve(__dirname, '..');
  const { admin, name } = adminUrl(options.databaseUrl);
  const studies = options.patients * STUDIES_PER_PATIENT;
  const instances = studies * SERIES_PER_STUDY * INSTANCES_PER_SERIES;

  const existing = await withClient(admin, async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount);
  let reuse = false;
  if (existing) {
    reuse = await withClient(options.databaseUrl, async (c) => {
      const { rows } = await c.query<{ n: string }>('SELECT count(*) AS n FROM studies').catch(() => ({ rows: [{ n: '-1' }] }));
      return Number(rows[0].n) === studies;
    });
    if (!reuse) await withClient(admin, (c) => c.query(`DROP DATABASE "${name}" WITH (FORCE)`));
  }
  if (!reuse) await withClient(admin, (c) => c.query(`CREATE DATABASE "${name}"`));

  const port = await freePort();
  const storeDir = await mkdtemp(join(tmpdir(), 'deidflow-bench-index-'));
  const api = await startService({
    name: 'api',
    nodeArgs: ['--max-semi-space-size=8', join(distRoot, 'apps/api/src/main.js')],
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      DATABASE_URL: options.databaseUrl,
      REDIS_URL: 'redis://127.0.0.1:6379',
      QUEUE_PREFIX,
      STORAGE_DRIVER: 'fs',
      STORAGE_DIR: storeDir,
      EMBEDDED_WORKER: 'false',
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(port),
    },
    ready: readyWhen(async () => {
      const probe = new HttpClient(`http://127.0.0.1:${port}`, 1);
      try {
        return (await probe.send('GET', '/system')).status === 200;
      } finally {
        probe.close();
      }
    }),
  });
  const http = new HttpClient(`http://127.0.0.1:${port}`, 1);
  try {
    if (reuse) console.log(`reusing ${name}: ${options.patients} patients, ${studies} studies, ${instances} instances`);
    else {
      console.log(`seeding ${name}: ${options.patients} patients, ${studies} studies, ${instances} instances ...`);
      const started = Date.now();
      await withClient(options.databaseUrl, (c) => c.query(SEED_SQL(options.patients)));
      console.log(`seeded in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    }
    await withClient(options.databaseUrl, (c) => c.query('VACUUM ANALYZE'));

    const list = probes(options.patients);
    const [patient] = await lookup(http, patientId(Math.min(12_345, options.patients)));
    const rows: string[][] = [];
    await withClient(options.databaseUrl, async (client) => {
      for (const probe of list) {
        const call = async (): Promise<number> => {
          let answer;
          if ('find' in probe) answer = await http.json<unknown[]>('POST', '/tools/find', probe.find);
          else if ('lookup' in probe) answer = await lookup(http, probe.lookup);
          else answer = await http.json<unknown[] | object>('GET', probe.get || `/patients/${patient.ID}/studies`);
          return Array.isArray(answer) ? answer.length : 1;
        };
        let results = 0;
        for (let i = 0; i < WARM_UP_CALLS; i++) results = await call();
        const times: number[] = [];
        const { rss } = await withPeakRss(api.pid, async () => {
          for (let i = 0; i < options.calls; i++) {
            const start = process.hrtime.bigint();
            await call();
            times.push(Number(process.hrtime.bigint() - start) / 1e6);
          }
        });
        times.sort((a, b) => a - b);
        const scans = 'find' in probe ? await scansOf(client, probe.find) : '';
        rows.push([probe.label, String(results), percentile(times, 50).toFixed(1), percentile(times, 95).toFixed(1), rss, scans]);
      }
    });
    const cohort = await withPeakRss(api.pid, () => cohortSubmission(http, options.databaseUrl, Math.min(COHORT_STUDIES, studies)));
    rows.push(...cohort.value.map((row, i) => row.toSpliced(4, 0, i === 0 ? cohort.rss : '')));
    rows.push(await withClient(options.databaseUrl, (client) => jobHistory(http, client, api.pid)));
    console.log(
      `\nIndex of ${options.patients} patients, ${studies} studies, ${studies * SERIES_PER_STUDY} series, ${instances} instances;` +
        ` ${options.calls} sequential calls per request after ${WARM_UP_CALLS} untimed ones\n`,
    );
    console.log(
      markdownTable(['request', 'results', 'p50 ms', 'p95 ms', 'API RSS MB: before -> peak', 'scans in the find\'s plan'], rows, [false, true, true, true, true, false]),
    );
  } finally {
    http.close();
    await api.stop();
    await rm(storeDir, { recursive: true, force: true });
    await clearQueuePrefix('redis://127.0.0.1:6379', QUEUE_PREFIX);
    if (!options.keep) await withClient(admin, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
  }
}

main().catch((err: unknown) => {
  console.error(err);
  killStartedProcesses();
  process.exit(1);
});
