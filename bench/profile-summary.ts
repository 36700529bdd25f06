/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof` or bench --cpu-prof): the functions with the
 * most self time, and self time by area (a package, a project lib, Node internals, GC, idle).
 *
 *   node dist/bench/profile-summary.js FILE.cpuprofile... [--top 15]
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface CpuProfile {
  nodes: { id: number; callFrame: CallFrame; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTimeEntry {
  name: string;
  location: string;
  area: string;
  /** The nearest calling frame of a package or of the project (natives and Node internals skipped). */
  calledFrom: string;
  selfMs: number;
  /** Share of the whole profile, idle included. */
  percent: number;
  /** Share of the time the process was not idle. */
  busyPercent: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  busyMs: number;
  top: SelfTimeEntry[];
  /** Self time by the area of the frame itself. */
  areas: { area: string; selfMs: number; busyPercent: number }[];
  /** Self time charged to the area of the nearest package or project frame (a native hash update called by libs/core counts for libs/core). */
  attributed: { area: string; selfMs: number; busyPercent: number }[];
}

const META_FRAMES = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

/** A source URL, shortened to what identifies it: `dcmjs/build/dcmjs.js`, `libs/dicom/src/...`. */
function location(url: string): string {
  const path = url.replace(/^file:\/\//, '');
  const inModules = path.lastIndexOf('/node_modules/');
  if (inModules >= 0) return path.slice(inModules + '/node_modules/'.length);
  const inDist = path.lastIndexOf('/dist/');
  if (inDist >= 0) return path.slice(inDist + '/dist/'.length);
  return path;
}

export function areaOf(frame: CallFrame): string {
  if (META_FRAMES.has(frame.functionName)) return frame.functionName;
  const url = frame.url;
  if (!url) return '(native / V8 builtins)';
  if (url.startsWith('node:')) return 'node internals';
  const path = url.replace(/^file:\/\//, '');
  const inModules = path.lastIndexOf('/node_modules/');
  if (inModules >= 0) {
    const [scope, name] = path.slice(inModules + '/node_modules/'.length).split('/');
    return scope.startsWith('@') ? `${scope}/${name}` : scope;
  }
  const project = /\/dist\/((?:apps|libs)\/[^/]+|bench)\//.exec(path);
  if (project) return `deidflow ${project[1]}`;
  if (/\/libs\/database\/src\/generated\//.test(path)) return 'deidflow prisma client';
  return path;
}

export function isOwnCode(frame: CallFrame): boolean {
  return frame.url !== '' && !frame.url.startsWith('node:');
}

function frameLabel(frame: CallFrame): string {
  return `${frame.functionName || '(anonymous)'} ${location(frame.url)}:${frame.lineNumber + 1}`;
}

export function addTo<K>(map: Map<K, number>, key: K, amount: number): void {
  map.set(key, (map.get(key) ?? 0) + amount);
}

/** Adds `amount` to the nearest package or project frame that called a native or Node frame. */
export function chargeCaller(callers: Map<string, number>, frame: CallFrame, owner: CallFrame | undefined, amount: number): void {
  if (!isOwnCode(frame) && owner) addTo(callers, frameLabel(owner), amount);
}

/** How a top entry names its function: name, where, area, and the caller that charged it most. */
export function frameFields(frame: CallFrame, callers: Map<string, number>): { name: string; location: string; area: string; calledFrom: string } {
  return {
    name: frame.functionName || '(anonymous)',
    location: frame.url ? `${location(frame.url)}:${frame.lineNumber + 1}` : '',
    area: areaOf(frame),
    calledFrom: [...callers].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '',
  };
}

export function summarizeProfile(file: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  /** The node itself when it is package or project code, else its nearest such ancestor. */
  const ownCodeOf = (id: number): CallFrame | undefined => {
    for (let at: number | undefined = id; at !== undefined; at = parents.get(at)) {
      const frame = frames.get(at)!;
      if (isOwnCode(frame)) return frame;
    }
    return undefined;
  };
  const byFunction = new Map<string, { frame: CallFrame; selfMs: number; callers: Map<string, number> }>();
  const attributed = new Map<string, number>();
  let totalMs = 0;
  // timeDeltas[i] is the gap before sample i: sample i lasted until sample i + 1.
  for (let i = 0; i < profile.samples.length; i++) {
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    const frame = frames.get(profile.samples[i])!;
    const key = `${frame.functionName}|${frame.url}|${frame.lineNumber}`;
    const entry = byFunction.get(key) ?? { frame, selfMs: 0, callers: new Map<string, number>() };
    entry.selfMs += ms;
    byFunction.set(key, entry);
    totalMs += ms;
    if (frame.functionName === '(idle)') continue;
    const owner = META_FRAMES.has(frame.functionName) ? undefined : ownCodeOf(profile.samples[i]);
    addTo(attributed, owner ? areaOf(owner) : areaOf(frame), ms);
    chargeCaller(entry.callers, frame, owner, ms);
  }
  const idleMs = [...byFunction.values()].filter((e) => e.frame.functionName === '(idle)').reduce((sum, e) => sum + e.selfMs, 0);
  const busyMs = totalMs - idleMs;
  const share = (ms: number, of: number) => (of > 0 ? (100 * ms) / of : 0);
  const entries = [...byFunction.values()]
    .filter((e) => e.frame.functionName !== '(idle)')
    .sort((a, b) => b.selfMs - a.selfMs);
  const areas = new Map<string, number>();
  for (const { frame, selfMs } of entries) addTo(areas, areaOf(frame), selfMs);
  return {
    file,
    totalMs,
    busyMs,
    top: entries.slice(0, top).map(({ frame, selfMs, callers }) => ({
      ...frameFields(frame, callers),
      selfMs,
      percent: share(selfMs, totalMs),
      busyPercent: share(selfMs, busyMs),
    })),
    areas: [...areas]
      .sort((a, b) => b[1] - a[1])
      .map(([area, selfMs]) => ({ area, selfMs, busyPercent: share(selfMs, busyMs) })),
    attributed: [...attributed]
      .sort((a, b) => b[1] - a[1])
      .map(([area, selfMs]) => ({ area, selfMs, busyPercent: share(selfMs, busyMs) })),
  };
}

/** Markdown: the top self-time functions, then the areas. */
export function formatProfileSummary(summary: ProfileSummary, areas = 10): string {
  const lines = [
    `${basename(summary.file)}: ${(summary.totalMs / 1000).toFixed(1)} s profiled, ${(summary.busyMs / 1000).toFixed(1)} s not idle ` +
      `(${((100 * summary.busyMs) / Math.max(summary.totalMs, 1)).toFixed(0)}%)`,
    '',
    '| # | self ms | % of busy | function | where | mostly called from |',
    '| ---: | ---: | ---: | --- | --- | --- |',
    ...summary.top.map(
      (e, i) => `| ${i + 1} | ${e.selfMs.toFixed(0)} | ${e.busyPercent.toFixed(1)} | \`${e.name}\` | ${e.location || e.area} | ${e.calledFrom} |`,
    ),
    '',
    '| area (of the frame itself) | self ms | % of busy | | charged to the nearest package/project frame | self ms | % of busy |',
    '| --- | ---: | ---: | --- | --- | ---: | ---: |',
    ...Array.from({ length: Math.min(areas, Math.max(summary.areas.length, summary.attributed.length)) }, (_, i) => {
      const cells = (a: { area: string; selfMs: number; busyPercent: number } | undefined) =>
        a ? `${a.area} | ${a.selfMs.toFixed(0)} | ${a.busyPercent.toFixed(1)}` : ' | | ';
      return `| ${cells(summary.areas[i])} | | ${cells(summary.attributed[i])} |`;
    }),
  ];
  return lines.join('\n');
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const topIndex = args.indexOf('--top');
  const top = topIndex >= 0 ? Number(args.splice(topIndex, 2)[1]) : 15;
  if (args.length === 0 || !Number.isInteger(top) || top < 1) {
    console.error('Usage: node dist/bench/profile-summary.js FILE.cpuprofile... [--top 15]');
    process.exit(1);
  }
  for (const file of args) console.log(`${formatProfileSummary(summarizeProfile(file, top))}\n`);
}
