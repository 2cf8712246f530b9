// Turns a V8 sampling heap profile into a Go-style heap profile, scaled as Go
// scales sampled heap profiles, plus a legible text form for ?debug=1.
import { frameFile, frameName, PprofBuilder } from './pprof-builder.ts';
import type { SamplingHeapProfileNode } from './inspector.ts';
import type { HeapSample } from './heap-sampler.ts';

export type HeapKind = 'inuse' | 'alloc';

/** What the profile cannot show, in its comment and at the top of the text form. */
export const V8_HEAP_COMMENT =
  'V8 sampling heap profiler: Buffer and ArrayBuffer backing stores are not seen; object counts are not known, so the profile counts samples instead';

interface StackTotals {
  readonly stack: readonly SamplingHeapProfileNode[];
  samples: number;
  bytes: number;
}

/*
 * V8 reports each sample already scaled the way Go scales heap samples (an
 * object of s bytes is sampled with probability 1 - exp(-s/rate), and V8
 * reports s * round(1 / (1 - exp(-s/rate)))), so space is taken as it is.
 * The object's own size is not reported, and every small object's sample
 * reads about `rate` bytes whatever its size, so the number of objects cannot
 * be recovered: the profiles carry the number of samples instead of a made-up
 * inuse_objects / alloc_objects.
 */

/** Groups samples by allocation stack. */
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
    let entry = totals.get(nodeId);
    if (!entry) totals.set(nodeId, entry = { stack, samples: 0, bytes: 0 });
    entry.samples += 1;
    entry.bytes += size;
  }
  return [...totals.values()].sort((a, b) => b.bytes - a.bytes);
}

export function heapProfileToPprof(sample: HeapSample, kind: HeapKind): Uint8Array {
  const builder = new PprofBuilder({
    sampleTypes: [{ type: 'samples', unit: 'count' }, { type: `${kind}_space`, unit: 'bytes' }],
    periodType: { type: 'space', unit: 'bytes' },
    period: sample.intervalBytes,
    defaultSampleType: 1,
    startedAtMs: sample.startedAtMs,
    durationMs: sample.durationMs,
    comments: [V8_HEAP_COMMENT],
  });
  for (const { stack, samples, bytes } of totalsByStack(sample)) {
    builder.addSample(stack.map((node) => builder.locationId(node.callFrame)), [samples, bytes]);
  }
  return builder.encode();
}

export function heapProfileText(sample: HeapSample, kind: HeapKind): string {
  const totals = totalsByStack(sample);
  const samples = totals.reduce((sum, t) => sum + t.samples, 0);
  const bytes = Math.round(totals.reduce((sum, t) => sum + t.bytes, 0));
  const what = kind === 'inuse' ? 'live heap' : 'allocations, collected objects included';
  const over = kind === 'inuse' ? `sampled since ${new Date(sample.sampledSinceMs).toISOString()}` : `over ${(sample.durationMs / 1000).toFixed(1)} s`;
  const lines = [
    `# ${what}: ${bytes} bytes estimated from ${samples} samples (one per ${sample.intervalBytes} bytes allocated on average, ${over})`,
    `# ${V8_HEAP_COMMENT}`,
    `# samples ${kind}_space, then the allocation stack, innermost first`,
  ];
  for (const { stack, samples: n, bytes: b } of totals) {
    lines.push('', `${n}: ${Math.round(b)}`);
    for (const node of stack) {
      const file = frameFile(node.callFrame);
      lines.push(`#\t${frameName(node.callFrame)}${file ? ` ${file}:${node.callFrame.lineNumber + 1}` : ''}`);
    }
  }
  return lines.join('\n') + '\n';
}
