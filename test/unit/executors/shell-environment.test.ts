// What a job's shell is, as under GitLab Runner's shell executor: a login
// shell (profiles sourced) with the runner's own environment, the job's
// variables exported at the top of each stage script, stdin /dev/null, errors
// named as bash names the lines of an eval'd script, GITLAB_ENV, CI_DEBUG_TRACE.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { runnerSettings } from '../../support/fakes.ts';
import { closingLine, logLines, plain, run, stageLines } from '../../support/shell-run.ts';

const PROFILE_HELP = 'Check https://docs.gitlab.com/runner/shells/#shell-profile-loading for more information';

test('each stage runs in a login shell: the profile in $HOME is sourced before the script, in every stage', async () => {
  const profile = 'export FROM_PROFILE="profile was read"\necho "profile says hi"\n';
  const bash = await run(
    { script: ['echo "$FROM_PROFILE"'], afterScript: ['echo "after: $FROM_PROFILE"'] },
    // bash reads the first of ~/.bash_profile, ~/.bash_login, ~/.profile.
    { homeFiles: { '.bash_profile': profile, '.profile': 'echo "not read by bash when .bash_profile exists"\n' } },
  );
  assert.equal(bash.result.state, 'success', plain(bash.log));
  assert.deepEqual(stageLines(bash.log, 'prepare_script'), ['profile says hi', `Running on ${hostname()}...`]);
  assert.deepEqual(stageLines(bash.log, 'step_script'), ['profile says hi', '$ echo "$FROM_PROFILE"', 'profile was read']);
  assert.deepEqual(stageLines(bash.log, 'after_script'), [
    'profile says hi',
    'Running after script...',
    '$ echo "after: $FROM_PROFILE"',
    'after: profile was read',
  ]);
  assert.ok(!plain(bash.log).includes('not read by bash'));

  // sh reads ~/.profile.
  const sh = await run({ script: ['echo "$FROM_PROFILE"'] }, { shell: 'sh', homeFiles: { '.profile': profile } });
  assert.equal(sh.result.state, 'success', plain(sh.log));
  assert.deepEqual(stageLines(sh.log, 'step_script'), ['profile says hi', '$ echo "$FROM_PROFILE"', 'profile was read']);
});

test("a profile that ends the login shell fails the job in prepare_script, with GitLab's hint", async () => {
  const { result, log, stages } = await run({ script: ['echo never'] }, { homeFiles: { '.bash_profile': 'echo "from profile"\nexit 3\n' } });
  assert.equal(result.state, 'failed');
  assert.equal(result.failureReason, 'script_failure');
  assert.equal(result.exitCode, 3);
  assert.deepEqual(stageLines(log, 'prepare_script'), ['from profile']);
  assert.equal(closingLine(log), `ERROR: Job failed: prepare environment: exit status 3. ${PROFILE_HELP}`);
  assert.ok(!stages.includes('step_script'));
  assert.ok(!plain(log).includes('never'));
});

test("the runner's environment reaches the job; `environment` of the runner and the job's variables override it", async () => {
  const { result, log } = await run(
    {
      script: [
        'echo "process=$RUNNER_PROCESS_ONLY config=$FROM_CONFIG overridden=$OVERRIDDEN both=$BOTH"',
        'echo "expanded=$EXPANDED from-process=${FROM_PROCESS:-empty} no-equals=${NOEQUALS:-unset}"',
      ],
      variables: [{ key: 'BOTH', value: 'job', masked: false }],
    },
    {
      runnerEnvironment: { RUNNER_PROCESS_ONLY: 'process', OVERRIDDEN: 'process', PROCESS_VALUE: 'process value' },
      runner: runnerSettings({
        environment: [
          'FROM_CONFIG=config',
          'OVERRIDDEN=config',
          'BOTH=config',
          // Expanded against the job's variables, as GitLab Runner does, never against the runner's process environment.
          'EXPANDED=${CI_JOB_NAME}-x',
          'FROM_PROCESS=$PROCESS_VALUE',
          // No `=`: left out.
          'NOEQUALS',
        ],
      }),
    },
  );
  assert.equal(result.state, 'success', plain(log));
  const output = stageLines(log, 'step_script').filter((line) => !line.startsWith('$ '));
  assert.deepEqual(output, ['process=process config=config overridden=config both=job', 'expanded=test job-x from-process=empty no-equals=unset']);
});

