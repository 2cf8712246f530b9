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
//   npm run build && node dist/bench/startup.js
//   node dist/bench/startup.js bun deno --runs 10     # restrict runtimes, change run count
//   node dist/bench/startup.js --verbose              # also print every single run
//
// It never passes or fails on time: it exits 0 after printing, or 1 if a runner failed to
// start (the reason is printed). Every spawned process is killed on every error path, and every
// wait is bounded by a 30 s timeout.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync, realpathSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const WAIT_TIMEOUT_MS = 30_000;
const POLL_INTERVAL_MS = 5;
const REQUEST_TIMEOUT_MS = 1_000;
const IDLE_BEFORE_RSS_MS = 3_000;
const DEFAULT_RUNS = 5;
const LISTENING_RE = /Metrics server listening\s+address=(\S+)/;
const STDERR_KEEP_CHARS = 64 * 1024;

type RuntimeName = 'node' | 'bun' | 'deno';
const ALL_RUNTIMES: readonly RuntimeName[] = ['node', 'bun', 'deno'];

interface RuntimeSpec {
  name: RuntimeName;
  /** Executable to spawn. */
  bin: string;
  /** Arguments that start the runner (without the `run ...` part). */
  runnerArgs: string[];
  /** Arguments that make the runtime start and exit doing nothing. */
  bareArgs: string[];
}

interface RunResult {
  /** spawn() to the "Metrics server listening" line on stderr. */
  logMs: number;
  /** spawn() to the first 200 answer of GET /metrics (body fully received). */
  scrapeMs: number;
  /** Number of GET /metrics attempts until the first 200. */
  attempts: number;
  rssKiB: number | undefined;
  processCheck: string;
  exit: string;
}

interface RuntimeResult {
  spec: RuntimeSpec;
  version: string;
  runs: RunResult[];
  bareMs: number[];
  error?: string;
}

// ---------------------------------------------------------------------------------------------
// Process bookkeeping: every child we spawn is tracked until it exits, and killed on any exit
// path of the bench itself.

const live = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.once('error', () => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) {
      live.delete(child);
    }
  });
  return child;
}

function killAll(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    killAll();
    process.stderr.write(`\nbench: interrupted by ${signal}, all spawned processes killed\n`);
    process.exit(130);
  });
}
process.on('uncaughtException', (err) => {
  killAll();
  process.stderr.write(`bench: unexpected error: ${err.stack ?? String(err)}\n`);
  process.exit(1);
});
process.on('unhandledRejection', (reason) => {
  killAll();
  process.stderr.write(`bench: unexpected error: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}\n`);
  process.exit(1);
});

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves with a description of how the child exited; rejects after timeoutMs. */
function waitForExit(child: ChildProcess, timeoutMs: number): Promise<string> {
  const describe = (): string =>
    child.signalCode !== null ? `signal ${child.signalCode}` : `code ${String(child.exitCode)}`;
  if (hasExited(child)) return Promise.resolve(describe());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      reject(new Error(`pid ${String(child.pid)} did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(describe());
    };
    child.once('exit', onExit);
  });
}

/** SIGTERM, wait up to 30 s, else SIGKILL. Returns how it exited. */
async function stop(child: ChildProcess): Promise<string> {
  if (hasExited(child)) return waitForExit(child, 0);
  child.kill('SIGTERM');
  try {
    return await waitForExit(child, WAIT_TIMEOUT_MS);
  } catch {
    child.kill('SIGKILL');
    const how = await waitForExit(child, WAIT_TIMEOUT_MS).catch(() => 'unknown');
    return `no exit within ${WAIT_TIMEOUT_MS} ms of SIGTERM, SIGKILLed (${how})`;
  }
}

/** Runs a command to completion (bounded by 30 s) and measures spawn() to exit. */
async function runToExit(bin: string, args: string[], cwd: string): Promise<{ ms: number; code: number | null; signal: string | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const t0 = performance.now();
  const child = track(spawn(bin, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] }));
  child.stdout?.setEncoding('utf8').on('data', (s: string) => { if (stdout.length < STDERR_KEEP_CHARS) stdout += s; });
  child.stderr?.setEncoding('utf8').on('data', (s: string) => { if (stderr.length < STDERR_KEEP_CHARS) stderr += s; });
  try {
    const ms = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${bin} ${args.join(' ')} did not exit within ${WAIT_TIMEOUT_MS} ms`)), WAIT_TIMEOUT_MS);
      child.once('error', (err) => { clearTimeout(timer); reject(err); });
      child.once('exit', () => { clearTimeout(timer); resolve(performance.now() - t0); });
    });
    // 'exit' can precede the end of the output streams; wait (bounded) for 'close' to read all of it.
    if (child.stdout !== null && !child.stdout.readableEnded) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, WAIT_TIMEOUT_MS);
        child.once('close', () => { clearTimeout(timer); resolve(); });
      });
    }
    return { ms, code: child.exitCode, signal: child.signalCode, stdout, stderr };
  } finally {
    if (child.pid !== undefined && !hasExited(child)) {
      child.kill('SIGKILL');
      await waitForExit(child, WAIT_TIMEOUT_MS).catch(() => undefined);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

interface ScrapeAnswer {
  status: number;
  body: string;
}

function get(url: URL): Promise<ScrapeAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => { body += s; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end();
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// /proc

function readRssKiB(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] !== undefined ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

function childPids(pid: number): number[] {
  const pids: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        for (const p of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/)) {
          if (p !== '') pids.push(Number(p));
        }
      } catch {
        // thread gone, or kernel without /proc/PID/task/TID/children
      }
    }
  } catch {
    // no /proc
  }
  return pids;
}

