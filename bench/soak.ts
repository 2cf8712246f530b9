// Soak: does the runner's memory level off under a steady load, or keep growing? (issue 16,
// finding 7: on Deno one soak's RSS grew 7.7 MiB a minute after warm-up, another levelled off).
//
// For each runtime, a fresh runner (the default local runner, concurrent = 2, check_interval = 1)
// gets for --minutes (default 30):
//   - GET /metrics 20 times a second, on keep-alive connections but every 10th on a new one,
//     and GET /debug/jobs/list every 5 s (bench/lib/soak-load.ts);
//   - a trivial job (`script = ["true"]`) written into its queue every 0.5 s, as `runner submit`
//     writes it.
// Every --sample-seconds (10) it samples VmRSS of the runner's process (/proc/PID/status) and the
// runner's own process metrics from one more scrape (bench/lib/soak-sample.ts). The first
// --warmup-minutes (a third, at most 5) are discarded; over the rest it prints the least-squares
// slope of RSS in MiB per minute, with the slopes of the window's first and second halves as a
// rough confidence, and the same for the heap used where the runtime's metrics give it.
//
// The runtimes run at once (each its own runner and load, from this one process), so a 30-minute
// soak of all three takes about 31 minutes; --sequential runs them one after another. With --out
// DIR, each runtime's samples go to DIR/RUNTIME-samples.csv and heap profiles (/debug/pprof/heap?gc=1)
// taken half-way through the warm-up and at the end to DIR/RUNTIME-{early,late}.pb.gz, for
// `go tool pprof -top -diff_base early.pb.gz late.pb.gz`.
//
// Nothing passes or fails on a figure: exit 0 after printing, 1 if a runtime could not be soaked.
//
//   npm run build:bench && node dist/bench/soak.js --runtime deno --minutes 30
//   node dist/bench/soak.js node bun deno --minutes 30 --out /tmp/soak

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../src/version.ts';
import { parseSoakArgs, type SoakArgs } from './lib/soak-args.ts';
import { type Point, type Trend, trend } from './lib/soak-fit.ts';
import { JobFeed, type RequestCounts, Scrapes } from './lib/soak-load.ts';
import { countResults, type Sample, samplesCsv, takeSample } from './lib/soak-sample.ts';
import { withQueueRunner } from './lib/jobs-runner.ts';
import { killSpawnedOnExit, runBench } from './lib/processes.ts';
import { type RuntimeSpec, specFor, versionOf } from './lib/runtimes.ts';
import { median, table } from './lib/stats.ts';
import { readResult } from '../src/sources/local/queue.ts';
import type { QueueRunner } from './lib/jobs-runner.ts';

const CONFIG = 'concurrent = 2\ncheck_interval = 1\n';
const SCRAPES_PER_SECOND = 20;
const LIST_EVERY_SECONDS = 5;
const JOB_EVERY_MS = 500;
/** How long the jobs still queued when the load stops may take to finish. */
const DRAIN_MS = 120_000;
const MiB = 1024 * 1024;

interface Soaked {
  readonly name: string;
  readonly version: string;
  readonly samples: Sample[];
  readonly metrics: RequestCounts;
  readonly lists: RequestCounts;
  readonly jobs: RequestCounts;
  readonly jobsSubmitted: number;
  readonly jobsDone: number;
  readonly jobsOk: number;
  /** Milliseconds per /metrics answer in the measured window. */
  readonly latencies: number[];
  readonly notes: string[];
}

/** The samples of the warm-up, by count (the clock may read a little short of a sample's time). */
const warmupSamples = (args: SoakArgs): number => Math.ceil((args.warmupMinutes * 60) / args.sampleSeconds - 1e-9);
/** The samples after the warm-up: those the trends are taken over. */
const measured = (samples: readonly Sample[], args: SoakArgs): readonly Sample[] => samples.slice(warmupSamples(args));

const together = (args: SoakArgs): string => (args.runtimes.length < 2 ? '' : args.sequential ? ', one after another' : ', all at once');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const log = (text: string): void => void process.stderr.write(`${text}\n`);

async function saveHeapProfile(runner: QueueRunner, file: string | undefined, notes: string[]): Promise<void> {
  if (file === undefined) return;
  for (let attempt = 0; attempt < 3; attempt++) {
    const res = await fetch(`${runner.url}/debug/pprof/heap?gc=1`);
    const body = new Uint8Array(await res.arrayBuffer());
    if (res.status === 200) {
      writeFileSync(file, body);
      return;
    }
    // 503: another heap profile within the last one's time; Retry-After says when.
    await sleep(Number(res.headers.get('retry-after') ?? 1) * 1000);
  }
  notes.push(`no heap profile for ${file}`);
}

