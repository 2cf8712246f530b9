// The agent's scheduling in process, with a fake source and a fake executor:
// concurrent, limit, request_concurrency, reload, cancel, graceful stop,
// backoff and a fatal source error, without a child process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from '../../../src/agent/agent.ts';
import { backoffMs, MAX_BACKOFF_MS } from '../../../src/agent/runner-loop.ts';
import { type Config, DEFAULT_CONFIG, DEFAULT_RUNNER, type RunnerConfig } from '../../../src/config/types.ts';
import type { FinishedJob } from '../../../src/job/status.ts';
import { SourceError } from '../../../src/job/source.ts';
import { Logger } from '../../../src/log/logger.ts';
import { FakeExecutor, fakeJob, type FakeRun, FakeSources, until } from '../../support/fakes.ts';

function runner(name: string, fields: Partial<RunnerConfig> = {}): RunnerConfig {
  return { ...DEFAULT_RUNNER, name, ...fields };
}

function config(runners: RunnerConfig[], fields: Partial<Config> = {}): Config {
  // A short check_interval: an empty poll is retried quickly.
  return { ...DEFAULT_CONFIG, checkInterval: 0.05, runners, ...fields };
}

interface Rig {
  agent: Agent;
  sources: FakeSources;
  executor: FakeExecutor;
  finished: FinishedJob[];
  logs: string[];
}

function rig(configuration: Config): Rig {
  const sources = new FakeSources();
  const executor = new FakeExecutor();
  const finished: FinishedJob[] = [];
  const logs: string[] = [];
  const logger = new Logger('info', 'text', { write: (line) => logs.push(line) });
  const agent = new Agent(configuration, { logger, sources, executors: executor, systemId: 's_0123456789ab', onJobFinished: (job) => finished.push(job) });
  return { agent, sources, executor, finished, logs };
}

/** The step_script stages running now: each job's script, the jobs that hold a slot past their preparation. */
function scripts(executor: FakeExecutor): FakeRun[] {
  return executor.running.filter((run) => run.stage === 'step_script');
}

/** Calls `check` with the scripts running at once, in all and by runner, at every stage start; prepare_script ends at once. */
function trackRunning(executor: FakeExecutor, check: (running: number, byRunner: Map<string, number>) => void): void {
  executor.onRun = (run) => {
    if (run.stage === 'prepare_script') run.exit(0);
    const byRunner = new Map<string, number>();
    for (const script of scripts(executor)) {
      const name = script.job.variables.find((v) => v.key === 'RUNNER')?.value ?? '';
      byRunner.set(name, (byRunner.get(name) ?? 0) + 1);
    }
    check(scripts(executor).length, byRunner);
  };
}

test('concurrent bounds the jobs running at once; the rest wait for a slot and all run', async () => {
  const { agent, sources, executor, finished } = rig(config([runner('a')], { concurrent: 2 }));
  let most = 0;
  trackRunning(executor, (running) => {
    most = Math.max(most, running);
  });
  const jobs = sources.of('a').add(...['1', '2', '3', '4', '5'].map((id) => fakeJob(id)));
  agent.start();
  try {
    for (let done = 0; done < jobs.length;) {
      await until('two jobs running, or the last ones', () => scripts(executor).length === Math.min(2, jobs.length - done));
      assert.equal(agent.runningJobs().length, scripts(executor).length);
      scripts(executor)[0]!.exit(0);
      done++;
      await until(`${done} jobs finished`, () => finished.length === done);
    }
    assert.equal(most, 2);
    assert.deepEqual(jobs.map((job) => job.result?.state), ['success', 'success', 'success', 'success', 'success']);
  } finally {
    await agent.stop('cancel');
  }
});