/** Checks that the spawned PID is the runtime binary itself (not a wrapper) and has no children. */
function checkProcess(pid: number, expectedBin: string): string {
  let exe: string;
  let argv0: string;
  try {
    exe = readlinkSync(`/proc/${pid}/exe`);
    argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
  } catch {
    return 'not checked (no /proc)';
  }
  const notes: string[] = [];
  let expected = expectedBin;
  try {
    expected = realpathSync(expectedBin);
  } catch {
    // keep as given
  }
  if (exe === expected) {
    notes.push(`pid is the runtime binary itself (exe=${exe}, argv0=${argv0})`);
  } else {
    notes.push(`WRAPPER? exe=${exe} is not ${expected} (argv0=${argv0})`);
  }
  const kids = childPids(pid);
  if (kids.length === 0) {
    notes.push('no child processes');
  } else {
    const described = kids.map((k) => {
      let comm = '?';
      try {
        comm = readFileSync(`/proc/${k}/comm`, 'utf8').trim();
      } catch {
        // gone
      }
      const rss = readRssKiB(k);
      return `${k} ${comm} ${rss === undefined ? '?' : fmtMiB(rss)} MiB`;
    });
    notes.push(`CHILD PROCESSES (not in RSS figure): ${described.join(', ')}`);
  }
  return notes.join('; ');
}

// ---------------------------------------------------------------------------------------------
// One runner run

