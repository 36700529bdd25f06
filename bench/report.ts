import type { BenchOptions, ScenarioNumber, StorageDriver } from './options';
import { KERNEL_THREADS, type WindowUsage } from './process-monitor';
import { formatHeapProfileSummary } from './heap-profile-summary';
import { formatProfileSummary } from './profile-summary';
import type { ScenarioResult } from './scenarios';
import { ratio, Spread } from './stats';

export interface ScenarioFailure {
  scenario: ScenarioNumber;
  error: string;
}

export interface ColumnResult {
  storage: StorageDriver;
  scenarios: ScenarioResult[];
  failures: ScenarioFailure[];
}

export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  command: string;
  machine: {
    cpuModel: string;
    cores: number;
    memoryGb: number;
    node: string;
    os: string;
    loadAverageAtStart: number[];
    loadAverageAtEnd: number[];
    /** Bytes of page cache filled before the scenarios (0: not filled; see page-cache.ts). */
    pageCacheFillBytes?: number;
  };
  git?: { commit: string; dirty: boolean };
  options: BenchOptions;
  columns: ColumnResult[];
}

/** Orthanc 1.10.1 on this kind of machine, same generated study (issue 5). */
const ORTHANC = { upload: 122, anonymize: 120, anonymizeMBs: 63, modify: 140, instanceP50Ms: 1.1 };

type Figure = Spread | number | undefined;

interface Row {
  label: string;
  unit: string;
  digits: number;
  value: (column: ColumnResult) => Figure;
  orthanc?: string;
  /** The issue's target, checked on the median (or the ratio). */
  target?: { text: string; met: (value: number) => boolean };
}

function scenario(column: ColumnResult, n: ScenarioNumber): ScenarioResult | undefined {
  return column.scenarios.find((s) => s.scenario === n);
}

function metric(n: ScenarioNumber, name: string): (column: ColumnResult) => Spread | undefined {
  return (column) => scenario(column, n)?.metrics[name];
}

function ratioOf(a: (c: ColumnResult) => Spread | undefined, b: (c: ColumnResult) => Spread | undefined): (column: ColumnResult) => number | undefined {
  return (column) => ratio(a(column), b(column));
}

const atLeast = (min: number, text: string) => ({ text, met: (v: number) => v >= min });
const atMost = (max: number, text: string) => ({ text, met: (v: number) => v <= max });

