import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../libs/config/src/config.schema';

export type StorageDriver = 'fs' | 's3';

export const ALL_SCENARIOS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] as const;
export type ScenarioNumber = (typeof ALL_SCENARIOS)[number];

export interface BenchOptions {
  reps: number;
  /** Repetitions of the 10k bulk (scenarios 6 and 9), the longest by far. */
  bulkReps: number;
  quick: boolean;
  only: ScenarioNumber[];
  storages: StorageDriver[];
  /** Instances of the study of scenarios 1-5, 7, 8 (and of each bulk study). */
  instances: number;
  bulkStudies: number;
  /** Rows and columns of scenario 6's images (512 unless set: smaller ones let a 100k job fit a disk). */
  bulkImageSize?: number;
  /** Sequential calls of scenario 5. */
  instanceCalls: number;
  /** Instances of scenario 10's study of large (4096 x 4096, 33.5 MB) images. */
  largeInstances: number;
  uploadConcurrency: number;
  workerConcurrency: number;
  /** QUEUE_WINDOW_PER_JOB of the stack; the product's default when absent. */
  queueWindow?: number;
  /** QUEUE_MAX_TASKS of the stack; the product's default when absent. */
  queueMaxTasks?: number;
  seed: number;
  /** Profile the worker(s) and the API during scenarios 1, 2, 5, 6 and 10 (.cpuprofile files + top self times). */
  cpuProf: boolean;
  /** Sample the allocations of the worker(s) and the API during scenario 2 (.heapprofile files + KB per instance). */
  heapProf: boolean;
  /** Fill the free memory with page cache first, a long-running server's state (see page-cache.ts). */
  fillPageCache: boolean;
  databaseUrl: string;
  redisUrl: string;
  queuePrefix: string;
  /** Where the generated bulk studies are cached between runs (the 10k set is 5 GB). */
  dataDir: string;
  resultsDir: string;
  /** Print the tables of a saved JSON report instead of running. */
  render?: string;
}

/** The workers' concurrency when the command line does not set it: the product's default, whatever it becomes. */
const PRODUCT_CONCURRENCY = loadConfig({}).WORKER_CONCURRENCY;

export const USAGE = `Usage: npm run bench -- [options]
  --quick                 smoke run: small N, 2 repetitions (explicit options still win)
  --reps N                repetitions of each figure (default 3)
  --bulk-reps N           repetitions of scenarios 6 and 9 (default 1)
  --only 2,7              run only these scenarios (1-10)
  --storage fs|s3|both    storage drivers, one column each (default both)
  --instances N           instances of the study (default 500)
  --bulk-studies N        studies of scenarios 6 and 9, each of --instances (default 20)
  --bulk-image-size N     rows and columns of scenarios 6 and 9's images (default 512: ~527 kB each; 128: ~40 kB,
                          so that 100,000 instances, stored twice and cached, fit the disk)
  --instance-calls N      sequential calls of scenario 5 (default 200)
  --large-instances N     instances of scenario 10's study of 4096 x 4096 images, 33.5 MB each (default 40)
  --upload-concurrency N  parallel connections of uploads (default 4)
  --worker-concurrency N  WORKER_CONCURRENCY of each worker process (default: the product's, ${PRODUCT_CONCURRENCY})
  --queue-window N        QUEUE_WINDOW_PER_JOB of the stack (default: the product's; a number above the
                          job's size queues it whole, as before the thirteenth session)
  --queue-max-tasks N     QUEUE_MAX_TASKS of the stack (default: the product's; below the bulk dataset's
                          size, scenarios 6 and 9 run with jobs waiting for room)
  --seed N                seed of the generated data (default 1)
  --cpu-prof              CPU-profile the worker(s) and the API during scenarios 1, 2, 5, 6 and 10
  --heap-prof             sample what the worker(s) and the API allocate during scenario 2 (one more
                          repetition): KB per instance, the top allocating functions, .heapprofile files
  --no-page-cache-fill    measure on the memory as it is, without first filling the free memory with
                          page cache (a long-running server's state; a file in --data-dir, removed at the end)
  --database-url URL      dedicated database, dropped and recreated (default .../deidflow_bench)
  --redis-url URL         Redis (default redis://127.0.0.1:6379); only --queue-prefix keys are touched
  --queue-prefix P        BullMQ prefix used and cleared by the bench (default deidflowbench)
  --data-dir DIR          cache of generated bulk studies (default $TMPDIR/deidflow-bench-data)
  --results-dir DIR       JSON results and profiles (default bench/results)
  --render FILE.json      print the tables of a saved run, run nothing`;

