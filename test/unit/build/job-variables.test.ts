// A job's variables as GitLab Runner builds them (common/build.go
// GetAllVariables, common/spec/variables.go): their order, which definition
// wins, one expansion pass over the job's own list, file and raw variables,
// and the values masked in the log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GITLAB_FLAGS } from '../../../src/build/feature-flags.ts';
import { environmentVariables, expandList, listLookup, maskedValues, valueOf, type VariableContext, variableList } from '../../../src/build/job-variables.ts';
import { planBuild, type PlanInput } from '../../../src/build/plan.ts';
import type { JobVariable } from '../../../src/job/model.ts';
import { FakeExecutor, fakeJob, runnerSettings } from '../../support/fakes.ts';

const v = (key: string, value: string, more: Partial<JobVariable> = {}): JobVariable => ({ key, value, masked: false, expand: true, ...more });

const context: VariableContext = {
  buildsDir: '/b',
  projectDir: '/b/tok/0/g/p',
  tempDir: '/b/tok/0/g/p.tmp',
  runnerName: 'r',
  shortToken: 'tok',
  environment: ['FROM_RUNNER=1'],
  concurrentId: 3,
  concurrentProjectId: 1,
  timeoutSeconds: 600,
  startedAt: new Date('2024-01-02T03:04:05.678Z'),
  shared: true,
};

function plan(fields: Partial<PlanInput> = {}, jobFields: Parameters<typeof fakeJob>[1] = {}) {
  const executor = new FakeExecutor();
  return planBuild({
    job: fakeJob('9', { project: { id: 4, path: 'g/p' }, repository: { url: 'https://gitlab.example/g/p.git', ref: 'main' }, ...jobFields }),
    executor,
    runner: runnerSettings({ token: 'glrt-t1_abcdefghijk' }),
    slot: { concurrentId: 2, concurrentProjectId: 1 },
    timeoutSeconds: 1800,
    startedAt: new Date(),
    afterScriptTimeoutMs: 300_000,
    ...fields,
  });
}

test("GitLab's order: the flags, the runner's, the build's, the job's, then what a job cannot override", () => {
  const flags = GITLAB_FLAGS.map(([name, value]) => [name, value] as const);
  const job = fakeJob('9', {
    variables: [v('MINE', 'm'), v('FF_TIMESTAMPS', 'false')],
    image: { name: 'alpine', aliases: [], entrypoint: [], command: [], pullPolicies: [], variables: [] },
  });
  const keys = variableList(job, context, flags).map((entry) => entry.key);
  const at = (key: string): number => keys.indexOf(key);
  assert.deepEqual(keys.slice(0, GITLAB_FLAGS.length), GITLAB_FLAGS.map(([name]) => name), 'every flag first, in GitLab order');
  const order = [
    'CI_JOB_IMAGE',
    'CI_RUNNER_SHORT_TOKEN',
    'FROM_RUNNER',
    'CI_BUILDS_DIR',
    'CI_PROJECT_DIR',
    'CI_CONCURRENT_ID',
    'CI_CONCURRENT_PROJECT_ID',
    'CI_SERVER',
    'CI_JOB_STATUS',
    'CI_JOB_TIMEOUT',
    'MINE',
    'CI_SHARED_ENVIRONMENT',
    'CI_RUNNER_VERSION',
    'CI_RUNNER_REVISION',
    'CI_RUNNER_EXECUTABLE_ARCH',
    'RUNNER_TEMP_PROJECT_DIR',
  ];
  for (let i = 1; i < order.length; i++) assert.ok(at(order[i - 1]!) >= 0 && at(order[i - 1]!) < at(order[i]!), `${order[i - 1]} before ${order[i]}`);
  assert.equal(keys.at(-1), 'RUNNER_TEMP_PROJECT_DIR');
  assert.equal(keys.filter((key) => key === 'FF_TIMESTAMPS').length, 1, "the job's FF_TIMESTAMPS only feeds the resolution");
  const list = variableList(job, context, flags);
  assert.equal(valueOf(list, 'CI_SERVER'), 'yes');
  assert.equal(valueOf(list, 'CI_JOB_STATUS'), 'running');
  assert.equal(valueOf(list, 'CI_JOB_TIMEOUT'), '600');
  assert.equal(valueOf(list, 'CI_CONCURRENT_ID'), '3');
  assert.equal(valueOf(list, 'CI_CONCURRENT_PROJECT_ID'), '1');
  assert.equal(valueOf(list, 'CI_SHARED_ENVIRONMENT'), 'true');
  assert.equal(valueOf(list, 'CI_JOB_IMAGE'), 'alpine');
  assert.equal(valueOf(list, 'RUNNER_TEMP_PROJECT_DIR'), '/b/tok/0/g/p.tmp');

  // The list flags are resolved from keeps the job's FF_* variables and has no flags of its own.
  const early = variableList(job, context).map((entry) => entry.key);
  assert.ok(early.includes('FF_TIMESTAMPS') && early.indexOf('FF_TIMESTAMPS') > early.indexOf('CI_JOB_TIMEOUT'));
  assert.equal(early.includes('FF_USE_FASTZIP'), false);
  assert.equal(variableList(fakeJob('9'), { ...context, shared: false }).some((entry) => entry.key === 'CI_SHARED_ENVIRONMENT'), false);
});

