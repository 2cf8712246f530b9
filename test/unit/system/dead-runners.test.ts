// A runner process's record of what it owns (process-record.ts), and what the
// next start does with the records of dead processes (dead-runners.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reapDeadRunners } from '../../../src/system/dead-runners.ts';
import { bootId } from '../../../src/system/proc-stat.ts';
import {
  closeProcessRecord,
  openProcessRecord,
  type ProcessRecordData,
  RECORD_VERSION,
  type RecordedGroup,
  selfOwner,
  trackGroup,
  trackPath,
} from '../../../src/system/process-record.ts';
import { groupLiveAfter, killGroup, startGroup } from '../../support/process-groups.ts';

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'runner-records-'));
}

/** Writes a record as a process `owner` (PID-STARTTIME) would have. */
function writeRecord(dir: string, owner: string, content: { groups?: RecordedGroup[]; paths?: string[]; bootId?: string }): string {
  const [pid, startTime] = owner.split('-');
  const data: ProcessRecordData = {
    version: RECORD_VERSION,
    pid: Number(pid),
    startTime: startTime!,
    bootId: content.bootId ?? bootId() ?? '',
    groups: content.groups ?? [],
    paths: content.paths ?? [],
  };
  const file = join(dir, `${owner}.json`);
  writeFileSync(file, JSON.stringify(data), { mode: 0o600 });
  return file;
}

/** The owner name of this process with another start time: a dead process whose pid was reused (by us). */
function deadOwner(): string {
  const self = selfOwner();
  return `${self.pid}-${BigInt(self.startTime) + 1n}`;
}

/** A directory holding a file, as a job's temporary directory would. */
function jobTempDir(root: string, name: string): string {
  const dir = join(root, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'secret'), 'token', { mode: 0o600 });
  return dir;
}

