// Startup benchmark for the runner on Node, Bun and Deno.
//
// For each runtime it measures:
//   1. startup-to-first-scrape: wall time from spawn() of
//      `runner run --metrics-server 127.0.0.1:0` to the first 200 answer of GET /metrics.
//      The port is chosen by the OS, so the bench waits for the runner's
//      "Metrics server listening  address=HOST:PORT" log line on stderr and then polls
//      GET /metrics every ~5 ms until it answers 200. Fresh process per run, stopped with
//      SIGTERM and awaited before the next run. Reported as median [min-max].
//   2. idle RSS: in every run, 3 s after the first scrape (no traffic meanwhile), VmRSS of the
//      spawned process from /proc/PID/status (the spawned PID is checked via /proc/PID/exe and
//      /proc/PID/cmdline to be the runtime binary itself, not a wrapper). Median, in MiB.
//   3. bare runtime: wall time for the runtime to start and exit doing nothing
//      (`node -e 0`, `bun -e 0`, `deno eval 0`), median, measured interleaved with the runner
//      runs, so startup can be read as overhead (ms) and ratio over the bare runtime.
//
// Run it from the repository root:
//   npm run build:bench && node dist/bench/startup.js
//   node dist/bench/startup.js bun deno --runs 10     # restrict runtimes, change run count
//   node dist/bench/startup.js --verbose              # also print every single run
//
// It never passes or fails on time: it exits 0 after printing, or 1 if a runner failed to
// start (the reason is printed). Every spawned process is killed on every error path, and every
// wait is bounded by a 30 s timeout.
//
// This file is the benchmark itself (arguments, runs, report); the helpers live in bench/lib/:
// processes.ts (spawn tracking, bounded waits, /proc), run-once.ts (one measured runner run),
// runtimes.ts (how each runtime is invoked) and stats.ts (median [min-max], table).

import { packageRoot } from '../src/version.ts';
import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBenchArgs } from './lib/args.ts';
import { killSpawnedOnExit, runBench, runToExit } from './lib/processes.ts';
import { IDLE_BEFORE_RSS_MS, runOnce, type RunResult } from './lib/run-once.ts';
import { type RuntimeName, type RuntimeSpec, specFor, versionOf } from './lib/runtimes.ts';
import { fmtMiB, fmtMs, median, spread, spreadMiB, table } from './lib/stats.ts';

// Before anything is spawned, so no exit path of the bench can leave a runner behind.
killSpawnedOnExit();

const DEFAULT_RUNS = 5;

interface RuntimeResult {
  spec: RuntimeSpec;
  version: string;
  runs: RunResult[];
  bareMs: number[];
  error?: string;
}

// ---------------------------------------------------------------------------------------------
// Main

function usage(): string {
  return 'usage: node dist/bench/startup.js [node] [bun] [deno] [--runs N] [--verbose]';
}

function parseArgs(argv: string[]): { runtimes: RuntimeName[]; runs: number; verbose: boolean } {
  const { runtimes, runs, switches } = parseBenchArgs(argv, usage(), DEFAULT_RUNS, [['--verbose', '-v']]);
  return { runtimes, runs, verbose: switches.has('--verbose') };
}

async function benchRuntime(spec: RuntimeSpec, root: string, runs: number, verbose: boolean): Promise<RuntimeResult> {
  const result: RuntimeResult = { spec, version: '?', runs: [], bareMs: [] };
  try {
    if (spec.name === 'node' && !existsSync(spec.runnerArgs[0] ?? '')) {
      throw new Error(`${relative(root, spec.runnerArgs[0] ?? '')} is missing: run \`npm run build\` first`);
    }
    result.version = await versionOf(spec, root);
    for (let i = 1; i <= runs; i++) {
      // Interleave bare and runner runs so drift on the machine affects both alike.
      const bare = await runToExit(spec.bin, spec.bareArgs, root);
      if (bare.code !== 0) {
        throw new Error(`bare \`${spec.bin} ${spec.bareArgs.join(' ')}\` failed (${bare.signal ?? `code ${String(bare.code)}`}): ${bare.stderr.trim()}`);
      }
      result.bareMs.push(bare.ms);
      const run = await runOnce(spec, root);
      result.runs.push(run);
      if (verbose) {
        console.error(
          `  ${spec.name} run ${i}/${runs}: address logged ${fmtMs(run.logMs)} ms, first 200 ${fmtMs(run.scrapeMs)} ms ` +
            `(${run.attempts} GET), idle RSS ${run.rssKiB === undefined ? 'n/a' : fmtMiB(run.rssKiB)} MiB, exit ${run.exit}; bare ${fmtMs(bare.ms)} ms`,
        );
      } else {
        process.stderr.write('.');
      }
    }
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
  }
  return result;
}

