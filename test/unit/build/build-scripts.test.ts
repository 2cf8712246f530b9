// The stage scripts the build writes, run in a real bash as a user's job gets
// them: the job's variables exported with their expanded values (hostile
// quoting included), file variables, $GITLAB_ENV carried to later stages,
// CI_JOB_STATUS in after_script, and how bash names a failing line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { JobVariable } from '../../../src/job/model.ts';
import { FakeExecutor, fakeJob } from '../../support/fakes.ts';
import { bodyOf, build, buildsRoot, runBash, runStepInBash, scriptOf } from './harness.ts';

const v = (key: string, value: string, more: Partial<JobVariable> = {}): JobVariable => ({ key, value, masked: false, expand: true, ...more });
const HOSTILE = `it's "quoted" $HOME \${X} $(id) \`tick\` back\\slash \\n\nnewline\ttab é 世界 🚀 \u0001 ;&|<>*?~#!%`;

test('the exported values reach the job as they are: expanded once, raw ones and hostile text intact', async () => {
  const { bash, read, built } = await runStepInBash(fakeJob('1', {
    variables: [
      v('A', HOSTILE, { expand: false }),
      v('B', 'x-$C-${C}y'),
      v('C', 'c'),
      v('D', 'line1\n$C\n', { file: true }),
      v('HOME', '/home/job'),
      v('E', '$HOME/bin'),
      v('F', '$C stays', { file: true, expand: false }),
      v('G', '$$C $UNDEFINED.'),
      v('H', HOSTILE.replaceAll('$', () => '$$')),
    ],
    script: [
      'printf "%s" "$A" > "$OUT/a"',
      'printf "%s" "$B" > "$OUT/b"',
      'cat "$D" > "$OUT/c"',
      'printf "%s" "$D" > "$OUT/d"',
      'printf "%s" "$E" > "$OUT/e"',
      'cat "$F" > "$OUT/f"',
      'printf "%s" "$G" > "$OUT/g"',
      'printf "%s" "$H" > "$OUT/h"',
      'pwd > "$OUT/pwd"',
    ],
  }));
  assert.equal(bash.status, 0, bash.stderr);
  const { projectDir, tempDir } = built.executor.directories.get('1')!;
  assert.equal(read('a'), HOSTILE);
  assert.equal(read('b'), 'x-c-cy');
  assert.equal(read('c'), 'line1\nc\n', "a file variable's contents, expanded");
  assert.equal(read('d'), `${tempDir}/D`, 'a file variable holds its path');
  assert.equal(read('e'), '/home/job/bin', "$HOME is the job's, not the runner's");
  assert.equal(read('f'), '$C stays');
  assert.equal(read('g'), '$C .');
  assert.equal(read('h'), HOSTILE, '$$ is a dollar');
  assert.equal(read('pwd'), `${projectDir}\n`);
});

test('each command is announced in green before its output; a multi-line one by its first line', async () => {
  const { bash } = await runStepInBash(fakeJob('1', { beforeScript: ['echo before'], script: ['echo "a b"', 'echo one\necho two', '', "echo 'x\\ty'"] }));
  assert.equal(bash.status, 0, bash.stderr);
  assert.equal(
    bash.stdout,
    '\x1b[32;1m$ echo before\x1b[0;m\nbefore\n' +
      '\x1b[32;1m$ echo "a b"\x1b[0;m\na b\n' +
      '\x1b[32;1m$ echo one # collapsed multi-line command\x1b[0;m\none\ntwo\n' +
      '\n' +
      "\x1b[32;1m$ echo 'x\\ty'\x1b[0;m\nx\\ty\n",
  );
});

test('FF_SCRIPT_SECTIONS shows a multi-line command whole in a collapsed section, only where the coordinator reads sections', async () => {
  const script = ['echo one', 'echo "two\\tx"\necho three'];
  const flag = [v('FF_SCRIPT_SECTIONS', 'true')];
  const sectioned = await runStepInBash(fakeJob('1', { script, variables: flag, features: { traceSections: true, timestamps: false, tokenMaskPrefixes: [] } }));
  assert.equal(sectioned.bash.status, 0, sectioned.bash.stderr);
  const lines = sectioned.bash.stdout.replace(/_(start|end):\d+:/g, '_$1:T:');
  assert.equal(
    lines,
    '\x1b[32;1m$ echo one\x1b[0;m\none\n' +
      // GitLab's writer prints the section through printf '%b': the command's `\t` is read as a tab there.
      'section_start:T:section_script_step_1[hide_duration=true,collapsed=true]\r\x1b[0K\x1b[32;1m$ echo "two\tx"\necho three\x1b[0;m\n' +
      'section_end:T:section_script_step_1\r\x1b[0K\n' +
      'two\\tx\nthree\n',
  );
  const plain = await runStepInBash(fakeJob('2', { script, variables: flag, features: { traceSections: false, timestamps: false, tokenMaskPrefixes: [] } }));
  assert.ok(plain.bash.stdout.includes('$ echo "two\\tx" # collapsed multi-line command'), plain.bash.stdout);
  assert.ok(!plain.bash.stdout.includes('section_start'), plain.bash.stdout);
});