test('the last definition wins: a job overrides the build and the runner, never what comes after it', () => {
  const job = fakeJob('9', {
    variables: [
      v('CI_PROJECT_DIR', '/mine'),
      v('FROM_RUNNER', 'job'),
      v('CI_SHARED_ENVIRONMENT', 'false'),
      v('RUNNER_TEMP_PROJECT_DIR', '/tmp/x'),
      v('CI_SERVER', 'no'),
    ],
  });
  const list = expandList(variableList(job, context, []), context.tempDir);
  assert.equal(valueOf(list, 'CI_PROJECT_DIR'), '/mine');
  assert.equal(valueOf(list, 'FROM_RUNNER'), 'job');
  assert.equal(valueOf(list, 'CI_SERVER'), 'no');
  assert.equal(valueOf(list, 'CI_SHARED_ENVIRONMENT'), 'true');
  assert.equal(valueOf(list, 'RUNNER_TEMP_PROJECT_DIR'), '/b/tok/0/g/p.tmp');
  assert.equal(list.filter((entry) => entry.key === 'CI_PROJECT_DIR').length, 2, 'both kept (both exported, the last wins in the shell too)');
});

test("the runner's environment: split at the first '=', entries without one dropped", () => {
  assert.deepEqual(environmentVariables(['A=1', 'NOEQUALS', 'B=x=y', 'C=', '=empty-key']).map((e) => [e.key, e.value]), [['A', '1'], ['B', 'x=y'], ['C', ''], [
    '',
    'empty-key',
  ]]);
});

test("expansion looks in the job's list only: $PATH and $HOME of the runner's own environment are never used", () => {
  const ctx = { ...context, environment: ['PATH=/opt/bin:$PATH', 'TOOLS=$HOME/tools'] };
  const bare = expandList(variableList(fakeJob('9'), ctx, []), ctx.tempDir);
  // $PATH is looked up in the list, where PATH is this very entry: its raw text is inserted once (one pass).
  assert.equal(valueOf(bare, 'PATH'), '/opt/bin:/opt/bin:$PATH');
  assert.equal(valueOf(bare, 'TOOLS'), '/tools');
  const withJob = expandList(variableList(fakeJob('9', { variables: [v('PATH', '/usr/bin'), v('HOME', '/home/job')] }), ctx, []), ctx.tempDir);
  assert.equal(valueOf(withJob, 'PATH'), '/usr/bin');
  assert.equal(valueOf(withJob, 'TOOLS'), '/home/job/tools', "$HOME is the job's HOME variable");
});

test("one pass over the unexpanded list (GitLab's TestVariablesExpansion), raw values as they are", () => {
  const list = [v('key', 'value_of_$public'), v('public', 'some_value'), v('private', 'value_of_${public}'), v('public', 'value_of_$undefined')];
  const expanded = expandList(list, '/t');
  assert.deepEqual(expanded.map((e) => e.value), ['value_of_value_of_$undefined', 'some_value', 'value_of_value_of_$undefined', 'value_of_']);
  assert.equal(valueOf(expanded, 'public'), 'value_of_', 'the last definition');

  const raw = expandList([v('A', 'a'), v('R', '$A and $$', { expand: false }), v('USES_RAW', '<$R>')], '/t');
  assert.equal(valueOf(raw, 'R'), '$A and $$', 'a raw value is not expanded');
  assert.equal(valueOf(raw, 'USES_RAW'), '<$A and $$>', 'and is inserted as it is where it is referenced');
  assert.equal(valueOf(expandList([v('D', '$$HOME')], '/t'), 'D'), '$HOME');
});