/** Waits (bounded) until every submitted job has a result, then counts the successful ones. */
async function drain(queueDir: string, ids: readonly string[]): Promise<{ done: number; ok: number }> {
  const deadline = performance.now() + DRAIN_MS;
  while ((await countResults(queueDir)) < ids.length && performance.now() < deadline) await sleep(500);
  let done = 0;
  let ok = 0;
  for (const id of ids) {
    const result = await readResult(queueDir, id);
    if (result !== undefined) done++;
    if (result?.state === 'success') ok++;
  }
  return { done, ok };
}

function soak(spec: RuntimeSpec, version: string, args: SoakArgs): Promise<Soaked> {
  const file = (suffix: string): string | undefined => (args.out === undefined ? undefined : join(args.out, `${spec.name}-${suffix}`));
  return withQueueRunner(spec, CONFIG, {}, async (runner, dir) => {
    const queueDir = join(dir, 'queue');
    const notes: string[] = [];
    const scrapes = new Scrapes(runner.url, SCRAPES_PER_SECOND, LIST_EVERY_SECONDS);
    const feed = new JobFeed(queueDir, JOB_EVERY_MS);
    const started = performance.now();
    const minutes = (): number => (performance.now() - started) / 60_000;
    const samples: Sample[] = [];
    let earlyTaken = false;
    let windowStarted = false;
    // By count rather than by the clock: a timer may fire a little before its time.
    const last = Math.round((args.minutes * 60) / args.sampleSeconds);
    try {
      for (let n = 0; n <= last && !runner.exited; n++) {
        // On schedule from the start, as the load is: a slow sample does not shift the later ones.
        await sleep(Math.max(0, started + n * args.sampleSeconds * 1000 - performance.now()));
        const t = minutes();
        if (!earlyTaken && n >= warmupSamples(args) / 2) {
          earlyTaken = true;
          await saveHeapProfile(runner, file('early.pb.gz'), notes);
        }
        if (!windowStarted && n >= warmupSamples(args)) {
          windowStarted = true;
          scrapes.resetLatencies();
        }
        const sample = await takeSample(runner, queueDir, t, { jobsSubmitted: feed.ids.length, scrapesOk: scrapes.metrics.ok });
        samples.push(sample);
        if (n % Math.max(1, Math.round(60 / args.sampleSeconds)) === 0) {
          log(
            `  ${spec.name} ${t.toFixed(1)} min: VmRSS ${(sample.vmRss / MiB).toFixed(1)} MiB, heap used ${
              (sample.heapUsed / MiB).toFixed(1)
            } MiB, jobs ${sample.jobsDone}/${sample.jobsSubmitted}, scrapes ${scrapes.metrics.ok} ok ${scrapes.metrics.failed} failed ${scrapes.metrics.skipped} skipped`,
          );
        }
      }
    } finally {
      await feed.stop();
      await scrapes.stop();
    }
    if (runner.exited) throw new Error(`the ${spec.name} runner exited during the soak\n${runner.tail()}`);
    await saveHeapProfile(runner, file('late.pb.gz'), notes);
    const latencies = scrapes.latencies;
    const { done, ok } = await drain(queueDir, feed.ids);
    if (args.out !== undefined) writeFileSync(file('samples.csv')!, samplesCsv(samples));
    return {
      name: spec.name,
      version,
      samples,
      metrics: scrapes.metrics,
      lists: scrapes.lists,
      jobs: feed.counts,
      jobsSubmitted: feed.ids.length,
      jobsDone: done,
      jobsOk: ok,
      latencies,
      notes,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Report

const mib = (bytes: number | undefined): string => (bytes === undefined || !Number.isFinite(bytes) ? 'n/a' : (bytes / MiB).toFixed(1));
const perMinute = (x: number): string => (Number.isFinite(x) ? (x >= 0 ? '+' : '') + x.toFixed(2) : 'n/a');
const trendText = (tr: Trend): string => `${perMinute(tr.slope)} (${perMinute(tr.firstHalf)} / ${perMinute(tr.secondHalf)})`;

function trendOf(window: readonly Sample[], key: 'vmRss' | 'metricsRss' | 'heapUsed' | 'heapTotal' | 'external'): Trend {
  const points: Point[] = window.filter((s) => Number.isFinite(s[key])).map((s) => ({ t: s.t, y: s[key] / MiB }));
  return trend(points);
}

function quantile(xs: readonly number[], q: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function report(results: readonly Soaked[], args: SoakArgs): string {
  const memory: string[][] = [[
    'runtime',
    'VmRSS start MiB',
    'end',
    'min-max',
    'RSS slope MiB/min (1st / 2nd half)',
    'heap used start-end MiB',
    'heap used slope',
    'heap total slope',
    'external slope',
  ]];
  const load: string[][] = [[
    'runtime',
    'jobs submitted',
    'done',
    'ok',
    '/metrics ok',
    'failed',
    'skipped',
    'jobs/list ok',
    'scrape ms p50 / p99',
    'runner CPU %',
    'max backlog',
  ]];
  for (const r of results) {
    const window = measured(r.samples, args);
    const first = window[0];
    const last = window[window.length - 1];
    const rss = window.map((s) => s.vmRss).filter(Number.isFinite);
    memory.push([
      `${r.name} ${r.version}`,
      mib(first?.vmRss),
      mib(last?.vmRss),
      `${mib(Math.min(...rss))}-${mib(Math.max(...rss))}`,
      trendText(trendOf(window, 'vmRss')),
      `${mib(first?.heapUsed)}-${mib(last?.heapUsed)}`,
      trendText(trendOf(window, 'heapUsed')),
      trendText(trendOf(window, 'heapTotal')),
      trendText(trendOf(window, 'external')),
    ]);
    const cpu = first === undefined || last === undefined || last.t === first.t
      ? NaN
      : ((last.cpuSeconds - first.cpuSeconds) / ((last.t - first.t) * 60)) * 100;
    const backlog = Math.max(...window.map((s) => s.jobsSubmitted - s.jobsDone));
    load.push([
      r.name,
      String(r.jobsSubmitted),
      String(r.jobsDone),
      String(r.jobsOk),
      String(r.metrics.ok),
      String(r.metrics.failed),
      String(r.metrics.skipped),
      `${r.lists.ok} (${r.lists.failed} failed)`,
      `${quantile(r.latencies, 0.5).toFixed(1)} / ${quantile(r.latencies, 0.99).toFixed(1)}`,
      cpu.toFixed(1),
      String(backlog),
    ]);
  }
  const lines = [
    `soak: ${args.minutes} min per runtime${together(args)}; the first ${args.warmupMinutes} min discarded; ` +
    `samples every ${args.sampleSeconds} s; load: GET /metrics ${SCRAPES_PER_SECOND}/s (every ${Scrapes.FRESH_EVERY}th on a new connection), ` +
    `/debug/jobs/list every ${LIST_EVERY_SECONDS} s, a trivial job every ${JOB_EVERY_MS} ms; runner config: ${CONFIG.trim().replace('\n', ', ')}`,
    '',
    'memory over the measured window (slopes in MiB/min: least squares over the window, then over its first and second halves;',
    "heap used, heap total and external are the runner's nodejs_heap_size_used_bytes, nodejs_heap_size_total_bytes and nodejs_external_memory_bytes):",
    table(memory),
    '',
    'load (whole run; scrape latency and CPU over the window; backlog = submitted - finished at a sample):',
    table(load),
  ];
  for (const r of results) {
    for (const error of [r.metrics.firstError, r.lists.firstError, r.jobs.firstError]) {
      if (error !== undefined) lines.push(`${r.name}: first failure: ${error}`);
    }
    for (const note of r.notes) lines.push(`${r.name}: ${note}`);
    const window = measured(r.samples, args);
    const fds = window.map((s) => s.openFds).filter(Number.isFinite);
    if (fds.length > 0) lines.push(`${r.name}: open fds over the window ${Math.min(...fds)}-${Math.max(...fds)} (median ${median(fds)})`);
  }
  lines.push('', 'Figures only: nothing here passes or fails.');
  return lines.join('\n');
}

async function main(): Promise<number> {
  killSpawnedOnExit();
  const args = parseSoakArgs(process.argv.slice(2));
  const root = packageRoot();
  if (args.out !== undefined) mkdirSync(args.out, { recursive: true });
  const specs = args.runtimes.map((name) => specFor(name, root));
  const versions = await Promise.all(specs.map((spec) => versionOf(spec, root)));
  log(`bench: soak of ${specs.map((s, i) => `${s.name} ${versions[i]}`).join(', ')} for ${args.minutes} min${together(args)}`);
  const failures: string[] = [];
  const one = (spec: RuntimeSpec, i: number): Promise<Soaked | undefined> =>
    soak(spec, versions[i]!, args).catch((error: unknown) => {
      failures.push(`${spec.name}: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    });
  const results: (Soaked | undefined)[] = [];
  if (args.sequential) { for (const [i, spec] of specs.entries()) results.push(await one(spec, i)); }
  else results.push(...(await Promise.all(specs.map(one))));
  console.log(report(results.filter((r): r is Soaked => r !== undefined), args));
  for (const failure of failures) console.log(`FAILED ${failure}`);
  return failures.length > 0 ? 1 : 0;
}

await runBench(main);
