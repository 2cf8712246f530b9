// Startup benchmark for the runner on Node, Bun and Deno: a reference (issue 17's "today", the
// runner of another checkout given by --today DIR, or else this tree run unbundled), each release
// artefact of the runtime (npm run package), and the floor - a bare node:http server answering one
// request - all measured interleaved in one run.
//
// For each subject it measures:
//   1. startup-to-first-scrape: wall time from spawn() of
//      `runner run --metrics-server 127.0.0.1:0` to the first 200 answer of GET /metrics.
//      The port is chosen by the OS, so the bench waits for the runner's
//      "Metrics server listening  address=HOST:PORT" log line on stderr and then polls
//      GET /metrics every ~5 ms until it answers 200. Fresh process per run, stopped with
//      SIGTERM and awaited before the next run. Reported as median [min-max].
//   2. idle RSS: in every run, 3 s after the first scrape (no traffic meanwhile), VmRSS of the
//      spawned process from /proc/PID/status (the spawned PID is checked via /proc/PID/exe and
//      /proc/PID/cmdline to be the runtime binary or the executable itself, not a wrapper).
//      The release artefacts' files leave the page cache before the first run: measured as
//      installed files read back from disk, not as the pages `npm run package` wrote. That first
//      run is a cold start (its time reads from disk, and shows in the range); the median of 5
//      runs is a warm one.
//   3. `--version` and `--help`: wall time to exit, against the bare runtime.
//   4. bare runtime: wall time for the runtime to start and exit doing nothing
//      (`node -e 0`, `bun -e 0`, `deno eval 0`), interleaved with the runs.
// Ratios: each subject against the reference ("x ref") and the floor, in the same run. The
// reference runs unbundled the way its checkout runs it (dist/cmd/runner.js on Node, cmd/runner.ts
// on Bun and Deno), on this tree's pinned runtimes; its checkout must be built (npm run build).
// Issue 17's "today" is main at 102f26a (docs/benchmarks.md "Startup" says how to check it out).
//
// Run it from the repository root (Node's startup depends on NODE_EXTRA_CA_CERTS, which this
// machine sets: measure with `env -u NODE_EXTRA_CA_CERTS ...` too):
//   npm run package && npm run build:bench && node dist/bench/startup.js
//   node dist/bench/startup.js bun deno --runs 10     # restrict runtimes, change run count
//   node dist/bench/startup.js --verbose              # also print every single run
//   node dist/bench/startup.js --today /tmp/today-ref # issue 17's today as the reference
//
// It never passes or fails on time: it exits 0 after printing, or 1 if a runner failed to
// start (the reason is printed). Every spawned process is killed on every error path, and every
// wait is bounded by a 30 s timeout.
//
// Helpers in bench/lib/: startup-subjects.ts (what is started), floor-server.ts, run-once.ts (one
// measured run), processes.ts (spawn tracking, bounded waits, /proc), page-cache.ts, runtimes.ts, stats.ts.

import { packageRoot } from '../src/version.ts';
import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseBenchArgs } from './lib/args.ts';
import { dropPageCache } from './lib/page-cache.ts';
import { killSpawnedOnExit, runBench, runToExit } from './lib/processes.ts';
import { IDLE_BEFORE_RSS_MS, runOnce, type RunResult } from './lib/run-once.ts';
import { type RuntimeName, type RuntimeSpec, specFor, versionOf } from './lib/runtimes.ts';
import { type StartupReference, type StartupSubject, startupSubjects } from './lib/startup-subjects.ts';
import { fmtMs, median, spread, spreadMiB, table } from './lib/stats.ts';

// Before anything is spawned, so no exit path of the bench can leave a runner behind.
killSpawnedOnExit();

const DEFAULT_RUNS = 5;

interface SubjectResult {
  readonly subject: StartupSubject;
  readonly runs: RunResult[];
  readonly versionMs: number[];
  readonly helpMs: number[];
}

