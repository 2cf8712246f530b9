// Job benchmark for the runner on Node, Bun and Deno: how fast jobs go through the local queue,
// how fast a job's log is written, and how much the runner's memory grows with the log's size.
//
// For each runtime it measures:
//   1. queue throughput: 100 trivial jobs (`script = ["true"]`) are enqueued (enqueue() of
//      src/sources/local/queue.ts) into a fresh working directory before the runner starts, at
//      config.toml `concurrent` = 1, 2 and 8 (`check_interval = 1`); then the runner is started
//      and every result awaited with waitForResult(). Two figures, in jobs/s:
//        start→finish  100 / (latest finished_at - earliest started_at) of the 100 results
//                      (done/ID.json, the runner's own clock, ms resolution)
//        ready→seen    100 / (bench saw the last result - bench saw the "Runner ready" line),
//                      which adds the bench's result polling (every 10 ms) and claiming at start
//      Next to them, the runner's CPU per job (utime + stime of /proc/PID/stat from "Runner
//      ready" to the last result seen, / 100) and its job processes' (cutime + cstime: the
//      stages' shells and what they ran, counted as the runner reaps them), in ms.
//      A fresh runner and working directory per measurement; the concurrency levels are
//      interleaved (1, 2, 8, 1, 2, 8, ...) so drift on the machine affects all alike. With
//      --reference DIR (another checkout, built), each measurement of section 1 is also made
//      with DIR's runner, interleaved with this tree's (which goes first alternates per run),
//      and the ratio this / reference of each pair of runs is reported.
//   2. log throughput: a job printing 100 MiB of 100-byte lines (`yes` | `head -c`), sized so its
//      whole log (the runner's `$ command` echo line + output) is exactly 100 MiB, with
//      output_limit = 200 MiB so all of it is kept (checked: done/ID.log holds at least that
//      many bytes and no output_limit notice; lines the runner may add after the job are
//      not counted).
//      MB/s (10^6 bytes) = log bytes / the job's wall time (duration_seconds of done/ID.json,
//      prepare and cleanup stages included). Next to it, measured in the same run, the physical
//      reference: the same command piped to `cat > file` by `bash -c` (spawn to exit, in the same
//      directory under /tmp), and the ratio runner / reference. One runner for all runs of a
//      runtime; the log and reference files are deleted after each run.
//   3. runner memory growth: in one runner process (output_limit = 1048576 KiB = 1 GiB) run a job
//      whose log is exactly 100 MiB, then one whose log is exactly 1 GiB (both kept whole),
//      reading VmHWM (peak RSS) from /proc/PID/status of the runner 1 s after it is ready
//      (before the jobs), after the 100 MiB job and after the 1 GiB job. Reported: the growth
//      over "before" after each job, and their difference. The issue's target is that the 1 GiB
//      growth stays within 16 MiB of the 100 MiB growth (shown as met/not met, informational).
//      Needs 5 GiB free in the temp directory (`df -Pk`), else it is skipped with a message.
//      A fresh runner and working directory per run; the logs are deleted as soon as measured.
// Every figure is the median [min-max] over --runs runs (default 3). The runner runs with its
// defaults otherwise (pprof on, i.e. heap sampling on Node and Deno; log_level info).
//
// Run it from the repository root (with the defaults about 40 s per runtime, 2-3 minutes for all
// three, on a 2-core machine):
//   npm run build:bench && node dist/bench/jobs.js
//   node dist/bench/jobs.js bun deno --runs 5        # restrict runtimes, change the run count
//   node dist/bench/jobs.js node --no-rss            # skip section 3 (writes 1.1 GiB per run)
//   node dist/bench/jobs.js --c8-only --runs 5       # section 1 at concurrent = 8 only (issue 17's figure)
//   node dist/bench/jobs.js --c8-only --reference /tmp/before   # ... against another checkout, interleaved
//
// It never passes or fails on time or memory: it exits 0 after printing, or 1 if a measurement
// could not be made (the reason is printed). Every spawned process (runners, their jobs, the
// reference shells) is killed on every exit path, the scratch directories under /tmp are removed,
// and every wait is bounded.
//
// The helpers live in bench/lib/: jobs-runner.ts (working directories, runner start/stop with
// its job processes, /proc), jobs-payload.ts (job files and commands), and the shared
// processes.ts, runtimes.ts and stats.ts.

