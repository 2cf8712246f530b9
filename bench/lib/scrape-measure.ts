// The measuring process of bench/scrape.ts, one per runtime and mode; bench/scrape.ts starts it
// and reads the one JSON line (MeasureResult) it prints on stdout.
//
//   scrape-measure [--runs N]            time per scrape, in a process with the runtime's defaults
//   scrape-measure --alloc [--runs N]    heap bytes allocated per scrape (allocation.ts), in a
//                                        process started with V8_FLAGS
//   --stock-sdk                          the runner's side with the SDK's collection as shipped
//
// Both build the runner and prom-client side by side (scrape-subjects.ts) and go through the cases
// in order, adding the extra series of each case to both; before measuring a case they check that
// both texts hold exactly the extra series expected, and stop with an error if not.

import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { runtime } from '../../src/runtime/runtime.ts';
import { keepSdkAsShipped } from '../../src/telemetry/sdk-collection.ts';
import { type AllocationMeter, allocationMeter } from './allocation.ts';
import { parseBenchArgs } from './args.ts';
import { CLOCK_TICKS_PER_SECOND, machineBusyTicks } from './overhead-runner.ts';
import { type AllocationFigures, CASES, type MeasureResult, type SubjectFigures } from './scrape-cases.ts';
import { EXTRA_SERIES_PER_METRIC, makeSubjects, type Subject, type SubjectName, SUBJECTS, type TextFacts, textFacts } from './scrape-subjects.ts';

const DEFAULT_RUNS = 7;
/** Warm-up of each subject in each case: at least this long and this many scrapes. */
const WARMUP_MS = 500;
const WARMUP_MIN_SCRAPES = 20;
/** A timed run lasts about this long (at least MIN_SCRAPES_PER_RUN scrapes). */
const RUN_MS = 200;
const MIN_SCRAPES_PER_RUN = 3;
/** An allocation batch allocates about this much (well inside the young generation). */
const BATCH_BYTES = 64 * 1024 * 1024;
const MAX_SCRAPES_PER_BATCH = 100;
/** Readings spoilt by a garbage collection are retried up to this many times per kept one. */
const TRIES_PER_BATCH = 3;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function scrapes(subject: Subject, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await subject.scrape();
}

/** Milliseconds per scrape over n scrapes in a row. */
async function msPerScrape(subject: Subject, n: number): Promise<number> {
  const t0 = performance.now();
  await scrapes(subject, n);
  return (performance.now() - t0) / n;
}

/** Warms the subject up; returns how many scrapes make a run of about RUN_MS. */
async function warmUp(subject: Subject): Promise<number> {
  const t0 = performance.now();
  let n = 0;
  while (n < WARMUP_MIN_SCRAPES || performance.now() - t0 < WARMUP_MS) {
    await subject.scrape();
    n++;
  }
  return Math.max(MIN_SCRAPES_PER_RUN, Math.ceil(RUN_MS / ((performance.now() - t0) / n)));
}

/** Runs alternate between the subjects, and so does who goes first, so both share the noise. */
function runOrder(run: number): readonly SubjectName[] {
  return run % 2 === 0 ? SUBJECTS : [...SUBJECTS].reverse();
}

async function timeCase(subjects: Record<SubjectName, Subject>, runs: number): Promise<Record<SubjectName, SubjectFigures>> {
  const perRun = { runner: 0, 'prom-client': 0 };
  for (const name of SUBJECTS) perRun[name] = await warmUp(subjects[name]);
  const ms: Record<SubjectName, number[]> = { runner: [], 'prom-client': [] };
  for (let run = 0; run < runs; run++) {
    for (const name of runOrder(run)) ms[name].push(await msPerScrape(subjects[name], perRun[name]));
  }
  return {
    runner: { scrapesPerRun: perRun.runner, msPerScrape: ms.runner },
    'prom-client': { scrapesPerRun: perRun['prom-client'], msPerScrape: ms['prom-client'] },
  };
}

interface BatchState {
  scrapes: number;
  readonly bytes: number[];
  discarded: number;
  readonly collections: Set<string>;
}

/** One kept reading of `state.scrapes` scrapes, halving the batch after each reading a collection spoilt. */
async function allocationBatch(meter: AllocationMeter, subject: Subject, state: BatchState): Promise<void> {
  for (let tries = 0; tries < TRIES_PER_BATCH; tries++) {
    const n = state.scrapes;
    const reading = await meter.measure(() => scrapes(subject, n));
    if ('bytes' in reading) {
      state.bytes.push(reading.bytes / n);
      return;
    }
    state.discarded++;
    for (const kind of reading.collections) state.collections.add(kind);
    state.scrapes = Math.max(1, Math.floor(n / 2));
  }
  throw new Error(`${subject.name}: ${TRIES_PER_BATCH} allocation readings in a row had a garbage collection (${[...state.collections].join(', ')})`);
}

