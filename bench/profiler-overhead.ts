// Profiler overhead benchmark for the runner on Node, Bun and Deno.
//
// What it measures: how much the runner's Go-compatible profiling slows down real runner work,
// as ratios against the same runner with profiling off, per runtime. The work is GET /metrics
// served by the runner itself (no test hooks): the bench process scrapes it in a closed loop from
// `--clients` concurrent clients (default 3) over keep-alive connections (node:http Agent), and
// counts completed 200 answers per second over `--seconds` (default 5) after a 1 s warm-up.
// Three modes:
//   (a) no-pprof   `runner run --metrics-server 127.0.0.1:0 --no-pprof`: no profiling at all,
//                  the reference.
//   (b) heap       the default: V8 in-use heap sampling (every 512 KiB) from process start on
//                  Node and Deno. Bun has no heap sampling (its /debug/pprof/heap takes a heap
//                  snapshot on request), so on Bun (b) only differs from (a) by the routes
//                  existing; it is still measured, and (b)/(a) there shows the noise level.
//   (c) heap+cpu   the default plus a CPU profile (GET /debug/pprof/profile?seconds=N, 1 kHz)
//                  running during warm-up and measurement: N is longer than both, the profile
//                  is confirmed running (a second profile request is refused as "already in
//                  use"), and the request is aborted (profile discarded) after the window.
// A fresh runner process is started for every single measurement, and the modes are interleaved
// (a, b, c, a, b, c, ...) over `--rounds` rounds (default 5), because the machine this was
// written for has 2 cores and the load generator shares them with the runner. Reported per mode:
// scrapes/s and the ratio to (a) of the same round, then the median of those ratios. A second,
// less noisy figure is the runner's CPU time per scrape (utime+stime of the runner PID from
// /proc/PID/stat, 100 ticks/s, read at the start and end of the window), again as a ratio to (a).
// "runner CPU %" (runner CPU time / wall time of the window, % of one core) shows whether the
// runner was the bottleneck: near 100 % means throughput is the runner's limit. "client CPU %" is
// the bench process itself (the load generator), and "other CPU %" is everything else on the
// machine during the window (from /proc/stat, steal included): interference from other work,
// which makes a round's ratios unreliable when it is high.
//
// Run it from the repository root:
//   npm run build:bench && node dist/bench/profiler-overhead.js
//   node dist/bench/profiler-overhead.js deno --rounds 9 --seconds 10   # restrict, longer
//   node dist/bench/profiler-overhead.js node bun --clients 2
//
// It never passes or fails on time: it exits 0 after printing, or 1 if a runner could not be
// started or measured (the reason is printed). Every spawned process is killed on every exit
// path, and every wait is bounded.

import type { RunnerProcess } from '../test/support/runner-process.ts';
import { packageRoot } from '../src/version.ts';
import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { ClosedLoopLoad } from './lib/overhead-load.ts';
import {
  CLOCK_TICKS_PER_SECOND,
  HeldCpuProfile,
  machineBusyTicks,
  runnerArgs,
  RunnerStartError,
  type StartedRunner,
  startRunner,
} from './lib/overhead-runner.ts';
import { checkProcess, describeExit, killSpawnedOnExit, runBench, WAIT_TIMEOUT_MS } from './lib/processes.ts';
import { ALL_RUNTIMES, type RuntimeName, type RuntimeSpec, specFor, versionOf } from './lib/runtimes.ts';
import { median, table } from './lib/stats.ts';

// Before anything is spawned, so no exit path of the bench can leave a runner behind.
killSpawnedOnExit();

const DEFAULT_ROUNDS = 5;
const DEFAULT_SECONDS = 5;
const DEFAULT_CLIENTS = 3;
const WARMUP_SECONDS = 1;
/** Extra length of the held CPU profile beyond warm-up + measurement; it is aborted anyway. */
const PROFILE_MARGIN_SECONDS = 20;
/** The runner's default pprof_max_seconds: a longer profile request is refused. */
const RUNNER_MAX_PROFILE_SECONDS = 300;
/** Above this much CPU use by other processes during a window, the report warns about interference. */
const OTHER_CPU_WARN_SHARE = 0.2;
/** Targets from the issue, printed next to the figures (they do not affect the exit code). */
const TARGET_HEAP_SLOWDOWN = 0.02;
const TARGET_CPU_PROFILE_SLOWDOWN = 0.05;

