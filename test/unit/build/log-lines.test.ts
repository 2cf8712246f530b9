// The runner's own lines of a job's log in GitLab Runner's bytes
// (common/buildlogger, helpers/build_section.go, common/build.go), and the
// texts of its closing line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { error, exitText, info, line, sectionEnd, sectionStart, stageTitle, timeoutText, title, warning } from '../../../src/build/log-lines.ts';

test("Println, Infoln, Warningln, Errorln and a stage's title, byte for byte", () => {
  assert.equal(line('Using Shell (bash) executor...'), '\x1b[0KUsing Shell (bash) executor...\x1b[0;m\n');
  assert.equal(info('Job succeeded'), '\x1b[32;1mJob succeeded\x1b[0;m\n');
  assert.equal(warning('Retrying...'), '\x1b[0;33mWARNING: Retrying...\x1b[0;m\n');
  assert.equal(error('Job failed: exit status 1'), '\x1b[31;1mERROR: Job failed: exit status 1\x1b[0;m\n');
  assert.equal(title('Preparing environment'), '\x1b[0K\x1b[36;1mPreparing environment\x1b[0;m\x1b[0;m\n');
});

test('section markers: unix seconds of the moment, no newline', () => {
  const before = Math.floor(Date.now() / 1000);
  const start = sectionStart('step_script');
  const end = sectionEnd('step_script');
  const after = Math.floor(Date.now() / 1000);
  for (const [marker, kind] of [[start, 'start'], [end, 'end']] as const) {
    const match = new RegExp(`^section_${kind}:(\\d+):step_script\\r\\x1b\\[0K$`).exec(marker);
    assert.ok(match, JSON.stringify(marker));
    assert.ok(Number(match[1]) >= before && Number(match[1]) <= after);
  }
});

test("GitLab's stage titles", () => {
  const titles: Array<[Parameters<typeof stageTitle>[0], string]> = [
    ['prepare_executor', 'Preparing the "shell" executor'],
    ['prepare_script', 'Preparing environment'],
    ['get_sources', 'Getting source from Git repository'],
    ['clear_worktree', 'Deleting all tracked and untracked files due to source fetch failure'],
    ['step_script', 'Executing "step_script" stage of the job script'],
    ['step_release', 'Executing "step_release" stage of the job script'],
    ['after_script', 'Running after_script'],
    ['cleanup_file_variables', 'Cleaning up project directory and file based variables'],
  ];
  for (const [stage, text] of titles) assert.equal(stageTitle(stage, 'shell'), text, stage);
});

test("the closing line's texts: Go's exit and signal texts, the timeout in Go's duration form followed by 'seconds'", () => {
  assert.equal(exitText(1, undefined), 'exit status 1');
  assert.equal(exitText(137, 'SIGKILL'), 'signal: killed');
  assert.equal(exitText(143, 'SIGTERM'), 'signal: terminated');
  assert.equal(exitText(130, 'SIGINT'), 'signal: interrupt');
  assert.equal(timeoutText(3600), 'execution took longer than 1h0m0s seconds');
  assert.equal(timeoutText(7200), 'execution took longer than 2h0m0s seconds');
  assert.equal(timeoutText(90), 'execution took longer than 1m30s seconds');
  assert.equal(timeoutText(45), 'execution took longer than 45s seconds');
});
