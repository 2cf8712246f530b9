// Turns an inspector CPU profile into a Go-style pprof CPU profile:
// sample types samples/count and cpu/nanoseconds, period cpu/nanoseconds.
import { PprofBuilder } from './pprof-builder.ts';
import type { CpuProfileNode } from './inspector.ts';
import type { CpuProfileRun } from './cpu-profiler.ts';

// "(idle)" is time the thread waited: not CPU, and Go's profiles leave it out.
const NOT_CPU = new Set(['(idle)']);

export function cpuProfileToPprof(run: CpuProfileRun): Uint8Array {
  const periodNanos = run.intervalMicros * 1000;
  const builder = new PprofBuilder({
    sampleTypes: [{ type: 'samples', unit: 'count' }, { type: 'cpu', unit: 'nanoseconds' }],
    periodType: { type: 'cpu', unit: 'nanoseconds' },
    period: periodNanos,
    defaultSampleType: 1,
    startedAtMs: run.startedAtMs,
    durationMs: run.durationMs,
  });
  const nodes = new Map<number, CpuProfileNode>(run.profile.nodes.map((node) => [node.id, node]));
  const parents = new Map<number, number>();
  for (const node of run.profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);

  // Each sample counts as one interval of CPU: sample time deltas on JSC include idle gaps.
  const hits = new Map<number, number>();
  for (const id of run.profile.samples ?? []) hits.set(id, (hits.get(id) ?? 0) + 1);

  for (const [id, count] of hits) {
    const leaf = nodes.get(id);
    if (!leaf || NOT_CPU.has(leaf.callFrame.functionName)) continue;
    const callers: number[] = [];
    for (let node = nodes.get(parents.get(leaf.id) ?? -1); node; node = nodes.get(parents.get(node.id) ?? -1)) {
      if (node.callFrame.functionName === '(root)' && !parents.has(node.id)) break;
      callers.push(builder.locationId(node.callFrame));
    }
    // The leaf at the lines its samples were taken on, where the profiler says (V8 and
    // JavaScriptCore do): in code inlined into its caller, V8 names the caller but gives the
    // callee's line, so `-lines` still points at the right place.
    if (leaf.callFrame.functionName === '(root)' && !parents.has(leaf.id)) {
      builder.addSample([], [count, count * periodNanos]);
      continue;
    }
    for (const { line, samples } of leafLines(leaf, count)) {
      builder.addSample([builder.locationId(leaf.callFrame, line), ...callers], [samples, samples * periodNanos]);
    }
  }
  return builder.encode();
}

/** A leaf's samples by line: its positionTicks when they account for every sample, else all on the function's own line. */
function leafLines(leaf: CpuProfileNode, count: number): Array<{ line: number; samples: number }> {
  const ticks = leaf.positionTicks ?? [];
  const total = ticks.reduce((sum, t) => sum + t.ticks, 0);
  if (total !== count || ticks.some((t) => !(t.line > 0))) return [{ line: leaf.callFrame.lineNumber + 1, samples: count }];
  return ticks.map((t) => ({ line: t.line, samples: t.ticks }));
}
