// Docker executor benchmark: what the runner adds to a container job, on Node, Bun and Deno,
// next to the docker CLI doing the least a container job needs, timed in the same run.
//
//   1. start overhead: a job `echo first` on the docker executor (image runner-test/sh:1, pull
//      policy if-not-present, GIT_STRATEGY none, FF_TIMESTAMPS on), from the log's first line
//      (the runner took the job) to the line `first` (the script's first output), both read off
//      the log's own time prefixes, which the runner stamps as it receives each line: the same
//      clock at both ends. In between: the image looked up, a network and the build container
//      made, prepare_script and step_script each a container start (GitLab's sequence).
//      Reference: `docker run --rm runner-test/sh:1 echo first`, spawn to exit.
//   2. throughput at concurrent = 4: 12 trivial jobs (`true`) queued at once, enqueue to the
//      last one finished at the coordinator, as jobs per second. Reference: 12 `docker run --rm
//      runner-test/sh:1 true`, 4 at a time.
//
// Needs a Docker daemon (DOCKER_HOST or RUNNER_TEST_DOCKER_HOST) with the test images
// (test/support/docker/build-images.sh) and the docker CLI for the reference. Medians of --runs
// runs (default 5). It never passes or fails on time: exit 0 after printing, 1 when a
// measurement could not be made.
//
//   npm run build:bench && RUNNER_TEST_DOCKER_HOST=unix:///path/docker.sock node dist/bench/docker.js
//   node dist/bench/docker.js bun --runs 3

import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { type CoordinatorJob, TestCoordinator } from '../test/support/coordinator/coordinator.ts';
import { testDockerHost } from '../test/support/docker.ts';
import { killQueueRunner, makeWorkDir, removeWorkDir, startQueueRunner, stopQueueRunner } from './lib/jobs-runner.ts';
import { killSpawnedOnExit, runBench, runToExit } from './lib/processes.ts';
import { ALL_RUNTIMES, type RuntimeName, specFor, versionOf } from './lib/runtimes.ts';
import { median, table } from './lib/stats.ts';
import { packageRoot } from '../src/version.ts';

const TOKEN = 'glrt-bench-docker-0123456789';
const IMAGE = 'runner-test/sh:1';
const JOBS = 12;
const CONCURRENT = 4;

function configToml(url: string, host: string): string {
  return [
    'check_interval = 0.2',
    `concurrent = ${CONCURRENT}`,
    '[[runners]]',
    'name = "docker"',
    `url = "${url}"`,
    `token = "${TOKEN}"`,
    'executor = "docker"',
    '[runners.docker]',
    `host = "${host}"`,
    `image = "${IMAGE}"`,
    'pull_policy = "if-not-present"',
    '',
  ].join('\n');
}

/** The runner's time prefix of a log line (FF_TIMESTAMPS): 2006-01-02T15:04:05.000000Z. */
function stamp(line: string): number | undefined {
  const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6})Z /.exec(line);
  return match === null ? undefined : Date.parse(`${match[1]!.slice(0, 23)}Z`) + Number(match[1]!.slice(23)) / 1000;
}

function finished(coordinator: TestCoordinator, job: CoordinatorJob, timeoutMs = 120_000): Promise<CoordinatorJob> {
  return coordinator.waitFor(`job ${job.id}`, () => {
    const now = coordinator.job(job.id);
    return ['success', 'failed', 'canceled'].includes(now.state) ? now : undefined;
  }, timeoutMs);
}

const variables = [{ key: 'GIT_STRATEGY', value: 'none' }, { key: 'FF_TIMESTAMPS', value: 'true' }];

/** Start overhead of one job, in ms, from its log's time prefixes. */
async function startOverhead(coordinator: TestCoordinator): Promise<number> {
  const job = await finished(coordinator, coordinator.enqueueJob({ name: 'first', script: ['echo first'], variables }));
  if (job.state !== 'success') throw new Error(`the job ${job.state}: ${job.trace.toString().slice(-500)}`);
  const lines = job.trace.toString().split('\n');
  const begin = stamp(lines[0] ?? '');
  const first = lines.find((line) => / 01O first$/.test(line.replace(/\r$/, '')));
  const end = first === undefined ? undefined : stamp(first);
  if (begin === undefined || end === undefined) throw new Error(`no time prefixes in the log:\n${lines.slice(0, 5).join('\n')}`);
  return end - begin;
}

