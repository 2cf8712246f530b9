// Artifact upload benchmark: zip + upload of a mixed tree through the runner's own code, next to
// Debian's `zip -r -q` + `curl -F file=@...` sending the same files to the same coordinator
// endpoint, in the same run; plus the peak memory of the runner's upload and download.
//
// Needs the `zip` and `curl` CLIs (Debian: `apt-get install -y zip curl`); the bench refuses to
// start without them. It is not run in CI.
//
// The tree (default 1 GiB, --mib N to change) is made once in a temp project dir: a few large files
// (half compressible log text, half random bytes as already-compressed assets are) and many small
// ones (25 KiB, text and random alternating). A test coordinator (test/support/coordinator) runs in
// this process; every upload gets its own job, requested with a runner token so that it is running.
//
//   ours:      a fresh process per runtime and run: collectEntries + writeZip to a temp file +
//              uploadArtifact (src/sources/gitlab/artifacts-client.ts); then another fresh process:
//              downloadArtifacts + extractZip. Each reports its wall time and the growth of its
//              VmHWM (/proc/self/status, the kernel's peak resident set) over the work.
//   reference: `zip -r -q` then `curl -F file=@archive.zip -H JOB-TOKEN:...` to the same endpoint.
//
// The median of --runs runs (default 3) is printed, with the ratio reference time / our time (the
// issue's goal: >= 0.8). A 10 MiB tree is measured once per runtime so that the memory target
// (1 GiB growth within 32 MiB of the 10 MiB one) can be read off. Nothing passes or fails on a
// figure: exit 0 after printing, 1 if a measurement could not be made.
//
//   npm run build:bench && node dist/bench/artifact-upload.js                  # node, bun, deno
//   node dist/bench/artifact-upload.js node --runs 1 --mib 256                # quicker
//   node dist/bench/artifact-upload.js --single-file                           # one 1 GiB file, 10 MiB file

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectEntries } from '../src/artifacts/paths.ts';
import { extractZip } from '../src/artifacts/zip-reader.ts';
import { writeZip } from '../src/artifacts/zip-writer.ts';
import { GitLabApi } from '../src/sources/gitlab/api.ts';
import { downloadArtifacts, uploadArtifact } from '../src/sources/gitlab/artifacts-client.ts';
import { readStatusMemory } from '../src/system/proc-stat.ts';
import { packageRoot } from '../src/version.ts';
import { TestCoordinator } from '../test/support/coordinator/coordinator.ts';
import { killSpawnedOnExit, runBench, runToExit } from './lib/processes.ts';
import { ALL_RUNTIMES, type RuntimeName, scriptArgs, specFor, versionOf } from './lib/runtimes.ts';
import { median, table } from './lib/stats.ts';

const SCRIPT = 'bench/artifact-upload.ts';
const MiB = 1024 * 1024;
const RUNNER_TOKEN = 'glrt-bench-artifacts';
const TARGET_MIB = 32;
const CHILD_TIMEOUT_MS = 1_800_000;
const SMALL_FILE = 25 * 1024;

interface ChildResult {
  ms: number;
  hwmGrowthBytes: number;
  bytes: number;
}

// ---------------------------------------------------------------------------------------------
// The tree

/** Log-like text: compresses about 5:1, as build logs and source files do. */
function textBlock(bytes: number, seed: number): Buffer {
  const lines: string[] = [];
  let length = 0;
  for (let i = 0; length < bytes; i++) {
    const line = `${seed}:${i} INFO compiling module_${(i * 7919) % 1000}.o from src/unit_${i % 313}.c in ${(i * 37) % 1000} ms\n`;
    lines.push(line);
    length += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, bytes);
}

