import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** What one group of processes (the API, a worker, Postgres...) used during a measured window. */
export interface GroupUsage {
  cpuSeconds: number;
  /** The part of cpuSeconds spent in the kernel (system calls, page faults, I/O). */
  systemCpuSeconds: number;
  /** Highest sampled VmRSS of one process of the group (absent for services: shared memory blurs it). */
  peakRssMb?: number;
}

export interface WindowUsage {
  wallSeconds: number;
  groups: Record<string, GroupUsage>;
  harnessCpuSeconds: number;
  machine: {
    cores: number;
    /** CPU seconds every process of the machine used (from /proc/stat). */
    busyCpuSeconds: number;
    /** busyCpuSeconds minus everything this benchmark accounts for: other work sharing the machine. */
    otherCpuSeconds: number;
  };
  /** VmRSS (MB) of the tracked processes over time, when the window asked for it. */
  rssTimeline?: { seconds: number; rssMb: Record<string, number>; progress?: number }[];
}

const SAMPLE_EVERY_MS = 200;
const RESCAN_SERVICES_EVERY_MS = 1000;
/** Shared services whose CPU time counts as the benchmark's own (not "other load"). */
const SERVICE_COMMANDS: Record<string, string> = { postgres: 'postgres', 'redis-server': 'redis' };
/**
 * The kernel's own threads: write-back, the ext4 journal, block I/O completions, reclaim. Part of
 * their work is the stack's I/O done out of its processes' sight, so it is shown apart from the
 * "other load" (the machine's CPU nobody here accounts for).
 */
export const KERNEL_THREADS = 'kernel threads';
const KERNEL_THREAD_COMMAND = /^(kworker|jbd2|kswapd|kcompactd|kdamond|ksoftirqd|kblockd)/;

function groupOfCommand(command: string): string | undefined {
  return SERVICE_COMMANDS[command] ?? (KERNEL_THREAD_COMMAND.test(command) ? KERNEL_THREADS : undefined);
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

interface CpuTicks {
  total: number;
  system: number;
}

function readCpuTicks(pid: number): CpuTicks | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "pid (comm) ": state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { total: Number(fields[11]) + Number(fields[12]), system: Number(fields[12]) };
  } catch {
    return undefined;
  }
}

/** VmRSS in MB, or undefined once the process is gone. */
export function readRssMb(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

function readMachineBusyTicks(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  // user nice system idle iowait irq softirq steal: everything but idle and iowait is busy.
  const [user, nice, system, , , irq, softirq, steal] = line.split(/\s+/).slice(1).map(Number);
  return user + nice + system + irq + softirq + steal;
}

function scanServices(): Map<number, string> {
  const found = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const group = groupOfCommand(readFileSync(`/proc/${entry}/comm`, 'utf8').trim());
      if (group) found.set(Number(entry), group);
    } catch {
      // The process ended between readdir and read.
    }
  }
  return found;
}

interface PidCounters {
  group: string;
  first: CpuTicks;
  last: CpuTicks;
}

/** One measured interval; `end()` gives what every group used in it. */
export class MonitorWindow {
  private readonly counters = new Map<number, PidCounters>();
  private readonly peakRss = new Map<string, number>();
  private readonly timeline?: NonNullable<WindowUsage['rssTimeline']>;
  private readonly started = process.hrtime.bigint();
  private readonly startBusyTicks = readMachineBusyTicks();
  private readonly startHarnessCpu = process.cpuUsage();
  progress?: number;

  constructor(withTimeline: boolean) {
    if (withTimeline) this.timeline = [];
  }

  observeCpu(pid: number, group: string, ticks: CpuTicks): void {
    const known = this.counters.get(pid);
    if (known) known.last = ticks;
    else this.counters.set(pid, { group, first: ticks, last: ticks });
  }

  observeRss(rssByGroup: Record<string, number>): void {
    for (const [group, rss] of Object.entries(rssByGroup)) this.peakRss.set(group, Math.max(this.peakRss.get(group) ?? 0, rss));
    this.timeline?.push({ seconds: this.seconds(), rssMb: rssByGroup, ...(this.progress !== undefined ? { progress: this.progress } : {}) });
  }

  seconds(): number {
    return Number(process.hrtime.bigint() - this.started) / 1e9;
  }

  finish(): WindowUsage {
    const groups: Record<string, GroupUsage> = {};
    for (const { group, first, last } of this.counters.values()) {
      groups[group] ??= { cpuSeconds: 0, systemCpuSeconds: 0 };
      groups[group].cpuSeconds += (last.total - first.total) / CLOCK_TICKS;
      groups[group].systemCpuSeconds += (last.system - first.system) / CLOCK_TICKS;
    }
    for (const [group, rss] of this.peakRss) {
      groups[group] ??= { cpuSeconds: 0, systemCpuSeconds: 0 };
      groups[group].peakRssMb = rss;
    }
    const harness = process.cpuUsage(this.startHarnessCpu);
    const harnessCpuSeconds = (harness.user + harness.system) / 1e6;
    const busyCpuSeconds = (readMachineBusyTicks() - this.startBusyTicks) / CLOCK_TICKS;
    const accounted = Object.values(groups).reduce((sum, g) => sum + g.cpuSeconds, 0) + harnessCpuSeconds;
    return {
      wallSeconds: this.seconds(),
      groups,
      harnessCpuSeconds,
      machine: { cores: cpus().length, busyCpuSeconds, otherCpuSeconds: Math.max(0, busyCpuSeconds - accounted) },
      ...(this.timeline ? { rssTimeline: this.timeline } : {}),
    };
  }
}

/**
 * Samples the processes of the stack (VmRSS from /proc/<pid>/status, CPU time from /proc/<pid>/stat)
 * every 200 ms, and the CPU time of Postgres and Redis, for the windows that are open.
 */
export class ProcessMonitor {
  private readonly tracked = new Map<number, string>();
  private services = new Map<number, string>();
  private servicesScannedAt = 0;
  private readonly windows = new Set<MonitorWindow>();
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.timer = setInterval(() => this.sample(), SAMPLE_EVERY_MS);
    this.timer.unref();
  }

  track(pid: number, group: string): void {
    this.tracked.set(pid, group);
    this.sample();
  }

  untrack(pid: number): void {
    this.sample();
    this.tracked.delete(pid);
  }

  begin(options: { timeline?: boolean } = {}): MonitorWindow {
    const window = new MonitorWindow(options.timeline ?? false);
    this.windows.add(window);
    this.servicesScannedAt = 0;
    this.sampleInto([window]);
    return window;
  }

  end(window: MonitorWindow): WindowUsage {
    this.servicesScannedAt = 0;
    this.sampleInto([window]);
    this.windows.delete(window);
    return window.finish();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    if (this.windows.size > 0) this.sampleInto([...this.windows]);
  }

  private sampleInto(windows: MonitorWindow[]): void {
    const now = Date.now();
    if (now - this.servicesScannedAt >= RESCAN_SERVICES_EVERY_MS) {
      this.services = scanServices();
      this.servicesScannedAt = now;
    }
    const rssByGroup: Record<string, number> = {};
    for (const [pid, group] of this.tracked) {
      const rss = readRssMb(pid);
      if (rss !== undefined) rssByGroup[group] = Math.max(rssByGroup[group] ?? 0, rss);
    }
    for (const [pid, group] of [...this.tracked, ...this.services]) {
      const ticks = readCpuTicks(pid);
      if (ticks === undefined) continue;
      for (const window of windows) window.observeCpu(pid, group, ticks);
    }
    for (const window of windows) window.observeRss(rssByGroup);
  }
}