async function allocationCase(meter: AllocationMeter, subjects: Record<SubjectName, Subject>, runs: number): Promise<Record<SubjectName, AllocationFigures>> {
  const states = {} as Record<SubjectName, BatchState>;
  for (const name of SUBJECTS) {
    await warmUp(subjects[name]);
    // A one-scrape reading sizes the batches.
    const probe: BatchState = { scrapes: 1, bytes: [], discarded: 0, collections: new Set() };
    await allocationBatch(meter, subjects[name], probe);
    const scrapesPerBatch = Math.min(MAX_SCRAPES_PER_BATCH, Math.max(1, Math.floor(BATCH_BYTES / Math.max(1, probe.bytes[0] ?? 1))));
    states[name] = { scrapes: scrapesPerBatch, bytes: [], discarded: probe.discarded, collections: probe.collections };
  }
  for (let run = 0; run < runs; run++) {
    for (const name of runOrder(run)) await allocationBatch(meter, subjects[name], states[name]);
  }
  const figures = (s: BatchState): AllocationFigures => ({
    bytesPerScrape: s.bytes,
    scrapesPerBatch: s.scrapes,
    discarded: s.discarded,
    collections: [...s.collections],
  });
  return { runner: figures(states.runner), 'prom-client': figures(states['prom-client']) };
}

/** Both texts must hold exactly the extra series of the case: a sanity check, not a measurement. */
async function checkedFacts(subjects: Record<SubjectName, Subject>, extraMetrics: number): Promise<Record<SubjectName, TextFacts>> {
  const facts = {} as Record<SubjectName, TextFacts>;
  const expected = extraMetrics * EXTRA_SERIES_PER_METRIC;
  for (const name of SUBJECTS) {
    const text = await subjects[name].scrape();
    facts[name] = textFacts(text);
    if (facts[name].extraSamples !== expected) {
      throw new Error(`${name}: the text holds ${facts[name].extraSamples} extra series, expected ${expected}`);
    }
    if (!text.includes('\nnodejs_heap_size_used_bytes ') || !text.includes('\nprocess_cpu_seconds_total ')) {
      throw new Error(`${name}: the text lacks nodejs_heap_size_used_bytes or process_cpu_seconds_total: not the default metrics`);
    }
  }
  return facts;
}

/** CPU time of the whole machine and of this process, to tell how busy the rest of the machine was. */
function cpuMark(): { at: number; machineMs: number | undefined; ownMs: number } {
  let machineMs: number | undefined;
  try {
    machineMs = (machineBusyTicks() * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    machineMs = undefined; // no /proc/stat
  }
  const own = process.cpuUsage();
  return { at: performance.now(), machineMs, ownMs: (own.user + own.system) / 1000 };
}

async function main(): Promise<void> {
  const usage = 'usage: scrape-measure [--alloc] [--openmetrics] [--stock-sdk] [--runs N]  (started by bench/scrape.ts)';
  const { runs, switches } = parseBenchArgs(process.argv.slice(2), usage, DEFAULT_RUNS, [['--alloc'], ['--openmetrics'], ['--stock-sdk']]);
  if (switches.has('--stock-sdk') && !keepSdkAsShipped()) throw new Error('the SDK collection was streamlined before --stock-sdk could keep it as shipped');
  const alloc = switches.has('--alloc');
  const result: MeasureResult = {
    runtime: runtime.name,
    version: runtime.version,
    mode: alloc ? 'alloc' : 'time',
    loadBefore: loadavg(),
    loadAfter: [],
    cases: [],
  };
  const meter = alloc ? allocationMeter() : undefined;
  if (meter !== undefined && 'unavailable' in meter) {
    result.allocationUnavailable = meter.unavailable;
  } else {
    result.allocationMethod = meter?.method;
    const subjects = makeSubjects(switches.has('--openmetrics') ? 'openmetrics' : 'prometheus');
    // Let the samplers and observers of both sides start as they would in a running process.
    await sleep(100);
    let added = 0;
    const start = cpuMark();
    for (const { name, extraMetrics } of CASES) {
      for (; added < extraMetrics; added++) for (const subject of SUBJECTS) subjects[subject].addExtraMetric(added);
      const facts = await checkedFacts(subjects, extraMetrics);
      process.stderr.write(`  ${runtime.name} ${result.mode}: ${name}\n`);
      result.cases.push(
        meter === undefined ? { name, facts, time: await timeCase(subjects, runs) } : { name, facts, allocation: await allocationCase(meter, subjects, runs) },
      );
    }
    const end = cpuMark();
    if (start.machineMs !== undefined && end.machineMs !== undefined) {
      result.otherCpuShare = Math.max(0, end.machineMs - start.machineMs - (end.ownMs - start.ownMs)) / (end.at - start.at);
    }
  }
  result.loadAfter = loadavg();
  process.stdout.write(`${JSON.stringify(result)}\n`);
  // The runtime metrics' samplers keep the event loop alive.
  process.exit(0);
}

try {
  await main();
} catch (err) {
  process.stderr.write(`scrape-measure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
}
