// Profiler overhead benchmark for the runner on Node, Bun and Deno.
//
// What it measures: how much the runner's Go-compatible profiling costs real runner work, as
// ratios against the same runner without it, per runtime. The work is GET /metrics served by the
// runner itself (no test hooks): the bench scrapes it in a closed loop from `--clients`
// concurrent clients (default 3) over keep-alive connections, and counts completed 200 answers
// and the runner's CPU time (utime+stime from /proc/PID/stat) per scrape. Measurements
// (bench/lib/overhead-measure.ts), each on a runner started for it:
//   (a) no-pprof   `runner run --metrics-server 127.0.0.1:0 --no-pprof`: the reference.
//   (b) heap       the default: V8 in-use heap sampling from process start on Node and Deno
//                  (Bun has none: there (b)/(a) is the noise level).
//   (s) side by side  (a) and (b) started together and loaded at the same time, each by its own
//                  clients, over the same window: other work on the machine hits both alike.
//   (c) per rate   (b) plus a CPU profile (GET /debug/pprof/profile?seconds=N) held open from
//                  before the load starts: a runner profiled from its first scrape on.
//   (w) per rate   (b) warmed by 10 s of load, then three windows in the same process: profile
//                  off, on, off. on / mean(off) is the cost on a runner whose code is compiled.
// Heap sampling on vs off is (b)/(a) and (s) on/off; a CPU profile running vs not is (c)/(b) and (w) on/off.
// Every window is also cut into 1 s slices, and the report gives the ratio per slice (median
// over rounds): whether the cost decays over the profile's life.
// The measurements are interleaved (a, b, s, c, w, a, b, ...) over `--rounds` rounds (default 10),
// because the machine this was written for has 2 cores shared with the load generator and
// others. `--hz 1,100` measures (c) and (w) at each rate (RUNNER_PPROF_CPU_HZ); by default at the
// runner's own rate.
//
// Run it from the repository root:
//   npm run build:bench && node dist/bench/profiler-overhead.js
//   node dist/bench/profiler-overhead.js deno --hz 10,50,100 --rounds 10
//   node dist/bench/profiler-overhead.js node --seconds 8 --clients 2
//
// It never passes or fails on time: it exits 0 after printing, or 1 if a runner could not be
// started or measured (the reason is printed). Every spawned process is killed on every exit
// path, and every wait is bounded.

import { packageRoot } from '../src/version.ts';
import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  measureFresh,
  type Measurement,
  type MeasureOptions,
  measureSideBySide,
  measureWarm,
  PROFILE_MARGIN_SECONDS,
  WARM_PROCESS_SECONDS,
  WARMUP_SECONDS,
} from './lib/overhead-measure.ts';
import { reportRuntime, type Round } from './lib/overhead-report.ts';
import { runnerArgs, RunnerStartError } from './lib/overhead-runner.ts';
import { killSpawnedOnExit, runBench } from './lib/processes.ts';
import { ALL_RUNTIMES, type RuntimeName, type RuntimeSpec, specFor, versionOf } from './lib/runtimes.ts';

// Before anything is spawned, so no exit path of the bench can leave a runner behind.
killSpawnedOnExit();

const DEFAULT_ROUNDS = 10;
const DEFAULT_SECONDS = 5;
const DEFAULT_CLIENTS = 3;
/** The runner's default pprof_max_seconds: a longer profile request is refused. */
const RUNNER_MAX_PROFILE_SECONDS = 300;

interface Options {
  runtimes: RuntimeName[];
  rounds: number;
  seconds: number;
  clients: number;
  /** Sampling rates to measure; undefined is the runner's default. */
  rates: Array<number | undefined>;
}

