// Heap profile magnitudes, in process: a known amount of live objects must
// come out of the pprof encoding as about that many bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getHeapStatistics } from 'node:v8';
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';
import { heapProfileToPprof } from '../../../src/profiling/heap-pprof.ts';
import { HeapSampler } from '../../../src/profiling/heap-sampler.ts';
import { post } from '../../../src/profiling/inspector.ts';
import { runtime } from '../../../src/runtime/runtime.ts';

const noSampler = runtime.name === 'bun' && 'bun has no sampling heap profiler';

interface Known {
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly d: number;
}

function allocateKnownAmount(count: number): Known[] {
  const kept: Known[] = new Array<Known>(count);
  for (let i = 0; i < count; i++) kept[i] = { a: i, b: i + 1, c: i + 2, d: i + 3 };
  return kept;
}

test('in-use space matches a known live allocation, as V8 scales it', { skip: noSampler }, async () => {
  const sampler = new HeapSampler();
  await sampler.start();
  try {
    await post('HeapProfiler.collectGarbage');
    const before = getHeapStatistics().used_heap_size;
    const count = 1_000_000;
    const kept = allocateKnownAmount(count);
    await post('HeapProfiler.collectGarbage');
    const liveBytes = getHeapStatistics().used_heap_size - before;

    const pprof = Profile.decode(gunzipSync(heapProfileToPprof(await sampler.inuse(false), 'inuse')));
    const strings = pprof.stringTable.strings;
    const fnIds = new Set(pprof.function.filter((f) => strings[Number(f.name)] === 'allocateKnownAmount').map((f) => Number(f.id)));
    const locIds = new Set(pprof.location.filter((l) => l.line.some((line) => fnIds.has(Number(line.functionId)))).map((l) => Number(l.id)));
    let samples = 0;
    let bytes = 0;
    for (const sample of pprof.sample) {
      if (!sample.locationId.some((id) => locIds.has(Number(id)))) continue;
      samples += Number(sample.value[0]);
      bytes += Number(sample.value[1]);
    }
    // Sampling one allocation per 512 KiB on average gives about 10-15% noise at this size.
    assert.ok(bytes > liveBytes * 0.65 && bytes < liveBytes * 1.35, `inuse_space ${bytes} for ${liveBytes} live bytes`);
    // One sample per 512 KiB on average: the count is the raw number of samples, not scaled.
    const expectedSamples = liveBytes / sampler.intervalBytes;
    assert.ok(samples > expectedSamples * 0.5 && samples < expectedSamples * 1.5, `${samples} samples for ${liveBytes} bytes`);
    assert.equal(kept.length, count);
    // The comment says what the profile carries instead of object counts, in a whole sentence.
    assert.deepEqual(pprof.comment.map((index) => strings[Number(index)]), [
      'V8 sampling heap profiler: Buffer and ArrayBuffer backing stores are not seen; object counts are not known, so the profile counts samples instead',
    ]);
  } finally {
    await sampler.stop();
  }
});
