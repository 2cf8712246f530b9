// What this process can profile, decided once at start: CPU everywhere; the
// heap by allocation stack where V8's sampling heap profiler exists (Node,
// Deno), by object type from a heap snapshot where it does not (Bun).
import { collectGarbage, heapSnapshot } from '../runtime/runtime.ts';
import { CpuProfiler } from './cpu-profiler.ts';
import { HeapSampler, takeEarlyHeapSampler } from './heap-sampler.ts';

export type HeapSource =
  | { readonly kind: 'sampling'; readonly sampler: HeapSampler }
  | { readonly kind: 'snapshot'; readonly snapshot: () => string; readonly collectGarbage: (() => void) | undefined }
  | { readonly kind: 'none'; readonly reason: string };

export interface Profilers {
  readonly cpu: CpuProfiler;
  readonly heap: HeapSource;
  /** The longest profile window a request may ask for, in seconds. */
  readonly maxSeconds: number;
}

/** Creates the profilers and starts in-use heap sampling, as Go does from process start. */
export async function startProfilers(maxSeconds: number): Promise<Profilers> {
  const cpu = new CpuProfiler();
  const earlySampler = takeEarlyHeapSampler();
  if (earlySampler) return { cpu, heap: { kind: 'sampling', sampler: earlySampler }, maxSeconds };
  if (await HeapSampler.available()) {
    const sampler = new HeapSampler();
    await sampler.start();
    return { cpu, heap: { kind: 'sampling', sampler }, maxSeconds };
  }
  if (heapSnapshot) return { cpu, heap: { kind: 'snapshot', snapshot: heapSnapshot, collectGarbage }, maxSeconds };
  return { cpu, heap: { kind: 'none', reason: 'this runtime has neither a sampling heap profiler nor heap snapshots' }, maxSeconds };
}

export async function stopProfilers(profilers: Profilers): Promise<void> {
  if (profilers.heap.kind === 'sampling') await profilers.heap.sampler.stop();
}

/** Profiling is off: stop the sampler that may have started with the process. */
export async function discardEarlyProfiling(): Promise<void> {
  await takeEarlyHeapSampler()?.stop();
}
