// Runs the whole corpus: one test coordinator serving every corpus project,
// one runner CLI process (concurrent = 1, so the jobs of a project run in
// order and fetch into the same checkout, as on a real shell runner), every
// job enqueued at once; then each job's expected log (GitLab Runner's) is
// rendered and its actual log normalised for the comparison.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CoordinatorJob, TestCoordinator } from '../../../support/coordinator/coordinator.ts';
import { type RunningRunner, startRunner } from '../../../support/runner-process.ts';
import { type CorpusJob, type EndState, jobSpec, type RunValues } from './corpus-job.ts';
import { resolveFlags } from './gitlab-flags.ts';
import { ExpectedLog } from './gitlab-stages.ts';
import { type CorpusMachine, createMachine, STAND_INS } from './machine.ts';
import { normaliseLog, sameStreams } from './normalise.ts';
import { createCorpusRepositories, PROJECT_PATHS, type ProjectName } from './repositories.ts';

/** A runner token whose short form (GitLab Runner's helpers/shorten_token.go) is `c0rpusRun`. */
const RUNNER_TOKEN = 'glrt-t1_c0rpusRunn3rT0ken42';
const SHORT_TOKEN = 'c0rpusRun';
const RUNNER_NAME = 'corpus';
/** A container registry, so jobs get CI_REGISTRY_IMAGE as on GitLab.com. */
const REGISTRY = '127.0.0.1:5005';

export interface CorpusOutcome {
  readonly job: CorpusJob;
  readonly coordinatorJob: CoordinatorJob;
  /** GitLab Runner's log, placeholders in. */
  readonly expected: string;
  /** The runner's log, normalised. */
  readonly actual: string;
  readonly problems: readonly string[];
  readonly expectedEnd: EndState;
  readonly actualEnd: EndState;
}

export interface CorpusRun {
  readonly outcomes: readonly CorpusOutcome[];
  /** The jobs' ids in the order their logs began. */
  readonly startOrder: readonly number[];
  readonly runnerLogs: string;
  close(): Promise<void>;
}

function endState(job: CoordinatorJob): EndState {
  return {
    state: job.state === 'success' ? 'success' : 'failed',
    ...(job.failureReason === undefined ? {} : { failureReason: job.failureReason }),
    ...(job.exitCode === undefined ? {} : { exitCode: job.exitCode }),
  };
}

/**
 * Runs one job that looks for the stand-ins before any corpus job runs: a
 * runner whose job shells do not read ~/.bash_profile (no login shell) would
 * otherwise run the real docker, hugo, ... of the machine.
 */
async function checkMachine(coordinator: TestCoordinator, machine: CorpusMachine): Promise<void> {
  const check = coordinator.enqueueJob({
    name: 'machine check',
    script: [`for tool in ${STAND_INS.join(' ')}; do command -v "$tool" || true; done`],
    variables: [{ key: 'GIT_STRATEGY', value: 'none' }],
  });
  const done = await coordinator.waitFor('the machine check', () => {
    const job = coordinator.job(check.id);
    return ['success', 'failed', 'canceled'].includes(job.state) ? job : undefined;
  });
  const log = done.trace.toString('utf8');
  const missing = STAND_INS.filter((tool) => !log.includes(`${machine.bin}/${tool}\n`));
  if (missing.length > 0) {
    throw new Error(
      `the corpus does not run: the runner's job shells do not find the stand-ins ${missing.join(', ')} in ${machine.bin} ` +
        "(is ~/.bash_profile read? GitLab Runner's shell executor runs `bash -l`), so they would run the machine's own tools.",
    );
  }
}

export async function runCorpus(jobs: readonly CorpusJob[], timeoutMs = 120_000): Promise<CorpusRun> {
  const machine = createMachine();
  let coordinator: TestCoordinator | undefined;
  let runner: RunningRunner | undefined;
  const close = async (): Promise<void> => {
    runner?.kill();
    await coordinator?.close();
    rmSync(machine.root, { recursive: true, force: true });
  };
  try {
    const repositories = createCorpusRepositories(join(machine.root, 'repositories'));
    coordinator = await TestCoordinator.start({ runnerTokens: [RUNNER_TOKEN], traceUpdateIntervalSeconds: 1, containerRegistry: REGISTRY });
    for (const [name, repository] of repositories) coordinator.addProject(PROJECT_PATHS[name], repository);
    const runnerDir = join(machine.root, 'runner');
    mkdirSync(runnerDir);
    writeFileSync(
      join(runnerDir, 'config.toml'),
      `concurrent = 1\ncheck_interval = 0.2\n\n[[runners]]\nname = "${RUNNER_NAME}"\nurl = "${coordinator.url}"\ntoken = "${RUNNER_TOKEN}"\n`,
      { mode: 0o600 },
    );
    runner = await startRunner([], { cwd: runnerDir, env: { HOME: machine.home } });
    await checkMachine(coordinator, machine);
    const specs = jobs.map((job) => jobSpec(job, repositories.get(job.project)!));
    const queued = specs.map((spec) => coordinator!.enqueueJob(spec));
    const c = coordinator;
    await c.waitFor('every corpus job to finish', () => queued.every((q) => ['success', 'failed', 'canceled'].includes(c.job(q.id).state)), timeoutMs);

    const correlationIds = new Set(c.requests.filter((r) => r.endpoint === 'request_job' && r.status === 201).map((r) => r.headers['x-request-id'] ?? ''));
    const shas = Object.fromEntries([...repositories].map(([name, repo]) => [name, repo.sha])) as Record<ProjectName, string>;
    const url = new URL(c.url);
    const run = {
      serverUrl: c.url,
      serverFqdn: url.host,
      registry: REGISTRY,
      buildsDir: join(runnerDir, 'builds'),
      arch: execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim(),
      shas,
    };
    const outcomes = jobs.map((job, i): CorpusOutcome => {
      const done = c.job(queued[i]!.id);
      const flags = resolveFlags(specs[i]!.variables ?? []);
      const x = new ExpectedLog({
        machine,
        runnerName: RUNNER_NAME,
        shortToken: SHORT_TOKEN,
        projectDir: `${run.buildsDir}/${SHORT_TOKEN}/0/${PROJECT_PATHS[job.project]}`,
        sha: shas[job.project],
        ref: 'main',
        depth: specs[i]!.gitDepth ?? 20,
        timestamps: flags.on('FF_TIMESTAMPS'),
        featureFlags: flags.changed,
      });
      const values: RunValues = { ...run, jobId: done.id, pipelineId: done.pipelineId };
      const expectedEnd = job.expect(x, values);
      const normalised = normaliseLog(done.trace.toString('utf8'), { timestamps: flags.on('FF_TIMESTAMPS'), correlationIds });
      return {
        job,
        coordinatorJob: done,
        expected: sameStreams(x.log.render()),
        actual: normalised.text,
        problems: normalised.problems,
        expectedEnd,
        actualEnd: endState(done),
      };
    });
    const startOrder = queued.map((q) => ({ id: q.id, at: c.job(q.id).tracePatches[0]?.at ?? Infinity })).sort((a, b) => a.at - b.at).map((q) => q.id);
    return { outcomes, startOrder, runnerLogs: runner.logs(), close };
  } catch (error) {
    await close();
    throw error;
  }
}