test("the job's $HOME is the runner's, unless the job defines HOME; the profile read is the runner's either way", async () => {
  const runnerHome = await run({ script: ['echo "home=$HOME"'] }, { homeFiles: { '.bash_profile': 'echo "profile in $HOME"\n' } });
  assert.equal(runnerHome.result.state, 'success', plain(runnerHome.log));
  assert.deepEqual(stageLines(runnerHome.log, 'step_script'), [`profile in ${runnerHome.home}`, '$ echo "home=$HOME"', `home=${runnerHome.home}`]);

  const jobHome = await run(
    { script: ['echo "home=$HOME"'], variables: [{ key: 'HOME', value: '/job/home', masked: false }] },
    { homeFiles: { '.bash_profile': 'echo "profile in $HOME"\n' } },
  );
  assert.equal(jobHome.result.state, 'success', plain(jobHome.log));
  assert.deepEqual(stageLines(jobHome.log, 'step_script'), [`profile in ${jobHome.home}`, '$ echo "home=$HOME"', 'home=/job/home']);
});

test("a failing command is named as bash names the lines of an eval'd script read from stdin: `bash: line N:`", async () => {
  const lineOf = async (script: string[]): Promise<number> => {
    const { result, log } = await run({ script });
    assert.equal(result.exitCode, 127);
    assert.equal(closingLine(log), 'ERROR: Job failed: exit status 127');
    const errors = stageLines(log, 'step_script').filter((line) => line.includes('nosuchcommand: command not found'));
    assert.equal(errors.length, 1, plain(log));
    // Not a script file's path (`/tmp/.../script: line N:`), nor `/usr/bin/bash:`: the shell was started by name.
    const match = /^bash: line (\d+): nosuchcommand: command not found$/.exec(errors[0]!);
    assert.ok(match, errors[0]);
    return Number(match[1]);
  };
  const first = await lineOf(['nosuchcommand']);
  // Numbered from the eval's line on, in the body: each command before adds its echo line and itself...
  assert.equal(await lineOf(['true', 'nosuchcommand']), first + 2);
  // ...and a multi-line command its own lines.
  assert.equal(await lineOf(['if true; then\n  nosuchcommand\nfi']), first + 1);
  assert.equal(await lineOf(['echo "a\nb"', 'nosuchcommand']), first + 3);
});

test("the job's stdin is /dev/null: a read gets end-of-file and never the rest of the script", async () => {
  const { result, log } = await run({
    script: ['if read -r line; then echo "read: $line"; else echo "end of input"; fi', 'cat; echo "cat ended"', 'echo still here'],
  });
  assert.equal(result.state, 'success', plain(log));
  assert.deepEqual(stageLines(log, 'step_script').filter((line) => !line.startsWith('$ ')), ['end of input', 'cat ended', 'still here']);
});

test("the stage's shell reads its script from an unlinked file (in /dev/shm, else the job's temporary directory), not a pipe, and runs all of it", async () => {
  // bash reads a script from a pipe a byte at a time (30-40 ms for a step script's exports): from a file it reads in blocks.
  const many = Array.from({ length: 300 }, (_, i) => `: ${'x'.repeat(60)} ${i}`);
  const { result, log } = await run({ script: ['readlink "/proc/$$/fd/0"', ...many, 'echo "last line ran"'] });
  assert.equal(result.state, 'success', plain(log));
  const lines = stageLines(log, 'step_script').filter((line) => !line.startsWith('$ '));
  assert.match(lines[0] ?? '', /\/runner-stage-script-[0-9a-f]{16} \(deleted\)$/);
  assert.equal(lines.at(-1), 'last line ran');
});

