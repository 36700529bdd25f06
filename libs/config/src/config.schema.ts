import { z } from 'zod';
import { FIRST_USER_METADATA, LAST_USER_METADATA, SYSTEM_METADATA } from '@deidflow/common';
import { isAeTitle, parseDicomModalities } from './dicom-modalities';

const bool = z
  .union([z.boolean(), z.string()])
  .transform((v) => (typeof v === 'boolean' ? v : ['1', 'true', 'yes', 'on'].includes(v.toLowerCase())));

/** Orthanc's UserMetadata: a JSON object of names and numbers, each number in 1024-65535 and used once. */
const userMetadata = z
  .string()
  .default('{}')
  .transform((text, ctx): Record<string, number> => {
    const fail = (message: string) => {
      ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    };
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return fail('must be a JSON object of names and numbers, such as {"Sample": 1024}');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return fail('must be a JSON object, such as {"Sample": 1024}');
    const numbers = new Set<number>();
    for (const [name, type] of Object.entries(parsed)) {
      if (!Number.isInteger(type) || type < FIRST_USER_METADATA || type > LAST_USER_METADATA) {
        return fail(`"${name}" must be a number from ${FIRST_USER_METADATA} to ${LAST_USER_METADATA}`);
      }
      if (numbers.has(type)) return fail(`${type} is given to two names`);
      if (/^-?\d+$/.test(name) || Object.hasOwn(SYSTEM_METADATA, name)) return fail(`"${name}" is a number or a system metadata name`);
      numbers.add(type);
    }
    return parsed as Record<string, number>;
  });

/**
 * Every setting of DeidFlow, read from the environment and validated at start (fail fast).
 * `.env.example` documents the same list (config.schema.spec.ts checks it).
 */
