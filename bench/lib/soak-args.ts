// The soak bench's command line: runtimes (as words or --runtime NAME), how long, how much of it
// is warm-up, how often to sample, where to keep the samples and heap profiles, and whether the
// runtimes run at once (the default) or one after another.

import { ALL_RUNTIMES, type RuntimeName } from './runtimes.ts';

export interface SoakArgs {
  readonly runtimes: RuntimeName[];
  readonly minutes: number;
  /** Discarded from the trend: the first third, at most 5 minutes, unless given. */
  readonly warmupMinutes: number;
  readonly sampleSeconds: number;
  /** Where samples.csv and the heap profiles go, per runtime; none kept without it. */
  readonly out: string | undefined;
  readonly sequential: boolean;
}

export const SOAK_USAGE = `usage: node dist/bench/soak.js [${ALL_RUNTIMES.join('|')} ...] [--runtime NAME ...] [--minutes N] [--warmup-minutes N]
       [--sample-seconds N] [--out DIR] [--sequential]`;

function fail(message: string): never {
  console.error(`bench: ${message}\n${SOAK_USAGE}`);
  process.exit(2);
}

function positive(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || value === '' || !Number.isFinite(n) || n <= 0) fail(`${flag} needs a positive number, got ${JSON.stringify(value ?? '')}`);
  return n;
}

/** Parses argv; --help prints usage and exits 0, a bad argument exits 2. */
export function parseSoakArgs(argv: readonly string[]): SoakArgs {
  const runtimes: RuntimeName[] = [];
  let minutes = 30;
  let warmup: number | undefined;
  let sampleSeconds = 10;
  let out: string | undefined;
  let sequential = false;
  const addRuntime = (name: string | undefined): void => {
    if (!(ALL_RUNTIMES as readonly (string | undefined)[]).includes(name)) fail(`unknown runtime ${JSON.stringify(name ?? '')}`);
    if (!runtimes.includes(name as RuntimeName)) runtimes.push(name as RuntimeName);
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = (argv[i] ?? '').split(/=(.*)/s, 2) as [string, string | undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--runtime':
        addRuntime(value());
        break;
      case '--minutes':
        minutes = positive(flag, value());
        break;
      case '--warmup-minutes':
        warmup = Number(value());
        if (!Number.isFinite(warmup) || warmup < 0) fail('--warmup-minutes needs a number >= 0');
        break;
      case '--sample-seconds':
        sampleSeconds = positive(flag, value());
        break;
      case '--out':
        out = value();
        if (out === undefined || out === '') fail('--out needs a directory');
        break;
      case '--sequential':
        sequential = true;
        break;
      case '--help':
      case '-h':
        console.log(SOAK_USAGE);
        process.exit(0);
        break;
      default:
        if (flag.startsWith('-')) fail(`unknown argument ${JSON.stringify(flag)}`);
        addRuntime(flag);
    }
  }
  const warmupMinutes = warmup ?? Math.min(5, minutes / 3);
  if (warmupMinutes >= minutes) fail('--warmup-minutes must be less than --minutes');
  return { runtimes: runtimes.length > 0 ? runtimes : [...ALL_RUNTIMES], minutes, warmupMinutes, sampleSeconds, out, sequential };
}