type Mode = 'a' | 'b' | 'c';
const MODES: readonly Mode[] = ['a', 'b', 'c'];
const MODE_LABEL: Record<Mode, string> = { a: 'no-pprof', b: 'heap', c: 'heap+cpu' };
/** Bun has no heap sampling: (b) is the default without it, (c) the CPU profile alone. */
const BUN_MODE_LABEL: Record<Mode, string> = { a: 'no-pprof', b: 'default (no heap sampling on Bun)', c: 'cpu' };
const modeLabel = (runtime: RuntimeName, mode: Mode): string => (runtime === 'bun' ? BUN_MODE_LABEL : MODE_LABEL)[mode];

interface Measurement {
  mode: Mode;
  scrapesPerSecond: number;
  /** Runner CPU time per scrape, microseconds. */
  cpuMicrosPerScrape: number;
  /** Runner CPU time / wall time of the window. */
  runnerCpuShare: number;
  /** The bench process's own CPU time / wall time of the window (the load generator). */
  clientCpuShare: number;
  /** CPU time of everything else on the machine / wall time of the window (interference). */
  otherCpuShare: number;
  scrapes: number;
  errors: number;
  firstError: string | undefined;
  connections: number;
  bytesPerScrape: number;
  profilingLine: string;
  processCheck: string;
  exit: string;
}

interface Options {
  runtimes: RuntimeName[];
  rounds: number;
  seconds: number;
  clients: number;
}