const settings = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  DATABASE_URL: z.string().url().default('postgresql://postgres@127.0.0.1:5432/deidflow'),
  /**
   * Postgres connections of one process (API or worker). A worker with 16 instances in flight waited
   * for connections with 10 (BENCHMARKS.md, sixth session: +12-14% with 20). Every process may open
   * this many: (workers + API) x this must stay under the server's max_connections (100 by default).
   */
  DATABASE_POOL_SIZE: z.coerce.number().int().min(2).max(200).default(20),
  /**
   * Longest wait for a Postgres connection: opening one, or a free one of the pool. A server that
   * accepts but does not answer (frozen, its disk hung) otherwise holds calls for the OS's TCP
   * timeout (minutes) or for ever; past it a call answers 503 (DatabaseUnavailable).
   */
  DATABASE_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  /**
   * Longest statement, and longest idle time inside a transaction, before Postgres cancels it
   * (statement_timeout, idle_in_transaction_session_timeout: locks are never held by a process that
   * went away). A server that does not answer at all is given up a few seconds later. Statements
   * whose work grows with a job or a resource (the end of a bulk job, a resubmit, a deletion) are
   * allowed ten times as long (PreparedStatement.long): ~1.7 s per 100,000 instances here.
   */
  DATABASE_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).default(60_000),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  HTTP_HOST: z.string().default('127.0.0.1'),
  HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(8042),
  /** Largest accepted request body (uploads, ZIP archives), in bytes. */
  HTTP_BODY_LIMIT: z.coerce.number().int().positive().default(512 * 1024 * 1024),
  /**
   * Memory that request bodies being received, and instance-level anonymize/modify calls (their
   * source and result), may take at once, in bytes (RequestBodyBudget): past it, requests wait for
   * their turn before their body or file is read. 1 GiB: two uploads at the body limit, or ~2,000 CT
   * images at once; 30 uploads of 100 MB took the API to 3.4 GB without it.
   */
  HTTP_BODIES_MEMORY_LIMIT: z.coerce.number().int().min(1024 * 1024).default(1024 * 1024 * 1024),
  /** A request body that stops arriving this long is answered 408 (its memory and connection freed). */
  HTTP_BODY_IDLE_TIMEOUT_MS: z.coerce.number().int().min(100).default(60_000),
  /**
   * Instances of one job held in the work queue (Redis) at once; the workers queue the next ones as
   * they complete them. A queued task takes ~1.3 kB of Redis: a million-instance job queued whole
   * took 1.3 GB, 5,000 at a time take 6.5 MB (and 5 s of work at 1,000 instances/s).
   */
  QUEUE_WINDOW_PER_JOB: z.coerce.number().int().min(2).default(5000),
  /**
   * Instance tasks in the work queue across all jobs at once (~65 MB of Redis at 1.3 kB each). Past
   * it, jobs wait for room, served by priority then in submission order: 2,000 study jobs submitted
   * together would otherwise queue all their instances (a million tasks, 1.3 GB).
   */
  QUEUE_MAX_TASKS: z.coerce.number().int().min(1).default(50_000),
  /**
   * Instances an asynchronous submission lists before it answers (~12 µs each: 10,000 in ~0.1-0.3 s).
   * A larger job, or one of more than 200 resources, answers at once and a worker lists it: a cohort
   * of large studies would otherwise keep the call open past a proxy's timeout.
   */
  SUBMISSION_LISTING_MAX_INSTANCES: z.coerce.number().int().min(0).default(10_000),
  /** Prefix of the BullMQ keys in Redis: lets several deployments share one Redis. */
  QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_-]+$/).default('deidflow'),
  /**
   * Memory that the instances a worker process holds at once may take, in bytes (a source and its
   * result, each read or built whole): past it, the next instance waits for its turn. 512 MiB is
   * ~500 CT images, never reached with them; with multi-frame files of 32 MB, 32 at once took a
   * worker to 2.2 GB without it. An instance larger than the budget runs alone.
   */
  WORKER_INSTANCES_MEMORY_LIMIT: z.coerce.number().int().min(1024 * 1024).default(512 * 1024 * 1024),
  /**
   * Instances processed in parallel by one worker process. Most of an instance's time is spent
   * waiting for fsyncs and commits, not computing: 16 fill those waits better than 8, and bigger
   * completion batches cost Postgres less per instance (BENCHMARKS.md, sixth session: +9-12%).
   * 32 against 16 in the ninth session: +25% on the fs store, 2x on the S3 test double, Postgres and
   * Redis CPU per instance down by a third; the worker's peak RSS in a full run 190 MB (fs) and 220 MB
   * (s3) once the buffer pool's idle memory was capped at 32 MiB (core.module.ts).
   */
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(32),
  /**
   * How long a worker's hold on an instance lasts without renewal, and how often workers look for
   * instances held by a worker that died (BullMQ lockDuration / stalledInterval).
   */
  WORKER_LOCK_DURATION_MS: z.coerce.number().int().min(1000).default(30_000),
  WORKER_STALLED_INTERVAL_MS: z.coerce.number().int().min(500).default(30_000),
  /**
   * At shutdown, how long the instances a worker holds get to finish before it closes anyway (they are
   * then delivered again once their hold expires). Below the orchestrator's stop timeout.
   */
  WORKER_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(15_000),
  /**
   * At shutdown (SIGTERM, SIGINT), how long a process gets in all before it exits anyway: requests in
   * flight (a stalled download holds Fastify's close for as long as its client likes), the worker's
   * grace period, closing connections. Above WORKER_SHUTDOWN_GRACE_MS, below the orchestrator's stop timeout.
   */
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(1000).default(30_000),
  /** A worker process serves Prometheus metrics at GET /metrics on this port (unset: no server; 0: any free port). */
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  WORKER_METRICS_HOST: z.string().default('127.0.0.1'),
  /** How often workers look for unfinished jobs that stopped moving (lost queue entries) and enqueue their work again. */
  JOB_RECOVERY_INTERVAL_MS: z.coerce.number().int().min(500).default(30_000),
  /**
   * Finished jobs (Success or Failure) are deleted this many days after they ended, with their
   * per-instance rows; the lineage of their outputs stays. 0 keeps every job.
   */
  JOB_RETENTION_DAYS: z.coerce.number().int().min(0).default(0),
  /**
   * How often one worker of the deployment deletes the store's orphan objects: instance files that
   * no index row points to (a process killed between writing a file and indexing it, an upload
   * never sent again), which would otherwise keep patient data out of reach of DELETE. 0: never.
   */
  STORE_ORPHAN_SWEEP_INTERVAL_MS: z.coerce.number().int().min(0).default(24 * 60 * 60_000),
  /** An unindexed object is an orphan only once no write touched it for this long (a write is indexed right after it). */
  STORE_ORPHAN_MIN_AGE_MS: z.coerce.number().int().min(0).default(24 * 60 * 60_000),
  /**
   * Orthanc's StableAge: a patient, study or series is stable (IsStable, and StablePatient /
   * StableStudy / StableSeries in GET /changes) once no instance arrived in it for this many seconds.
   */
  STABLE_AGE_SECONDS: z.coerce.number().int().min(1).default(60),
  /** How often workers look for resources that became complete or stable, and number the changes logged since (GET /changes). */
  CHANGE_LOG_INTERVAL_MS: z.coerce.number().int().min(100).default(1_000),
  /**
   * Changes are deleted from the log this many days after they were logged (a row per instance ever
   * stored, or produced, otherwise). 0 keeps every change, as Orthanc does.
   */
  CHANGE_LOG_RETENTION_DAYS: z.coerce.number().int().min(0).default(0),
  /** Orthanc's UserMetadata: the names of user-defined metadata, as JSON, e.g. {"Sample": 1024} (numbers 1024-65535). */
  USER_METADATA: userMetadata,
  /** Run a worker inside the API process (the embedded default of `npm start`). */
  EMBEDDED_WORKER: bool.default(true),
  /** `s3` when S3_ENDPOINT is set, otherwise the embedded filesystem store. */
  STORAGE_DRIVER: z.enum(['fs', 's3']).optional(),
  STORAGE_DIR: z.string().default('./data/storage'),
  /**
   * fs driver: objects up to this size are read and written with synchronous system calls, the
   * fsyncs excepted (0: every call asynchronous, e.g. on a network filesystem). See FsStorage.
   */
  STORAGE_FS_SYNC_IO_MAX_BYTES: z.coerce.number().int().min(0).default(4 * 1024 * 1024),
  S3_ENDPOINT: z.string().url().optional(),
  S3_ACCESS_KEY: z.string().optional(),
  S3_SECRET_KEY: z.string().optional(),
  S3_BUCKET: z.string().default('deidflow'),
  S3_REGION: z.string().default('us-east-1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Orthanc's AuthenticationEnabled; defaults to on whenever HTTP_HOST is not loopback. */
  AUTHENTICATION_ENABLED: bool.optional(),
  /** `user:password` pairs separated by commas (Orthanc's RegisteredUsers). */
  REGISTERED_USERS: z.string().default(''),
  /** Bearer tokens separated by commas. */
  API_TOKENS: z.string().default(''),
  /** Name reported by GET /system. */
  SERVER_NAME: z.string().default('DeidFlow'),
  /** The API process also receives instances over DICOM (C-STORE, C-ECHO), as Orthanc's DicomServerEnabled. */
  DICOM_SERVER_ENABLED: bool.default(true),
  /** Where the DICOM server listens: loopback unless opened on purpose (DICOM associations are not authenticated). */
  DICOM_HOST: z.string().default('127.0.0.1'),
  /** Orthanc's DicomPort (0: a free port, for tests). */
  DICOM_PORT: z.coerce.number().int().min(0).max(65535).default(4242),
  /** Orthanc's DicomAet: this server's AE title (at most 16 characters). */
  DICOM_AET: z.string().default('DEIDFLOW').refine(isAeTitle, 'must be 1 to 16 printable ASCII characters, no backslash'),
  /** Orthanc's DicomCheckCalledAet: refuse associations addressed to another AE title (compared ignoring case, as Orthanc). */
  DICOM_CHECK_CALLED_AET: bool.default(false),
  /** DICOM connections served at once; more are closed at once (senders try again). Memory is bounded by HTTP_BODIES_MEMORY_LIMIT anyway. */
  DICOM_MAX_ASSOCIATIONS: z.coerce.number().int().min(1).default(16),
  /** Orthanc's DicomModalities, as JSON: the nodes POST /modalities/{name}/store sends to, e.g. {"pacs": ["PACS", "10.0.0.5", 104]}. */
  DICOM_MODALITIES: z
    .string()
    .default('{}')
    .transform((text, ctx) => {
      try {
        return parseDicomModalities(text);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }),
  /** Orthanc's DicomScuTimeout: the longest wait for a remote node (connection, association, each answer), unless its Timeout says otherwise. */
  DICOM_SCU_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(10_000),
});

