// GitLab coordinator benchmark for the runner on Node, Bun and Deno: how soon a job queued at a
// coordinator speaking GitLab's Runner API v4 shows its first log byte there, and how fast the
// runner uploads a job's log to it.
//
// The coordinator is the tests' TestCoordinator (test/support/coordinator/), listening
// on 127.0.0.1 in the bench process (Node); every time below is its performance.now() clock:
// `requests[].at` when a request arrived, `tracePatches[].at` when a PATCH was answered. Each
// measurement has its own coordinator and a fresh runner process (per runtime), started in a
// scratch working directory under /tmp with a config.toml (mode 0600) holding one [[runners]]
// entry with the coordinator's url and token, `concurrent = 1`, and otherwise the defaults. Jobs
// carry the variable GIT_STRATEGY=none (the coordinator serves no repository).
//
// For each runtime it measures:
//   1. pick-up latency, at check_interval = 3 (the default) and at 0.5, coordinator trace update
//      interval 3 s (its default): a trivial job `echo hi` is queued (enqueueJob) while the runner
//      is idle and polling, and three figures are taken per job, in ms:
//        enqueue→first byte  enqueueJob() to the answer of the job's first accepted trace PATCH
//        enqueue→201         enqueueJob() to the arrival of the runner's job request answered 201:
//                            waiting for the runner's next poll, ~interval/2 on average
//        201→first byte      that request's arrival to the first accepted PATCH: the runner's own
//                            start of the job (payload, job set-up, shell, first output, PATCH)
//      Idle means: the previous job has finished and the runner's next job request after it has
//      been answered 204; the job is then queued at a fraction (i + 0.5) / N of the poll interval
//      after that request arrived, i = 0 .. N-1 in shuffled order, so the N runs sample the poll
//      phase evenly. The first job of each runner process is a warm-up: not counted, shown apart.
//   2. log upload throughput, coordinator trace update interval 1 s, output_limit = 131072 (KiB,
//      128 MiB, so all of the log is kept), check_interval = 1: a job printing exactly 64 MiB of
//      100-byte lines (`yes` | `head -c`, bench/lib/jobs-payload.ts). Checked: the job succeeds,
//      its trace at the coordinator is exactly the `$ command` echo line, the 64 MiB expected,
//      byte for byte, and the runner's `[runner] job used ...` line, and the final update's
//      checksum and size match it (finalChecksumOk, finalBytesizeOk).
//        MB/s (10^6 bytes) = trace bytes / (answer of the last accepted PATCH - answer of the
//                            first), as the coordinator saw them
//      Reference, measured in each run right after the runner's job: the bench process itself, as
//      a perfect client (bench/lib/gitlab-reference.ts), takes a job of its own with POST
//      /api/v4/jobs/request and the runner token (queued just after a runner poll, so the runner
//      cannot take it) and uploads the very bytes of the runner's trace to the same coordinator:
//      sequential 1 MiB PATCHes with JOB-TOKEN and Content-Range, node:http with keep-alive, then
//      the final PUT; same checks, same MB/s formula. Shown: runner and reference MB/s and the
//      ratio runner / reference (median of per-run ratios). The coordinator's own cost is in
//      both; the reference also pays for its client side in the same process. Also shown: the
//      runner's PATCHes per job and answers other than 202, the largest gap between the answers
//      of two consecutive PATCHes (how much log had gone up before it; how much of it passed
//      before the next PATCH arrived, and how much receiving that PATCH took), and the runner's
//      MB/s over the span less that gap. Why that gap: the runner sends the job's first output at
//      once - its header line ("Running with ...", a few hundred bytes), written before the job's
//      stages start - and the next PATCH when a whole 1 MiB slice is waiting (or the update
//      interval is over). In between the job sets up (prepare_executor, prepare_script and
//      step_script each start a login shell) before the command prints: that set-up is the gap
//      (it begins after 0.0 MiB), so the runner's span holds the job's set-up, which the
//      reference's does not, and its MB/s counts the job's printing time as well as the upload.
//      The coordinator keeps every trace until its session ends: about 130 MiB per run.
// Every figure is the median [min-max] over --runs runs (default 5). The runner runs with its
// defaults otherwise (pprof on, log_level info); its WARN and ERROR log lines are listed.
//
// Run it from the repository root (with the defaults about 40 s per runtime on a 2-core machine):
//   npm run build:bench && node dist/bench/gitlab.js
//   node dist/bench/gitlab.js bun deno --runs 10      # restrict runtimes, change the run count
//   node dist/bench/gitlab.js --upload-only           # section 2 only (issue 17's figure)
//
// It never passes or fails on time: it exits 0 after printing, or 1 if a measurement could not
// be made (the reason is printed). Every spawned process (runners and their jobs) is killed on
// every exit path, the scratch directories are removed (a runner killed on an interrupt leaves
// its own empty runner-trace-* directory in the temp dir), and every wait is bounded. The load
// average of the machine at the start and the end is printed: figures from a busy machine are
// noisy (polling and uploads compete with whatever else runs).