test('a failing command ends the step with its status, named `bash: line N:` (N counted from the eval line)', async () => {
  const { bash, built } = await runStepInBash(fakeJob('1', { script: ['echo one', 'no-such-command-for-this-test', 'echo never'] }));
  assert.equal(bash.status, 127);
  assert.equal(bash.stdout, '\x1b[32;1m$ echo one\x1b[0;m\none\n\x1b[32;1m$ no-such-command-for-this-test\x1b[0;m\n');
  const lines = bodyOf(scriptOf(built.executor, 'step_script')).split('\n');
  const at = lines.indexOf('no-such-command-for-this-test') + 1;
  assert.ok(at > 60, 'after the exports of every flag and variable');
  assert.equal(bash.stderr, `bash: line ${7 + at - 1}: no-such-command-for-this-test: command not found\n`);

  const traced = await runStepInBash(fakeJob('2', { script: ['no-such-command-for-this-test'], variables: [v('CI_DEBUG_TRACE', 'true')] }));
  const tracedAt = bodyOf(scriptOf(traced.built.executor, 'step_script')).split('\n').indexOf('no-such-command-for-this-test') + 1;
  assert.match(traced.bash.stderr, new RegExp(`^bash: line ${8 + tracedAt - 1}: no-such-command-for-this-test: command not found$`, 'm'), 'one line later');
  assert.match(traced.bash.stderr, /^\+\+ export CI_SERVER=yes$/m, 'CI_DEBUG_TRACE traces the body');
});

test('prepare_script says where the job runs; after_script sees CI_JOB_STATUS and what the script wrote to $GITLAB_ENV', async () => {
  const root = buildsRoot();
  try {
    const executor = new FakeExecutor({ buildsDir: join(root.dir, 'builds') });
    const job = fakeJob('1', {
      script: ['echo "FROM_STEP=hello world" >> "$GITLAB_ENV"', 'exit 3'],
      afterScript: ['echo "$FROM_STEP / $CI_JOB_STATUS / $PWD"'],
    });
    const { result } = await build(job, (run) => run.exit(run.stage === 'step_script' ? 3 : 0), {}, executor);
    assert.equal(result.failureReason, 'script_failure');
    const { projectDir } = executor.directories.get('1')!;
    mkdirSync(projectDir, { recursive: true });
    const prepare = runBash(scriptOf(executor, 'prepare_script'));
    assert.equal(prepare.stdout, `Running on ${hostname()}...\n`);
    const step = runBash(scriptOf(executor, 'step_script'));
    assert.equal(step.status, 3);
    const after = runBash(scriptOf(executor, 'after_script'));
    assert.equal(after.status, 0, after.stderr);
    assert.equal(
      after.stdout,
      `\x1b[32;1mRunning after script...\x1b[0;m\n\x1b[32;1m$ echo "$FROM_STEP / $CI_JOB_STATUS / $PWD"\x1b[0;m\nhello world / failed / ${projectDir}\n`,
    );
  } finally {
    root.done();
  }
});

test("get_sources with GIT_STRATEGY=none makes the directory and says GitLab's lines", async () => {
  const root = buildsRoot();
  try {
    const executor = new FakeExecutor({ buildsDir: join(root.dir, 'builds') });
    const job = fakeJob('1', {
      project: { id: 1, path: 'g/p' },
      repository: { url: 'https://gitlab.example/g/p.git', ref: 'main' },
      variables: [v('GIT_STRATEGY', 'none')],
    });
    await build(job, (run) => run.exit(0), {}, executor);
    const sources = runBash(scriptOf(executor, 'get_sources'));
    assert.equal(sources.status, 0, sources.stderr);
    assert.equal(
      sources.stdout,
      [
        'Skipping Git repository setup',
        'Skipping Git checkout',
        'Skipping Git submodules setup',
      ].map((line) => `\x1b[32;1m${line}\x1b[0;m\n`).join(''),
    );
    assert.ok(existsSync(executor.directories.get('1')!.projectDir));
  } finally {
    root.done();
  }
});
