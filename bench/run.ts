/**
 * The end-to-end benchmark of issue 5 (`npm run bench -- --help`): starts the real stack (API and
 * worker processes, a dedicated Postgres database, a dedicated Redis queue prefix, fs storage and
 * then s3 storage against an s3rver process), runs the scenarios, prints the figures next to
 * Orthanc's and writes everything as JSON (and the tables as Markdown) to bench/results/.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import { join, resolve } from 'node:path';
import { killStartedProcesses } from './child-process';
import { BulkDataset, generateMainStudy, prepareBulkDataset, prepareLargeDataset } from './dataset';
import { BenchOptions, parseOptions, ScenarioNumber, StorageDriver, USAGE } from './options';
import { fillPageCache, PageCacheFill, removePageCacheFillsSync } from './page-cache';
import { ProcessMonitor } from './process-monitor';
import { BenchReport, ColumnResult, renderReport } from './report';
import { SCENARIOS, ScenarioContext } from './scenarios';
import { BenchStack } from './stack';
import { elapsedMs } from './stats';

/**
 * The 10k bulk runs (6, 9) come late: their 20,000 deletions each should not weigh on the other
 * scenarios. Scenario 10 (large files, not in the issue) comes last: the memory its files leave in the
 * worker until a major GC would show in the peak RSS of 6 and 9, the figures.
 */
const ORDER: ScenarioNumber[] = [1, 2, 3, 4, 5, 7, 8, 6, 9, 10];

function log(message: string): void {
  console.error(message);
}

function gitState(root: string): BenchReport['git'] {
  try {
    const git = (args: string[]) => execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return { commit: git(['rev-parse', 'HEAD']), dirty: git(['status', '--porcelain', '--untracked-files=no']) !== '' };
  } catch {
    return undefined;
  }
}

async function runColumn(
  storage: StorageDriver,
  options: BenchOptions,
  shared: Pick<ScenarioContext, 'study' | 'bulkDataset' | 'largeDataset' | 'monitor' | 'refillPageCache'> & { distRoot: string; runId: string },
): Promise<ColumnResult> {
  const column: ColumnResult = { storage, scenarios: [], failures: [] };
  log(`\n== ${storage} storage: starting the stack`);
  const stack = await BenchStack.start({ storage, options, distRoot: shared.distRoot, monitor: shared.monitor, runId: shared.runId });
  const ctx: ScenarioContext = { stack, options, log, ...shared };
  try {
    for (const n of ORDER.filter((s) => options.only.includes(s))) {
      log(`-- scenario ${n} (${storage})`);
      try {
        column.scenarios.push(await SCENARIOS[n](ctx));
      } catch (err) {
        const dead = stack.deadProcesses();
        const error = [err instanceof Error ? err.message : String(err), ...dead].join('\n');
        log(`   FAILED: ${error}`);
        column.failures.push({ scenario: n, error });
        // A process of the stack is gone: the next scenarios would only measure its absence.
        if (dead.length > 0) break;
      }
    }
  } finally {
    await stack.stop();
  }
  return column;
}

async function main(): Promise<void> {
  // Compiled to dist/bench/run.js: dist/ holds the entry points, its parent is the repository.
  const distRoot = resolve(__dirname, '..');
  const root = resolve(distRoot, '..');
  const options = parseOptions(process.argv.slice(2), root);
  if (options.render) {
    console.log(renderReport(JSON.parse(await readFile(options.render, 'utf8')) as BenchReport));
    return;
  }
  const startedAt = new Date();
  const runId = startedAt.toISOString().replace(/[:.]/g, '-');
  const loadAverageAtStart = loadavg();
  await mkdir(options.resultsDir, { recursive: true });

  const generation = process.hrtime.bigint();
  const study = generateMainStudy(options.instances, options.seed);
  log(`generated ${study.files.length} instances (${(study.bytes / 1e6).toFixed(0)} MB, seed ${options.seed}) in ${(elapsedMs(generation) / 1000).toFixed(1)} s`);
  /** A dataset prepared (and cached on disk) on its first use only. */
  const onFirstUse = (what: string, prepare: () => Promise<BulkDataset>) => {
    let dataset: Promise<BulkDataset> | undefined;
    return () => {
      if (!dataset) {
        log(`  preparing ${what} in ${options.dataDir} (cached between runs)`);
        dataset = prepare();
      }
      return dataset;
    };
  };
  const bulkDataset = onFirstUse(`${options.bulkStudies} x ${options.instances} instances`, () =>
    prepareBulkDataset(options.dataDir, options.bulkStudies, options.instances, options.seed, options.bulkImageSize),
  );
  const largeDataset = onFirstUse(`${options.largeInstances} large instances`, () => prepareLargeDataset(options.dataDir, options.largeInstances, options.seed));

  /** The page-cache fills made so far (removed at the end), the first at the start. */
  const fills: PageCacheFill[] = [];
  const fill = async (what: string) => {
    const made = await fillPageCache(options.dataDir);
    fills.push(made);
    log(made.skipped ? `  ${what}: nothing (${made.skipped})` : `  ${what}: ${(made.bytes / 2 ** 30).toFixed(1)} GiB in ${(made.ms / 1000).toFixed(0)} s`);
  };
  if (options.fillPageCache) {
    await mkdir(options.dataDir, { recursive: true });
    log('filling the free memory with page cache, as on a server that has run for a while (--no-page-cache-fill: skip)');
    await fill('page cache filled');
  }
  // Before each bulk job (scenarios 6 and 9), once its 10,000 sources are written: what was deleted
  // since the start (outputs, earlier uploads) went back to the VM's host as free memory
  // (page-cache.ts). The second of 6 and 9 in one invocation read at ~55% of its rate alone, the
  // worker's kernel time per instance tripled (fourteenth session).
  const refillPageCache = async () => {
    if (options.fillPageCache) await fill('page cache filled again');
  };
  const monitor = new ProcessMonitor();
  const columns: ColumnResult[] = [];
  try {
    for (const storage of options.storages) {
      columns.push(await runColumn(storage, options, { study, bulkDataset, largeDataset, monitor, distRoot, runId, refillPageCache }));
    }
  } finally {
    monitor.stop();
    for (const made of fills) await made.remove();
  }

  const report: BenchReport = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    machine: {
      cpuModel: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      memoryGb: totalmem() / 2 ** 30,
      node: process.version,
      os: `${type()} ${release()}`,
      loadAverageAtStart,
      loadAverageAtEnd: loadavg(),
      pageCacheFillBytes: fills[0]?.bytes ?? 0,
    },
    git: gitState(root),
    options,
    columns,
  };
  const text = renderReport(report);
  console.log(`\n${text}`);
  const jsonPath = join(options.resultsDir, `bench-${runId}.json`);
  await writeFile(jsonPath, JSON.stringify(report, null, 2));
  await writeFile(join(options.resultsDir, `bench-${runId}.md`), `${text}\n`);
  log(`\nresults: ${jsonPath}`);
  if (columns.some((c) => c.failures.length > 0)) process.exitCode = 1;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killStartedProcesses();
    removePageCacheFillsSync();
    process.exit(130);
  });
}

main().catch((err: unknown) => {
  killStartedProcesses();
  removePageCacheFillsSync();
  console.error(err instanceof Error ? err.message : err);
  console.error(USAGE.split('\n')[0]);
  process.exit(1);
});
