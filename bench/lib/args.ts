// The command line the benchmarks share: runtime names to restrict the run,
// --runs N, and a few switches of each benchmark's own.
import { ALL_RUNTIMES, type RuntimeName } from './runtimes.ts';

export interface BenchArgs {
  readonly runtimes: RuntimeName[];
  readonly runs: number;
  /** The switches given, by their first spelling. */
  readonly switches: ReadonlySet<string>;
}

/** Parses argv; --help prints usage and exits 0, a bad argument exits 2. */
export function parseBenchArgs(argv: readonly string[], usage: string, defaultRuns: number, switches: readonly (readonly string[])[]): BenchArgs {
  const runtimes: RuntimeName[] = [];
  const given = new Set<string>();
  let runs = defaultRuns;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    let runsValue: string | undefined;
    const flag = switches.find((spellings) => spellings.includes(arg));
    if (arg === '--runs') runsValue = argv[++i] ?? '';
    else if (arg.startsWith('--runs=')) runsValue = arg.slice('--runs='.length);
    else if (flag) given.add(flag[0]!);
    else if (arg === '--help' || arg === '-h') {
      console.log(usage);
      process.exit(0);
    } else if ((ALL_RUNTIMES as readonly string[]).includes(arg)) {
      if (!runtimes.includes(arg as RuntimeName)) runtimes.push(arg as RuntimeName);
    } else {
      console.error(`bench: unknown argument ${JSON.stringify(arg)}\n${usage}`);
      process.exit(2);
    }
    if (runsValue !== undefined) {
      runs = Number(runsValue);
      if (!Number.isInteger(runs) || runs < 1) {
        console.error(`bench: --runs needs a positive integer, got ${JSON.stringify(runsValue)}\n${usage}`);
        process.exit(2);
      }
    }
  }
  return { runtimes: runtimes.length > 0 ? runtimes : [...ALL_RUNTIMES], runs, switches: given };
}