async function throughput(coordinator: TestCoordinator): Promise<number> {
  const started = performance.now();
  const jobs = Array.from({ length: JOBS }, (_, i) => coordinator.enqueueJob({ name: `t${i}`, script: ['true'], variables }));
  const done = await Promise.all(jobs.map((job) => finished(coordinator, job)));
  const failed = done.filter((job) => job.state !== 'success');
  if (failed.length > 0) throw new Error(`${failed.length} of ${JOBS} jobs did not succeed`);
  return JOBS / ((performance.now() - started) / 1000);
}

async function dockerRun(host: string, args: string[]): Promise<number> {
  const started = performance.now();
  const result = await runToExit('docker', ['-H', host, 'run', '--rm', IMAGE, ...args], process.cwd(), 60_000);
  if (result.code !== 0) throw new Error(`docker run: ${result.stderr.trim()}`);
  return performance.now() - started;
}

async function referenceThroughput(host: string): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENT }, async () => {
    while (next < JOBS) {
      next++;
      await dockerRun(host, ['true']);
    }
  }));
  return JOBS / ((performance.now() - started) / 1000);
}

async function main(): Promise<number> {
  killSpawnedOnExit();
  const argv = process.argv.slice(2);
  const at = argv.indexOf('--runs');
  const runs = at >= 0 ? Number(argv[at + 1]) : 5;
  const chosen = argv.filter((a): a is RuntimeName => (ALL_RUNTIMES as readonly string[]).includes(a));
  const runtimes = chosen.length > 0 ? chosen : [...ALL_RUNTIMES];
  const host = testDockerHost();
  const root = packageRoot();
  const rows = [['who', 'start overhead ms (median)', 'ratio ref/ours', `jobs/s at concurrent ${CONCURRENT}`, 'ratio ours/ref']];
  const refStart: number[] = [];
  const refRate: number[] = [];
  let failed = false;
  for (const name of runtimes) {
    const spec = specFor(name, root);
    const coordinator = await TestCoordinator.start({ runnerTokens: [TOKEN], traceUpdateIntervalSeconds: 1 });
    const dir = makeWorkDir(configToml(coordinator.url, host));
    chmodSync(join(dir, 'config.toml'), 0o600);
    const runner = await startQueueRunner(spec, dir);
    try {
      process.stderr.write(`bench: ${name} ${await versionOf(spec, root)}\n`);
      await startOverhead(coordinator); // warm-up: first job of the process
      const starts: number[] = [];
      const rates: number[] = [];
      for (let i = 0; i < runs; i++) {
        starts.push(await startOverhead(coordinator));
        refStart.push(await dockerRun(host, ['echo', 'first']));
        rates.push(await throughput(coordinator));
        refRate.push(await referenceThroughput(host));
      }
      rows.push([name, median(starts).toFixed(0), '', median(rates).toFixed(2), '']);
    } catch (error) {
      failed = true;
      rows.push([name, `failed: ${(error as Error).message}`]);
    } finally {
      await stopQueueRunner(runner).catch(() => killQueueRunner(runner));
      await coordinator.close();
      removeWorkDir(dir);
    }
  }
  const refStartMs = median(refStart);
  const refJobs = median(refRate);
  for (const row of rows.slice(1)) {
    if (row.length < 5) continue;
    row[2] = (refStartMs / Number(row[1])).toFixed(2);
    row[4] = (Number(row[3]) / refJobs).toFixed(2);
  }
  rows.push(['docker run --rm (CLI)', refStartMs.toFixed(0), '1.00', refJobs.toFixed(2), '1.00']);
  console.log(`${runs} run(s) per runtime, medians; image ${IMAGE}, daemon ${host}`);
  console.log(table(rows));
  return failed ? 1 : 0;
}

await runBench(main);