test('GITLAB_ENV: `KEY=value` lines a stage appends are exported in the stages after it, not in the rest of that stage', async () => {
  const { result, log } = await run({
    script: [
      'echo "FROM_SCRIPT=value with spaces" >> "$GITLAB_ENV"',
      'echo "OTHER=two=equals" >> "$GITLAB_ENV"',
      'echo "same stage=${FROM_SCRIPT:-unset}"',
    ],
    extraSteps: [{ name: 'deploy', script: ['echo "deploy=$FROM_SCRIPT"'] }],
    afterScript: ['echo "after=$FROM_SCRIPT other=$OTHER"'],
  });
  assert.equal(result.state, 'success', plain(log));
  assert.ok(stageLines(log, 'step_script').includes('same stage=unset'));
  assert.deepEqual(stageLines(log, 'step_deploy').at(-1), 'deploy=value with spaces');
  assert.deepEqual(stageLines(log, 'after_script').at(-1), 'after=value with spaces other=two=equals');
});

test('CI_DEBUG_TRACE=true traces the stage scripts (`set -o xtrace`), masked values masked; a runner can disable it', async () => {
  const variables = [
    { key: 'CI_DEBUG_TRACE', value: 'true', masked: false },
    { key: 'SECRET', value: 's3cretvalue', masked: true },
  ];
  const traced = await run({ script: ['echo hello'], variables });
  assert.equal(traced.result.state, 'success', plain(traced.log));
  const lines = stageLines(traced.log, 'step_script');
  assert.ok(lines.includes('+ set -o errexit'), lines.join('\n'));
  assert.ok(lines.some((line) => /^\++ echo hello$/.test(line)), lines.join('\n'));
  assert.ok(lines.some((line) => /^\++ export SECRET=\[MASKED\]$/.test(line)), lines.join('\n'));
  assert.ok(!traced.log.includes('s3cretvalue'));

  const plainRun = await run({ script: ['echo hello'] });
  assert.ok(!stageLines(plainRun.log, 'step_script').some((line) => line.startsWith('+')));

  const disabled = await run({ script: ['echo hello'], variables }, { runner: runnerSettings({ debugTraceDisabled: true }) });
  assert.ok(logLines(disabled.log).includes('WARNING: CI_DEBUG_TRACE: usage is disabled on this Runner'), plain(disabled.log));
  assert.deepEqual(stageLines(disabled.log, 'step_script'), ['$ echo hello', 'hello']);
});

/** Values that need quoting in both shells: quotes, `$`, backslashes, newlines, non-ASCII. */
const TRICKY = `it's "quoted" $HOME \`tick\` \\back\\slash\n\tsecond line 🔑 é\n`;

for (const shell of ['bash', 'sh'] as const) {
  test(`${shell}: variables with quotes, dollars and newlines reach the job exactly, and commands run as written`, async () => {
    const { result, log } = await run(
      {
        variables: [{ key: 'TRICKY', value: TRICKY, masked: false }],
        script: [
          `printf '[%s]\\n' "$TRICKY"`,
          'echo \'single quotes\' "double $CI_JOB_NAME"',
          'for word in one two; do\n  echo "word $word"\ndone',
        ],
        afterScript: ['echo "status $CI_JOB_STATUS"'],
      },
      { shell },
    );
    assert.equal(result.state, 'success', plain(log));
    assert.ok(logLines(log).includes(`Using Shell (${shell}) executor...`));
    assert.deepEqual(stageLines(log, 'step_script'), [
      `$ printf '[%s]\\n' "$TRICKY"`,
      ...`[${TRICKY}]`.split('\n'),
      '$ echo \'single quotes\' "double $CI_JOB_NAME"',
      'single quotes double test job',
      '$ for word in one two; do # collapsed multi-line command',
      'word one',
      'word two',
    ]);
    assert.deepEqual(stageLines(log, 'after_script'), ['Running after script...', '$ echo "status $CI_JOB_STATUS"', 'status success']);
  });
}