interface RuntimeResult {
  spec: RuntimeSpec;
  version: string;
  rounds: Round[];
  error?: string;
  startFailed?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Arguments

function usage(): string {
  return 'usage: node dist/bench/profiler-overhead.js [node] [bun] [deno] [--rounds N] [--seconds N] [--clients N] [--hz N[,N...]]';
}

function parseArgs(argv: string[]): Options {
  const runtimes: RuntimeName[] = [];
  const numbers: Record<'rounds' | 'seconds' | 'clients', number> = { rounds: DEFAULT_ROUNDS, seconds: DEFAULT_SECONDS, clients: DEFAULT_CLIENTS };
  let rates: Array<number | undefined> = [undefined];
  const fail = (message: string): never => {
    console.error(`bench: ${message}\n${usage()}`);
    process.exit(2);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const m = /^--(rounds|seconds|clients|hz)(?:=(.*))?$/.exec(arg);
    if (m !== null) {
      const raw = m[2] ?? argv[++i] ?? '';
      if (m[1] === 'hz') {
        rates = raw.split(',').map((part) => {
          const hz = Number(part);
          return /^\d+$/.test(part) && hz >= 1 && hz <= 10_000 ? hz : fail(`--hz needs rates from 1 to 10000 separated by commas, got ${JSON.stringify(raw)}`);
        });
        continue;
      }
      const name = m[1] as 'rounds' | 'seconds' | 'clients';
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
  return { runtimes: runtimes.length > 0 ? runtimes : [...ALL_RUNTIMES], rates, ...numbers };
}

const rateLabel = (hz: number | undefined): string => (hz === undefined ? 'default' : `${hz} Hz`);

// ---------------------------------------------------------------------------------------------
// Rounds

const perMs = (m: Measurement): string => m.windows.map((w) => `${w.cpuMicrosPerScrape.toFixed(0)}`).join('/');

async function benchRuntime(spec: RuntimeSpec, root: string, options: Options): Promise<RuntimeResult> {
  const result: RuntimeResult = { spec, version: '?', rounds: [] };
  const base: MeasureOptions = { seconds: options.seconds, clients: options.clients, hz: undefined };
  try {
    if (spec.name === 'node' && !existsSync(spec.runnerArgs[0] ?? '')) {
      throw new RunnerStartError(`${relative(root, spec.runnerArgs[0] ?? '')} is missing: run \`npm run build\` first`);
    }
    result.version = await versionOf(spec, root);
    for (let round = 1; round <= options.rounds; round++) {
      process.stderr.write(`  ${spec.name} round ${round}/${options.rounds} (us/scrape):`);
      const a = await measureFresh(spec, root, false, false, base);
      process.stderr.write(` (a) ${perMs(a)}`);
      const b = await measureFresh(spec, root, true, false, base);
      process.stderr.write(` (b) ${perMs(b)}`);
      const s = await measureSideBySide(spec, root, base);
      process.stderr.write(` (s) ${perMs(s.off)}/${perMs(s.on)}`);
      const c = new Map<string, Measurement>();
      const w = new Map<string, Measurement>();
      for (const hz of options.rates) {
        const label = rateLabel(hz);
        c.set(label, await measureFresh(spec, root, true, true, { ...base, hz }));
        process.stderr.write(` (c ${label}) ${perMs(c.get(label)!)}`);
        w.set(label, await measureWarm(spec, root, { ...base, hz }));
        process.stderr.write(` (w ${label}) ${perMs(w.get(label)!)}`);
      }
      process.stderr.write('\n');
      result.rounds.push({ a, b, s, c, w });
    }
  } catch (err) {
    process.stderr.write(' FAILED\n');
    result.error = err instanceof Error ? err.message : String(err);
    result.startFailed = err instanceof RunnerStartError;
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const root = packageRoot();
  const specs = options.runtimes.map((name) => specFor(name, root));
  const perRound = 3 * (WARMUP_SECONDS + options.seconds + 1.5) +
    options.rates.length * (WARMUP_SECONDS + options.seconds + 2 + WARM_PROCESS_SECONDS + 3 * options.seconds + 2);
  process.stderr.write(
    `bench: ${options.rounds} round(s) for ${options.runtimes.join(', ')} at ${options.rates.map(rateLabel).join(', ')}, ${options.clients} client(s), ` +
      `${options.seconds} s windows (about ${Math.ceil((specs.length * options.rounds * perRound) / 60)} min)\n`,
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
    `settings: ${options.rounds} round(s), measurements interleaved a, b, s, then c and w per rate, a runner started for each; ` +
      `${options.clients} keep-alive client(s) in a closed GET /metrics loop; runner CPU from /proc/PID/stat; ` +
      'ratios are per round, summarised as median [min-max]',
  );
  for (const r of results) {
    lines.push('');
    lines.push(
      ...reportRuntime({
        runtime: r.spec.name,
        version: r.version,
        rounds: r.rounds,
        rates: options.rates.map(rateLabel),
        commands: {
          noPprof: [r.spec.bin, ...runnerArgs(r.spec, true)].map(shown).join(' '),
          pprof: [r.spec.bin, ...runnerArgs(r.spec, false)].map(shown).join(' '),
        },
        seconds: options.seconds,
        clients: options.clients,
        warmProcessSeconds: WARM_PROCESS_SECONDS,
        warmupSeconds: WARMUP_SECONDS,
      }),
    );
  }
  const failed = results.filter((r) => r.error !== undefined);
  for (const r of failed) {
    lines.push('');
    lines.push(`FAILED: ${r.spec.name}${r.startFailed === true ? ' (runner did not start)' : ''} after ${r.rounds.length} complete round(s): ${r.error ?? ''}`);
  }
  console.log(lines.join('\n'));
  return failed.length > 0 ? 1 : 0;
}

await runBench(main);