interface RuntimeResult {
  spec: RuntimeSpec;
  version: string;
  subjects: SubjectResult[];
  bareMs: number[];
  error?: string;
}

function usage(): string {
  return 'usage: node dist/bench/startup.js [node] [bun] [deno] [--runs N] [--today DIR] [--verbose]';
}

async function timedExit(command: readonly [string, ...string[]], args: string[], cwd: string): Promise<number> {
  const [bin, ...prefix] = command;
  const result = await runToExit(bin, [...prefix, ...args], cwd);
  if (result.code !== 0) {
    throw new Error(`\`${[...command, ...args].join(' ')}\` failed (${result.signal ?? `code ${String(result.code)}`}): ${result.stderr.trim()}`);
  }
  return result.ms;
}

async function benchRuntime(
  spec: RuntimeSpec,
  root: string,
  packageVersion: string,
  reference: StartupReference,
  runs: number,
  verbose: boolean,
): Promise<RuntimeResult> {
  const result: RuntimeResult = { spec, version: '?', subjects: [], bareMs: [] };
  try {
    result.version = await versionOf(spec, root);
    const subjects = await startupSubjects(spec, root, packageVersion, reference);
    result.subjects = subjects.map((subject) => ({ subject, runs: [], versionMs: [], helpMs: [] }));
    // As installed files read back from disk, not as the pages that writing them left (page-cache.ts).
    dropPageCache(subjects.flatMap((subject) => subject.files ?? []));
    for (let i = 1; i <= runs; i++) {
      // Interleaved, so drift on the machine affects every subject alike.
      result.bareMs.push(await timedExit([spec.bin], spec.bareArgs, root));
      for (const measured of result.subjects) {
        const run = await runOnce(measured.subject.command, measured.subject.processBin, root);
        measured.runs.push(run);
        if (measured.subject.cli) {
          measured.versionMs.push(await timedExit(measured.subject.command, ['--version'], root));
          measured.helpMs.push(await timedExit(measured.subject.command, ['--help'], root));
        }
        if (verbose) {
          console.error(`  ${spec.name} ${measured.subject.label} run ${i}/${runs}: first 200 ${fmtMs(run.scrapeMs)} ms, exit ${run.exit}`);
        }
      }
      if (!verbose) process.stderr.write('.');
    }
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
  }
  return result;
}

/** A path under the working directory relative to it, any other as it is. */
function shownPath(path: string): string {
  const shown = relative(process.cwd(), path);
  return shown === '' || shown.startsWith('..') ? path : shown;
}

function report(r: RuntimeResult): string[] {
  const lines = [`${r.spec.name} ${r.version}: bare runtime ${spread(r.bareMs)} ms`];
  const today = r.subjects.find((s) => s.subject.reference === true);
  const floor = r.subjects.find((s) => !s.subject.cli);
  const scrape = (s: SubjectResult): number => median(s.runs.map((x) => x.scrapeMs));
  const bare = median(r.bareMs);
  const rows: string[][] = [[
    'subject',
    'start to first scrape ms',
    'x ref',
    'above floor ms',
    'idle RSS MiB',
    '--version ms (x bare)',
    '--help ms (x bare)',
  ]];
  for (const s of r.subjects) {
    const ms = scrape(s);
    const rss = s.runs.map((x) => x.rssKiB).filter((x): x is number => x !== undefined);
    rows.push([
      s.subject.label,
      spread(s.runs.map((x) => x.scrapeMs)),
      today ? `${(ms / scrape(today)).toFixed(2)}x` : 'n/a',
      floor ? fmtMs(ms - scrape(floor)) : 'n/a',
      spreadMiB(rss),
      s.subject.cli ? `${fmtMs(median(s.versionMs))} (${(median(s.versionMs) / bare).toFixed(2)}x)` : '-',
      s.subject.cli ? `${fmtMs(median(s.helpMs))} (${(median(s.helpMs) / bare).toFixed(2)}x)` : '-',
    ]);
  }
  lines.push(table(rows));
  for (const s of r.subjects) {
    lines.push(`  ${s.subject.label}: ${s.subject.command.map(shownPath).join(' ')}`);
    for (const check of new Set(s.runs.map((x) => x.processCheck.replace(/\bpid \d+\b/, 'pid')))) lines.push(`    note: ${check}`);
    const unclean = s.runs.filter((x) => x.exit !== 'code 0');
    if (unclean.length > 0) lines.push(`    note: ${unclean.length} run(s) did not exit cleanly on SIGTERM: ${unclean.map((x) => x.exit).join(', ')}`);
  }
  return lines;
}

