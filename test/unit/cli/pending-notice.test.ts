// When `runner submit --wait` says a job is pending, and what it says
// (pending-notice.ts), and the queue commands its hints name
// (queue-command-line.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { leftPending, LOOK_GRACE_MS, PENDING_NOTICE_MS, pendingNoticeLine, type ServingRunner, unpolledNoticeMs } from '../../../src/cli/pending-notice.ts';
import { queueCommandLine, shellWord } from '../../../src/cli/queue-command-line.ts';
import type { QueueFlags } from '../../../src/cli/queue-flags.ts';

const ID = '0mwrea97y-h22-00002a-9c41e07fd2';
const NO_FLAGS: QueueFlags = { configPath: undefined, runnerName: undefined, workingDirectory: undefined };
const QUEUE = { dir: '/srv/queue', flags: NO_FLAGS, checkIntervalMs: 3_000 };
const T0 = 1_800_000_000_000;
const JOB = { id: ID, queuedAt: T0 };
const idle: ServingRunner = { owner: '3465-100', leftIt: false };
const passing: ServingRunner = { owner: '3465-100', leftIt: true };

test('no notice before 2 s, nor while a serving runner has not had its check_interval (and a margin) to look', () => {
  assert.equal(pendingNoticeLine(JOB, QUEUE, [], T0 + PENDING_NOTICE_MS - 1), undefined);
  assert.equal(pendingNoticeLine(JOB, QUEUE, [passing], T0 + PENDING_NOTICE_MS - 1), undefined);
  // The acceptance review's case: an idle runner with the default 3 s check_interval, 2 s to 6 s after the submit.
  for (const after of [2_000, 3_000, 5_999]) assert.equal(pendingNoticeLine(JOB, QUEUE, [idle], T0 + after), undefined, `${after} ms`);
  assert.equal(unpolledNoticeMs(3_000), 6_000);
  assert.equal(unpolledNoticeMs(30_000), 60_000);
  assert.equal(unpolledNoticeMs(50), PENDING_NOTICE_MS + 50);
});

test('a runner that looked at the queue after the job was queued and left it is named as busy, with no "not polled"', () => {
  const line = pendingNoticeLine(JOB, QUEUE, [passing], T0 + 2_500);
  assert.equal(
    line,
    `runner: job ${ID} is pending in queue /srv/queue, served by runner process 3465: it polled the queue since and left the job there ` +
      `(busy with other jobs, at its limit, or the job's needs have not ended); 'runner list' shows the queue`,
  );
});

test('a runner that has not looked for longer than its check_interval explains is said not to have polled yet', () => {
  const line = pendingNoticeLine(JOB, QUEUE, [idle], T0 + 6_000);
  assert.equal(
    line,
    `runner: job ${ID} is pending in queue /srv/queue, served by runner process 3465: it has not polled the queue yet since the job was queued 6s ago ` +
      `(a check_interval longer than 3s, a pause after failed requests, or a hang: its log tells); 'runner list' shows the queue`,
  );
});

test('several runners: the notice waits for every one to look, then names which did what', () => {
  const two = [{ owner: '10-1', leftIt: true }, { owner: '20-2', leftIt: false }];
  assert.equal(pendingNoticeLine(JOB, QUEUE, two, T0 + 3_000), undefined);
  const line = pendingNoticeLine(JOB, QUEUE, two, T0 + 7_000);
  assert.match(
    line ?? '',
    /served by runner processes 10, 20: process 20 has not polled the queue yet since the job was queued 7s ago \(.*\); process 10 polled the queue since and left the job there \(busy with other jobs, at its limit, /,
  );
  const both = pendingNoticeLine(JOB, QUEUE, two.map((runner) => ({ ...runner, leftIt: true })), T0 + 2_000);
  assert.match(
    both ?? '',
    /served by runner processes 10, 20: processes 10, 20 polled the queue since and left the job there \(busy with other jobs, at their limit, /,
  );
});

test('no live runner: a warning at 2 s, whose cancel command repeats the flags that chose the queue', () => {
  const flags: QueueFlags = { configPath: 'ci/my config.toml', runnerName: 'beta', workingDirectory: undefined };
  assert.equal(
    pendingNoticeLine(JOB, { ...QUEUE, flags }, [], T0 + PENDING_NOTICE_MS),
    `runner: warning: job ${ID} is pending in queue /srv/queue, which no live runner serves: ` +
      `start 'runner run' with this queue_dir; Ctrl-C stops waiting, 'runner cancel -c "ci/my config.toml" -r beta ${ID}' removes the job`,
  );
});

test('a look counts as leaving the job only if it came after the job was queued and the job stayed pending a grace after it', () => {
  assert.equal(leftPending(T0 - 1, JOB, T0 + 10_000), false, 'a look before the job was queued');
  assert.equal(leftPending(T0 + 100, JOB, T0 + 100 + LOOK_GRACE_MS - 1), false, 'a look that may be claiming it now');
  assert.equal(leftPending(T0 + 100, JOB, T0 + 100 + LOOK_GRACE_MS), true);
});

test('queue command lines repeat -c, -r and -d as given, quoted so that a POSIX shell reads them back unchanged', () => {
  assert.equal(queueCommandLine('cancel', NO_FLAGS, [ID]), `runner cancel ${ID}`);
  assert.equal(
    queueCommandLine('list', { configPath: 'qa.toml', runnerName: 'beta', workingDirectory: '../work' }),
    'runner list -c qa.toml -r beta -d ../work',
  );
  assert.equal(queueCommandLine('list', { ...NO_FLAGS, runnerName: '-odd' }), 'runner list --runner=-odd');
  assert.equal(shellWord('my config.toml'), '"my config.toml"');
  assert.equal(shellWord(`it's $HOME`), `'it'\\''s $HOME'`);
  const awkward = [`it's $HOME`, 'a b', 'tab\there', '*', 'new\nline', '', 'a"b', 'back`tick', 'x\\y', 'wow!'];
  for (const word of awkward) {
    const echoed = spawnSync('sh', ['-c', `printf %s ${shellWord(word)}`], { encoding: 'utf8' });
    assert.equal(echoed.stdout, word, shellWord(word));
  }
});