const ROWS: Row[] = [
  { label: '1 upload (POST /instances)', unit: 'inst/s', digits: 0, value: metric(1, 'instancesPerSecond'), orthanc: `${ORTHANC.upload}` },
  { label: '', unit: 'MB/s', digits: 0, value: metric(1, 'megabytesPerSecond') },
  {
    label: '2 study anonymize {}, sync',
    unit: 'inst/s',
    digits: 0,
    value: metric(2, 'instancesPerSecond'),
    orthanc: `${ORTHANC.anonymize}`,
    target: atLeast(250, '>= 250'),
  },
  { label: '', unit: 'MB/s', digits: 0, value: metric(2, 'megabytesPerSecond'), orthanc: `${ORTHANC.anonymizeMBs}` },
  { label: '  2 / 7 (share of the storage limit)', unit: 'ratio', digits: 2, value: ratioOf(metric(2, 'instancesPerSecond'), metric(7, 'instancesPerSecond')), target: atLeast(0.8, '>= 0.80') },
  { label: '3 study anonymize {}, async + poll', unit: 'inst/s', digits: 0, value: metric(3, 'instancesPerSecond') },
  { label: '  answer with the job ID', unit: 'ms', digits: 0, value: metric(3, 'submitMs') },
  {
    label: '4 study modify InstitutionName',
    unit: 'inst/s',
    digits: 0,
    value: metric(4, 'instancesPerSecond'),
    orthanc: `${ORTHANC.modify}`,
    target: atLeast(250, '>= 250'),
  },
  { label: '  4 / 7 (share of the storage limit)', unit: 'ratio', digits: 2, value: ratioOf(metric(4, 'instancesPerSecond'), metric(7, 'instancesPerSecond')), target: atLeast(0.8, '>= 0.80') },
  { label: '5 instance anonymize, p50', unit: 'ms', digits: 1, value: metric(5, 'p50Ms'), orthanc: `${ORTHANC.instanceP50Ms}`, target: atMost(1.5, '<= 1.5') },
  { label: '  p95', unit: 'ms', digits: 1, value: metric(5, 'p95Ms') },
  { label: '  p99', unit: 'ms', digits: 1, value: metric(5, 'p99Ms') },
  { label: '  floor: GET /instances/{id}/file, p50', unit: 'ms', digits: 1, value: metric(5, 'fileP50Ms') },
  { label: '6 bulk anonymize: submission', unit: 's', digits: 2, value: (c) => seconds(metric(6, 'submitMs')(c)), target: atMost(2, '< 2') },
  { label: '  throughput', unit: 'inst/s', digits: 0, value: metric(6, 'instancesPerSecond') },
  { label: '  tail after Progress 99% (finalize)', unit: 's', digits: 1, value: metric(6, 'tailAfter99PercentSeconds') },
  { label: '  bulk / 500 (6 / 2)', unit: 'ratio', digits: 2, value: ratioOf(metric(6, 'instancesPerSecond'), metric(2, 'instancesPerSecond')), target: atLeast(0.9, '>= 0.90') },
  { label: '  peak RSS, API', unit: 'MB', digits: 0, value: metric(6, 'peakRssApiMb'), target: atMost(300, '< 300') },
  { label: '  peak RSS, worker', unit: 'MB', digits: 0, value: metric(6, 'peakRssWorkerMb'), target: atMost(250, '< 250') },
  { label: '  Redis memory, peak above start', unit: 'MB', digits: 1, value: metric(6, 'redisPeakAboveStartMb') },
  { label: '7 storage get + put, no DICOM work', unit: 'obj/s', digits: 0, value: metric(7, 'instancesPerSecond') },
  { label: '', unit: 'MB/s', digits: 0, value: metric(7, 'megabytesPerSecond') },
  { label: '8 study anonymize, 1 worker', unit: 'inst/s', digits: 0, value: metric(8, 'oneWorkerInstancesPerSecond') },
  { label: '  2 workers', unit: 'inst/s', digits: 0, value: metric(8, 'twoWorkersInstancesPerSecond') },
  {
    label: '  2 workers / 1 worker',
    unit: 'ratio',
    digits: 2,
    value: ratioOf(metric(8, 'twoWorkersInstancesPerSecond'), metric(8, 'oneWorkerInstancesPerSecond')),
    target: atLeast(1.6, '>= 1.6'),
  },
  { label: '9 a study job each, submitted together: submission', unit: 's', digits: 2, value: (c) => seconds(metric(9, 'submitMs')(c)) },
  { label: '  throughput', unit: 'inst/s', digits: 0, value: metric(9, 'instancesPerSecond') },
  { label: '  study jobs / one bulk job (9 / 6)', unit: 'ratio', digits: 2, value: ratioOf(metric(9, 'instancesPerSecond'), metric(6, 'instancesPerSecond')) },
  { label: '  peak RSS, API', unit: 'MB', digits: 0, value: metric(9, 'peakRssApiMb') },
  { label: '  peak RSS, worker', unit: 'MB', digits: 0, value: metric(9, 'peakRssWorkerMb') },
  { label: '  Redis memory, peak above start', unit: 'MB', digits: 1, value: metric(9, 'redisPeakAboveStartMb') },
  { label: '10 study anonymize, large instances (33.5 MB)', unit: 'inst/s', digits: 1, value: metric(10, 'instancesPerSecond') },
  { label: '', unit: 'MB/s', digits: 0, value: metric(10, 'megabytesPerSecond') },
  { label: '  peak RSS, worker', unit: 'MB', digits: 0, value: metric(10, 'peakRssWorkerMb') },
  { label: '  upload (POST /instances), once', unit: 'MB/s', digits: 0, value: metric(10, 'uploadMegabytesPerSecond') },
  { label: '  peak RSS, API, during the upload', unit: 'MB', digits: 0, value: metric(10, 'uploadPeakRssApiMb') },
];

function seconds(ms: Spread | undefined): Spread | undefined {
  if (!ms) return undefined;
  const s = (v: number) => v / 1000;
  return { min: s(ms.min), median: s(ms.median), max: s(ms.max), values: ms.values.map(s) };
}

