// A GitLab job's timeouts and what its log masks, as under GitLab Runner:
// the job's own timeout ends it without after_script (job_execution_timeout,
// "execution took longer than 2s seconds"); RUNNER_SCRIPT_TIMEOUT ends the
// script and after_script runs with CI_JOB_STATUS=timedout; GitLab's token
// prefixes and the payload's token_mask_prefixes, credentials in URL
// parameters, and the job token in the repository URL are [MASKED].
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { logLines, logText, runJob, sharedGitLabRunner, withoutSources } from './harness.ts';

const shared = sharedGitLabRunner();
after(() => shared.close());

const TIMEOUT_WARNING =
  'could not run to completion because the timeout was exceeded. For more control over job and script timeouts see: https://docs.gitlab.com/ci/runners/configure_runners/#set-script-and-after_script-timeouts';

test("the job's timeout ends it: no after_script, no stage after it, job_execution_timeout with GitLab's text", async () => {
  const s = await shared.get();
  const job = await runJob(
    s.coordinator,
    withoutSources({ timeoutSeconds: 2, script: ['echo started', 'sleep 60', 'echo never'], afterScript: ['echo "after ran"'] }),
  );
  const lines = logLines(job.trace);
  assert.equal(job.state, 'failed');
  assert.equal(job.failureReason, 'job_execution_timeout');
  assert.equal(job.updates.at(-1)!.body['failure_reason'], 'job_execution_timeout');
  assert.equal(job.updates.at(-1)!.body['exit_code'], undefined);
  assert.ok(lines.includes('started'));
  assert.ok(!lines.includes('never'));
  assert.ok(!lines.includes('Running after_script') && !lines.includes('after ran'), lines.join('\n'));
  assert.ok(!lines.includes('Cleaning up project directory and file based variables'), 'no stage runs after the job timed out');
  assert.equal(lines.at(-1), 'ERROR: Job failed: execution took longer than 2s seconds');
});

test('RUNNER_SCRIPT_TIMEOUT ends the script; after_script runs and sees CI_JOB_STATUS=timedout', async () => {
  const s = await shared.get();
  const job = await runJob(
    s.coordinator,
    withoutSources({
      script: ['echo started', 'sleep 60', 'echo never'],
      afterScript: ['echo "status=$CI_JOB_STATUS"'],
      variables: [{ key: 'RUNNER_SCRIPT_TIMEOUT', value: '1s' }],
    }),
  );
  const lines = logLines(job.trace);
  assert.equal(job.state, 'failed', lines.join('\n'));
  assert.equal(job.failureReason, 'job_execution_timeout');
  assert.ok(!lines.includes('never'));
  assert.ok(lines.includes(`WARNING: step_script ${TIMEOUT_WARNING}`), lines.join('\n'));
  assert.ok(lines.includes('status=timedout'), lines.join('\n'));
  assert.ok(lines.includes('Cleaning up project directory and file based variables'));
  assert.equal(lines.at(-1), 'ERROR: Job failed: script timeout: context deadline exceeded');
  // A value that is not a duration is named in a warning and ignored.
  const malformed = await runJob(s.coordinator, withoutSources({ script: ['echo fine'], variables: [{ key: 'RUNNER_SCRIPT_TIMEOUT', value: 'soon' }] }));
  assert.equal(malformed.state, 'success');
  assert.ok(logLines(malformed.trace).includes('WARNING: Ignoring malformed RUNNER_SCRIPT_TIMEOUT timeout: soon'), logText(malformed.trace));
});

test("GitLab's token prefixes are masked in the log, the payload's token_mask_prefixes too; FF_MASK_ALL_DEFAULT_TOKENS=false keeps glpat- only", async () => {
  const s = await shared.get();
  const script = [
    'echo glpat-xxxxxxxxxxxxxxxxxxxx',
    'echo "deploy gldt-AbC123_xyz.-= done"',
    'echo "trigger glptt-0123456789abcdef"',
    'echo "custom tok-sEcReT99 end"',
    'echo "legacy GR1348941Z196cJVywzZpx_Ki_Cn2"',
  ];
  const job = await runJob(s.coordinator, withoutSources({ script, tokenMaskPrefixes: ['tok-'] }));
  const lines = logLines(job.trace);
  assert.equal(job.state, 'success', lines.join('\n'));
  for (const line of ['glpat-[MASKED]', 'deploy gldt-[MASKED] done', 'trigger glptt-[MASKED]', 'custom tok-[MASKED] end', 'legacy GR1348941[MASKED]']) {
    assert.ok(lines.includes(line), `${line} in:\n${lines.join('\n')}`);
  }
  for (const secret of ['xxxxxxxxxxxxxxxxxxxx', 'AbC123_xyz', '0123456789abcdef', 'sEcReT99', 'Z196cJVyw']) assert.ok(!job.trace.includes(secret), secret);

  const fewer = await runJob(s.coordinator, withoutSources({ script, variables: [{ key: 'FF_MASK_ALL_DEFAULT_TOKENS', value: 'false' }] }));
  const fewerLines = logLines(fewer.trace);
  assert.ok(fewerLines.includes('glpat-[MASKED]'), fewerLines.join('\n'));
  assert.ok(fewerLines.includes('deploy gldt-AbC123_xyz.-= done'), 'only glpat- without the flag');
  assert.ok(fewerLines.includes('legacy GR1348941Z196cJVywzZpx_Ki_Cn2'), 'nor the documented legacy prefix');
});

test('credentials in URLs are masked: token parameters, and the job token in the repository URL', async () => {
  const s = await shared.get();
  const job = await runJob(
    s.coordinator,
    withoutSources({
      script: [
        'echo "https://gitlab.example.com/api/v4/projects?private_token=deadbeef1234&per_page=5"',
        'echo "https://bucket.example.com/o?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=c0ffee&x=1"',
        'echo "$CI_REPOSITORY_URL"',
      ],
    }),
  );
  const lines = logLines(job.trace);
  assert.equal(job.state, 'success', lines.join('\n'));
  assert.ok(lines.includes('https://gitlab.example.com/api/v4/projects?private_token=[MASKED]&per_page=5'), lines.join('\n'));
  assert.ok(lines.includes('https://bucket.example.com/o?X-Amz-Credential=[MASKED]&X-Amz-Signature=[MASKED]&x=1'), lines.join('\n'));
  const repoUrl = new URL(job.repoUrl);
  assert.ok(lines.includes(`${repoUrl.protocol}//gitlab-ci-token:[MASKED]@${repoUrl.host}${repoUrl.pathname}`), lines.join('\n'));
  for (const secret of ['deadbeef1234', 'AKIAEXAMPLE', 'c0ffee', job.token]) assert.ok(!job.trace.includes(secret), secret);
});