test("each runner's limit holds besides concurrent", async () => {
  const { agent, sources, executor, finished } = rig(config([runner('a', { limit: 1 }), runner('b', { limit: 2 })], { concurrent: 10 }));
  let worst = new Map<string, number>();
  trackRunning(executor, (_, byRunner) => {
    for (const [name, count] of byRunner) worst.set(name, Math.max(worst.get(name) ?? 0, count));
  });
  const tagged = (name: string, id: string) => fakeJob(id, { variables: [{ key: 'RUNNER', value: name, masked: false }] });
  sources.of('a').add(tagged('a', 'a1'), tagged('a', 'a2'), tagged('a', 'a3'));
  sources.of('b').add(tagged('b', 'b1'), tagged('b', 'b2'), tagged('b', 'b3'));
  agent.start();
  try {
    await until('a 1 and b 2 running', () => scripts(executor).length === 3);
    // Longer than several polls: nothing more starts while the limits are reached.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(scripts(executor).length, 3);
    assert.equal(executor.running.length, 3, 'no other job even in preparation');
    const track = executor.onRun;
    executor.onRun = (run) => {
      track(run);
      run.exit(0);
    };
    for (const run of scripts(executor)) run.exit(0);
    await until('all six finished', () => finished.length === 6);
    assert.deepEqual(Object.fromEntries(worst), { a: 1, b: 2 });
  } finally {
    worst = new Map();
    await agent.stop('cancel');
  }
});