function central(figure: Figure): number | undefined {
  return typeof figure === 'number' ? figure : figure?.median;
}

function formatFigure(figure: Figure, digits: number): string {
  if (figure === undefined) return '-';
  if (typeof figure === 'number') return figure.toFixed(digits);
  if (figure.values.length === 1) return figure.median.toFixed(digits);
  return `${figure.median.toFixed(digits)} [${figure.min.toFixed(digits)}-${figure.max.toFixed(digits)}]`;
}

/** A Markdown table, padded so that it also reads well on a terminal. */
export function markdownTable(header: string[], rows: string[][], rightAligned: boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (rightAligned[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (rightAligned[i] ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** The figures: one column per storage driver (median [min-max] over the repetitions), Orthanc's and the target beside. */
export function figuresTable(report: BenchReport): string {
  const body = ROWS.filter((row) => report.columns.some((c) => row.value(c) !== undefined))
    .map((row) => [
      row.label,
      row.unit,
      ...report.columns.map((c) => {
        const figure = row.value(c);
        const value = central(figure);
        const verdict = row.target && value !== undefined ? (row.target.met(value) ? ' ok' : ' MISS') : '';
        return formatFigure(figure, row.digits) + verdict;
      }),
      row.orthanc ?? '',
      row.target?.text ?? '',
    ]);
  const header = ['scenario', 'unit', ...report.columns.map((c) => `${c.storage}: median [min-max]`), 'Orthanc 1.10.1', 'target'];
  return markdownTable(header, body, header.map((_, i) => i >= 2));
}

function sumUsage(usages: WindowUsage[]): {
  wall: number;
  groups: Record<string, number>;
  systemOfGroups: Record<string, number>;
  harness: number;
  other: number;
  busy: number;
  cores: number;
} {
  const groups: Record<string, number> = {};
  const systemOfGroups: Record<string, number> = {};
  let wall = 0;
  let harness = 0;
  let other = 0;
  let busy = 0;
  for (const usage of usages) {
    wall += usage.wallSeconds;
    harness += usage.harnessCpuSeconds;
    other += usage.machine.otherCpuSeconds;
    busy += usage.machine.busyCpuSeconds;
    for (const [name, group] of Object.entries(usage.groups)) {
      const key = name.startsWith('worker-') ? 'workers' : name;
      groups[key] = (groups[key] ?? 0) + group.cpuSeconds;
      systemOfGroups[key] = (systemOfGroups[key] ?? 0) + (group.systemCpuSeconds ?? 0);
    }
  }
  return { wall, groups, systemOfGroups, harness, other, busy, cores: usages[0]?.machine.cores ?? 1 };
}

/** Where the CPU went during the measured windows of each scenario (all repetitions together). */
export function cpuTable(report: BenchReport): string {
  const groups = ['api', 'workers', 'postgres', 'redis', 's3rver', 'storage-probe', KERNEL_THREADS];
  const rows: string[][] = [];
  for (const column of report.columns) {
    for (const result of column.scenarios) {
      const total = sumUsage(result.usage);
      const share = (cpu: number) => `${((100 * cpu) / total.wall).toFixed(0)}%`;
      rows.push([
        `${result.scenario}`,
        column.storage,
        total.wall.toFixed(1),
        ...groups.map((g) => (total.groups[g] === undefined ? '-' : share(total.groups[g]))),
        share(total.harness),
        share(total.other),
        `${((100 * total.busy) / (total.wall * total.cores)).toFixed(0)}%`,
      ]);
    }
  }
  const header = ['scenario', 'storage', 'wall s', ...groups, 'harness', 'other load', 'machine busy'];
  return markdownTable(header, rows, header.map((_, i) => i >= 2));
}

/** Instances processed in one measured window of a scenario (scenario 5 has no such count, 7 measures a whole process). */
function instancesPerWindow(report: BenchReport, n: ScenarioNumber): number | undefined {
  if (n === 6 || n === 9) return report.options.bulkStudies * report.options.instances;
  // Reports saved before scenario 10 existed have no largeInstances.
  if (n === 10) return report.options.largeInstances;
  return [1, 2, 3, 4, 8].includes(n) ? report.options.instances : undefined;
}

/**
 * CPU milliseconds per instance: what each instance costs each process, a figure that depends much
 * less than throughput on what else the machine runs.
 */
export function cpuPerInstanceTable(report: BenchReport): string {
  const groups = ['api', 'workers', 'postgres', 'redis', 's3rver'];
  const rows: string[][] = [];
  for (const column of report.columns) {
    for (const result of column.scenarios) {
      const perWindow = instancesPerWindow(report, result.scenario);
      if (perWindow === undefined) continue;
      const total = sumUsage(result.usage);
      const instances = perWindow * result.usage.length;
      const perInstance = (cpu: number) => ((1000 * cpu) / instances).toFixed(2);
      const ours = groups.reduce((sum, g) => sum + (total.groups[g] ?? 0), 0);
      const workersKernel = total.groups.workers === undefined ? '-' : perInstance(total.systemOfGroups.workers);
      const kernelThreads = total.groups[KERNEL_THREADS];
      rows.push([
        `${result.scenario}`,
        column.storage,
        ...groups.map((g) => (total.groups[g] === undefined ? '-' : perInstance(total.groups[g]))),
        workersKernel,
        perInstance(ours),
        kernelThreads === undefined ? '-' : perInstance(kernelThreads),
      ]);
    }
  }
  // The workers' kernel time apart: reading sources that are no longer in the page cache shows there.
  // Kernel threads apart from the stack's total: the machine's write-back and journal, partly others' work.
  const header = ['scenario', 'storage', ...groups, 'workers: of which kernel', 'stack total', 'kernel threads'];
  return markdownTable(header, rows, header.map((_, i) => i >= 2));
}

export function renderReport(report: BenchReport): string {
  const m = report.machine;
  const parts = [
    `DeidFlow benchmark, ${report.startedAt} -> ${report.finishedAt}`,
    `${m.cores} x ${m.cpuModel}, ${m.memoryGb.toFixed(1)} GB, Node ${m.node}, ${m.os}; load average ${m.loadAverageAtStart.map((l) => l.toFixed(2)).join(' ')} at start`,
    m.pageCacheFillBytes === undefined
      ? ''
      : `page cache filled first: ${(m.pageCacheFillBytes / 2 ** 30).toFixed(1)} GiB${m.pageCacheFillBytes === 0 ? ' (not filled: the memory as it was)' : ' (a long-running server\'s memory)'}`,
    `command: ${report.command}`,
    report.git ? `commit ${report.git.commit}${report.git.dirty ? ' (working tree has uncommitted changes)' : ''}` : '',
    `repetitions: ${report.options.reps} (scenario 6: ${report.options.bulkReps}); study: ${report.options.instances} instances; ` +
      `WORKER_CONCURRENCY ${report.options.workerConcurrency}; uploads over ${report.options.uploadConcurrency} connections`,
    '',
    figuresTable(report),
    '',
    'CPU used during the measured windows, as % of one core (wall time x 100%); "other load" is machine CPU this benchmark does not account for:',
    '',
    cpuTable(report),
    '',
    'CPU milliseconds per instance (all measured repetitions):',
    '',
    cpuPerInstanceTable(report),
  ];
  for (const column of report.columns) {
    for (const result of column.scenarios) {
      if (result.rssByProgress && Object.keys(result.rssByProgress).length > 0) {
        parts.push('', `Scenario ${result.scenario} (${column.storage}): VmRSS (MB) when the job passed each quarter of its progress:`);
        for (const [quarter, rss] of Object.entries(result.rssByProgress)) {
          parts.push(`  ${quarter.padStart(4)}: ${Object.entries(rss).map(([name, mb]) => `${name} ${mb.toFixed(0)}`).join(', ')}`);
        }
      }
      for (const profile of result.profiles ?? []) parts.push('', `CPU profile, scenario ${result.scenario} (${column.storage}):`, '', formatProfileSummary(profile));
      for (const profile of result.heapProfiles ?? []) parts.push('', `Allocations, scenario ${result.scenario} (${column.storage}):`, '', formatHeapProfileSummary(profile));
      for (const note of result.notes) parts.push(`note (${result.scenario}, ${column.storage}): ${note}`);
    }
    for (const failure of column.failures) parts.push(`FAILED scenario ${failure.scenario} (${column.storage}): ${failure.error}`);
  }
  return parts.filter((p, i) => p !== '' || parts[i - 1] !== '').join('\n');
}