interface RuntimeResult {
  spec: RuntimeSpec;
  version: string;
  rounds: Array<Partial<Record<Mode, Measurement>>>;
  error?: string;
  startFailed?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Arguments

function usage(): string {
  return 'usage: node dist/bench/profiler-overhead.js [node] [bun] [deno] [--rounds N] [--seconds N] [--clients N]';
}

function parseArgs(argv: string[]): Options {
  const runtimes: RuntimeName[] = [];
  const numbers: Record<'rounds' | 'seconds' | 'clients', number> = { rounds: DEFAULT_ROUNDS, seconds: DEFAULT_SECONDS, clients: DEFAULT_CLIENTS };
  const fail = (message: string): never => {
    console.error(`bench: ${message}\n${usage()}`);
    process.exit(2);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const m = /^--(rounds|seconds|clients)(?:=(.*))?$/.exec(arg);
    if (m !== null) {
      const name = m[1] as 'rounds' | 'seconds' | 'clients';
      const raw = m[2] ?? argv[++i] ?? '';
      const value = Number(raw);
      if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < 1) fail(`--${name} needs a positive integer, got ${JSON.stringify(raw)}`);
      numbers[name] = value;
    } else if (arg === '--help' || arg === '-h') {
      console.log(usage());
      process.exit(0);
    } else if ((ALL_RUNTIMES as readonly string[]).includes(arg)) {
      if (!runtimes.includes(arg as RuntimeName)) runtimes.push(arg as RuntimeName);
    } else {
      fail(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  if (WARMUP_SECONDS + numbers.seconds + PROFILE_MARGIN_SECONDS > RUNNER_MAX_PROFILE_SECONDS) {
    fail(`--seconds ${numbers.seconds} is too long: the CPU profile must cover it and the runner refuses profiles over ${RUNNER_MAX_PROFILE_SECONDS} s`);
  }
  if (numbers.clients > 64) fail('--clients is at most 64');
  return { runtimes: runtimes.length > 0 ? runtimes : [...ALL_RUNTIMES], ...numbers };
}

// ---------------------------------------------------------------------------------------------
// One measurement

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function cpuTicksOf(runner: RunnerProcess): number {
  const ticks = runner.cpuTicks();
  if (ticks === undefined) throw new Error(`cannot read /proc/${runner.pid}/stat\n${runner.tail()}`);
  return ticks;
}

async function measure(spec: RuntimeSpec, root: string, mode: Mode, options: Options): Promise<Measurement> {
  const started: StartedRunner = await startRunner(spec, root, mode === 'a');
  const runner = started.process;
  let load: ClosedLoopLoad | undefined;
  let profile: HeldCpuProfile | undefined;
  try {
    const processCheck = checkProcess(runner.pid, spec.bin);
    if (mode === 'c') profile = await HeldCpuProfile.start(started.address, WARMUP_SECONDS + options.seconds + PROFILE_MARGIN_SECONDS);

    load = new ClosedLoopLoad(new URL(`http://${started.address}/metrics`), options.clients);
    load.start();
    await sleep(WARMUP_SECONDS * 1000);

    const before = load.snapshot();
    // The runner's own CPU: it runs no job here, so there is no child's to count.
    const ticks0 = cpuTicksOf(runner);
    const machine0 = machineBusyTicks();
    const client0 = process.cpuUsage();
    const t0 = performance.now();
    await sleep(options.seconds * 1000);
    const after = load.snapshot();
    const ticks1 = cpuTicksOf(runner);
    const machine1 = machineBusyTicks();
    const client1 = process.cpuUsage(client0);
    const t1 = performance.now();

    if (runner.exited) throw new Error(`runner exited during the measurement\n${runner.tail()}`);
    if (profile?.endedEarly !== undefined) throw new Error(`${profile.endedEarly}\n${runner.tail()}`);
    await load.stop();

    const scrapes = after.ok - before.ok;
    if (scrapes <= 0) {
      throw new Error(`no GET /metrics completed during the ${options.seconds} s window (first error: ${load.firstError ?? 'none'})\n${runner.tail()}`);
    }
    const wallMs = t1 - t0;
    const runnerCpuMs = ((ticks1 - ticks0) * 1000) / CLOCK_TICKS_PER_SECOND;
    const clientCpuMs = (client1.user + client1.system) / 1000;
    const machineCpuMs = ((machine1 - machine0) * 1000) / CLOCK_TICKS_PER_SECOND;
    const firstError = load.firstError;
    const snapshotAll = load.snapshot();
    profile?.abort();
    profile = undefined;
    const exit = describeExit(await runner.stop('SIGTERM', WAIT_TIMEOUT_MS));
    return {
      mode,
      scrapesPerSecond: (scrapes * 1000) / wallMs,
      cpuMicrosPerScrape: (runnerCpuMs * 1000) / scrapes,
      runnerCpuShare: runnerCpuMs / wallMs,
      clientCpuShare: clientCpuMs / wallMs,
      otherCpuShare: Math.max(0, machineCpuMs - runnerCpuMs - clientCpuMs) / wallMs,
      scrapes,
      errors: snapshotAll.errors,
      firstError,
      connections: snapshotAll.connections,
      bytesPerScrape: (after.bytes - before.bytes) / scrapes,
      profilingLine: started.profilingLine,
      processCheck,
      exit,
    };
  } finally {
    profile?.abort();
    await load?.stop();
    runner.kill();
  }
}

async function benchRuntime(spec: RuntimeSpec, root: string, options: Options): Promise<RuntimeResult> {
  const result: RuntimeResult = { spec, version: '?', rounds: [] };
  try {
    if (spec.name === 'node' && !existsSync(spec.runnerArgs[0] ?? '')) {
      throw new RunnerStartError(`${relative(root, spec.runnerArgs[0] ?? '')} is missing: run \`npm run build\` first`);
    }
    result.version = await versionOf(spec, root);
    for (let round = 1; round <= options.rounds; round++) {
      const row: Partial<Record<Mode, Measurement>> = {};
      result.rounds.push(row);
      process.stderr.write(`  ${spec.name} round ${round}/${options.rounds}:`);
      for (const mode of MODES) {
        const m = await measure(spec, root, mode, options);
        row[mode] = m;
        process.stderr.write(` (${mode}) ${m.scrapesPerSecond.toFixed(0)}/s ${m.cpuMicrosPerScrape.toFixed(0)}us/scrape`);
      }
      process.stderr.write('\n');
    }
  } catch (err) {
    process.stderr.write(' FAILED\n');
    result.error = err instanceof Error ? err.message : String(err);
    result.startFailed = err instanceof RunnerStartError;
    // A round is only reported when all three modes were measured.
    const last = result.rounds.at(-1);
    if (last !== undefined && MODES.some((mode) => last[mode] === undefined)) result.rounds.pop();
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Report

const fmtRate = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : 'n/a');
const fmtMicros = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const fmtRatio = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(3)}x` : 'n/a');
const fmtPct = (x: number): string => (Number.isFinite(x) ? `${(x * 100).toFixed(0)}%` : 'n/a');

function slowdown(ratio: number): string {
  if (!Number.isFinite(ratio)) return 'n/a';
  const pct = Math.abs(1 - ratio) * 100;
  return ratio <= 1 ? `${pct.toFixed(1)}% slowdown` : `${pct.toFixed(1)}% faster`;
}

function extra(ratio: number): string {
  if (!Number.isFinite(ratio)) return 'n/a';
  const pct = (ratio - 1) * 100;
  return `${pct >= 0 ? '+' : ''}${pct.toFixed(1)}% CPU per scrape`;
}

const range = (xs: number[]): string => (xs.length === 0 ? 'n/a' : `[${fmtRatio(Math.min(...xs))}-${fmtRatio(Math.max(...xs))}]`);

type Full = Record<Mode, Measurement>;
function complete(rounds: Array<Partial<Record<Mode, Measurement>>>): Full[] {
  return rounds.filter((r): r is Full => MODES.every((mode) => r[mode] !== undefined));
}

function reportRuntime(r: RuntimeResult, options: Options, shown: (p: string) => string): string[] {
  const lines: string[] = [];
  const rounds = complete(r.rounds);
  lines.push(
    `== ${r.spec.name} ${r.version}: ${rounds.length} complete round(s) of (a) ${modeLabel(r.spec.name, 'a')}, (b) ${modeLabel(r.spec.name, 'b')}, (c) ${
      modeLabel(r.spec.name, 'c')
    }`,
  );
  for (const noPprof of [true, false]) {
    lines.push(`   ${noPprof ? '(a)    ' : '(b, c) '} ${[shown(r.spec.bin), ...runnerArgs(r.spec, noPprof).map(shown)].join(' ')}`);
  }
  lines.push(
    `   (c) also: GET /debug/pprof/profile?seconds=${
      WARMUP_SECONDS + options.seconds + PROFILE_MARGIN_SECONDS
    } held open over warm-up and window, then aborted`,
  );
  if (rounds.length === 0) return lines;
  lines.push('');

  const thr = (row: Full, mode: Mode): number => row[mode].scrapesPerSecond / row.a.scrapesPerSecond;
  const cpu = (row: Full, mode: Mode): number => row[mode].cpuMicrosPerScrape / row.a.cpuMicrosPerScrape;
  const col = (mode: Mode, f: (m: Measurement) => number): number => median(rounds.map((row) => f(row[mode])));

  const t: string[][] = [[
    'round',
    '(a) scrapes/s',
    '(b) scrapes/s',
    '(b)/(a)',
    '(c) scrapes/s',
    '(c)/(a)',
    'runner CPU % a/b/c',
    'client CPU % a/b/c',
    'other CPU % a/b/c',
  ]];
  rounds.forEach((row, i) =>
    t.push([
      String(i + 1),
      fmtRate(row.a.scrapesPerSecond),
      fmtRate(row.b.scrapesPerSecond),
      fmtRatio(thr(row, 'b')),
      fmtRate(row.c.scrapesPerSecond),
      fmtRatio(thr(row, 'c')),
      MODES.map((mode) => fmtPct(row[mode].runnerCpuShare)).join('/'),
      MODES.map((mode) => fmtPct(row[mode].clientCpuShare)).join('/'),
      MODES.map((mode) => fmtPct(row[mode].otherCpuShare)).join('/'),
    ])
  );
  t.push([
    'median',
    fmtRate(col('a', (m) => m.scrapesPerSecond)),
    fmtRate(col('b', (m) => m.scrapesPerSecond)),
    fmtRatio(median(rounds.map((row) => thr(row, 'b')))),
    fmtRate(col('c', (m) => m.scrapesPerSecond)),
    fmtRatio(median(rounds.map((row) => thr(row, 'c')))),
    MODES.map((mode) => fmtPct(col(mode, (m) => m.runnerCpuShare))).join('/'),
    MODES.map((mode) => fmtPct(col(mode, (m) => m.clientCpuShare))).join('/'),
    MODES.map((mode) => fmtPct(col(mode, (m) => m.otherCpuShare))).join('/'),
  ]);
  lines.push(...table(t).split('\n').map((l) => `   ${l}`));
  lines.push('');

  const c: string[][] = [['round', '(a) runner CPU us/scrape', '(b) us/scrape', '(b)/(a)', '(c) us/scrape', '(c)/(a)']];
  rounds.forEach((row, i) =>
    c.push([
      String(i + 1),
      fmtMicros(row.a.cpuMicrosPerScrape),
      fmtMicros(row.b.cpuMicrosPerScrape),
      fmtRatio(cpu(row, 'b')),
      fmtMicros(row.c.cpuMicrosPerScrape),
      fmtRatio(cpu(row, 'c')),
    ])
  );
  c.push([
    'median',
    fmtMicros(col('a', (m) => m.cpuMicrosPerScrape)),
    fmtMicros(col('b', (m) => m.cpuMicrosPerScrape)),
    fmtRatio(median(rounds.map((row) => cpu(row, 'b')))),
    fmtMicros(col('c', (m) => m.cpuMicrosPerScrape)),
    fmtRatio(median(rounds.map((row) => cpu(row, 'c')))),
  ]);
  lines.push(...table(c).split('\n').map((l) => `   ${l}`));
  lines.push('');

  // Summary: median of the per-round ratios (not the ratio of the medians), with their range.
  const thrB = rounds.map((row) => thr(row, 'b'));
  const thrC = rounds.map((row) => thr(row, 'c'));
  const cpuB = rounds.map((row) => cpu(row, 'b'));
  const cpuC = rounds.map((row) => cpu(row, 'c'));
  const heapLabel = r.spec.name === 'bun' ? 'heap sampling (none on Bun)' : 'heap sampling';
  const cpuLabel = r.spec.name === 'bun' ? 'CPU profile' : 'heap sampling + CPU profile';
  const width = Math.max(heapLabel.length, cpuLabel.length) + 1;
  lines.push(
    `   ${`${heapLabel}:`.padEnd(width)} throughput ${fmtRatio(median(thrB))} (${slowdown(median(thrB))}) ${range(thrB)}; ` +
      `CPU/scrape ${fmtRatio(median(cpuB))} (${extra(median(cpuB))}) ${range(cpuB)}; target: at most ${(TARGET_HEAP_SLOWDOWN * 100).toFixed(0)}% slowdown`,
  );
  lines.push(
    `   ${`${cpuLabel}:`.padEnd(width)} throughput ${fmtRatio(median(thrC))} (${slowdown(median(thrC))}) ${range(thrC)}; ` +
      `CPU/scrape ${fmtRatio(median(cpuC))} (${extra(median(cpuC))}) ${range(cpuC)}; target: at most ${
        (TARGET_CPU_PROFILE_SLOWDOWN * 100).toFixed(0)
      }% slowdown`,
  );

  // Notes: what the runner itself said about profiling, the process checks, keep-alive, errors.
  const notes: string[] = [];
  if (r.spec.name === 'bun') {
    notes.push(
      'Bun has no heap sampling (its /debug/pprof/heap takes a heap snapshot on request), so (b) runs exactly like (a) except that the /debug/pprof routes exist: (b)/(a) on Bun is measurement noise, not heap-sampling overhead',
    );
  }
  const all = rounds.flatMap((row) => MODES.map((mode) => row[mode]));
  for (const mode of MODES) {
    const said = [...new Set(rounds.map((row) => row[mode].profilingLine || '(no "Profiling ..." log line)'))];
    notes.push(`(${mode}) runner logged: ${said.join(' | ')}`);
  }
  for (const check of new Set(all.map((m) => m.processCheck))) notes.push(check);
  const conns = all.map((m) => m.connections);
  notes.push(
    `keep-alive: ${Math.min(...conns)}-${Math.max(...conns)} connection(s) per measurement for ${options.clients} client(s); ` +
      `${Math.min(...all.map((m) => m.scrapes))}-${Math.max(...all.map((m) => m.scrapes))} scrapes per window of ${
        median(all.map((m) => m.bytesPerScrape)).toFixed(0)
      } bytes (median)`,
  );
  const withErrors = all.filter((m) => m.errors > 0);
  if (withErrors.length > 0) {
    notes.push(
      `${withErrors.length} measurement(s) had failed scrapes (${withErrors.map((m) => `${modeLabel(r.spec.name, m.mode)}: ${m.errors}`).join(', ')}), first: ${
        withErrors[0]?.firstError ?? '?'
      }`,
    );
  }
  const busy = all.filter((m) => m.otherCpuShare > OTHER_CPU_WARN_SHARE);
  if (busy.length > 0) {
    notes.push(
      `in ${busy.length} of ${all.length} measurement(s) other processes on the machine used more than ${fmtPct(OTHER_CPU_WARN_SHARE)} of a core ` +
        `(up to ${fmtPct(Math.max(...busy.map((m) => m.otherCpuShare)))}): the ratios of those rounds measure that interference as much as the profilers`,
    );
  }
  const unclean = all.filter((m) => m.exit !== 'code 0');
  if (unclean.length > 0) notes.push(`${unclean.length} runner(s) did not exit cleanly on SIGTERM: ${unclean.map((m) => m.exit).join(', ')}`);
  lines.push('');
  lines.push(...notes.map((n) => `   note: ${n}`));
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const root = packageRoot();
  const specs = options.runtimes.map((name) => specFor(name, root));
  const perMeasurement = WARMUP_SECONDS + options.seconds + 1.5;
  process.stderr.write(
    `bench: ${options.rounds} round(s) x 3 modes for ${options.runtimes.join(', ')}, ${options.clients} client(s), ` +
      `${WARMUP_SECONDS} s warm-up + ${options.seconds} s each (about ${Math.ceil((specs.length * options.rounds * 3 * perMeasurement) / 60)} min)\n`,
  );
  const results: RuntimeResult[] = [];
  for (const spec of specs) results.push(await benchRuntime(spec, root, options));

  const shown = (p: string): string => (p.startsWith(root + '/') ? relative(root, p) : p);
  const lines: string[] = [];
  lines.push(
    `command: ${shown(process.execPath)} ${shown(fileURLToPath(import.meta.url))}${
      process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''
    }  (cwd ${root})`,
  );
  lines.push(
    `settings: ${options.rounds} round(s), modes interleaved a,b,c per round, fresh runner per measurement; ${options.clients} keep-alive client(s) ` +
      `in a closed GET /metrics loop, ${WARMUP_SECONDS} s warm-up + ${options.seconds} s measured; runner CPU from /proc/PID/stat utime+stime at ${CLOCK_TICKS_PER_SECOND} ticks/s; ` +
      'ratios are per round against (a) of the same round, summarised as median [min-max]',
  );
  for (const r of results) {
    lines.push('');
    lines.push(...reportRuntime(r, options, shown));
  }
  const failed = results.filter((r) => r.error !== undefined);
  for (const r of failed) {
    lines.push('');
    lines.push(
      `FAILED: ${r.spec.name}${r.startFailed === true ? ' (runner did not start)' : ''} after ${complete(r.rounds).length} complete round(s): ${r.error ?? ''}`,
    );
  }
  console.log(lines.join('\n'));
  return failed.length > 0 ? 1 : 0;
}

await runBench(main);
