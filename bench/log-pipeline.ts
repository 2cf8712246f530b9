// What the job log costs per byte on Node, Bun and Deno: a job's output goes
// through the masked values, GitLab's token prefixes, the URL sanitizer, time
// prefixes (FF_TIMESTAMPS, on by default for GitLab jobs) and the output limit
// before it reaches the source (src/trace/job-log.ts). This measures that
// pipeline alone, in process, next to a reference measured in the same run:
// the least any log must do with the bytes, one copy of each chunk.
//
// Input: 100 MiB of 100-byte lines in 64 KiB chunks, as a job's pipe hands
// them over; one masked value and GitLab's default token prefixes, none of
// which occur. Cases: the log without time prefixes (local jobs), and with
// them (GitLab jobs). Each runtime runs in a process of its own; --runs runs
// per case (default 5), reference and log alternating. Reported: the median
// MB/s of the input [min-max] and the median of the per-run ratios.
//
//   npm run build:bench && node dist/bench/log-pipeline.js [node|bun|deno] [--runs N]
import { Buffer } from 'node:buffer';
import { parseBenchArgs } from './lib/args.ts';
import { runBench, runToExit } from './lib/processes.ts';
import { scriptArgs, specFor, versionOf } from './lib/runtimes.ts';
import { median } from './lib/stats.ts';
import { packageRoot } from '../src/version.ts';
import { JobLog } from '../src/trace/job-log.ts';
import { DEFAULT_TOKEN_PREFIXES } from '../src/trace/token-masker.ts';

const CHUNK = Buffer.alloc(64 * 1024, `${'a'.repeat(99)}\n`);
const CHUNKS = 1600;
const INPUT_MB = (CHUNK.length * CHUNKS) / 1e6;
const CASES = ['no time prefixes', 'time prefixes'] as const;

interface ChildResult {
  readonly reference: number[];
  readonly cases: Record<string, number[]>;
}

/** MB/s of the input through one log (or the reference copy when `timestamps` is undefined). */
function measure(timestamps: boolean | undefined): number {
  let kept = 0;
  const sink = (chunk: Uint8Array): void => {
    kept += Buffer.from(chunk).length;
  };
  const start = performance.now();
  if (timestamps === undefined) {
    for (let i = 0; i < CHUNKS; i++) sink(CHUNK);
  } else {
    const log = new JobLog({ secrets: ['hunter2-not-in-the-output'], tokenPrefixes: [...DEFAULT_TOKEN_PREFIXES], timestamps, limitBytes: Infinity, sink });
    for (let i = 0; i < CHUNKS; i++) log.write(CHUNK);
    log.end();
  }
  const seconds = (performance.now() - start) / 1000;
  if (kept < CHUNK.length * CHUNKS) throw new Error(`the log passed on ${kept} bytes of ${CHUNK.length * CHUNKS}`);
  return INPUT_MB / seconds;
}

function child(runs: number): ChildResult {
  measure(undefined);
  measure(true); // warm-up
  const result: ChildResult = { reference: [], cases: Object.fromEntries(CASES.map((name) => [name, [] as number[]])) };
  for (let run = 0; run < runs; run++) {
    result.reference.push(measure(undefined));
    result.cases[CASES[0]]!.push(measure(false));
    result.cases[CASES[1]]!.push(measure(true));
  }
  return result;
}

const fmt = (xs: number[]): string => `${median(xs).toFixed(0)} [${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)}]`;

async function main(): Promise<number> {
  const { runtimes, runs } = parseBenchArgs(process.argv.slice(2), 'usage: log-pipeline [node|bun|deno ...] [--runs N]', 5, []);
  const root = packageRoot();
  const lines = [`input: ${INPUT_MB.toFixed(0)} MB of 100-byte lines in 64 KiB chunks; MB/s of input, median [min-max] of ${runs} runs`];
  for (const name of runtimes) {
    const spec = specFor(name, root);
    const exit = await runToExit(spec.bin, [...scriptArgs(spec, root, 'bench/log-pipeline.ts'), '--child', String(runs)], root, 600_000);
    if (exit.code !== 0) throw new Error(`${name}: the measuring process failed: ${exit.stderr.trim()}`);
    const result = JSON.parse(exit.stdout) as ChildResult;
    lines.push('', `${name} ${await versionOf(spec, root)}`, `  ${'reference (one copy per chunk)'.padEnd(32)} ${fmt(result.reference)} MB/s`);
    for (const name of CASES) {
      const ratios = result.cases[name]!.map((mbs, i) => mbs / result.reference[i]!);
      lines.push(`  ${`job log, ${name}`.padEnd(32)} ${fmt(result.cases[name]!)} MB/s   log / reference ${median(ratios).toFixed(3)}`);
    }
  }
  lines.push('', 'Figures only: nothing here passes or fails on time.');
  console.log(lines.join('\n'));
  return 0;
}

const childAt = process.argv.indexOf('--child');
if (childAt >= 0) {
  console.log(JSON.stringify(child(Number(process.argv[childAt + 1] ?? '5'))));
} else {
  void runBench(main);
}