test('the record lists what the process owns, 0600 in a 0700 directory, and goes once nothing is left in it', () => {
  const root = scratch();
  const dir = join(root, 'records');
  try {
    const file = openProcessRecord(dir, (error) => assert.fail(error));
    try {
      assert.equal(statSync(dir).mode & 0o777, 0o700);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const read = (): ProcessRecordData => JSON.parse(readFileSync(file, 'utf8')) as ProcessRecordData;
      assert.deepEqual({ pid: read().pid, startTime: read().startTime }, selfOwner());
      const untrackGroup = trackGroup({ pgid: 1234, startTime: '99', graceMs: 500 });
      const untrackPath = trackPath('/tmp/x.tmp');
      const again = trackPath('/tmp/x.tmp');
      assert.deepEqual(read().groups, [{ pgid: 1234, startTime: '99', graceMs: 500 }]);
      assert.deepEqual(read().paths, ['/tmp/x.tmp']);
      untrackGroup();
      untrackPath();
      untrackPath();
      assert.deepEqual(read().groups, []);
      assert.deepEqual(read().paths, ['/tmp/x.tmp'], 'tracked twice, it stays until both holders are done');
      again();
      assert.deepEqual(read().paths, []);
    } finally {
      closeProcessRecord();
    }
    assert.deepEqual(readdirSync(dir), [], 'an empty record is removed');
    openProcessRecord(dir, (error) => assert.fail(error));
    trackPath('/tmp/left.tmp');
    closeProcessRecord();
    assert.equal(readdirSync(dir).length, 1, 'a record still listing something stays for the next start');
    const [left] = readdirSync(dir);
    trackPath('/tmp/after-close');
    assert.deepEqual((JSON.parse(readFileSync(join(dir, left!), 'utf8')) as ProcessRecordData).paths, ['/tmp/left.tmp'], 'closed, tracking does nothing');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a dead runner's record: its group is ended, its paths removed, the record goes", async () => {
  const root = scratch();
  const group = await startGroup('sleep 30 & sleep 30; wait');
  try {
    const temp = jobTempDir(root, 'job.tmp');
    const owner = deadOwner();
    const record = writeRecord(root, owner, { groups: [{ pgid: group.pgid, startTime: group.startTime, graceMs: 1_000 }], paths: [temp] });
    const report = await reapDeadRunners(root);
    assert.deepEqual(report, { owners: [owner], groups: [group.pgid], removed: [temp], problems: [] });
    assert.equal(await groupLiveAfter(group.pgid, false, 2_000), false);
    assert.equal(existsSync(temp), false);
    assert.equal(existsSync(record), false);
  } finally {
    killGroup(group.pgid);
    rmSync(root, { recursive: true, force: true });
  }
});

test("a live runner's record, and this process's own, are left alone", async () => {
  const root = scratch();
  // Another runner process, alive: a process of its own with its real start time.
  const live = await startGroup('sleep 30');
  try {
    const theirs = jobTempDir(root, 'theirs.tmp');
    const ours = jobTempDir(root, 'ours.tmp');
    const self = selfOwner();
    const records = [
      writeRecord(root, `${live.pgid}-${live.startTime}`, { groups: [{ pgid: live.pgid, startTime: live.startTime, graceMs: 100 }], paths: [theirs] }),
      writeRecord(root, `${self.pid}-${self.startTime}`, { paths: [ours] }),
    ];
    assert.deepEqual(await reapDeadRunners(root), { owners: [], groups: [], removed: [], problems: [] });
    assert.ok(records.every((file) => existsSync(file)) && existsSync(theirs) && existsSync(ours));
    assert.equal(await groupLiveAfter(live.pgid, false, 300), true);
  } finally {
    killGroup(live.pgid);
    rmSync(root, { recursive: true, force: true });
  }
});

test('a recorded group whose leader pid now shows another start time is not signalled (a reused pid)', async () => {
  const root = scratch();
  const stranger = await startGroup('sleep 30');
  try {
    writeRecord(root, deadOwner(), { groups: [{ pgid: stranger.pgid, startTime: String(BigInt(stranger.startTime) - 1n), graceMs: 100 }] });
    const report = await reapDeadRunners(root);
    assert.deepEqual(report.groups, []);
    assert.equal(await groupLiveAfter(stranger.pgid, false, 300), true);
    assert.deepEqual(readdirSync(root), []);
  } finally {
    killGroup(stranger.pgid);
    rmSync(root, { recursive: true, force: true });
  }
});

test('a record of another boot: its owner is gone whatever /proc says now; its paths are removed, no pid of it is signalled', async () => {
  const root = scratch();
  const running = await startGroup('sleep 30');
  try {
    const temp = jobTempDir(root, 'job.tmp');
    const owner = `${running.pgid}-${running.startTime}`;
    writeRecord(root, owner, { bootId: 'another-boot', groups: [{ pgid: running.pgid, startTime: running.startTime, graceMs: 100 }], paths: [temp] });
    const report = await reapDeadRunners(root, { bootId: 'this-boot' });
    assert.deepEqual(report, { owners: [owner], groups: [], removed: [temp], problems: [] });
    assert.equal(await groupLiveAfter(running.pgid, false, 300), true);
  } finally {
    killGroup(running.pgid);
    rmSync(root, { recursive: true, force: true });
  }
});

test('what a record cannot make the runner do: remove a relative path or /, read a file that is not a record', async () => {
  const root = scratch();
  try {
    const owner = deadOwner();
    writeRecord(root, owner, { paths: ['relative/dir', '/', '/tmp/../etc'] });
    const other = `${selfOwner().pid}-${BigInt(selfOwner().startTime) + 2n}`;
    writeFileSync(join(root, `${other}.json`), 'not json');
    writeFileSync(join(root, 'unrelated.txt'), 'kept');
    const report = await reapDeadRunners(root);
    assert.deepEqual(report.removed, []);
    assert.deepEqual([...report.owners].sort(), [owner, other].sort());
    assert.deepEqual(report.problems, [`${join(root, `${other}.json`)}: not a runner process record; removed`]);
    assert.deepEqual(readdirSync(root), ['unrelated.txt']);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a records directory others could write is made private before it is read; a missing one has nothing to do', async () => {
  const root = scratch();
  try {
    const dir = join(root, 'records');
    assert.deepEqual(await reapDeadRunners(dir), { owners: [], groups: [], removed: [], problems: [] });
    mkdirSync(dir, { mode: 0o777 });
    await reapDeadRunners(dir);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
