// Repeated CPU profiles in one process must keep attributing a hot function
// to itself. V8 drops the inlining positions of code optimised while no
// profiler runs, so a small hot function inlined into its caller before a
// profile starts can show up as its caller's own time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';
import { cpuProfileToPprof } from '../../../src/profiling/cpu-pprof.ts';
import { CpuProfiler } from '../../../src/profiling/cpu-profiler.ts';

/**
 * Too big for any engine to inline (V8 stops at 460 bytes of bytecode; this is about 620), so
 * its samples can be told from its caller's. Samples in code that was
 * inlined are the caller's on V8 whatever the profiler does: see
 * docs/profiling.md.
 */
function hotMix(seed: number): number {
  let a = seed | 0;
  let b = a ^ 0x5bd1e995;
  let c = a + 0x1b873593;
  let d = a - 0x27d4eb2d;
  for (let i = 0; i < 400; i++) {
    a = Math.imul(a ^ (a >>> 15), 0x2c1b3c6d) + i;
    b = Math.imul(b ^ (b >>> 12), 0x297a2d39) - a;
    c = Math.imul(c ^ (c >>> 13), 0x85ebca6b) + b;
    d = Math.imul(d ^ (d >>> 16), 0xc2b2ae35) ^ c;
    a = (a << 5) | (a >>> 27);
    b = (b << 7) | (b >>> 25);
    c = (c << 11) | (c >>> 21);
    d = (d << 13) | (d >>> 19);
    a = (a + (b ^ c)) | 0;
    b = (b + (c ^ d)) | 0;
    c = (c + (d ^ a)) | 0;
    d = (d + (a ^ b)) | 0;
    a = Math.imul(a, 0x9e3779b1) ^ (d >>> 3);
    b = Math.imul(b, 0x85ebca77) ^ (a >>> 5);
    c = Math.imul(c, 0xc2b2ae3d) ^ (b >>> 7);
    d = Math.imul(d, 0x27d4eb2f) ^ (c >>> 9);
    a = (a + Math.imul(c, 0x165667b1)) | 0;
    b = (b - Math.imul(d, 0xd3a2646c)) | 0;
    c = (c ^ Math.imul(a, 0xfd7046c5)) | 0;
    d = (d + Math.imul(b, 0xb55a4f09)) | 0;
    a = (a >>> 1) ^ (c << 3);
    b = (b >>> 2) ^ (d << 5);
    c = (c >>> 3) ^ (a << 7);
    d = (d >>> 4) ^ (b << 9);
  }
  return a ^ b ^ c ^ d;
}

function hotCaller(rounds: number): number {
  let sum = 0;
  for (let k = 0; k < rounds; k++) sum = (sum + hotMix(k + sum)) | 0;
  return sum;
}

let sink = 0;

/** Keeps the hot pair running in ~5 ms slices until `done`, yielding so the profiler's timer fires. */
async function busyUntil(done: Promise<unknown>): Promise<void> {
  let finished = false;
  void done.finally(() => {
    finished = true;
  });
  while (!finished) {
    const end = performance.now() + 5;
    while (performance.now() < end) sink ^= hotCaller(20);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Self samples per function name in a decoded pprof CPU profile (the leaf frame of each sample). */
function selfSamples(profile: Profile): Map<string, number> {
  const strings = profile.stringTable.strings;
  const functionName = new Map(profile.function.map((f) => [Number(f.id), strings[Number(f.name)] ?? '']));
  const locationFunction = new Map(profile.location.map((l) => [Number(l.id), Number(l.line[0]?.functionId ?? 0)]));
  const self = new Map<string, number>();
  for (const sample of profile.sample) {
    const leaf = functionName.get(locationFunction.get(Number(sample.locationId[0])) ?? 0) ?? '?';
    self.set(leaf, (self.get(leaf) ?? 0) + Number(sample.value[0]));
  }
  return self;
}

test('repeated CPU profiles keep a hot, already optimised function as its own', { timeout: 120_000 }, async () => {
  // Optimised (and inlined) before any profile runs, as in a runner that has been up a while.
  const warmEnd = performance.now() + 1500;
  while (performance.now() < warmEnd) sink ^= hotCaller(20);

  const profiler = new CpuProfiler();
  for (let n = 1; n <= 3; n++) {
    const never = new AbortController().signal;
    const run = profiler.profile(1, never);
    await busyUntil(run);
    const self = selfSamples(Profile.decode(gunzipSync(cpuProfileToPprof(await run))));
    const mix = self.get('hotMix') ?? 0;
    const caller = self.get('hotCaller') ?? 0;
    const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([name, count]) => `${name} ${count}`).join(', ');
    assert.ok(mix + caller >= 5, `profile ${n}: too few samples in the hot pair to judge (${top})`);
    assert.ok(mix > 3 * caller, `profile ${n}: hotMix's own time went to its caller: hotMix ${mix}, hotCaller ${caller} (${top})`);
  }
  assert.notEqual(sink, 0.5);
});

test("a leaf's samples keep the source lines the profiler gives (in code inlined into a caller, V8's only pointer to the callee)", () => {
  const frame = (functionName: string, lineNumber: number) => ({ functionName, url: 'file:///app/hot.js', lineNumber, columnNumber: 0 });
  const run = {
    profile: {
      nodes: [
        { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1, columnNumber: -1 }, children: [2] },
        { id: 2, callFrame: frame('outer', 0), children: [3] },
        // Line 3 is the caller's, lines 12 and 13 the inlined callee's.
        { id: 3, callFrame: frame('caller', 2), positionTicks: [{ line: 3, ticks: 1 }, { line: 12, ticks: 5 }, { line: 13, ticks: 2 }] },
      ],
      startTime: 0,
      endTime: 80_000,
      samples: [3, 3, 3, 3, 3, 3, 3, 3, 2],
    },
    startedAtMs: 0,
    durationMs: 80,
    intervalMicros: 10_000,
  };
  const profile = Profile.decode(gunzipSync(cpuProfileToPprof(run)));
  const strings = profile.stringTable.strings;
  const names = new Map(profile.function.map((f) => [Number(f.id), strings[Number(f.name)]]));
  const where = new Map(profile.location.map((l) => [Number(l.id), `${names.get(Number(l.line[0]!.functionId))}:${Number(l.line[0]!.line)}`]));
  const samples = profile.sample.map((s) => `${s.locationId.map((id) => where.get(Number(id))).join('<')} ${Number(s.value[0])}`).sort();
  assert.deepEqual(samples, ['caller:12<outer:1 5', 'caller:13<outer:1 2', 'caller:3<outer:1 1', 'outer:1 1']);
});
