import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type BuildPlan, hostPlanOf } from '../../../src/build/plan.ts';
import type { JobVariable } from '../../../src/job/model.ts';

const variable = (key: string, value: string, more: Partial<JobVariable> = {}): JobVariable => ({ key, value, masked: false, ...more });

const plan = {
  directories: { projectDir: '/builds/g/p', tempDir: '/builds/g/p.tmp', disposable: false },
  variables: [
    variable('CI_BUILDS_DIR', '/builds'),
    variable('CI_PROJECT_DIR', '/builds/g/p'),
    variable('RUNNER_TEMP_PROJECT_DIR', '/builds/g/p.tmp'),
    variable('CI_JOB_TOKEN', 'secret', { masked: true }),
    variable('MY_DIR', '/builds/g/p/out'),
    variable('GIT_CONFIG_COUNT', '1'),
    variable('LD_PRELOAD', '/tmp/x.so'),
    variable('FF_TIMESTAMPS', 'true'),
  ],
} as unknown as BuildPlan;

const host = { projectDir: '/srv/b/r1/g/p', tempDir: '/srv/b/private', disposable: true };

test("the host plan names the runner's side of the job's directories in CI_BUILDS_DIR, CI_PROJECT_DIR and RUNNER_TEMP_PROJECT_DIR", () => {
  const mapped = hostPlanOf(plan, host, '/srv/b/r1');
  assert.deepEqual(mapped.directories, host);
  const value = (key: string) => mapped.variables.find((v) => v.key === key)?.value;
  assert.equal(value('CI_BUILDS_DIR'), '/srv/b/r1');
  assert.equal(value('CI_PROJECT_DIR'), '/srv/b/r1/g/p');
  assert.equal(value('RUNNER_TEMP_PROJECT_DIR'), '/srv/b/private');
  assert.equal(value('MY_DIR'), '/builds/g/p/out', "a job's own variable keeps the job's path");
  assert.equal(value('LD_PRELOAD'), '/tmp/x.so', 'all variables kept by default');
});

test("with directories the job's code shares, the host plan keeps only the runner's variables: none a shell or git would act on", () => {
  const mapped = hostPlanOf(plan, host, '/srv/b/r1', { runnerVariablesOnly: true });
  assert.deepEqual(mapped.variables.map((v) => v.key), ['CI_BUILDS_DIR', 'CI_PROJECT_DIR', 'RUNNER_TEMP_PROJECT_DIR', 'CI_JOB_TOKEN', 'FF_TIMESTAMPS']);
});
