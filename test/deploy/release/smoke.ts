// The smoke test every release artefact passes (issue 17): it starts, /metrics is scraped, a CPU
// and a heap profile are read by `go tool pprof`, a local job runs to success through `runner
// submit --wait`, and SIGTERM stops it with exit 0 - all through the installed command alone.
// Where a target says which names its JavaScript frames carry, both profiles name only those.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { goPprof, rawLocations } from '../../support/pprof.ts';
import { runCli, RunnerProcess } from '../../support/runner-process.ts';

export interface SmokeTarget {
  /** The installed command and the arguments before the runner's own (e.g. [deno, run, -A, file]). */
  readonly command: readonly [string, ...string[]];
  /** Where the runner works (its queue and builds). */
  readonly workDir: string;
  /** Arguments `run` and `submit` both take (a config file, say). */
  readonly commonArgs?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** The user the job must run as, when the artefact sets one. */
  readonly jobUser?: string;
  /**
   * How `submit` names the queue, in place of commonArgs and --working-directory, and the directory it
   * runs in (a config whose queue_dir is absolute needs no working directory).
   */
  readonly submit?: { readonly args: readonly string[]; readonly cwd: string };
  /**
   * The file names the artefact's own frames carry in its profiles, Node's `node:*` aside; the
   * first, the bundle's, must show in the heap profile (sampled from the start, it always holds
   * some of the runner's allocations; an idle second of CPU may not).
   */
  readonly scriptNames?: readonly [string, ...string[]];
}

/** The directory `npm run package` builds in (build-release.ts): no artefact may name a file there. */
export const BUILD_DIRECTORY = /\/runner-release-/;

/** Checks the file names of a profile's frames (`go tool pprof -raw`) against `names` (SmokeTarget.scriptNames). */
function assertFrameNames(raw: string, names: readonly [string, ...string[]], profile: 'cpu' | 'heap'): void {
  assert.doesNotMatch(raw, BUILD_DIRECTORY, `the ${profile} profile names a file of the build`);
  const files = new Set(rawLocations(raw).map((location) => location.file).filter((file) => !file.startsWith('node:')));
  for (const file of files) assert.ok(names.includes(file), `the ${profile} profile names ${file}, not one of ${names.join(', ')}`);
  if (profile === 'heap') assert.ok(files.has(names[0]), `the heap profile names no frame of ${names[0]}: ${[...files].join(', ')}`);
}

async function get(url: string): Promise<{ status: number; body: Uint8Array; text: string }> {
  const response = await fetch(url);
  const body = new Uint8Array(await response.arrayBuffer());
  return { status: response.status, body, text: new TextDecoder().decode(body) };
}

export async function smokeTest(target: SmokeTarget, version: string): Promise<void> {
  const common = [...(target.commonArgs ?? []), '--working-directory', target.workDir];
  const options = { command: target.command, cwd: target.workDir, env: target.env ?? {} };

  const versionRun = await runCli(['--version'], options);
  assert.equal(versionRun.code, 0, versionRun.stderr);
  assert.match(versionRun.stdout, new RegExp(`^runner ${version.replaceAll('.', '\\.')}\\n`));
  assert.doesNotMatch(versionRun.stdout, /unknown/, 'the build information is in the artefact');

  const runner = await RunnerProcess.start(['run', ...common, '--metrics-server', '127.0.0.1:0'], /Runner ready/, options);
  try {
    const metrics = await get(`${runner.url}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.text, new RegExp(`^ci_runner_version_info\\{[^}]*version="${version.replaceAll('.', '\\.')}"`, 'm'));
    assert.match(metrics.text, /^process_start_time_seconds /m);

    const cpu = await get(`${runner.url}/debug/pprof/profile?seconds=1`);
    assert.equal(cpu.status, 200, cpu.text);
    assert.match(goPprof(cpu.body, '-top'), /Type: cpu/);
    if (target.scriptNames) assertFrameNames(goPprof(cpu.body, '-raw'), target.scriptNames, 'cpu');
    const heap = await get(`${runner.url}/debug/pprof/heap`);
    assert.equal(heap.status, 200, heap.text);
    assert.match(goPprof(heap.body, '-top'), /Type: inuse_space/);
    if (target.scriptNames) assertFrameNames(goPprof(heap.body, '-raw'), target.scriptNames, 'heap');

    const jobFile = join(target.workDir, 'smoke-job.toml');
    writeFileSync(jobFile, 'name = "smoke"\nscript = ["echo smoke-$GREETING from $(id -un)"]\n[variables]\nGREETING = "ok"\n');
    const submitArgs = target.submit?.args ?? common;
    const submitted = await runCli(['submit', ...submitArgs, '--wait', jobFile], { ...options, cwd: target.submit?.cwd ?? options.cwd, timeoutMs: 60_000 });
    assert.equal(submitted.code, 0, `${submitted.stdout}\n${submitted.stderr}`);
    assert.match(submitted.stdout, new RegExp(`smoke-ok from ${target.jobUser ?? '\\S+'}`));
  } finally {
    const stopped = await runner.stop('SIGTERM');
    assert.equal(stopped.code, 0, runner.tail());
    assert.match(runner.logs(), /Runner stopped/);
  }
}

/** Runs a setup command (npm, dpkg) and fails with its output. */
export function setup(command: string, args: readonly string[], env?: NodeJS.ProcessEnv): string {
  const result = spawnSync(command, args, { encoding: 'utf8', env: env ?? process.env, maxBuffer: 16 * 1024 * 1024 });
  assert.equal(result.status, 0, `${command} ${args.join(' ')}: ${result.error?.message ?? ''}${result.stdout}${result.stderr}`);
  return result.stdout;
}
