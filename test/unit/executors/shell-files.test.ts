// The runner's files of a job on the shell executor: file variables written
// 0600 into RUNNER_TEMP_PROJECT_DIR (CI_PROJECT_DIR.tmp) with their exact
// contents and removed after the job, and nothing a job plants there is
// followed by the runner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logLines, plain, run, stageLines } from '../../support/shell-run.ts';

/** Contents that a careless writer would change: quotes, `$`, backslashes, `%`, newlines (a trailing one too), non-ASCII. */
const CONTENT = `line one\n'single' "double" $HOME \${X} \`tick\` \\n %s 100%\n\tindented 🔑\n\n`;

for (const shell of ['bash', 'sh'] as const) {
  test(`${shell}: file variables become 0600 files in RUNNER_TEMP_PROJECT_DIR with their exact contents, removed after the job`, async () => {
    const out = mkdtempSync(join(tmpdir(), 'runner-file-var-'));
    try {
      const { result, log } = await run(
        {
          script: [
            'cp "$CONFIG_FILE" "$OUT/copy"',
            'stat -c %a "$CONFIG_FILE"',
            'echo "$CONFIG_FILE" > "$OUT/path"',
            'echo "temp=$RUNNER_TEMP_PROJECT_DIR project=$CI_PROJECT_DIR"',
          ],
          variables: [
            { key: 'OUT', value: out, masked: false },
            { key: 'CONFIG_FILE', value: CONTENT, masked: false, file: true },
          ],
        },
        { shell },
      );
      assert.equal(result.state, 'success', plain(log));
      const output = stageLines(log, 'step_script').filter((line) => !line.startsWith('$ '));
      assert.equal(output[0], '600');
      const [, temp, project] = /^temp=(\S+) project=(\S+)$/.exec(output[1] ?? '') ?? [];
      assert.equal(temp, `${project}.tmp`);
      assert.equal(readFileSync(join(out, 'copy'), 'utf8'), CONTENT);
      const path = readFileSync(join(out, 'path'), 'utf8').trim();
      assert.equal(path, `${temp}/CONFIG_FILE`);
      assert.ok(!existsSync(path), `${path} is left after the job`);
      assert.ok(!existsSync(temp!), `${temp} is left after the job`);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
}

test('file variables: masked contents are masked in the log; named steps run after script while it succeeds', async () => {
  const { result, log, stages } = await run({
    script: ['cat "$CONFIG_FILE"; echo'],
    variables: [{ key: 'CONFIG_FILE', value: 'line one\nkey=s3cret-token', masked: false, file: true }],
    extraSteps: [{ name: 'deploy', script: ['echo releasing'] }],
    secrets: ['s3cret-token'],
    warnings: ['artifacts are not supported by the shell executor yet and were ignored'],
  });
  assert.equal(result.state, 'success', plain(log));
  assert.ok(logLines(log).includes('WARNING: artifacts are not supported by the shell executor yet and were ignored'));
  assert.deepEqual(stageLines(log, 'step_script'), ['$ cat "$CONFIG_FILE"; echo', 'line one', 'key=[MASKED]']);
  assert.deepEqual(stageLines(log, 'step_deploy'), ['$ echo releasing', 'releasing']);
  assert.ok(!log.includes('s3cret-token'));
  assert.deepEqual(stages, ['prepare_executor', 'prepare_script', 'step_script', 'step_deploy', 'cleanup_file_variables']);

  const failed = await run({ script: ['exit 4'], extraSteps: [{ name: 'deploy', script: ['echo never'] }] });
  assert.equal(failed.result.exitCode, 4);
  assert.ok(!plain(failed.log).includes('never'));
  assert.ok(!failed.stages.includes('step_deploy'));
});

test('what a job plants in its private directory is never followed: stage scripts go to the shell on stdin, file variables are rewritten', async () => {
  const { result, log } = await run({
    script: [
      // A FIFO to block on and a symlink out of the build, named as a runner might name its stage scripts.
      'mkfifo "$RUNNER_TEMP_PROJECT_DIR/step_deploy" "$RUNNER_TEMP_PROJECT_DIR/after_script.sh"',
      'ln -s /etc/hostname "$RUNNER_TEMP_PROJECT_DIR/step_script"',
    ],
    extraSteps: [{ name: 'deploy', script: ['cat "$after_script"; echo'] }],
    afterScript: ['echo after ran'],
    variables: [{ key: 'after_script', value: 'the variable, not a script', masked: false, file: true }],
  });
  assert.equal(result.state, 'success', plain(log));
  assert.deepEqual(stageLines(log, 'step_deploy'), ['$ cat "$after_script"; echo', 'the variable, not a script']);
  assert.deepEqual(stageLines(log, 'after_script'), ['Running after script...', '$ echo after ran', 'after ran']);
});