test('request_concurrency requests are in flight at once, within free slots, and counted', async () => {
  const { agent, sources } = rig(config([runner('a', { requestConcurrency: 3 })], { concurrent: 10 }));
  const source = sources.of('a');
  let open!: () => void;
  source.gate = new Promise((resolve) => {
    open = resolve;
  });
  agent.start();
  try {
    await until('three requests in flight', () => source.inFlight === 3);
    assert.equal(agent.requestsInFlight().get('a'), 3);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(source.maxInFlight, 3, 'never more than request_concurrency');
    open();
    await until('requests answered', () => agent.requestsInFlight().get('a') === 0 || source.inFlight < 3);
  } finally {
    await agent.stop('cancel');
  }

  // With one free slot only one request goes out, whatever request_concurrency says.
  const small = rig(config([runner('a', { requestConcurrency: 3 })], { concurrent: 1 }));
  const gated = small.sources.of('a');
  let release!: () => void;
  gated.gate = new Promise((resolve) => {
    release = resolve;
  });
  small.agent.start();
  try {
    await until('a request in flight', () => gated.inFlight === 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(gated.maxInFlight, 1);
  } finally {
    release();
    await small.agent.stop('cancel');
  }
});

test("a reload raises concurrent for the next requests; running jobs go on; a removed runner's source is closed", async () => {
  const initial = config([runner('a'), runner('gone')], { concurrent: 1 });
  const { agent, sources, executor, finished } = rig(initial);
  sources.of('a').add(fakeJob('1'), fakeJob('2'), fakeJob('3'));
  agent.start();
  try {
    await until('one job running', () => executor.running.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(executor.running.length, 1, 'concurrent 1');
    agent.reload(config([runner('a')], { concurrent: 3 }));
    assert.equal(agent.configurationLoads, 2);
    await until('three jobs running', () => executor.running.length === 3);
    await until("the removed runner's source closed", () => sources.of('gone').closed);
    for (const run of executor.running) run.exit(0);
    await until('all finished', () => finished.length === 3);
    assert.ok(finished.every((job) => job.runner === 'a' && job.result.state === 'success'));
    agent.configurationFailed();
    assert.equal(agent.lastConfigurationLoadSucceeded, false);
    assert.equal(agent.configurationLoadErrors, 1);
  } finally {
    await agent.stop('cancel');
  }
});

test('cancelAll cancels every running job: the script stops, after_script runs, the jobs end canceled', async () => {
  const { agent, sources, executor, finished } = rig(config([runner('a')], { concurrent: 2 }));
  const jobs = sources.of('a').add(fakeJob('1', { afterScript: ['echo after'] }), fakeJob('2', { afterScript: ['echo after'] }));
  executor.onRun = (run) => {
    if (run.stage === 'prepare_script') run.exit(0);
    if (run.stage === 'after_script') run.exit(0, 'cleaned\n');
  };
  agent.start();
  try {
    await until('both scripts running', () => scripts(executor).length === 2);
    agent.cancelAll();
    await until('both finished', () => finished.length === 2);
    for (const job of jobs) {
      assert.equal(job.result?.state, 'canceled');
      // GitLab Runner's framing: the canceled step's warning, after_script's title and output, the red closing line.
      const log = job.logText;
      const warned = log.indexOf('\x1b[0;33mWARNING: script canceled externally (UI, API)\x1b[0;m\n');
      const after = log.indexOf('\x1b[0K\x1b[36;1mRunning after_script\x1b[0;m\x1b[0;m\n');
      assert.ok(warned >= 0 && after > warned && log.indexOf('cleaned\n') > after, log);
      assert.ok(log.endsWith('\x1b[31;1mERROR: Job failed: canceled\x1b[0;m\n'), log);
    }
    assert.deepEqual(executor.runs.map((run) => run.stage).filter((stage) => stage !== 'prepare_script').sort(), [
      'after_script',
      'after_script',
      'step_script',
      'step_script',
    ]);
  } finally {
    await agent.stop('cancel');
  }
});

test('a graceful stop takes no new job, lets the running one finish, then resolves', async () => {
  const { agent, sources, executor, finished } = rig(config([runner('a')]));
  const source = sources.of('a');
  source.add(fakeJob('1'), fakeJob('2'));
  agent.start();
  await until('job 1 running', () => executor.running.length === 1);
  assert.deepEqual([...agent.runnersTakingJobs()], ['a']);
  const stopped = agent.stop('graceful');
  assert.equal(agent.state, 'stopping');
  assert.equal(agent.isReady(), false);
  assert.deepEqual([...agent.runnersTakingJobs()], [], 'draining: no runner takes jobs');
  let resolved = false;
  void stopped.then(() => {
    resolved = true;
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(resolved, false, 'waits for the running job');
  const requests = source.requestTimes.length;
  executor.running[0]!.exit(0);
  await stopped;
  assert.equal(agent.state, 'stopped');
  assert.equal(finished.length, 1);
  assert.equal(finished[0]!.result.state, 'success');
  assert.equal(source.requestTimes.length, requests, 'no request after the stop began');
  assert.equal(source.pending.length, 1, 'job 2 left for another runner');
  assert.ok(source.closed);
});

test('forceStop stops after_script too and has the executor end what runs at once', async () => {
  const { agent, sources, executor, finished } = rig(config([runner('a')]));
  const [job] = sources.of('a').add(fakeJob('1', { afterScript: ['sleep 1000'] }));
  agent.start();
  await until('running', () => executor.running.length === 1);
  agent.forceStop();
  await agent.stop('cancel');
  assert.equal(finished.length, 1);
  assert.equal(job!.result?.state, 'canceled');
  assert.deepEqual(executor.killed.map((j) => j.id), ['1']);
  assert.ok(!executor.runs.some((run) => run.stage === 'after_script'), 'no after_script after a forced stop');
  assert.deepEqual(executor.cleanedUp.map((j) => j.id), ['1']);
});

test('a failing source is asked again only after a backoff, and the failures are logged once per streak', async () => {
  const { agent, sources, logs } = rig(config([runner('a')]));
  const source = sources.of('a');
  source.fail(new SourceError('coordinator down'));
  source.fail(new SourceError('coordinator down'));
  agent.start();
  try {
    await until('three requests', () => source.requestTimes.length >= 3, 10_000);
    const [first, second, third] = source.requestTimes as [number, number, number];
    // backoffMs: at least 1 s (check_interval is lower) less 20 % jitter, then twice that.
    assert.ok(second - first >= 0.8 * 1000 - 20, `second request after ${second - first} ms`);
    assert.ok(third - second >= 0.8 * 2000 - 20, `third request after ${third - second} ms`);
    assert.equal(logs.filter((line) => line.includes('Requesting a job failed')).length, 1, logs.join(''));
    await until('recovery logged', () => logs.some((line) => line.includes('Requests for jobs work again')));
  } finally {
    await agent.stop('cancel');
  }
});

test('backoffMs doubles from the check interval, caps at a minute, and jitters by 20 %', () => {
  assert.equal(backoffMs(3000, 1, () => 0.5), 3000);
  assert.equal(backoffMs(3000, 2, () => 0.5), 6000);
  assert.equal(backoffMs(50, 1, () => 0.5), 1000, 'never under a second');
  assert.equal(backoffMs(3000, 30, () => 0.5), MAX_BACKOFF_MS);
  assert.equal(backoffMs(3000, 1, () => 0), 2400);
  assert.equal(backoffMs(3000, 1, () => 1), 3600);
});

test("a fatal SourceError stops only that runner's requests, with one error line", async () => {
  const { agent, sources, executor, finished, logs } = rig(config([runner('bad'), runner('good')]));
  sources.of('bad').fail(new SourceError('token rejected', true));
  sources.of('bad').add(fakeJob('never'));
  agent.start();
  try {
    await until('the bad runner gave up', () => logs.some((line) => line.includes('Runner stops asking for jobs')));
    assert.deepEqual([...agent.runnersTakingJobs()], ['good']);
    const asked = sources.of('bad').requestTimes.length;
    sources.of('good').add(fakeJob('1'));
    await until('the good runner runs its job', () => executor.running.length === 1);
    executor.running[0]!.exit(0);
    await until('finished', () => finished.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(sources.of('bad').requestTimes.length, asked, 'the bad runner asks no more');
    assert.equal(logs.filter((line) => line.includes('Runner stops asking for jobs')).length, 1);
    assert.equal(finished[0]!.runner, 'good');
  } finally {
    await agent.stop('cancel');
  }
});

test("the metrics' hooks: a job's start and end name the job as its source handed it out; a failed reload is told", async () => {
  const sources = new FakeSources();
  const executor = new FakeExecutor();
  const told: string[] = [];
  const agent = new Agent(config([runner('a')]), {
    logger: new Logger('info', 'text', { write: () => undefined }),
    sources,
    executors: executor,
    systemId: 's_0123456789ab',
    onJobStarted: ({ job }) => told.push(`started ${job?.id} ${job?.job.name}`),
    onJobFinished: ({ job, result }) => told.push(`finished ${job?.id} ${result.state}`),
    onConfigurationFailed: () => told.push('reload failed'),
  });
  sources.of('a').add(fakeJob('1'));
  agent.start();
  try {
    await until('job 1 running', () => executor.running.length === 1);
    executor.running[0]!.exit(0);
    await until('job 1 finished', () => told.length === 2);
    agent.configurationFailed();
    assert.deepEqual(told, ['started 1 job 1', 'finished 1 success', 'reload failed']);
  } finally {
    await agent.stop('cancel');
  }
});

test('a job whose log cannot be started is finished as a runner_system_failure, and the runner goes on', async () => {
  const { agent, sources, executor, finished } = rig(config([runner('a')]));
  const [broken, fine] = sources.of('a').add(fakeJob('1'), fakeJob('2'));
  broken!.failBegin = new Error('disk full');
  executor.onRun = (run) => run.exit(0);
  agent.start();
  try {
    await until('both finished', () => finished.length === 2);
    assert.equal(broken!.result?.state, 'failed');
    assert.equal(broken!.result?.failureReason, 'runner_system_failure');
    assert.match(broken!.result?.systemError ?? '', /disk full/);
    assert.equal(fine!.result?.state, 'success');
    assert.deepEqual(executor.prepared.map((job) => job.id), ['2']);
  } finally {
    await agent.stop('cancel');
  }
});

test("the job list follows a job through its stages; sources get the executor's info", async () => {
  const { agent, sources, executor, finished } = rig(config([runner('a')]));
  sources.of('a').add(fakeJob('1'));
  agent.start();
  try {
    const run = await executor.stageOf('1');
    const [view] = agent.runningJobs();
    assert.equal(view?.stage, 'step_script');
    assert.equal(view?.pid, 4242);
    assert.equal(view?.url, 'fake://1');
    run.exit(0, 'hello\n');
    await until('finished', () => finished.length === 1);
    assert.deepEqual(agent.runningJobs(), []);
    assert.deepEqual(finished[0]!.result.resources, { cpuSeconds: 1.5, peakRssBytes: 1024, measuredBy: 'sampled' });
    assert.equal(sources.executorInfos[0]?.name, 'fake');
  } finally {
    await agent.stop('cancel');
  }
});