import { Buffer } from 'node:buffer';
import { loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { commandEcho } from '../src/build/shell/stage-scripts.ts';
import { packageRoot } from '../src/version.ts';
import type { CoordinatorJob, JobSpec, TestCoordinator, TracePatch } from '../test/support/coordinator/coordinator.ts';
import { parseBenchArgs } from './lib/args.ts';
import { PATCH_BYTES, uploadAsReference } from './lib/gitlab-reference.ts';
import {
  type GitLabSession,
  isRunnerPoll,
  nextRunnerPoll,
  RUNNER_TOKEN,
  sessionConfigToml,
  type SessionOptions,
  startSession,
  stopSession,
  until,
} from './lib/gitlab-session.ts';
import { MiB, printCommand } from './lib/jobs-payload.ts';
import { runnerCommand } from './lib/jobs-runner.ts';
import { killSpawnedOnExit, runBench, WAIT_TIMEOUT_MS } from './lib/processes.ts';
import { checkedVersionOf } from './lib/runtime-version.ts';
import { type RuntimeName, type RuntimeSpec, specFor } from './lib/runtimes.ts';
import { median, table } from './lib/stats.ts';

// Before anything is spawned, so no exit path of the bench can leave a runner or a job behind.
killSpawnedOnExit();

const DEFAULT_RUNS = 5;
const CHECK_INTERVALS_S = [3, 0.5] as const;
const PICKUP_TRACE_INTERVAL_S = 3;
const PICKUP_COMMAND = 'echo hi';
const UPLOAD_BYTES = 64 * MiB;
const UPLOAD_OUTPUT_LIMIT_KIB = 131072;
const UPLOAD_CHECK_INTERVAL_S = 1;
const UPLOAD_TRACE_INTERVAL_S = 1;
const UPLOAD_COMMAND = printCommand(UPLOAD_BYTES);
const JOB_TIMEOUT_MS = 120_000;
/** What follows the output: the step's section end, the cleanup stage, the resource line and "Job succeeded" (src/build). */
// deno-lint-ignore no-control-regex -- the section markers and colours of the log are what this matches
const FOOTER_RE = /^section_end:\d+:step_script\r\x1b\[0K[\s\S]*\x1b\[0KJob used [^\n]* of CPU[^\n]*\n[^\n]*Job succeeded[^\n]*\n$/;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const log = (text: string): void => {
  process.stderr.write(`${text}\n`);
};
const fmt = (x: number, digits: number): string => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
const spreadOf = (xs: number[], digits: number): string =>
  xs.length === 0 ? 'n/a' : `${fmt(median(xs), digits)} [${fmt(Math.min(...xs), digits)}-${fmt(Math.max(...xs), digits)}]`;

/** A job without a repository: GitLab always sends one, the test coordinator serves none unless given, so skip get_sources. */
function jobSpec(name: string, command: string, timeoutSeconds: number): JobSpec {
  // Without time prefixes the command's output is in the trace byte for byte.
  return { name, script: [command], timeoutSeconds, variables: [{ key: 'GIT_STRATEGY', value: 'none' }, { key: 'FF_TIMESTAMPS', value: 'false' }] };
}

function finished(coordinator: TestCoordinator, job: CoordinatorJob, session: GitLabSession): Promise<CoordinatorJob> {
  return until(
    `job ${job.id} to finish\n${session.runner.tail()}`,
    () => {
      const now = coordinator.job(job.id);
      return ['success', 'failed', 'canceled'].includes(now.state) ? now : undefined;
    },
    JOB_TIMEOUT_MS,
    5,
  );
}

const accepted = (patch: TracePatch): boolean => patch.status === 202 || patch.status === 200;

function checkDone(done: CoordinatorJob): void {
  if (done.state !== 'success') {
    throw new Error(
      `job ${done.id} ended ${done.state} (${done.failureReason ?? '?'}, exit code ${String(done.exitCode)}); trace starts ${
        JSON.stringify(done.trace.subarray(0, 500).toString('utf8'))
      }`,
    );
  }
  if (done.finalChecksumOk !== true || done.finalBytesizeOk !== true) {
    throw new Error(
      `job ${done.id}: final update checksum ok = ${String(done.finalChecksumOk)}, size ok = ${
        String(done.finalBytesizeOk)
      } (trace ${done.trace.length} bytes)`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// 1. Pick-up latency

interface PickupRun {
  /** The runner's last job request before the enqueue (arrival) to the enqueue. */
  sincePollMs: number;
  toRequestMs: number;
  ownMs: number;
  totalMs: number;
}

/** Fractions (i + 0.5) / n of the interval, i = 0 .. n-1, shuffled. */
function phases(n: number): number[] {
  const list = Array.from({ length: n }, (_, i) => (i + 0.5) / n);
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [list[i], list[j]] = [list[j]!, list[i]!];
  }
  return list;
}

/**
 * Waits until the runner is idle (its first job request answered 204 at or after request index
 * `from`), queues the job at `phase` of the interval after that request, and measures. `next`
 * is the request index at the enqueue: the first 204 after it is the runner's first poll after
 * the job.
 */
async function pickupRun(session: GitLabSession, intervalMs: number, phase: number, from: number): Promise<{ run: PickupRun; next: number }> {
  const { coordinator } = session;
  const requests = coordinator.requests;
  const idle = await until(
    `the runner to ask for a job again\n${session.runner.tail()}`,
    () => requests.slice(from).find((r) => isRunnerPoll(r) && r.status === 204),
    intervalMs + WAIT_TIMEOUT_MS,
  );
  await sleep(Math.max(0, idle.at + phase * intervalMs - performance.now()));
  const next = requests.length;
  const enqueuedAt = performance.now();
  const job = coordinator.enqueueJob(jobSpec('pickup', PICKUP_COMMAND, 60));
  const done = await finished(coordinator, job, session);
  checkDone(done);
  if (!done.trace.toString('utf8').includes(`${commandEcho(PICKUP_COMMAND)}\nhi\n`)) {
    throw new Error(`job ${done.id}: unexpected trace ${JSON.stringify(done.trace.toString('utf8').slice(0, 500))}`);
  }
  const lastPoll = requests.filter((r) => isRunnerPoll(r) && r.at < enqueuedAt).at(-1);
  const request = requests.slice(next).find((r) => isRunnerPoll(r) && r.status === 201);
  const first = done.tracePatches.find(accepted);
  if (lastPoll === undefined || request === undefined || first === undefined) {
    throw new Error(`job ${done.id}: no poll before, 201 or accepted PATCH in the coordinator's record`);
  }
  return {
    run: {
      sincePollMs: enqueuedAt - lastPoll.at,
      toRequestMs: request.at - enqueuedAt,
      ownMs: first.at - request.at,
      totalMs: first.at - enqueuedAt,
    },
    next,
  };
}

interface PickupResult {
  warmup: PickupRun | undefined;
  runs: PickupRun[];
}

async function pickupRuns(spec: RuntimeSpec, checkIntervalS: number, runs: number, result: PickupResult, problems: string[]): Promise<void> {
  const session = await startSession(spec, pickupOptions(checkIntervalS), WAIT_TIMEOUT_MS);
  try {
    const intervalMs = checkIntervalS * 1000;
    let from = session.coordinator.requests.length;
    const describe = (r: PickupRun): string =>
      `queued ${fmt(r.sincePollMs, 0)} ms after a poll; enqueue→201 ${fmt(r.toRequestMs, 0)} ms + 201→first byte ${fmt(r.ownMs, 1)} ms = ${
        fmt(r.totalMs, 0)
      } ms`;
    const warm = await pickupRun(session, intervalMs, 0.5, from);
    result.warmup = warm.run;
    from = warm.next;
    log(`  ${spec.name} pick-up check_interval=${checkIntervalS} warm-up: ${describe(warm.run)}`);
    const list = phases(runs);
    for (let i = 0; i < list.length; i++) {
      const { run, next } = await pickupRun(session, intervalMs, list[i]!, from);
      from = next;
      result.runs.push(run);
      log(`  ${spec.name} pick-up check_interval=${checkIntervalS} run ${i + 1}/${runs}: ${describe(run)}`);
    }
  } finally {
    const exit = await stopSession(session);
    problems.push(...session.problems.map((line) => `check_interval=${checkIntervalS}: ${line}`));
    if (exit !== 'code 0') problems.push(`check_interval=${checkIntervalS}: runner did not stop cleanly on SIGTERM: ${exit}`);
  }
}

function pickupOptions(checkIntervalSeconds: number): SessionOptions {
  return { checkIntervalSeconds, traceUpdateIntervalSeconds: PICKUP_TRACE_INTERVAL_S };
}

// ---------------------------------------------------------------------------------------------
// 2. Log upload throughput

const UPLOAD_OPTIONS: SessionOptions = {
  checkIntervalSeconds: UPLOAD_CHECK_INTERVAL_S,
  traceUpdateIntervalSeconds: UPLOAD_TRACE_INTERVAL_S,
  outputLimitKiB: UPLOAD_OUTPUT_LIMIT_KIB,
};

interface UploadRun {
  bytes: number;
  runnerMBps: number;
  referenceMBps: number;
  ratio: number;
  runnerSpanMs: number;
  referenceSpanMs: number;
  patches: number;
  /** Statuses of PATCH answers other than 202/200. */
  rejected: number[];
  /** The largest time between two consecutive PATCH answers of the runner. */
  gap: Gap;
  /** PUT state=running (keep-alives) while the job ran. */
  keepAlives: number;
}

interface Gap {
  ms: number;
  /** Trace bytes the coordinator held when the gap began. */
  bytesBefore: number;
  /** Of the gap: until the next PATCH arrived (the runner's side) ... */
  toArrivalMs: number;
  /** ... and from its arrival to its answer (its body coming in, the coordinator's handling). */
  receivingMs: number;
}

/** The largest gap between two consecutive PATCH answers of a job, split at the second PATCH's arrival. */
function largestGap(coordinator: TestCoordinator, job: CoordinatorJob): Gap {
  const patches = job.tracePatches;
  // Sequential PATCHes: the job's patch_trace requests are recorded in the same order.
  const arrivals = coordinator.requests.filter((r) => r.endpoint === 'patch_trace' && r.jobId === job.id);
  if (arrivals.length !== patches.length) throw new Error(`job ${job.id}: ${arrivals.length} PATCH requests recorded for ${patches.length} trace patches`);
  let gap: Gap = { ms: 0, bytesBefore: 0, toArrivalMs: 0, receivingMs: 0 };
  let bytes = patches[0]?.bytes ?? 0;
  for (let i = 1; i < patches.length; i++) {
    const ms = patches[i]!.at - patches[i - 1]!.at;
    if (ms > gap.ms) gap = { ms, bytesBefore: bytes, toArrivalMs: arrivals[i]!.at - patches[i - 1]!.at, receivingMs: patches[i]!.at - arrivals[i]!.at };
    if (accepted(patches[i]!)) bytes += patches[i]!.bytes;
  }
  return gap;
}

/** The output the job prints: its `yes` line repeated, cut at UPLOAD_BYTES. */
function expectedOutput(): Buffer {
  const line = /\byes (\S+)/.exec(UPLOAD_COMMAND)?.[1];
  if (line === undefined) throw new Error(`cannot find the yes line in ${UPLOAD_COMMAND}`);
  return Buffer.alloc(UPLOAD_BYTES, `${line}\n`);
}

/** The runner's trace must hold the echo line, exactly the output after it, and end with its closing lines. */
function checkUploadTrace(done: CoordinatorJob, output: Buffer): void {
  const trace = done.trace;
  const header = Buffer.from(`${commandEcho(UPLOAD_COMMAND)}\n`);
  const at = trace.indexOf(header);
  const start = at + header.length;
  const footer = trace.subarray(start + output.length).toString('utf8');
  const ok = at !== -1 && trace.subarray(start, start + output.length).equals(output) && FOOTER_RE.test(footer);
  if (!ok) {
    throw new Error(
      `job ${done.id}: trace of ${trace.length} bytes does not hold the echo line (${header.length} bytes) + the ${output.length} bytes expected + the closing lines; ` +
        `it starts ${JSON.stringify(trace.subarray(0, 200).toString('utf8'))} and ends ${JSON.stringify(trace.subarray(-200).toString('utf8'))}`,
    );
  }
}

/** Bytes over the time from the first accepted PATCH's answer to the last one's. */
function throughput(job: CoordinatorJob): { MBps: number; spanMs: number } {
  const ok = job.tracePatches.filter(accepted);
  const spanMs = (ok.at(-1)?.at ?? NaN) - (ok[0]?.at ?? NaN);
  return { MBps: job.trace.length / spanMs / 1e3, spanMs };
}

async function uploadRun(session: GitLabSession, output: Buffer): Promise<UploadRun> {
  const { coordinator } = session;
  const job = coordinator.enqueueJob(jobSpec('upload-64MiB', UPLOAD_COMMAND, 600));
  const done = await finished(coordinator, job, session);
  checkDone(done);
  checkUploadTrace(done, output);
  const runner = throughput(done);
  const patches = done.tracePatches;
  const gap = largestGap(coordinator, done);

  // The reference: queued right after a runner poll was answered, so its next poll comes an
  // interval later, long after the reference has taken the job.
  await nextRunnerPoll(session, coordinator.requests.length, UPLOAD_CHECK_INTERVAL_S * 1000 + WAIT_TIMEOUT_MS);
  const expected = coordinator.enqueueJob(jobSpec('reference', 'true', 600));
  const ref = await uploadAsReference(coordinator, RUNNER_TOKEN, expected, done.trace);
  checkDone(ref);
  if (!ref.trace.equals(done.trace)) {
    throw new Error(`reference job ${ref.id}: the coordinator holds ${ref.trace.length} bytes, not the ${done.trace.length} sent`);
  }
  const reference = throughput(ref);
  return {
    bytes: done.trace.length,
    runnerMBps: runner.MBps,
    referenceMBps: reference.MBps,
    ratio: runner.MBps / reference.MBps,
    runnerSpanMs: runner.spanMs,
    referenceSpanMs: reference.spanMs,
    patches: patches.length,
    rejected: patches.filter((p) => !accepted(p)).map((p) => p.status),
    gap,
    keepAlives: done.updates.filter((u) => u.body['state'] === 'running').length,
  };
}

async function uploadRuns(spec: RuntimeSpec, runs: number, onRun: (run: UploadRun) => void, problems: string[]): Promise<void> {
  const output = expectedOutput();
  const session = await startSession(spec, UPLOAD_OPTIONS, WAIT_TIMEOUT_MS);
  try {
    for (let i = 0; i < runs; i++) onRun(await uploadRun(session, output));
  } finally {
    const exit = await stopSession(session);
    problems.push(...session.problems.map((line) => `upload: ${line}`));
    if (exit !== 'code 0') problems.push(`upload: runner did not stop cleanly on SIGTERM: ${exit}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Per runtime

interface RuntimeResult {
  spec: RuntimeSpec;
  version: string;
  pickup: Map<number, PickupResult>;
  upload: UploadRun[];
  problems: string[];
  errors: string[];
}

async function benchRuntime(spec: RuntimeSpec, root: string, runs: number, uploadOnly: boolean): Promise<RuntimeResult> {
  const result: RuntimeResult = { spec, version: '?', pickup: new Map(), upload: [], problems: [], errors: [] };
  const name = spec.name;
  try {
    result.version = await checkedVersionOf(spec, root);
  } catch (err) {
    result.errors.push(message(err));
    return result;
  }
  log(`== ${name} ${result.version} (load average ${loadText()})`);

  for (const checkIntervalS of uploadOnly ? [] : CHECK_INTERVALS_S) {
    const pickup: PickupResult = { warmup: undefined, runs: [] };
    result.pickup.set(checkIntervalS, pickup);
    try {
      await pickupRuns(spec, checkIntervalS, runs, pickup, result.problems);
    } catch (err) {
      result.errors.push(`1. pick-up, check_interval=${checkIntervalS}: ${message(err)}`);
    }
  }

  try {
    let i = 0;
    await uploadRuns(spec, runs, (run) => {
      result.upload.push(run);
      log(
        `  ${name} upload run ${++i}/${runs}: runner ${fmt(run.runnerMBps, 0)} MB/s (${run.patches} PATCHes in ${fmt(run.runnerSpanMs, 0)} ms, ` +
          `largest gap ${fmt(run.gap.ms, 0)} ms after ${fmt(run.gap.bytesBefore / MiB, 1)} MiB: ${
            fmt(run.gap.toArrivalMs, 0)
          } ms to the next PATCH's arrival + ${fmt(run.gap.receivingMs, 0)} ms receiving it), ` +
          `reference ${fmt(run.referenceMBps, 0)} MB/s (${fmt(run.referenceSpanMs, 0)} ms), ratio ${fmt(run.ratio, 3)}`,
      );
    }, result.problems);
  } catch (err) {
    result.errors.push(`2. log upload: ${message(err)}`);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Report

function loadText(): string {
  return loadavg().map((x) => x.toFixed(2)).join(' ');
}

function runtimeTable(r: RuntimeResult, runs: number): string {
  const rows: string[][] = [['measurement', 'median [min-max]', 'unit', 'notes']];
  for (const checkIntervalS of CHECK_INTERVALS_S) {
    if (!r.pickup.has(checkIntervalS)) continue;
    const p = r.pickup.get(checkIntervalS)?.runs ?? [];
    const head = `1. pick-up, check_interval=${checkIntervalS} s`;
    rows.push([
      `${head}: enqueue→first byte`,
      spreadOf(p.map((x) => x.totalMs), 0),
      'ms',
      `${p.length}/${runs} runs (after 1 warm-up job), queued at phases spread evenly over the poll interval`,
    ]);
    rows.push([
      `${head}: enqueue→201`,
      spreadOf(p.map((x) => x.toRequestMs), 0),
      'ms',
      `waiting for the next poll: ~interval/2 = ${fmt(checkIntervalS * 500, 0)} ms on average, set by check_interval`,
    ]);
    rows.push([`${head}: 201→first byte`, spreadOf(p.map((x) => x.ownMs), 1), 'ms', "the runner's own start of the job (its overhead)"]);
  }
  const u = r.upload;
  const note = `${u.length}/${runs} runs, trace ${u[0]?.bytes ?? '?'} bytes`;
  rows.push([
    '2. log upload: runner',
    spreadOf(u.map((x) => x.runnerMBps), 0),
    'MB/s',
    `${note}; first→last accepted PATCH ${spreadOf(u.map((x) => x.runnerSpanMs), 0)} ms`,
  ]);
  rows.push([
    '2. log upload: reference',
    spreadOf(u.map((x) => x.referenceMBps), 0),
    'MB/s',
    `bench's own client, same bytes, same coordinator; ${spreadOf(u.map((x) => x.referenceSpanMs), 0)} ms`,
  ]);
  rows.push(['2. log upload: runner / reference', spreadOf(u.map((x) => x.ratio), 3), 'ratio', 'median of per-run ratios']);
  const rejected = u.flatMap((x) => x.rejected);
  rows.push([
    '2. runner PATCHes per job',
    spreadOf(u.map((x) => x.patches), 0),
    'count',
    `${rejected.length === 0 ? 'all answered 202' : `answers other than 202: ${rejected.join(', ')}`}; keep-alive PUTs while running: ${
      u.reduce((n, x) => n + x.keepAlives, 0)
    } in all`,
  ]);
  rows.push([
    '2. log upload: runner without its largest gap',
    spreadOf(u.map((x) => x.bytes / (x.runnerSpanMs - x.gap.ms) / 1e3), 0),
    'MB/s',
    'trace bytes / (first→last accepted PATCH - the largest gap)',
  ]);
  rows.push([
    '2. runner largest gap between PATCHes',
    spreadOf(u.map((x) => x.gap.ms), 0),
    'ms',
    `answer to answer; began after ${spreadOf(u.map((x) => x.gap.bytesBefore / MiB), 1)} MiB; until the next PATCH arrived ${
      spreadOf(u.map((x) => x.gap.toArrivalMs), 0)
    } ms, receiving it ${spreadOf(u.map((x) => x.gap.receivingMs), 0)} ms`,
  ]);
  return table(rows);
}

function notes(r: RuntimeResult): string[] {
  const out: string[] = [];
  for (const [checkIntervalS, p] of r.pickup) {
    if (p.warmup !== undefined) {
      out.push(
        `warm-up job at check_interval=${checkIntervalS} (not counted): 201→first byte ${fmt(p.warmup.ownMs, 1)} ms, enqueue→first byte ${
          fmt(p.warmup.totalMs, 0)
        } ms`,
      );
    }
  }
  const counts = new Map<string, number>();
  for (const line of r.problems) {
    const key = line.replace(/^(\S+: )\S+ +/, '$1'); // without the timestamp
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  if (counts.size === 0) out.push('runner log: no WARN or ERROR lines');
  for (const [line, n] of counts) out.push(`runner log${n > 1 ? ` (${n}x)` : ''}: ${line}`);
  return out;
}

function usage(): string {
  return 'usage: node dist/bench/gitlab.js [node] [bun] [deno] [--runs N] [--upload-only]';
}

function commandsText(root: string, specs: RuntimeSpec[], runs: number): string {
  const shown = (p: string): string => (p.startsWith(root) ? relative(root, p) : p);
  const indent = (text: string): string => text.trimEnd().split('\n').map((line) => (line === '' ? '' : `      ${line}`)).join('\n');
  const url = 'http://127.0.0.1:PORT';
  const lines: string[] = [];
  lines.push(
    `command: ${shown(process.execPath)} ${shown(fileURLToPath(import.meta.url))}${
      process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''
    }  (cwd ${process.cwd()}, ${runs} run(s))`,
  );
  lines.push(`runner, started with cwd = a fresh working directory ${join(tmpdir(), 'runner-bench-jobs-XXXXXX')} (removed afterwards):`);
  for (const spec of specs) lines.push(`  ${spec.name.padEnd(4)} ${[spec.bin, ...runnerCommand(spec)].join(' ')}`);
  lines.push(`coordinator: TestCoordinator (test/support/coordinator/) in this process at ${url}, runner token ${RUNNER_TOKEN}`);
  lines.push(`1. pick-up latency: trace update interval ${PICKUP_TRACE_INTERVAL_S} s; config.toml, for check_interval = ${CHECK_INTERVALS_S.join(', ')}:`);
  lines.push(indent(sessionConfigToml(url, pickupOptions(CHECK_INTERVALS_S[0]))));
  lines.push(`   job: script [${JSON.stringify(PICKUP_COMMAND)}], variables GIT_STRATEGY=none`);
  lines.push(`2. log upload: trace update interval ${UPLOAD_TRACE_INTERVAL_S} s; config.toml:`);
  lines.push(indent(sessionConfigToml(url, UPLOAD_OPTIONS)));
  lines.push(`   job (${UPLOAD_BYTES} bytes of output): script [${JSON.stringify(UPLOAD_COMMAND)}], variables GIT_STRATEGY=none`);
  lines.push(
    `   reference: this process, POST /api/v4/jobs/request, then the runner's trace bytes in sequential ${PATCH_BYTES}-byte PATCHes (node:http, keep-alive), final PUT`,
  );
  return lines.join('\n');
}

function parseArgs(argv: string[]): { runtimes: RuntimeName[]; runs: number; uploadOnly: boolean } {
  const { runtimes, runs, switches } = parseBenchArgs(argv, usage(), DEFAULT_RUNS, [['--upload-only']]);
  return { runtimes, runs, uploadOnly: switches.has('--upload-only') };
}

async function main(): Promise<number> {
  const { runtimes, runs, uploadOnly } = parseArgs(process.argv.slice(2));
  const root = packageRoot();
  const specs = runtimes.map((r) => specFor(r, root));
  const loadBefore = loadText();
  log(`bench: ${runs} run(s) per measurement for ${runtimes.join(', ')}`);
  const results: RuntimeResult[] = [];
  for (const spec of specs) results.push(await benchRuntime(spec, root, runs, uploadOnly));

  const out: string[] = [commandsText(root, specs, runs), `load average (1, 5, 15 min): ${loadBefore} at the start, ${loadText()} at the end`, ''];
  for (const r of results) {
    out.push(`${r.spec.name} ${r.version}`);
    out.push(runtimeTable(r, runs).split('\n').map((line) => `  ${line}`).join('\n'));
    for (const note of notes(r)) out.push(`  note: ${note}`);
    for (const error of r.errors) out.push(`  FAILED ${error.split('\n').join('\n    ')}`);
    out.push('');
  }
  out.push("enqueue→201 is the wait for the runner's next poll: set by check_interval (~interval/2 on average), not by the runtime.");
  out.push("201→first byte is the runner's own overhead.");
  out.push("The runner's largest gap between PATCHes, when it begins after 0.0 MiB: the job's set-up (its stages' login shells) between");
  out.push("its first PATCH (the header line, sent at once) and the first whole 1 MiB slice of output. The runner's MB/s includes that");
  out.push('set-up and the job\'s printing time; "without its largest gap" is closer to its upload rate proper.');
  out.push('Figures only: nothing here passes or fails on time.');
  console.log(out.join('\n'));
  return results.some((r) => r.errors.length > 0) ? 1 : 0;
}

await runBench(main);