test("file variables: a reference is the file's path; the contents are expanded unless raw (TestFileVariablesExpansion)", () => {
  const list = [
    v('a_file_var', 'some top secret stuff $X', { file: true }),
    v('raw_file', 'keep $X', { file: true, expand: false }),
    v('ref_file_var', '${a_file_var}.txt'),
    v('X', 'x'),
  ];
  const expanded = expandList(list, '/foo/bar');
  assert.equal(valueOf(expanded, 'ref_file_var'), '/foo/bar/a_file_var.txt');
  assert.equal(valueOf(expanded, 'a_file_var'), 'some top secret stuff x', 'valueOf gives the contents');
  assert.equal(valueOf(expanded, 'raw_file'), 'keep $X');
  assert.equal(listLookup(expanded, '/foo/bar')('a_file_var'), '/foo/bar/a_file_var', 'a lookup gives the path');
  assert.equal(listLookup(expanded, '/foo/bar')('$'), '$');
  assert.equal(listLookup(expanded, '/foo/bar')('nothing'), '');
});

test('masked values: as the job sees them (expanded), trimmed, each once, empty ones dropped', () => {
  const list = expandList([
    v('BASE', 'abc'),
    v('TOKEN', ' x-$BASE-secret ', { masked: true }),
    v('SAME', 'x-abc-secret', { masked: true }),
    v('BLANK', '   ', { masked: true }),
    v('RAW', '$BASE-raw', { masked: true, expand: false }),
    v('OPEN', 'visible'),
  ], '/t');
  assert.deepEqual(maskedValues(list), ['x-abc-secret', '$BASE-raw']);
});

test('the plan: CI_CONCURRENT_ID and CI_CONCURRENT_PROJECT_ID from the slot, the short token, the directories', () => {
  const p = plan();
  assert.equal(valueOf(p.variables, 'CI_CONCURRENT_ID'), '2');
  assert.equal(valueOf(p.variables, 'CI_CONCURRENT_PROJECT_ID'), '1');
  assert.equal(valueOf(p.variables, 'CI_RUNNER_SHORT_TOKEN'), 'abcdefghi');
  assert.equal(valueOf(p.variables, 'CI_BUILDS_DIR'), '/builds');
  assert.equal(valueOf(p.variables, 'CI_PROJECT_DIR'), '/builds/abcdefghi/1/g/p');
  assert.equal(valueOf(p.variables, 'RUNNER_TEMP_PROJECT_DIR'), '/builds/abcdefghi/1/g/p.tmp');
  assert.equal(valueOf(p.variables, 'CI_JOB_TIMEOUT'), '1800');
  assert.equal(valueOf(p.variables, 'CI_SERVER'), 'yes');
  assert.equal(valueOf(plan({ runner: runnerSettings() }).variables, 'CI_RUNNER_SHORT_TOKEN'), '', 'a runner without a token');
});

test('the plan: a value refers to where the job runs; the flags are exported resolved', () => {
  const p = plan({}, {
    variables: [
      v('CACHE', '$CI_PROJECT_DIR/.cache'),
      v('KEY', 'k', { file: true }),
      v('KEYREF', '$KEY'),
      v('FF_USE_LEGACY_BASH_EVAL', 'yes'),
      v('FF_ENABLE_JOB_CLEANUP', 'true'),
    ],
  });
  assert.equal(valueOf(p.variables, 'CACHE'), '/builds/abcdefghi/1/g/p/.cache');
  assert.equal(valueOf(p.variables, 'KEYREF'), '/builds/abcdefghi/1/g/p.tmp/KEY');
  assert.equal(valueOf(p.variables, 'FF_USE_LEGACY_BASH_EVAL'), 'false', 'not a boolean: the default');
  assert.equal(valueOf(p.variables, 'FF_ENABLE_JOB_CLEANUP'), 'true');
  assert.equal(p.variables.filter((entry) => entry.key === 'FF_ENABLE_JOB_CLEANUP').length, 1);
  assert.equal(p.flags.flags.FF_ENABLE_JOB_CLEANUP, true);
  assert.equal(p.flags.flags.FF_USE_LEGACY_BASH_EVAL, false);
});

test('the plan masks the masked variables and the secrets the source names, and the token prefixes', () => {
  const p = plan({}, { variables: [v('PASS', 'p4ssw0rd!', { masked: true })], secrets: ['job-token-value'] });
  assert.deepEqual(p.secrets, ['p4ssw0rd!', 'job-token-value']);
  assert.ok(p.tokenPrefixes.includes('glpat-') && p.tokenPrefixes.includes('glrt-'));
  const narrow = plan({}, {
    variables: [v('FF_MASK_ALL_DEFAULT_TOKENS', 'false')],
    features: { traceSections: true, timestamps: true, tokenMaskPrefixes: ['mine-'] },
  });
  assert.deepEqual(narrow.tokenPrefixes, ['glpat-', 'mine-'], "glpat- alone without FF_MASK_ALL_DEFAULT_TOKENS, and the job's own");
});