async function writeLarge(path: string, bytes: number, random: boolean, seed: number): Promise<void> {
  const out = createWriteStream(path);
  for (let written = 0; written < bytes; written += MiB) {
    const block = random ? randomBytes(Math.min(MiB, bytes - written)) : textBlock(Math.min(MiB, bytes - written), seed + written);
    if (!out.write(block)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'close');
}

/** With --single-file, one file of random bytes. Otherwise half the bytes in 4 large files (2 text, 2 random), half in 25 KiB files alternating text and random. */
async function makeTree(root: string, totalBytes: number, singleFile: boolean): Promise<number> {
  const out = join(root, 'out');
  mkdirSync(join(out, 'assets'), { recursive: true });
  if (singleFile) {
    await writeLarge(join(out, 'assets', 'single.bin'), totalBytes, true, 0);
    return totalBytes;
  }
  const large = Math.floor(totalBytes / 2 / 4 / MiB) * MiB;
  for (let i = 0; i < 4; i++) await writeLarge(join(out, 'assets', `large-${i}.${i % 2 === 0 ? 'log' : 'bin'}`), large, i % 2 === 1, i);
  const smallCount = Math.floor((totalBytes - 4 * large) / SMALL_FILE);
  const text = textBlock(SMALL_FILE, 0);
  for (let i = 0; i < smallCount; i++) {
    const dir = join(out, 'pkg', `m${i % 128}`);
    if (i < 128) mkdirSync(dir, { recursive: true });
    const data = i % 2 === 0 ? Buffer.from(text) : randomBytes(SMALL_FILE);
    data.writeUInt32LE(i, 0); // no two files alike
    writeFileSync(join(dir, `f${i}.${i % 2 === 0 ? 'txt' : 'dat'}`), data);
  }
  return 4 * large + smallCount * SMALL_FILE;
}

// ---------------------------------------------------------------------------------------------
// The child: one upload or one download, measured from inside

async function measureChild(argv: string[]): Promise<number> {
  const [mode, url, jobId, token, dir, work] = argv;
  if (url === undefined || jobId === undefined || token === undefined || dir === undefined || work === undefined) throw new Error('bad --measure arguments');
  const api = new GitLabApi(url, undefined, () => undefined);
  const zipPath = join(work, 'artifacts.zip');
  const log = (): void => {};
  try {
    const before = readStatusMemory('self')?.peakResidentBytes;
    const t0 = performance.now();
    let bytes: number;
    if (mode === 'upload') {
      const { entries } = await collectEntries({ projectDir: dir, paths: ['out'] });
      await writeZip(entries, zipPath, { projectDir: dir });
      const result = await uploadArtifact(api, Number(jobId), token, zipPath, { type: 'archive', format: 'zip' }, log);
      if (!result.ok) throw new Error(`upload failed: ${result.state} ${result.status}`);
      bytes = result.bytes;
    } else {
      const result = await downloadArtifacts(api, Number(jobId), token, zipPath, {}, log);
      if (!result.ok) throw new Error(`download failed: ${result.state} ${result.status}`);
      bytes = (await extractZip(zipPath, join(work, 'extracted'))).bytes;
    }
    const ms = performance.now() - t0;
    const after = readStatusMemory('self')?.peakResidentBytes;
    if (before === undefined || after === undefined) throw new Error('VmHWM is not readable from /proc/self/status');
    const out: ChildResult = { ms, hwmGrowthBytes: after - before, bytes };
    console.log(JSON.stringify(out));
  } finally {
    api.close();
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// The parent

class Bench {
  private readonly api: GitLabApi;
  constructor(private readonly coordinator: TestCoordinator) {
    this.api = new GitLabApi(coordinator.url, undefined, () => undefined);
  }

  /** A job in the running state, as the one a runner would upload for. */
  async runningJob(): Promise<{ id: number; token: string }> {
    const job = this.coordinator.enqueueJob({ name: 'bench', script: ['true'] });
    const response = await this.api.requestJob({ token: RUNNER_TOKEN, info: { features: { artifacts: true } } });
    if (response.status !== 201) throw new Error(`job request answered ${response.status}`);
    return { id: job.id, token: job.token };
  }

  /** zip -r -q + curl -F, timed together. */
  async reference(dir: string, work: string): Promise<number> {
    const job = await this.runningJob();
    const zipPath = join(work, 'reference.zip');
    rmSync(zipPath, { force: true });
    const t0 = performance.now();
    // Spawned asynchronously: the coordinator answering curl runs in this process.
    const zip = await runToExit('zip', ['-r', '-q', zipPath, 'out'], dir, CHILD_TIMEOUT_MS);
    if (zip.code !== 0) throw new Error(`zip exited ${zip.code}`);
    const url = `${this.coordinator.url}/api/v4/jobs/${job.id}/artifacts?artifact_format=zip&artifact_type=archive`;
    const curl = await runToExit(
      'curl',
      ['-sS', '-f', '-o', '/dev/null', '-H', `JOB-TOKEN: ${job.token}`, '-F', `file=@${zipPath}`, url],
      work,
      CHILD_TIMEOUT_MS,
    );
    const ms = performance.now() - t0;
    rmSync(zipPath, { force: true });
    if (curl.code !== 0) throw new Error(`curl exited ${curl.code}: ${curl.stderr.trim()}`);
    return ms;
  }

  close(): void {
    this.api.close();
  }
}

async function child(runtime: RuntimeName, root: string, args: string[]): Promise<ChildResult> {
  const spec = specFor(runtime, root);
  const r = await runToExit(spec.bin, [...scriptArgs(spec, root, SCRIPT), '--measure', ...args], root, CHILD_TIMEOUT_MS);
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  if (r.code !== 0 || !last.startsWith('{')) throw new Error(`${runtime}: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`);
  return JSON.parse(last) as ChildResult;
}

/** One upload then one download of the tree by `runtime`, each in a fresh process. */
async function ours(bench: Bench, coordinator: TestCoordinator, runtime: RuntimeName, root: string, dir: string, work: string) {
  const job = await bench.runningJob();
  mkdirSync(work, { recursive: true });
  try {
    const up = await child(runtime, root, ['upload', coordinator.url, String(job.id), job.token, dir, work]);
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    const down = await child(runtime, root, ['download', coordinator.url, String(job.id), job.token, dir, work]);
    return { up, down };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function option(argv: string[], name: string, fallback: number): number {
  const at = argv.indexOf(name);
  const value = at >= 0 ? Number(argv[at + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} wants a positive number`);
  return value;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--measure') return measureChild(argv.slice(1));
  killSpawnedOnExit();
  for (const tool of ['zip', 'curl']) {
    if (spawnSync(tool, ['--version'], { stdio: 'ignore' }).status !== 0) {
      process.stderr.write(`bench: \`${tool}\` is missing: apt-get install -y zip curl\n`);
      return 1;
    }
  }
  const root = packageRoot();
  const runtimes = argv.filter((a): a is RuntimeName => (ALL_RUNTIMES as readonly string[]).includes(a));
  const chosen = runtimes.length > 0 ? runtimes : [...ALL_RUNTIMES];
  const runs = option(argv, '--runs', 3);
  const mib = option(argv, '--mib', 1024);
  const base = mkdtempSync(join(tmpdir(), 'runner-bench-artifact-upload-'));
  const coordinator = await TestCoordinator.start({ runnerTokens: [RUNNER_TOKEN] });
  const bench = new Bench(coordinator);
  let failed = false;
  try {
    const small = join(base, 'project-10MiB');
    const large = join(base, `project-${mib}MiB`);
    const singleFile = argv.includes('--single-file');
    await makeTree(small, 10 * MiB, singleFile);
    process.stderr.write(`bench: making the ${mib} MiB tree\n`);
    const bytes = await makeTree(large, mib * MiB, singleFile);
    const refMs: number[] = [];
    for (let i = 0; i < runs; i++) refMs.push(await bench.reference(large, base));
    const ref = median(refMs);
    const rows = [[
      'who',
      'upload s (median)',
      'ratio ref/ours',
      'upload VmHWM growth MiB',
      'download s',
      'download VmHWM growth MiB',
      '10 MiB up/down growth MiB',
    ]];
    rows.push(['zip -r -q + curl -F', (ref / 1000).toFixed(1), '1.00', '', '', '', '']);
    const targets: string[] = [];
    for (const name of chosen) {
      try {
        process.stderr.write(`bench: ${name} ${await versionOf(specFor(name, root), root)}\n`);
        const baseline = await ours(bench, coordinator, name, root, small, join(base, 'work'));
        const measured = [];
        for (let i = 0; i < runs; i++) measured.push(await ours(bench, coordinator, name, root, large, join(base, 'work')));
        const upMs = median(measured.map((m) => m.up.ms));
        const upGrowth = median(measured.map((m) => m.up.hwmGrowthBytes)) / MiB;
        const downGrowth = median(measured.map((m) => m.down.hwmGrowthBytes)) / MiB;
        const baseUp = baseline.up.hwmGrowthBytes / MiB;
        const baseDown = baseline.down.hwmGrowthBytes / MiB;
        rows.push([
          name,
          (upMs / 1000).toFixed(1),
          (ref / upMs).toFixed(2),
          upGrowth.toFixed(1),
          (median(measured.map((m) => m.down.ms)) / 1000).toFixed(1),
          downGrowth.toFixed(1),
          `${baseUp.toFixed(1)} / ${baseDown.toFixed(1)}`,
        ]);
        for (const [what, big, little] of [['upload', upGrowth, baseUp], ['download', downGrowth, baseDown]] as const) {
          const met = big - little <= TARGET_MIB;
          targets.push(
            `memory ${name} ${what}: ${mib} MiB grows ${(big - little).toFixed(1)} MiB more than 10 MiB (limit ${TARGET_MIB}): ${met ? 'met' : 'NOT met'}`,
          );
        }
      } catch (error) {
        failed = true;
        rows.push([name, `failed: ${(error as Error).message}`]);
      }
    }
    console.log(`tree: ${(bytes / MiB).toFixed(0)} MiB ${singleFile ? 'in one file' : 'of files'}, ${runs} run(s) each, medians`);
    console.log(table(rows));
    console.log('ratio: reference time / our time; the goal is >= 0.8.');
    for (const line of targets) console.log(line);
  } finally {
    bench.close();
    await coordinator.close();
    rmSync(base, { recursive: true, force: true });
  }
  return failed ? 1 : 0;
}

await runBench(main);
