// Job slots in process, with a fake source and a fake executor: GitLab
// Runner's CI_CONCURRENT_ID and CI_CONCURRENT_PROJECT_ID
// (commands/builds_helper.go), the lowest number no other running job of the
// same runner (and project) holds, as each job's step script exports them,
// and the build directories they choose.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent } from '../../../src/agent/agent.ts';
import { type Config, DEFAULT_CONFIG, DEFAULT_RUNNER, type RunnerConfig } from '../../../src/config/types.ts';
import type { FinishedJob } from '../../../src/job/status.ts';
import { Logger } from '../../../src/log/logger.ts';
import { FakeExecutor, fakeJob, type FakeRun, FakeSources, until } from '../../support/fakes.ts';

function runner(name: string, fields: Partial<RunnerConfig> = {}): RunnerConfig {
  return { ...DEFAULT_RUNNER, name, ...fields };
}

function config(runners: RunnerConfig[], fields: Partial<Config> = {}): Config {
  return { ...DEFAULT_CONFIG, checkInterval: 0.05, runners, ...fields };
}

function rig(configuration: Config): { agent: Agent; sources: FakeSources; executor: FakeExecutor; finished: FinishedJob[] } {
  const sources = new FakeSources();
  const executor = new FakeExecutor();
  const finished: FinishedJob[] = [];
  const logger = new Logger('info', 'text', { write: () => undefined });
  const agent = new Agent(configuration, { logger, sources, executors: executor, systemId: 's_0123456789ab', onJobFinished: (job) => finished.push(job) });
  return { agent, sources, executor, finished };
}

/** The step_script stages running now (the fake executor ends prepare_script at once, and keeps every other stage running). */
function scripts(executor: FakeExecutor): FakeRun[] {
  return executor.running.filter((run) => run.stage === 'step_script');
}

/** The value a step's script exports for `key` (every step exports the job's variables first). */
function exported(run: FakeRun, key: string): string | undefined {
  return new RegExp(`export ${key}=(\\S+?)(?:\\\\n|\\n)`).exec(run.command.script)?.[1];
}

/** The running scripts' CI_CONCURRENT_ID (and, with `project`, CI_CONCURRENT_PROJECT_ID) by job id. */
function slotsOf(executor: FakeExecutor, project = false): Record<string, string> {
  return Object.fromEntries(
    scripts(executor).map((run) => {
      const id = exported(run, 'CI_CONCURRENT_ID') ?? '?';
      return [run.job.id, project ? `${id}/${exported(run, 'CI_CONCURRENT_PROJECT_ID') ?? '?'}` : id];
    }),
  );
}

test('two jobs running at once get CI_CONCURRENT_ID 0 and 1; a freed slot is handed out again, lowest first', async () => {
  const { agent, sources, executor, finished } = rig(config([runner('a')], { concurrent: 3 }));
  const source = sources.of('a');
  source.add(fakeJob('1'), fakeJob('2'));
  agent.start();
  try {
    await until('two scripts running', () => scripts(executor).length === 2);
    assert.deepEqual(slotsOf(executor), { 1: '0', 2: '1' });
    (await executor.stageOf('1')).exit(0);
    await until('job 1 finished', () => finished.length === 1);
    source.add(fakeJob('3'));
    await until('job 3 running', () => scripts(executor).length === 2);
    assert.deepEqual(slotsOf(executor), { 2: '1', 3: '0' }, "job 1's slot 0, not the next number");
    source.add(fakeJob('4'));
    await until('job 4 running', () => scripts(executor).length === 3);
    assert.deepEqual(slotsOf(executor), { 2: '1', 3: '0', 4: '2' });
    // A local job's directory is its own whatever its slot: BUILDS_DIR/JOB_ID, removed after it.
    assert.deepEqual(executor.directories.get('4'), { projectDir: '/builds/4', tempDir: '/builds/4.tmp', disposable: true });
    assert.deepEqual(executor.directories.get('3'), { projectDir: '/builds/3', tempDir: '/builds/3.tmp', disposable: true });
  } finally {
    await agent.stop('cancel');
  }
});

test('slots are per runner: the first job of each runner gets 0', async () => {
  const { agent, sources, executor } = rig(config([runner('a'), runner('b')], { concurrent: 4 }));
  sources.of('a').add(fakeJob('a1'));
  sources.of('b').add(fakeJob('b1'));
  agent.start();
  try {
    await until('a job of each runner running', () => scripts(executor).length === 2);
    assert.deepEqual(slotsOf(executor), { a1: '0', b1: '0' });
    sources.of('b').add(fakeJob('b2'));
    await until('a second job of b running', () => scripts(executor).length === 3);
    assert.deepEqual(slotsOf(executor), { a1: '0', b1: '0', b2: '1' });
  } finally {
    await agent.stop('cancel');
  }
});

test("CI_CONCURRENT_PROJECT_ID counts the runner's running jobs of the same project, and names the project directory they share", async () => {
  // A runner of a coordinator: its token's short form is in the directories' path (GitLab's BUILDS_DIR/SHORT_TOKEN/ID/PATH).
  const { agent, sources, executor, finished } = rig(
    config([runner('gitlab', { url: 'https://gitlab.example.com', token: 'glrt-t1_abcdefghijklmn' })], { concurrent: 4 }),
  );
  const app = { id: 7, path: 'group/app' };
  const lib = { id: 8, path: 'group/lib' };
  const source = sources.of('gitlab');
  source.add(fakeJob('app1', { project: app }), fakeJob('app2', { project: app }), fakeJob('lib1', { project: lib }));
  agent.start();
  try {
    await until('three scripts running', () => scripts(executor).length === 3);
    assert.deepEqual(slotsOf(executor, true), { app1: '0/0', app2: '1/1', lib1: '2/0' });
    const dir = (id: string): string | undefined => executor.directories.get(id)?.projectDir;
    assert.equal(dir('app1'), '/builds/abcdefghi/0/group/app');
    assert.equal(dir('app2'), '/builds/abcdefghi/1/group/app', 'two jobs of a project at once: two directories');
    assert.equal(dir('lib1'), '/builds/abcdefghi/0/group/lib');
    assert.equal(executor.directories.get('app1')?.disposable, false, "a project's directory is kept for its next job");

    (await executor.stageOf('app1')).exit(0);
    await until('app1 finished', () => finished.length === 1);
    source.add(fakeJob('app3', { project: app }));
    await until('app3 running', () => scripts(executor).length === 3);
    assert.deepEqual(slotsOf(executor, true), { app2: '1/1', lib1: '2/0', app3: '0/0' });
    assert.equal(dir('app3'), dir('app1'), 'the next job of the project works in the directory app1 left');
  } finally {
    await agent.stop('cancel');
  }
});