async function runOnce(spec: RuntimeSpec, cwd: string): Promise<RunResult> {
  let stderrText = '';
  let address: string | undefined;
  let onAddress: (() => void) | undefined;
  let onExitEarly: ((err: Error) => void) | undefined;

  const args = [...spec.runnerArgs, 'run', '--metrics-server', '127.0.0.1:0'];
  const t0 = performance.now();
  const child = track(spawn(spec.bin, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] }));
  let logMs = 0;

  child.stdout?.resume(); // drain whatever goes to stdout
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    stderrText += s;
    if (address === undefined) {
      const m = LISTENING_RE.exec(stderrText);
      if (m?.[1] !== undefined) {
        logMs = performance.now() - t0;
        address = m[1];
        onAddress?.();
      }
    }
    if (stderrText.length > STDERR_KEEP_CHARS) stderrText = stderrText.slice(-STDERR_KEEP_CHARS);
  });
  const tail = (): string => {
    const lines = stderrText.trimEnd().split('\n').slice(-15).join('\n');
    return lines === '' ? '(no stderr output)' : `stderr:\n${lines}`;
  };
  child.once('error', (err) => onExitEarly?.(err));
  child.once('exit', (code, signal) =>
    onExitEarly?.(new Error(`runner exited before its first successful scrape (${signal !== null ? `signal ${signal}` : `code ${String(code)}`})`)),
  );

  try {
    const deadline = t0 + WAIT_TIMEOUT_MS;

    // Wait for the address on stderr (or an early exit, or the timeout).
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "Metrics server listening" line within ${WAIT_TIMEOUT_MS} ms`)), WAIT_TIMEOUT_MS);
      onAddress = () => { clearTimeout(timer); resolve(); };
      onExitEarly = (err) => { clearTimeout(timer); reject(err); };
      if (address !== undefined) onAddress();
      if (hasExited(child)) onExitEarly(new Error('runner exited before logging its address'));
    });

    // Poll GET /metrics every ~5 ms until 200.
    let exitedEarly: Error | undefined;
    onExitEarly = (err) => { exitedEarly = err; };
    if (hasExited(child)) exitedEarly = new Error('runner exited right after logging its address');
    const url = new URL(`http://${String(address)}/metrics`);
    let attempts = 0;
    let last = '';
    let scrapeMs: number | undefined;
    while (scrapeMs === undefined) {
      if (exitedEarly !== undefined) throw exitedEarly;
      if (performance.now() > deadline) {
        throw new Error(`GET ${url.href} did not answer 200 within ${WAIT_TIMEOUT_MS} ms of spawn (last: ${last})`);
      }
      attempts++;
      try {
        const answer = await get(url);
        if (answer.status === 200) {
          scrapeMs = performance.now() - t0;
          if (!/^# (HELP|TYPE) /m.test(answer.body)) {
            throw new Error(`GET ${url.href} answered 200 but the body does not look like Prometheus text: ${JSON.stringify(answer.body.slice(0, 200))}`);
          }
          break;
        }
        last = `HTTP ${answer.status}`;
      } catch (err) {
        if (scrapeMs !== undefined) throw err;
        last = err instanceof Error ? err.message : String(err);
      }
      await sleep(POLL_INTERVAL_MS);
    }

    // Idle, then RSS of the spawned process.
    await sleep(IDLE_BEFORE_RSS_MS);
    if (exitedEarly !== undefined || hasExited(child)) {
      const how = child.signalCode !== null ? `signal ${child.signalCode}` : `code ${String(child.exitCode)}`;
      throw new Error(`runner exited during the ${IDLE_BEFORE_RSS_MS} ms idle period after its first scrape (${how}; the bench sends no signal before then)`);
    }
    const pid = child.pid ?? -1;
    const rssKiB = readRssKiB(pid);
    const processCheck = checkProcess(pid, spec.bin);

    onExitEarly = undefined;
    const exit = await stop(child);
    return { logMs, scrapeMs, attempts, rssKiB, processCheck, exit };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(`${message}\n${tail()}`);
  } finally {
    onExitEarly = undefined;
    if (child.pid !== undefined && !hasExited(child)) {
      child.kill('SIGKILL');
      await waitForExit(child, WAIT_TIMEOUT_MS).catch(() => undefined);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Reporting helpers

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  if (s.length === 0) return NaN;
  return s.length % 2 === 1 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
}

const fmtMs = (ms: number): string => (Number.isFinite(ms) ? ms.toFixed(0) : 'n/a');
const fmtMiB = (kib: number): string => (Number.isFinite(kib) ? (kib / 1024).toFixed(1) : 'n/a');
const spread = (xs: number[]): string =>
  xs.length === 0 ? 'n/a' : `${fmtMs(median(xs))} [${fmtMs(Math.min(...xs))}-${fmtMs(Math.max(...xs))}]`;

function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => { widths[i] = Math.max(widths[i] ?? 0, cell.length); });
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')).join('\n');
}

// ---------------------------------------------------------------------------------------------
// Main

function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'cmd', 'runner.ts'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the repository root (package.json + cmd/runner.ts) above this script');
    dir = parent;
  }
}

function usage(): string {
  return 'usage: node dist/bench/startup.js [node] [bun] [deno] [--runs N] [--verbose]';
}