async function main(): Promise<number> {
  const { runtimes, runs, verbose } = parseArgs(process.argv.slice(2));
  const root = packageRoot();
  const specs = runtimes.map((r) => specFor(r, root));

  process.stderr.write(
    `bench: ${runs} run(s) per runtime for ${runtimes.join(', ')} (about ${Math.ceil(runtimes.length * runs * (IDLE_BEFORE_RSS_MS + 700) / 1000)} s) `,
  );
  if (verbose) process.stderr.write('\n');
  const results: RuntimeResult[] = [];
  for (const spec of specs) results.push(await benchRuntime(spec, root, runs, verbose));
  process.stderr.write('\n');

  const shown = (p: string): string => (p.startsWith(root) ? relative(root, p) : p);
  const lines: string[] = [];
  lines.push(
    `command: ${shown(process.execPath)} ${shown(fileURLToPath(import.meta.url))}${
      process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''
    }  (cwd ${root}, ${runs} run(s) per runtime)`,
  );
  for (const r of results) {
    lines.push(
      `  ${r.spec.name.padEnd(4)} runner: ${[shown(r.spec.bin), ...r.spec.runnerArgs.map(shown), 'run', '--metrics-server', '127.0.0.1:0'].join(' ')}   bare: ${
        [shown(r.spec.bin), ...r.spec.bareArgs].join(' ')
      }`,
    );
  }
  lines.push('');

  const rows: string[][] = [[
    'runtime',
    'version',
    'startup-to-first-scrape ms (median [min-max])',
    'bare runtime ms (median [min-max])',
    'overhead ms',
    'ratio',
    'idle RSS MiB (median [min-max])',
  ]];
  for (const r of results) {
    if (r.error !== undefined) {
      rows.push([r.spec.name, r.version, 'FAILED', r.bareMs.length > 0 ? spread(r.bareMs) : 'n/a', 'n/a', 'n/a', 'n/a']);
      continue;
    }
    const scrape = r.runs.map((x) => x.scrapeMs);
    const rss = r.runs.map((x) => x.rssKiB).filter((x): x is number => x !== undefined);
    const s = median(scrape);
    const b = median(r.bareMs);
    rows.push([
      r.spec.name,
      r.version,
      spread(scrape),
      spread(r.bareMs),
      fmtMs(s - b),
      `${(s / b).toFixed(1)}x`,
      spreadMiB(rss),
    ]);
  }
  lines.push(table(rows));

  // Notes: process checks (deduplicated), unclean exits, failures.
  const notes: string[] = [];
  for (const r of results) {
    for (const check of new Set(r.runs.map((x) => x.processCheck.replace(/\bpid \d+\b/, 'pid')))) {
      notes.push(`${r.spec.name}: ${check}`);
    }
    const unclean = r.runs.filter((x) => x.exit !== 'code 0');
    if (unclean.length > 0) notes.push(`${r.spec.name}: ${unclean.length} run(s) did not exit cleanly on SIGTERM: ${unclean.map((x) => x.exit).join(', ')}`);
  }
  if (notes.length > 0) {
    lines.push('');
    lines.push(...notes.map((n) => `note: ${n}`));
  }
  const failed = results.filter((r) => r.error !== undefined);
  for (const r of failed) {
    lines.push('');
    lines.push(`FAILED: ${r.spec.name} (run ${r.runs.length + 1} of ${runs}, after ${r.runs.length} successful): ${r.error ?? ''}`);
  }
  console.log(lines.join('\n'));
  return failed.length > 0 ? 1 : 0;
}

await runBench(main);
