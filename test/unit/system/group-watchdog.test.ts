// The watchdog that ends a stage's process group when the runner dies: the
// runner's death is stood in for by abandon() (the watchdog ends that group
// as on the end of its pipe) and by close(), which closes the pipe without a
// release, as the kernel does when the runner is killed (the e2e tests in
// test/e2e/runner-death.test.ts kill a real runner).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedWatchdog, watchGroup } from '../../../src/system/group-watchdog.ts';
import { groupMembers } from '../../../src/system/proc-stat.ts';
import { groupLiveAfter, killGroup, startGroup } from '../../support/process-groups.ts';

test('the runner gone (its pipe closed without a release): the watched group gets SIGTERM', async () => {
  const group = await startGroup('sleep 30 & sleep 30; wait');
  try {
    const watchdog = watchGroup(group.pgid, group.startTime, 10_000);
    assert.equal(await groupLiveAfter(group.pgid, false, 500), true, 'the group runs while the runner lives');
    watchdog.abandon();
    assert.equal(await groupLiveAfter(group.pgid, false, 5_000), false, 'the group is gone');
  } finally {
    killGroup(group.pgid);
  }
});

test('a group that ignores SIGTERM gets SIGKILL after the grace period', async () => {
  // Ignored signals stay ignored in the children: both the shell and its sleep ignore SIGTERM.
  const group = await startGroup("trap '' TERM; sleep 30 & sleep 30; wait");
  try {
    // The trap is set once its sleeps run (the watchdog, already running, could otherwise signal first).
    for (const deadline = performance.now() + 5_000; (groupMembers(group.pgid) ?? []).length < 3 && performance.now() < deadline;) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const watchdog = watchGroup(group.pgid, group.startTime, 1_000);
    watchdog.abandon();
    assert.equal(await groupLiveAfter(group.pgid, false, 300), true, 'SIGTERM alone does not end it');
    assert.equal(await groupLiveAfter(group.pgid, false, 6_000), false, 'SIGKILL did');
  } finally {
    killGroup(group.pgid);
  }
});

test('released, the watchdog leaves the group alone', async () => {
  const group = await startGroup('sleep 30');
  try {
    const watchdog = watchGroup(group.pgid, group.startTime, 500);
    watchdog.release();
    watchdog.abandon();
    assert.equal(await groupLiveAfter(group.pgid, false, 1_500), true);
  } finally {
    killGroup(group.pgid);
  }
});

test('a leader pid that now shows another start time is not the watched group: no signal', async () => {
  const group = await startGroup('sleep 30');
  try {
    const watchdog = watchGroup(group.pgid, String(BigInt(group.startTime) + 1n), 500);
    watchdog.abandon();
    assert.equal(await groupLiveAfter(group.pgid, false, 1_500), true);
  } finally {
    killGroup(group.pgid);
  }
});

test('one watchdog for several groups: the end of its pipe ends those still watched, not the released ones', async () => {
  const watchdog = new SharedWatchdog();
  const groups = [await startGroup('sleep 30'), await startGroup('sleep 30'), await startGroup('sleep 30')];
  try {
    const handles = groups.map((group) => watchdog.watch(group.pgid, group.startTime, 1_000));
    handles[1]!.release();
    assert.equal(await groupLiveAfter(groups[0]!.pgid, false, 300), true, 'the groups run while the runner lives');
    watchdog.close();
    assert.equal(await groupLiveAfter(groups[0]!.pgid, false, 5_000), false, 'a watched group is gone');
    assert.equal(await groupLiveAfter(groups[2]!.pgid, false, 5_000), false, 'the other watched group is gone');
    assert.equal(await groupLiveAfter(groups[1]!.pgid, false, 1_000), true, 'the released group runs on');
  } finally {
    for (const group of groups) killGroup(group.pgid);
  }
});
