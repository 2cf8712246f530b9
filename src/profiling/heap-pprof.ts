// Turns a V8 sampling heap profile into a Go-style heap profile, scaled as Go
// scales sampled heap profiles, plus a legible text form for ?debug=1.
import { frameFile, frameName, PprofBuilder } from './pprof-builder.ts';
import type { SamplingHeapProfileNode } from './inspector.ts';
import type { HeapSample } from './heap-sampler.ts';

export type HeapKind = 'inuse' | 'alloc';

interface StackTotals {
  readonly stack: readonly SamplingHeapProfileNode[];
  objects: number;
  bytes: number;
}

/**
 * Groups samples by allocation stack and scales them: an allocation of s bytes
 * is sampled with probability 1 - exp(-s/rate), so each stands for
 * 1 / (1 - exp(-s/rate)) allocations (Go's scaleHeapSample).
 */
function totalsByStack(sample: HeapSample): StackTotals[] {
  const stacks = new Map<number, readonly SamplingHeapProfileNode[]>();
  const walk = (node: SamplingHeapProfileNode, path: readonly SamplingHeapProfileNode[]): void => {
    const here = node === sample.profile.head ? path : [node, ...path];
    stacks.set(node.id, here);
    for (const child of node.children) walk(child, here);
  };
  walk(sample.profile.head, []);

  const totals = new Map<number, StackTotals>();
  for (const { size, nodeId } of sample.profile.samples) {
    const stack = stacks.get(nodeId);
    if (!stack || size <= 0) continue;
    const scale = 1 / (1 - Math.exp(-size / sample.intervalBytes));
    let entry = totals.get(nodeId);
    if (!entry) totals.set(nodeId, (entry = { stack, objects: 0, bytes: 0 }));
    entry.objects += scale;
    entry.bytes += size * scale;
  }
  return [...totals.values()].sort((a, b) => b.bytes - a.bytes);
}

export function heapProfileToPprof(sample: HeapSample, kind: HeapKind): Uint8Array {
  const builder = new PprofBuilder({
    sampleTypes: [{ type: `${kind}_objects`, unit: 'count' }, { type: `${kind}_space`, unit: 'bytes' }],
    periodType: { type: 'space', unit: 'bytes' },
    period: sample.intervalBytes,
    defaultSampleType: 1,
    startedAtMs: sample.startedAtMs,
    durationMs: sample.durationMs,
    comments: ['V8 sampling heap profiler: Buffer and ArrayBuffer backing stores are not seen'],
  });
  for (const { stack, objects, bytes } of totalsByStack(sample)) {
    builder.addSample(stack.map((node) => builder.locationId(node.callFrame)), [objects, bytes]);
  }
  return builder.encode();
}

export function heapProfileText(sample: HeapSample, kind: HeapKind): string {
  const totals = totalsByStack(sample);
  const objects = Math.round(totals.reduce((sum, t) => sum + t.objects, 0));
  const bytes = Math.round(totals.reduce((sum, t) => sum + t.bytes, 0));
  const what = kind === 'inuse' ? 'live heap' : 'allocations, collected objects included';
  const lines = [
    `# ${what}: ${objects} objects, ${bytes} bytes (estimated from samples taken every ${sample.intervalBytes} bytes on average, over ${(sample.durationMs / 1000).toFixed(1)} s)`,
    '# V8 sampling heap profiler: Buffer and ArrayBuffer backing stores are not seen',
    `# ${kind}_objects ${kind}_space, then the allocation stack, innermost first`,
  ];
  for (const { stack, objects: n, bytes: b } of totals) {
    lines.push('', `${Math.round(n)}: ${Math.round(b)}`);
    for (const node of stack) {
      const file = frameFile(node.callFrame);
      lines.push(`#\t${frameName(node.callFrame)}${file ? ` ${file}:${node.callFrame.lineNumber + 1}` : ''}`);
    }
  }
  return lines.join('\n') + '\n';
}