/** `--today DIR` (or `--today=DIR`) taken out of argv; the rest goes to parseBenchArgs. */
function takeTodayDir(argv: readonly string[]): { todayDir: string | undefined; rest: string[] } {
  const rest: string[] = [];
  let todayDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--today' || arg.startsWith('--today=')) {
      todayDir = arg === '--today' ? argv[++i] : arg.slice('--today='.length);
      if (todayDir === undefined || todayDir === '' || !existsSync(todayDir)) {
        console.error(`bench: --today needs an existing checkout directory, got ${JSON.stringify(todayDir ?? '')}\n${usage()}`);
        process.exit(2);
      }
    } else rest.push(arg);
  }
  return { todayDir, rest };
}

/** The reference and the header line that names it: a checkout's commit, or this tree. */
async function referenceFor(todayDir: string | undefined, root: string): Promise<{ reference: StartupReference; header: string }> {
  if (todayDir === undefined) {
    return {
      reference: { root, label: 'this tree, unbundled' },
      header: 'reference (x ref): this tree, unbundled - not issue 17\'s "today" (give that with --today DIR)',
    };
  }
  const dir = resolve(todayDir);
  const commit = await runToExit('git', ['-C', dir, 'log', '-1', '--format=%h %cd %s', '--date=iso-strict'], dir);
  const line = commit.stdout.trim();
  const described = commit.code === 0 ? `commit ${line.length > 110 ? `${line.slice(0, 110)}...` : line}` : 'not a git checkout';
  const hash = commit.code === 0 ? ` ${line.split(' ')[0] ?? ''}` : '';
  return { reference: { root: dir, label: `today${hash}, unbundled` }, header: `reference (x ref): today = ${dir}, ${described}` };
}

async function main(): Promise<number> {
  const { todayDir, rest } = takeTodayDir(process.argv.slice(2));
  const { runtimes, runs, switches } = parseBenchArgs(rest, usage(), DEFAULT_RUNS, [['--verbose', '-v']]);
  const root = packageRoot();
  const { reference, header } = await referenceFor(todayDir, root);
  const packageVersion = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  process.stderr.write(
    `bench: ${runs} run(s) per runtime for ${runtimes.join(', ')} (about ${Math.ceil(runtimes.length * runs * 3 * (IDLE_BEFORE_RSS_MS + 1500) / 1000)} s) `,
  );
  const results: RuntimeResult[] = [];
  for (const name of runtimes as RuntimeName[]) {
    results.push(await benchRuntime(specFor(name, root), root, packageVersion, reference, runs, switches.has('--verbose')));
  }
  process.stderr.write('\n');
  const lines = [
    `command: ${process.argv.slice(0, 2).map(shownPath).join(' ')} ${process.argv.slice(2).join(' ')}  (${runs} run(s) per runtime; NODE_EXTRA_CA_CERTS ${
      process.env['NODE_EXTRA_CA_CERTS'] ? 'set' : 'unset'
    })`,
    header,
  ];
  for (const r of results) {
    lines.push('');
    if (r.error !== undefined) lines.push(`FAILED: ${r.spec.name}: ${r.error}`);
    else lines.push(...report(r));
  }
  console.log(lines.join('\n'));
  return results.some((r) => r.error !== undefined) ? 1 : 0;
}

await runBench(main);
