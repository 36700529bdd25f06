/**
 * Summarises a V8 .heapprofile from bench --heap-prof (sampling heap profiler, collected objects
 * included): the bytes allocated in all, per instance of the scenario, by function and by area.
 * V8 scales each sample by the chance that an allocation of its size is sampled, so the sizes are
 * estimates of what was allocated, good to a few percent over thousands of samples.
 *
 *   node dist/bench/heap-profile-summary.js FILE.heapprofile... [--instances N] [--top 15]
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { addTo, areaOf, CallFrame, chargeCaller, frameFields, isOwnCode } from './profile-summary';

interface HeapNode {
  callFrame: CallFrame;
  selfSize: number;
  children: HeapNode[];
}

export interface AllocationEntry {
  name: string;
  location: string;
  area: string;
  /** The nearest calling frame of a package or of the project (natives and Node internals skipped). */
  calledFrom: string;
  kb: number;
  percent: number;
}

export interface HeapProfileSummary {
  file: string;
  totalKb: number;
  /** The instances the profiled work processed (0: unknown). */
  instances: number;
  top: AllocationEntry[];
  /** Bytes charged to the area of the nearest package or project frame (a Buffer made by libs/dicom counts for libs/dicom). */
  attributed: { area: string; kb: number; percent: number }[];
}

export function summarizeHeapProfile(file: string, instances: number, top = 15): HeapProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { head: HeapNode };
  const byFunction = new Map<string, { frame: CallFrame; bytes: number; callers: Map<string, number> }>();
  const attributed = new Map<string, number>();
  let total = 0;
  const visit = (node: HeapNode, owner: CallFrame | undefined) => {
    const frame = node.callFrame;
    const own = isOwnCode(frame) ? frame : owner;
    if (node.selfSize > 0) {
      total += node.selfSize;
      const key = `${frame.functionName}|${frame.url}|${frame.lineNumber}`;
      const entry = byFunction.get(key) ?? { frame, bytes: 0, callers: new Map<string, number>() };
      entry.bytes += node.selfSize;
      byFunction.set(key, entry);
      addTo(attributed, areaOf(own ?? frame), node.selfSize);
      chargeCaller(entry.callers, frame, own, node.selfSize);
    }
    for (const child of node.children) visit(child, own);
  };
  visit(profile.head, undefined);
  const percent = (bytes: number) => (total > 0 ? (100 * bytes) / total : 0);
  return {
    file,
    totalKb: total / 1024,
    instances,
    top: [...byFunction.values()]
      .sort((a, b) => b.bytes - a.bytes)
      .slice(0, top)
      .map(({ frame, bytes, callers }) => ({
        ...frameFields(frame, callers),
        kb: bytes / 1024,
        percent: percent(bytes),
      })),
    attributed: [...attributed].sort((a, b) => b[1] - a[1]).map(([area, bytes]) => ({ area, kb: bytes / 1024, percent: percent(bytes) })),
  };
}

/** Markdown: the total (per instance when known), the top allocating functions, then the areas. */
export function formatHeapProfileSummary(summary: HeapProfileSummary, areas = 10): string {
  const perInstance = (kb: number) => (summary.instances > 0 ? (kb / summary.instances).toFixed(1) : '');
  const lines = [
    `${basename(summary.file)}: ${(summary.totalKb / 1024).toFixed(1)} MB allocated` +
      (summary.instances > 0 ? ` over ${summary.instances} instances: **${perInstance(summary.totalKb)} KB per instance**` : ''),
    '',
    '| # | KB / instance | % | function | where | mostly called from |',
    '| ---: | ---: | ---: | --- | --- | --- |',
    ...summary.top.map((e, i) => `| ${i + 1} | ${perInstance(e.kb)} | ${e.percent.toFixed(1)} | \`${e.name}\` | ${e.location || e.area} | ${e.calledFrom} |`),
    '',
    '| charged to the nearest package/project frame | KB / instance | % |',
    '| --- | ---: | ---: |',
    ...summary.attributed.slice(0, areas).map((a) => `| ${a.area} | ${perInstance(a.kb)} | ${a.percent.toFixed(1)} |`),
  ];
  return lines.join('\n');
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const option = (name: string, fallback: number) => {
    const at = args.indexOf(name);
    return at >= 0 ? Number(args.splice(at, 2)[1]) : fallback;
  };
  const top = option('--top', 15);
  const instances = option('--instances', 0);
  if (args.length === 0 || !Number.isInteger(top) || top < 1 || !Number.isInteger(instances) || instances < 0) {
    console.error('Usage: node dist/bench/heap-profile-summary.js FILE.heapprofile... [--instances N] [--top 15]');
    process.exit(1);
  }
  for (const file of args) console.log(`${formatHeapProfileSummary(summarizeHeapProfile(file, instances, top))}\n`);
}