function parseArgs(argv: string[]): { runtimes: RuntimeName[]; runs: number; verbose: boolean } {
  const runtimes: RuntimeName[] = [];
  let runs = DEFAULT_RUNS;
  let verbose = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    let runsValue: string | undefined;
    if (arg === '--runs') runsValue = argv[++i] ?? '';
    else if (arg.startsWith('--runs=')) runsValue = arg.slice('--runs='.length);
    else if (arg === '--verbose' || arg === '-v') verbose = true;
    else if (arg === '--help' || arg === '-h') {
      console.log(usage());
      process.exit(0);
    } else if ((ALL_RUNTIMES as readonly string[]).includes(arg)) {
      if (!runtimes.includes(arg as RuntimeName)) runtimes.push(arg as RuntimeName);
    } else {
      console.error(`bench: unknown argument ${JSON.stringify(arg)}\n${usage()}`);
      process.exit(2);
    }
    if (runsValue !== undefined) {
      runs = Number(runsValue);
      if (!Number.isInteger(runs) || runs < 1) {
        console.error(`bench: --runs needs a positive integer, got ${JSON.stringify(runsValue)}\n${usage()}`);
        process.exit(2);
      }
    }
  }
  return { runtimes: runtimes.length > 0 ? runtimes : [...ALL_RUNTIMES], runs, verbose };
}

function specFor(name: RuntimeName, root: string): RuntimeSpec {
  switch (name) {
    case 'node': {
      // The bench itself is meant to run on Node; otherwise use `node` from PATH.
      const onNode = process.versions.bun === undefined && process.versions.deno === undefined;
      return { name, bin: onNode ? process.execPath : 'node', runnerArgs: [join(root, 'dist', 'cmd', 'runner.js')], bareArgs: ['-e', '0'] };
    }
    case 'bun':
      return { name, bin: join(root, 'node_modules', '.bin', 'bun'), runnerArgs: [join(root, 'cmd', 'runner.ts')], bareArgs: ['-e', '0'] };
    case 'deno':
      return { name, bin: join(root, 'node_modules', '.bin', 'deno'), runnerArgs: ['run', '-A', join(root, 'cmd', 'runner.ts')], bareArgs: ['eval', '0'] };
  }
}

async function versionOf(spec: RuntimeSpec, root: string): Promise<string> {
  if (spec.name === 'node' && spec.bin === process.execPath) return process.version.replace(/^v/, '');
  const r = await runToExit(spec.bin, ['--version'], root);
  if (r.code !== 0) throw new Error(`${spec.bin} --version failed (${r.signal ?? `code ${String(r.code)}`}): ${r.stderr.trim()}`);
  const firstLine = r.stdout.trim().split('\n')[0] ?? '';
  return /\d+\.\d+\.\d+\S*/.exec(firstLine)?.[0] ?? firstLine;
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
  const root = findRepoRoot();
  const specs = runtimes.map((r) => specFor(r, root));

  process.stderr.write(`bench: ${runs} run(s) per runtime for ${runtimes.join(', ')} (about ${Math.ceil(runtimes.length * runs * (IDLE_BEFORE_RSS_MS + 700) / 1000)} s) `);
  if (verbose) process.stderr.write('\n');
  const results: RuntimeResult[] = [];
  for (const spec of specs) results.push(await benchRuntime(spec, root, runs, verbose));
  process.stderr.write('\n');

  const shown = (p: string): string => (p.startsWith(root) ? relative(root, p) : p);
  const lines: string[] = [];
  lines.push(`command: ${shown(process.execPath)} ${shown(fileURLToPath(import.meta.url))}${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}  (cwd ${root}, ${runs} run(s) per runtime)`);
  for (const r of results) {
    lines.push(`  ${r.spec.name.padEnd(4)} runner: ${[shown(r.spec.bin), ...r.spec.runnerArgs.map(shown), 'run', '--metrics-server', '127.0.0.1:0'].join(' ')}   bare: ${[shown(r.spec.bin), ...r.spec.bareArgs].join(' ')}`);
  }
  lines.push('');

  const rows: string[][] = [[
    'runtime', 'version', 'startup-to-first-scrape ms (median [min-max])', 'bare runtime ms (median [min-max])', 'overhead ms', 'ratio', 'idle RSS MiB (median [min-max])',
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
      rss.length === 0 ? 'n/a' : `${fmtMiB(median(rss))} [${fmtMiB(Math.min(...rss))}-${fmtMiB(Math.max(...rss))}]`,
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

let code = 1;
try {
  code = await main();
} catch (err) {
  console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
} finally {
  killAll();
}
process.exit(code);
