// `npm test`: runs the suite on Node, Bun and Deno one after the other and
// ends with one line that sums them, counted from each runner's JUnit report
// (the runners' own summaries count differently).
//   npm test                      all runtimes, all files
//   npm test -- bun deno          only these runtimes
//   npm test -- unit              one part: unit, e2e, deploy, docs or support (test/PART/)
//   npm test -- config cli        only test files whose path under test/ contains a word
// Words combine: `npm test -- unit node` runs the unit tests on Node.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { packageRoot } from '../src/version.ts';

type Runtime = 'node' | 'bun' | 'deno';
const RUNTIMES: readonly Runtime[] = ['node', 'bun', 'deno'];

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

const root = packageRoot();
const resultsDir = join(root, '.test-results');
const bin = (name: string): string => join(root, 'node_modules', '.bin', name);

const words = process.argv.slice(2);
const runtimes = words.filter((w): w is Runtime => (RUNTIMES as readonly string[]).includes(w));
const filters = words.filter((w) => !(RUNTIMES as readonly string[]).includes(w));

/** The test parts: test/PART/. */
const PARTS = ['unit', 'e2e', 'deploy', 'docs', 'support'] as const;

function selected(path: string): boolean {
  if (filters.length === 0) return true;
  return filters.some((word) => (PARTS as readonly string[]).includes(word) ? path.startsWith(`${word}/`) : path.includes(word));
}

/** The test files under `dir` (recursively) that the words select, by their path under test/. */
function testFiles(dir: string, extension: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((path) => path.endsWith(`.test${extension}`) && selected(path))
    .sort()
    .map((path) => join(dir, path));
}

function command(runtime: Runtime, report: string): [string, string[]] {
  switch (runtime) {
    case 'node':
      return [process.execPath, [
        '--test',
        '--test-reporter=spec',
        '--test-reporter-destination=stdout',
        '--test-reporter=junit',
        `--test-reporter-destination=${report}`,
        ...testFiles(join(root, 'dist', 'test'), '.js'),
      ]];
    case 'bun':
      // Bun's default per-test timeout is 5 s; the CLI tests start real processes.
      return [bin('bun'), ['test', '--timeout', '120000', '--reporter=junit', `--reporter-outfile=${report}`, ...testFiles(join(root, 'test'), '.ts')]];
    case 'deno':
      // tsc has type-checked the sources with tsconfig.json; Deno would check with its own settings.
      return [bin('deno'), ['test', '-A', '--no-check', `--junit-path=${report}`, ...testFiles(join(root, 'test'), '.ts')]];
  }
}

type XmlNode = Record<string, unknown>;

/** Walks the parsed report and classifies every <testcase>. */
function countTestcases(node: unknown, counts: Counts): void {
  if (Array.isArray(node)) {
    for (const item of node) countTestcases(item, counts);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  for (const [key, value] of Object.entries(node as XmlNode)) {
    if (key !== 'testcase') {
      countTestcases(value, counts);
      continue;
    }
    for (const testcase of Array.isArray(value) ? value : [value]) {
      const tc = (typeof testcase === 'object' && testcase !== null ? testcase : {}) as XmlNode;
      if ('failure' in tc || 'error' in tc) counts.failed++;
      else if ('skipped' in tc) counts.skipped++;
      else counts.passed++;
    }
  }
}

/**
 * One directory for everything the tests and the runners they start leave in
 * the temporary directory (their TMPDIR) and the empty HOME their runners
 * get, removed when the run ends: what a killed runner or a failed test left
 * behind goes with it. Its tmp is world-writable and sticky, as /tmp, for the
 * jobs the tests run as other users.
 */
function makeScratch(): { root: string; tmp: string; home: string } {
  const scratchRoot = mkdtempSync(join(tmpdir(), 'runner-test-run-'));
  chmodSync(scratchRoot, 0o755);
  const tmp = join(scratchRoot, 'tmp');
  const home = join(scratchRoot, 'home');
  mkdirSync(tmp);
  chmodSync(tmp, 0o1777);
  mkdirSync(home);
  return { root: scratchRoot, tmp, home };
}

const scratch = makeScratch();

function runOne(runtime: Runtime): Counts {
  const report = join(resultsDir, `${runtime}.xml`);
  const [cmd, args] = command(runtime, report);
  if (!args.some((arg) => /\.test\.[jt]s$/.test(arg))) {
    // A runner given no file would look for tests on its own, everywhere.
    process.stdout.write(`\n=== ${runtime}: no test file matches ${words.join(' ')}\n`);
    return { passed: 0, failed: 0, skipped: 0 };
  }
  process.stdout.write(`\n=== ${runtime}: ${[cmd, ...args].map((a) => a.replace(root + '/', '')).join(' ')}\n`);
  const result = spawnSync(cmd, args, {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, NO_COLOR: '1', TMPDIR: scratch.tmp, RUNNER_TEST_HOME: scratch.home },
  });
  const counts: Counts = { passed: 0, failed: 0, skipped: 0 };
  if (existsSync(report)) {
    const parser = new XMLParser({ ignoreAttributes: true });
    countTestcases(parser.parse(readFileSync(report, 'utf8')), counts);
  }
  if (result.status !== 0 && counts.failed === 0) {
    // A crash or a failure outside any test (a file that does not load) still fails the run.
    process.stdout.write(
      `${runtime}: test runner exited with ${result.status ?? result.signal ?? result.error?.message} and no failed test: counted as 1 failure\n`,
    );
    counts.failed++;
  }
  process.stdout.write(`${runtime}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
  return counts;
}

rmSync(resultsDir, { recursive: true, force: true });
mkdirSync(resultsDir, { recursive: true });
const total: Counts = { passed: 0, failed: 0, skipped: 0 };
try {
  for (const runtime of runtimes.length > 0 ? runtimes : RUNTIMES) {
    const counts = runOne(runtime);
    total.passed += counts.passed;
    total.failed += counts.failed;
    total.skipped += counts.skipped;
  }
} finally {
  rmSync(scratch.root, { recursive: true, force: true });
}
process.stdout.write(`\n${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped\n`);
process.exitCode = total.failed > 0 ? 1 : 0;