const QUICK = { reps: 2, bulkReps: 1, instances: 50, bulkStudies: 4, instanceCalls: 50, largeInstances: 8 };
const FULL = { reps: 3, bulkReps: 1, instances: 500, bulkStudies: 20, instanceCalls: 200, largeInstances: 40 };

function positiveInteger(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new Error(`--${name} must be a positive integer, not "${value}"`);
  return Number(value);
}

function scenarioList(value: string | undefined): ScenarioNumber[] {
  if (value === undefined) return [...ALL_SCENARIOS];
  const numbers = value.split(',').map((part) => Number(part.trim()));
  const unknown = numbers.filter((n) => !(ALL_SCENARIOS as readonly number[]).includes(n));
  if (unknown.length > 0 || numbers.length === 0) throw new Error(`--only takes scenario numbers 1-10 separated by commas, not "${value}"`);
  return [...new Set(numbers as ScenarioNumber[])].sort((a, b) => a - b);
}

function storageList(value: string | undefined): StorageDriver[] {
  if (value === undefined || value === 'both') return ['fs', 's3'];
  if (value === 'fs' || value === 's3') return [value];
  throw new Error(`--storage takes fs, s3 or both, not "${value}"`);
}

/** `repositoryRoot`: where bench/results lives (the compiled file runs from dist/bench). */
export function parseOptions(argv: string[], repositoryRoot: string): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      quick: { type: 'boolean', default: false },
      reps: { type: 'string' },
      'bulk-reps': { type: 'string' },
      only: { type: 'string' },
      storage: { type: 'string' },
      instances: { type: 'string' },
      'bulk-studies': { type: 'string' },
      'bulk-image-size': { type: 'string' },
      'instance-calls': { type: 'string' },
      'large-instances': { type: 'string' },
      'upload-concurrency': { type: 'string' },
      'worker-concurrency': { type: 'string' },
      'queue-window': { type: 'string' },
      'queue-max-tasks': { type: 'string' },
      seed: { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      'heap-prof': { type: 'boolean', default: false },
      'no-page-cache-fill': { type: 'boolean', default: false },
      'database-url': { type: 'string' },
      'redis-url': { type: 'string' },
      'queue-prefix': { type: 'string' },
      'data-dir': { type: 'string' },
      'results-dir': { type: 'string' },
      render: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const defaults = values.quick ? QUICK : FULL;
  const queuePrefix = values['queue-prefix'] ?? 'deidflowbench';
  if (!/^[A-Za-z0-9_-]+$/.test(queuePrefix)) throw new Error('--queue-prefix takes letters, digits, _ and - only');
  return {
    quick: values.quick,
    reps: positiveInteger('reps', values.reps) ?? defaults.reps,
    bulkReps: positiveInteger('bulk-reps', values['bulk-reps']) ?? defaults.bulkReps,
    only: scenarioList(values.only),
    storages: storageList(values.storage),
    instances: positiveInteger('instances', values.instances) ?? defaults.instances,
    bulkStudies: positiveInteger('bulk-studies', values['bulk-studies']) ?? defaults.bulkStudies,
    bulkImageSize: positiveInteger('bulk-image-size', values['bulk-image-size']),
    instanceCalls: positiveInteger('instance-calls', values['instance-calls']) ?? defaults.instanceCalls,
    largeInstances: positiveInteger('large-instances', values['large-instances']) ?? defaults.largeInstances,
    uploadConcurrency: positiveInteger('upload-concurrency', values['upload-concurrency']) ?? 4,
    workerConcurrency: positiveInteger('worker-concurrency', values['worker-concurrency']) ?? PRODUCT_CONCURRENCY,
    queueWindow: positiveInteger('queue-window', values['queue-window']),
    queueMaxTasks: positiveInteger('queue-max-tasks', values['queue-max-tasks']),
    seed: positiveInteger('seed', values.seed) ?? 1,
    cpuProf: values['cpu-prof'],
    heapProf: values['heap-prof'],
    fillPageCache: !values['no-page-cache-fill'],
    databaseUrl: values['database-url'] ?? 'postgresql://postgres@127.0.0.1:5432/deidflow_bench',
    redisUrl: values['redis-url'] ?? 'redis://127.0.0.1:6379',
    queuePrefix,
    dataDir: resolve(values['data-dir'] ?? join(tmpdir(), 'deidflow-bench-data')),
    resultsDir: resolve(values['results-dir'] ?? join(repositoryRoot, 'bench/results')),
    ...(values.render ? { render: resolve(values.render) } : {}),
  };
}