import { parseBenchArgs } from './lib/args.ts';
import { packageRoot } from '../src/version.ts';
import { type DoneRecord, enqueue, logPath, waitForResult } from '../src/sources/local/queue.ts';
import { Buffer } from 'node:buffer';
import { closeSync, existsSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { GiB, jobToml, KiB, MiB, printCommandForLog, referenceScript, TRIVIAL_JOB_TOML } from './lib/jobs-payload.ts';
import {
  killQueueRunner,
  makeWorkDir,
  processCpu,
  type QueueRunner,
  removeWorkDir,
  runnerCommand,
  startQueueRunner,
  stopQueueRunner,
} from './lib/jobs-runner.ts';
import { killAll, killSpawnedOnExit, runToExit } from './lib/processes.ts';
import { type RuntimeName, type RuntimeSpec, specFor, versionOf } from './lib/runtimes.ts';
import { median, table } from './lib/stats.ts';

// Before anything is spawned, so no exit path of the bench can leave a runner or a job behind.
killSpawnedOnExit();

const DEFAULT_RUNS = 3;
const CONCURRENCY = [1, 2, 8] as const;
const C8_ONLY_SKIPPED = 'skipped (--c8-only)';
const TRIVIAL_JOBS = 100;
const LOG_BYTES = 100 * MiB;
const BIG_LOG_BYTES = GiB;
/** output_limit of section 2: room for the whole 100 MiB log. */
const LOG_OUTPUT_LIMIT_KIB = (2 * LOG_BYTES) / KiB;
/** output_limit of section 3: the maximum, exactly the 1 GiB log. */
const RSS_OUTPUT_LIMIT_KIB = BIG_LOG_BYTES / KiB;
const MIN_FREE_KIB = (5 * GiB) / KiB;
const HWM_TARGET_KIB = 16 * 1024;
const SETTLE_BEFORE_HWM_MS = 1_000;
/** The start of the notice the runner writes when it cuts a log (src/trace/job-log.ts). */
const LIMIT_NOTICE = "[runner] Job's log exceeded limit of";

const QUEUE_TIMEOUT_MS = 120_000;
const LOG_JOB_TIMEOUT_MS = 120_000;
const BIG_JOB_TIMEOUT_MS = 600_000;
const JOB_TIMEOUT = '15m';
const RESULT_POLL_MS = 10;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

// ---------------------------------------------------------------------------------------------
// Configuration files

function configToml(concurrent: number, outputLimitKiB?: number): string {
  let text = `check_interval = 1\nconcurrent = ${concurrent}\n`;
  if (outputLimitKiB !== undefined) text += `\n[[runners]]\nname = "local"\noutput_limit = ${outputLimitKiB}\n`;
  return text;
}

// ---------------------------------------------------------------------------------------------
// Jobs

/** The first bytes of a job's log, for error messages. */
function logHead(queueDir: string, id: string): string {
  try {
    const fd = openSync(logPath(queueDir, id), 'r');
    try {
      const buffer = Buffer.alloc(1000);
      const n = readSync(fd, buffer, 0, buffer.length, 0);
      return buffer.subarray(0, n).toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    return `(log unreadable: ${message(err)})`;
  }
}

/** The last `bytes` bytes of a job's log. */
function logTail(queueDir: string, id: string, bytes: number): string {
  const path = logPath(queueDir, id);
  const fd = openSync(path, 'r');
  try {
    const size = statSync(path).size;
    const buffer = Buffer.alloc(Math.min(bytes, size));
    const n = readSync(fd, buffer, 0, buffer.length, size - buffer.length);
    return buffer.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

function checkSuccess(queueDir: string, result: DoneRecord): void {
  if (result.state !== 'success') {
    throw new Error(
      `job ${result.id} ended ${result.state} (${result.failure_reason ?? '?'}, exit code ${String(result.exit_code)}); log starts:\n${
        logHead(queueDir, result.id)
      }`,
    );
  }
}

/** Enqueues one job, waits (bounded) for its result, checks it succeeded and its log is exactly logBytes; deletes the log. */
async function runSizedJob(queueDir: string, runner: QueueRunner, name: string, logBytes: number, timeoutMs: number): Promise<DoneRecord> {
  const { command } = printCommandForLog(logBytes);
  const { id } = await enqueue(queueDir, jobToml(name, command, JOB_TIMEOUT), `bench job ${name}`);
  let result: DoneRecord;
  try {
    result = await waitForResult(queueDir, id, { intervalMs: 50, timeoutMs });
  } catch (err) {
    throw new Error(`${message(err)}\n${runner.tail()}`);
  }
  try {
    checkSuccess(queueDir, result);
    // The runner may append lines of its own after the job's output (not subject to output_limit):
    // the log must hold at least the echo line and the output, and no output_limit notice.
    const size = statSync(logPath(queueDir, id)).size;
    const tail = logTail(queueDir, id, 64 * KiB);
    if (size < logBytes || tail.includes(LIMIT_NOTICE)) {
      throw new Error(
        `job ${id}: log is ${size} bytes, expected at least ${logBytes}${tail.includes(LIMIT_NOTICE) ? ' and it was cut by output_limit' : ''}; log ends:\n${
          tail.slice(-500)
        }`,
      );
    }
  } finally {
    rmSync(logPath(queueDir, id), { force: true });
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// 1. Queue throughput

interface QueueRun {
  /** Earliest started_at to latest finished_at of the results. */
  startToFinishMs: number;
  /** "Runner ready" seen to the last result seen, by the bench. */
  readyToSeenMs: number;
  /** The runner's own CPU over that span, per job (NaN where /proc cannot tell). */
  runnerCpuMsPerJob: number;
  /** Its job processes' CPU (those it reaped over that span), per job. */
  childrenCpuMsPerJob: number;
}

async function queueRun(spec: RuntimeSpec, concurrent: number): Promise<QueueRun> {
  const dir = makeWorkDir(configToml(concurrent));
  try {
    const queueDir = join(dir, 'queue');
    const ids: string[] = [];
    for (let i = 0; i < TRIVIAL_JOBS; i++) ids.push((await enqueue(queueDir, TRIVIAL_JOB_TOML, `bench trivial job ${i}`)).id);
    const runner = await startQueueRunner(spec, dir);
    try {
      const cpuAtReady = processCpu(runner.pid);
      const deadline = performance.now() + QUEUE_TIMEOUT_MS;
      const results: DoneRecord[] = [];
      for (const id of ids) {
        try {
          results.push(await waitForResult(queueDir, id, { intervalMs: RESULT_POLL_MS, timeoutMs: Math.max(0, deadline - performance.now()) }));
        } catch (err) {
          throw new Error(`${message(err)} (${results.length} of ${TRIVIAL_JOBS} done)\n${runner.tail()}`);
        }
      }
      const seenAt = performance.now();
      const cpuAtEnd = processCpu(runner.pid);
      const perJobMs = (seconds: (cpu: NonNullable<typeof cpuAtEnd>) => number): number =>
        cpuAtReady === undefined || cpuAtEnd === undefined ? NaN : (seconds(cpuAtEnd) - seconds(cpuAtReady)) * 1000 / TRIVIAL_JOBS;
      for (const result of results) checkSuccess(queueDir, result);
      const first = Math.min(...results.map((r) => Date.parse(r.started_at)));
      const last = Math.max(...results.map((r) => Date.parse(r.finished_at)));
      const exit = await stopQueueRunner(runner);
      if (exit !== 'code 0') throw new Error(`runner did not stop cleanly on SIGTERM: ${exit}\n${runner.tail()}`);
      return {
        startToFinishMs: last - first,
        readyToSeenMs: seenAt - runner.readyAt,
        runnerCpuMsPerJob: perJobMs((cpu) => cpu.self),
        childrenCpuMsPerJob: perJobMs((cpu) => cpu.children),
      };
    } finally {
      await killQueueRunner(runner);
    }
  } finally {
    removeWorkDir(dir);
  }
}

// ---------------------------------------------------------------------------------------------
// 2. Log throughput

interface LogRun {
  jobSeconds: number;
  referenceSeconds: number;
  jobMBps: number;
  referenceMBps: number;
  ratio: number;
}

/** The physical reference: `bash -c '... COMMAND | cat > reference.out'` with cwd dir, spawn to exit in ms; the file is deleted. */
async function referenceRun(command: string, outputBytes: number, dir: string): Promise<number> {
  const file = join(dir, 'reference.out');
  try {
    const ref = await runToExit('bash', ['-c', referenceScript(command, 'reference.out')], dir);
    if (ref.code !== 0) throw new Error(`reference shell failed (${ref.signal ?? `code ${String(ref.code)}`}): ${ref.stderr.trim()}`);
    const size = statSync(file).size;
    if (size !== outputBytes) throw new Error(`reference wrote ${size} bytes, expected ${outputBytes}`);
    return ref.ms;
  } finally {
    rmSync(file, { force: true });
  }
}

async function logRuns(spec: RuntimeSpec, runs: number, onRun: (run: LogRun) => void): Promise<void> {
  const dir = makeWorkDir(configToml(1, LOG_OUTPUT_LIMIT_KIB));
  try {
    const queueDir = join(dir, 'queue');
    const { command, outputBytes } = printCommandForLog(LOG_BYTES);
    const runner = await startQueueRunner(spec, dir);
    try {
      for (let i = 0; i < runs; i++) {
        const referenceMs = await referenceRun(command, outputBytes, dir);
        const result = await runSizedJob(queueDir, runner, 'log-100MiB', LOG_BYTES, LOG_JOB_TIMEOUT_MS);
        const jobSeconds = result.duration_seconds;
        const referenceSeconds = referenceMs / 1000;
        const jobMBps = LOG_BYTES / jobSeconds / 1e6;
        const referenceMBps = outputBytes / referenceSeconds / 1e6;
        onRun({ jobSeconds, referenceSeconds, jobMBps, referenceMBps, ratio: jobMBps / referenceMBps });
      }
      const exit = await stopQueueRunner(runner);
      if (exit !== 'code 0') throw new Error(`runner did not stop cleanly on SIGTERM: ${exit}\n${runner.tail()}`);
    } finally {
      await killQueueRunner(runner);
    }
  } finally {
    removeWorkDir(dir);
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Memory growth

interface RssRun {
  hwmBefore: number;
  hwmAfterSmall: number;
  hwmAfterBig: number;
  rssBefore: number;
  rssAfterSmall: number;
  rssAfterBig: number;
  smallMBps: number;
  bigMBps: number;
}

function readKiB(runner: QueueRunner, field: 'VmHWM' | 'VmRSS'): number {
  const memory = runner.memory();
  const bytes = field === 'VmHWM' ? memory?.peakResidentBytes : memory?.residentBytes;
  if (bytes === undefined) throw new Error(`cannot read ${field} from /proc/${runner.pid}/status\n${runner.tail()}`);
  return bytes / 1024;
}

/** Free KiB of the file system holding dir, from `df -Pk`. */
async function freeKiB(dir: string): Promise<number> {
  const r = await runToExit('df', ['-Pk', dir], dir);
  const fields = (r.stdout.trim().split('\n')[1] ?? '').trim().split(/\s+/);
  const available = Number(fields[3]);
  if (r.code !== 0 || !Number.isFinite(available)) throw new Error(`df -Pk ${dir} failed or gave no "Available" column: ${(r.stdout + r.stderr).trim()}`);
  return available;
}

async function rssRun(spec: RuntimeSpec): Promise<RssRun> {
  const dir = makeWorkDir(configToml(1, RSS_OUTPUT_LIMIT_KIB));
  try {
    const queueDir = join(dir, 'queue');
    const runner = await startQueueRunner(spec, dir);
    try {
      await sleep(SETTLE_BEFORE_HWM_MS);
      const hwmBefore = readKiB(runner, 'VmHWM');
      const rssBefore = readKiB(runner, 'VmRSS');
      const small = await runSizedJob(queueDir, runner, 'log-100MiB', LOG_BYTES, LOG_JOB_TIMEOUT_MS);
      const hwmAfterSmall = readKiB(runner, 'VmHWM');
      const rssAfterSmall = readKiB(runner, 'VmRSS');
      const big = await runSizedJob(queueDir, runner, 'log-1GiB', BIG_LOG_BYTES, BIG_JOB_TIMEOUT_MS);
      const hwmAfterBig = readKiB(runner, 'VmHWM');
      const rssAfterBig = readKiB(runner, 'VmRSS');
      const exit = await stopQueueRunner(runner);
      if (exit !== 'code 0') throw new Error(`runner did not stop cleanly on SIGTERM: ${exit}\n${runner.tail()}`);
      return {
        hwmBefore,
        hwmAfterSmall,
        hwmAfterBig,
        rssBefore,
        rssAfterSmall,
        rssAfterBig,
        smallMBps: LOG_BYTES / small.duration_seconds / 1e6,
        bigMBps: BIG_LOG_BYTES / big.duration_seconds / 1e6,
      };
    } finally {
      await killQueueRunner(runner);
    }
  } finally {
    removeWorkDir(dir);
  }
}

// ---------------------------------------------------------------------------------------------
// Per runtime

interface RuntimeResult {
  spec: RuntimeSpec;
  version: string;
  queue: Map<number, QueueRun[]>;
  /** Section 1 with the --reference checkout's runner; empty without one. */
  referenceQueue: Map<number, QueueRun[]>;
  log: LogRun[];
  rss: RssRun[];
  errors: string[];
  rssSkipped: string | undefined;
}

const fmt = (x: number, digits: number): string => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
const spreadOf = (xs: number[], digits: number): string =>
  xs.length === 0 ? 'n/a' : `${fmt(median(xs), digits)} [${fmt(Math.min(...xs), digits)}-${fmt(Math.max(...xs), digits)}]`;
const mib = (kib: number): string => fmt(kib / 1024, 1);
const spreadMiBOf = (kib: number[]): string => spreadOf(kib.map((k) => k / 1024), 1);
const log = (text: string): void => {
  process.stderr.write(`${text}\n`);
};

/** Throws unless the runner's entry file `spec` starts is there (Node's is built). */
function checkBuilt(spec: RuntimeSpec, root: string): void {
  const entry = spec.runnerArgs.find((arg) => arg.endsWith('runner.js') || arg.endsWith('runner.ts')) ?? '';
  if (!existsSync(entry)) throw new Error(`${entry} is missing${spec.name === 'node' ? ` (run \`npm run build\` in ${root})` : ''}`);
}

async function benchRuntime(
  spec: RuntimeSpec,
  root: string,
  options: { runs: number; withRss: boolean; c8Only: boolean; reference: string | undefined },
): Promise<RuntimeResult> {
  const { runs, withRss, c8Only } = options;
  const levels = c8Only ? [8] : CONCURRENCY;
  const result: RuntimeResult = { spec, version: '?', queue: new Map(), referenceQueue: new Map(), log: [], rss: [], errors: [], rssSkipped: undefined };
  const name = spec.name;
  const referenceSpec = options.reference === undefined ? undefined : specFor(spec.name, options.reference);
  try {
    checkBuilt(spec, root);
    if (referenceSpec !== undefined) checkBuilt(referenceSpec, options.reference!);
    result.version = await versionOf(spec, root);
  } catch (err) {
    result.errors.push(message(err));
    return result;
  }
  log(`== ${name} ${result.version}`);

  // 1.
  const subjects = [
    { spec, queue: result.queue, label: '' },
    ...(referenceSpec === undefined ? [] : [{ spec: referenceSpec, queue: result.referenceQueue, label: ' (reference)' }]),
  ];
  try {
    for (let i = 1; i <= runs; i++) {
      for (const c of levels) {
        // Which tree goes first alternates, so a drift in the machine's load favours neither.
        for (const subject of i % 2 === 1 ? subjects : [...subjects].reverse()) {
          const run = await queueRun(subject.spec, c);
          const list = subject.queue.get(c) ?? [];
          list.push(run);
          subject.queue.set(c, list);
          log(
            `  ${name}${subject.label} queue c=${c} run ${i}/${runs}: start→finish ${fmt(run.startToFinishMs, 0)} ms (${
              fmt(TRIVIAL_JOBS / run.startToFinishMs * 1000, 1)
            } jobs/s), ready→seen ${fmt(run.readyToSeenMs, 0)} ms (${fmt(TRIVIAL_JOBS / run.readyToSeenMs * 1000, 1)} jobs/s); CPU per job: runner ${
              fmt(run.runnerCpuMsPerJob, 1)
            } ms, job processes ${fmt(run.childrenCpuMsPerJob, 1)} ms`,
          );
        }
      }
    }
  } catch (err) {
    result.errors.push(`1. queue throughput: ${message(err)}`);
  }

  if (c8Only) {
    result.rssSkipped = C8_ONLY_SKIPPED;
    return result;
  }

  // 2.
  try {
    let i = 0;
    await logRuns(spec, runs, (run) => {
      result.log.push(run);
      log(
        `  ${name} log run ${++i}/${runs}: job ${fmt(run.jobSeconds, 3)} s = ${fmt(run.jobMBps, 0)} MB/s, reference ${fmt(run.referenceSeconds, 3)} s = ${
          fmt(run.referenceMBps, 0)
        } MB/s, ratio ${fmt(run.ratio, 3)}`,
      );
    });
  } catch (err) {
    result.errors.push(`2. log throughput: ${message(err)}`);
  }

  // 3.
  if (!withRss) {
    result.rssSkipped = 'skipped (--no-rss)';
  } else {
    try {
      for (let i = 1; i <= runs; i++) {
        const free = await freeKiB(tmpdir());
        if (free < MIN_FREE_KIB) {
          result.rssSkipped = `skipped: ${mib(free)} MiB free in ${tmpdir()} (df -Pk), ${mib(MIN_FREE_KIB)} MiB needed`;
          log(`  ${name} rss: ${result.rssSkipped}`);
          break;
        }
        const run = await rssRun(spec);
        result.rss.push(run);
        log(
          `  ${name} rss run ${i}/${runs}: VmHWM before ${mib(run.hwmBefore)} MiB, after 100 MiB job ${mib(run.hwmAfterSmall)} MiB, after 1 GiB job ${
            mib(run.hwmAfterBig)
          } MiB; ` +
            `VmRSS ${mib(run.rssBefore)}/${mib(run.rssAfterSmall)}/${mib(run.rssAfterBig)} MiB; jobs at ${fmt(run.smallMBps, 0)} and ${
              fmt(run.bigMBps, 0)
            } MB/s`,
        );
      }
    } catch (err) {
      result.errors.push(`3. memory growth: ${message(err)}`);
    }
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Report

/** Section 1's rows for one tree's runs at one concurrency. */
function queueRows(label: string, list: readonly QueueRun[], note: string): string[][] {
  return [
    [`${label}: start→finish`, spreadOf(list.map((x) => TRIVIAL_JOBS / x.startToFinishMs * 1000), 1), 'jobs/s', note],
    [`${label}: ready→seen`, spreadOf(list.map((x) => TRIVIAL_JOBS / x.readyToSeenMs * 1000), 1), 'jobs/s', note],
    [`${label}: runner CPU per job`, spreadOf(list.map((x) => x.runnerCpuMsPerJob), 1), 'ms', 'utime + stime, ready → last result'],
    [`${label}: job processes' CPU per job`, spreadOf(list.map((x) => x.childrenCpuMsPerJob), 1), 'ms', 'cutime + cstime (reaped by the runner)'],
  ];
}

function runtimeTable(r: RuntimeResult, runs: number): string {
  const rows: string[][] = [['measurement', 'median [min-max]', 'unit', 'notes']];
  for (const c of CONCURRENCY) {
    if (!r.queue.has(c)) continue;
    const list = r.queue.get(c) ?? [];
    const note = `${list.length}/${runs} runs of ${TRIVIAL_JOBS} jobs`;
    rows.push(...queueRows(`1. queue, concurrent=${c}`, list, note));
    const reference = r.referenceQueue.get(c);
    if (reference === undefined) continue;
    rows.push(...queueRows(`1. queue, concurrent=${c} (reference)`, reference, `${reference.length}/${runs} runs, interleaved`));
    // Runs i of both trees were made back to back: their ratio is the fairest comparison.
    const pairs = list.slice(0, reference.length).map((x, i) => [x, reference[i]!] as const);
    rows.push([
      `1. queue, concurrent=${c}: this / reference`,
      spreadOf(pairs.map(([x, ref]) => ref.startToFinishMs / x.startToFinishMs), 2),
      'ratio',
      'start→finish jobs/s, median of per-run ratios',
    ]);
    rows.push([
      `1. queue, concurrent=${c}: runner CPU this / reference`,
      spreadOf(pairs.map(([x, ref]) => x.runnerCpuMsPerJob / ref.runnerCpuMsPerJob), 2),
      'ratio',
      'CPU per job, median of per-run ratios',
    ]);
  }
  if (r.rssSkipped === C8_ONLY_SKIPPED) return table(rows);
  const l = r.log;
  rows.push(['2. log 100 MiB: runner job', spreadOf(l.map((x) => x.jobMBps), 0), 'MB/s', `job wall time ${spreadOf(l.map((x) => x.jobSeconds), 3)} s`]);
  rows.push([
    '2. log 100 MiB: reference | cat > file',
    spreadOf(l.map((x) => x.referenceMBps), 0),
    'MB/s',
    `shell wall time ${spreadOf(l.map((x) => x.referenceSeconds), 3)} s`,
  ]);
  rows.push(['2. log 100 MiB: runner / reference', spreadOf(l.map((x) => x.ratio), 3), 'ratio', `median of per-run ratios, ${l.length}/${runs} runs`]);
  if (r.rssSkipped !== undefined && r.rss.length === 0) {
    rows.push(['3. runner VmHWM growth', 'n/a', '', r.rssSkipped]);
  } else {
    const s = r.rss;
    const small = s.map((x) => x.hwmAfterSmall - x.hwmBefore);
    const big = s.map((x) => x.hwmAfterBig - x.hwmBefore);
    const diff = s.map((x) => x.hwmAfterBig - x.hwmAfterSmall);
    const met = diff.filter((d) => d <= HWM_TARGET_KIB).length;
    rows.push(['3. VmHWM before the jobs', spreadMiBOf(s.map((x) => x.hwmBefore)), 'MiB', `${s.length}/${runs} runs, one runner process per run`]);
    rows.push(['3. VmHWM growth after 100 MiB job', spreadMiBOf(small), 'MiB', `over "before"; job at ${spreadOf(s.map((x) => x.smallMBps), 0)} MB/s`]);
    rows.push(['3. VmHWM growth after 1 GiB job', spreadMiBOf(big), 'MiB', `over "before"; job at ${spreadOf(s.map((x) => x.bigMBps), 0)} MB/s`]);
    rows.push(['3. growth 1 GiB - growth 100 MiB', spreadMiBOf(diff), 'MiB', `target <= ${mib(HWM_TARGET_KIB)} MiB: met in ${met}/${s.length} runs`]);
    if (r.rssSkipped !== undefined) rows.push(['3. (later runs)', 'n/a', '', r.rssSkipped]);
  }
  return table(rows);
}

function usage(): string {
  return 'usage: node dist/bench/jobs.js [node] [bun] [deno] [--runs N] [--no-rss] [--c8-only] [--reference DIR]';
}

interface Options {
  runtimes: RuntimeName[];
  runs: number;
  withRss: boolean;
  c8Only: boolean;
  /** Another checkout whose runner section 1 also measures, interleaved. */
  reference: string | undefined;
}

function parseArgs(argv: string[]): Options {
  let reference: string | undefined;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--reference' || arg.startsWith('--reference=')) {
      reference = arg === '--reference' ? argv[++i] : arg.slice('--reference='.length);
      if (reference === undefined || reference === '' || !existsSync(join(reference, 'cmd', 'runner.ts'))) {
        console.error(
          `bench: --reference needs a checkout of the runner (a directory holding cmd/runner.ts), got ${JSON.stringify(reference ?? '')}\n${usage()}`,
        );
        process.exit(2);
      }
      reference = resolve(reference);
    } else {
      rest.push(arg);
    }
  }
  const { runtimes, runs, switches } = parseBenchArgs(rest, usage(), DEFAULT_RUNS, [['--no-rss'], ['--c8-only']]);
  return { runtimes, runs, withRss: !switches.has('--no-rss'), c8Only: switches.has('--c8-only'), reference };
}

function commandsText(root: string, specs: RuntimeSpec[], runs: number, withRss: boolean, reference: string | undefined): string {
  const shown = (p: string): string => (p.startsWith(root) ? relative(root, p) : p);
  const indent = (text: string): string => text.trimEnd().split('\n').map((line) => (line === '' ? '' : `      ${line}`)).join('\n');
  const tmp = join(tmpdir(), 'runner-bench-jobs-XXXXXX');
  const small = printCommandForLog(LOG_BYTES);
  const big = printCommandForLog(BIG_LOG_BYTES);
  const lines: string[] = [];
  lines.push(
    `command: ${shown(process.execPath)} ${shown(fileURLToPath(import.meta.url))}${
      process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''
    }  (cwd ${process.cwd()}, ${runs} run(s))`,
  );
  lines.push(`runner, started with cwd = a fresh working directory ${tmp} (removed afterwards), queue in its queue/:`);
  for (const spec of specs) lines.push(`  ${spec.name.padEnd(4)} ${[spec.bin, ...runnerCommand(spec)].join(' ')}`);
  if (reference !== undefined) {
    lines.push(`reference runner (section 1, interleaved with the above):`);
    for (const spec of specs) {
      const other = specFor(spec.name, reference);
      lines.push(`  ${spec.name.padEnd(4)} ${[other.bin, ...runnerCommand(other)].join(' ')}`);
    }
  }
  lines.push(`1. queue throughput: config.toml, for C = ${CONCURRENCY.join(', ')}:`);
  lines.push(indent(configToml(0).replace('concurrent = 0', 'concurrent = C')));
  lines.push(`   ${TRIVIAL_JOBS} x enqueue(queue, job, origin) before the runner starts, job:`);
  lines.push(indent(TRIVIAL_JOB_TOML));
  lines.push('2. log throughput: config.toml:');
  lines.push(indent(configToml(1, LOG_OUTPUT_LIMIT_KIB)));
  lines.push(`   job (log = echo line + ${small.outputBytes} bytes of output = ${LOG_BYTES} bytes):`);
  lines.push(indent(jobToml('log-100MiB', small.command, JOB_TIMEOUT)));
  lines.push('   reference (cwd = the working directory):');
  lines.push(indent(`bash -c ${JSON.stringify(referenceScript(small.command, 'reference.out'))}`));
  if (withRss) {
    lines.push(`3. memory growth: df -Pk ${tmpdir()} (>= ${mib(MIN_FREE_KIB)} MiB free), then config.toml:`);
    lines.push(indent(configToml(1, RSS_OUTPUT_LIMIT_KIB)));
    lines.push(
      `   VmHWM of /proc/PID/status ${SETTLE_BEFORE_HWM_MS} ms after "Runner ready", after the 100 MiB job (as in 2.), after the 1 GiB job (log = echo line + ${big.outputBytes} bytes = ${BIG_LOG_BYTES} bytes):`,
    );
    lines.push(indent(jobToml('log-1GiB', big.command, JOB_TIMEOUT)));
  } else {
    lines.push('3. memory growth: skipped (--no-rss)');
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  const { runtimes, runs, withRss, c8Only, reference } = parseArgs(process.argv.slice(2));
  const root = packageRoot();
  const specs = runtimes.map((r) => specFor(r, root));
  log(`bench: ${runs} run(s) per measurement for ${runtimes.join(', ')}${withRss ? ' (section 3 writes 1.1 GiB of logs per run under ' + tmpdir() + ')' : ''}`);
  const results: RuntimeResult[] = [];
  for (const spec of specs) results.push(await benchRuntime(spec, root, { runs, withRss, c8Only, reference }));

  const out: string[] = [commandsText(root, specs, runs, withRss, reference), ''];
  for (const r of results) {
    out.push(`${r.spec.name} ${r.version}`);
    out.push(runtimeTable(r, runs).split('\n').map((line) => `  ${line}`).join('\n'));
    for (const error of r.errors) out.push(`  FAILED ${error.split('\n').join('\n    ')}`);
    out.push('');
  }
  out.push('Figures only: nothing here passes or fails on time or memory.');
  console.log(out.join('\n'));
  return results.some((r) => r.errors.length > 0) ? 1 : 0;
}

main().then(
  (code) => {
    killAll();
    process.exitCode = code;
  },
  (err: unknown) => {
    killAll();
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