/** The names of every setting (`.env.example` lists each one; a test keeps them in step). */
export const CONFIG_VARIABLES = Object.keys(settings.shape);

export const configSchema = settings
  .transform((c) => ({
    ...c,
    STORAGE_DRIVER: c.STORAGE_DRIVER ?? (c.S3_ENDPOINT ? ('s3' as const) : ('fs' as const)),
  }))
  .superRefine((c, ctx) => {
    if (c.STORAGE_DRIVER === 's3' && (!c.S3_ENDPOINT || !c.S3_ACCESS_KEY || !c.S3_SECRET_KEY)) {
      ctx.addIssue({ code: 'custom', message: 'STORAGE_DRIVER=s3 needs S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY' });
    }
    if (c.SHUTDOWN_TIMEOUT_MS <= c.WORKER_SHUTDOWN_GRACE_MS) {
      ctx.addIssue({ code: 'custom', message: 'SHUTDOWN_TIMEOUT_MS must be longer than WORKER_SHUTDOWN_GRACE_MS (the worker closes within the shutdown)' });
    }
  });

export type AppConfig = z.infer<typeof configSchema>;

/** Parses the environment; throws one readable error listing every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  const result = configSchema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  - ${i.path.join('.') || '(config)'}: ${i.message}`);
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}
