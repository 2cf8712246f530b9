// A runner process's record of what it owns (process-record.ts), and what the
// next start does with the records of dead processes (dead-runners.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reapDeadRunners } from '../../../src/system/dead-runners.ts';
import { bootId } from '../../../src/system/proc-stat.ts';
import {
  RECORD_VERSION,
  RECORD_VERSION_1,
  type RecordedGroup,
  type RecordEntry,
  recordLine,
  type RecordV1,
  selfOwner,
} from '../../../src/system/process-record.ts';
import { groupLiveAfter, killGroup, startGroup } from '../../support/process-groups.ts';

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'runner-records-'));
}

interface RecordContent {
  readonly groups?: RecordedGroup[];
  readonly paths?: string[];
  readonly bootId?: string;
}

/** Writes a journal as a process `owner` (PID-STARTTIME) would have: its header, each group and path added, then `more` as it is. */
function writeRecord(dir: string, owner: string, content: RecordContent, more = ''): string {
  const [pid, startTime] = owner.split('-');
  const entries: RecordEntry[] = [
    ...(content.groups ?? []).map((group): RecordEntry => ({ op: '+group', ...group })),
    ...(content.paths ?? []).map((path): RecordEntry => ({ op: '+path', path })),
  ];
  const header = { version: RECORD_VERSION, pid: Number(pid), startTime: startTime!, bootId: content.bootId ?? bootId() ?? '' };
  const file = join(dir, `${owner}.jsonl`);
  writeFileSync(file, [recordLine(header), ...entries.map(recordLine)].join('') + more, { mode: 0o600 });
  return file;
}

/** Writes a record as a runner before the journal did: PID-STARTTIME.json, one JSON object (version 1). */
function writeRecordV1(dir: string, owner: string, content: RecordContent): string {
  const [pid, startTime] = owner.split('-');
  const data: RecordV1 = {
    version: RECORD_VERSION_1,
    pid: Number(pid),
    startTime: startTime!,
    bootId: content.bootId ?? bootId() ?? '',
    groups: content.groups ?? [],
    paths: content.paths ?? [],
  };
  const file = join(dir, `${owner}.json`);
  writeFileSync(file, `${JSON.stringify(data)}\n`, { mode: 0o600 });
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

for (const [format, write] of [['journal', writeRecord], ['version-1 record', writeRecordV1]] as const) {
  test(`a dead runner's ${format}: its group is ended, its paths removed, the record goes`, async () => {
    const root = scratch();
    const group = await startGroup('sleep 30 & sleep 30; wait');
    try {
      const temp = jobTempDir(root, 'job.tmp');
      const owner = deadOwner();
      const record = write(root, owner, { groups: [{ pgid: group.pgid, startTime: group.startTime, graceMs: 1_000 }], paths: [temp] });
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
}

test('a journal is replayed: what was ended before the runner died is left alone; a torn last line is ignored and named', async () => {
  const root = scratch();
  try {
    const [kept, ended, beingEnded, rewritten, cut] = ['kept.tmp', 'ended.tmp', 'being-ended.tmp', 'rewritten.tmp', 'cut.tmp'].map((name) =>
      jobTempDir(root, name)
    );
    const owner = deadOwner();
    const ends = (path: string): string => recordLine({ op: '-path', path });
    // The death cut short the write of the line that ended the third path.
    const record = writeRecord(root, owner, { paths: [kept!, ended!, beingEnded!] }, ends(ended!) + ends(beingEnded!).slice(0, -5));
    // A rewrite the death cut short: its whole lines are acted on too, its cut one is not, and its missing end is no problem.
    const header = recordLine({ version: RECORD_VERSION, pid: 1, startTime: '1', bootId: bootId() ?? '' });
    writeFileSync(`${record}.tmp`, header + recordLine({ op: '+path', path: rewritten! }) + recordLine({ op: '+path', path: cut! }).slice(0, 9), {
      mode: 0o600,
    });
    const report = await reapDeadRunners(root);
    assert.deepEqual(report, {
      owners: [owner],
      groups: [],
      removed: [kept, beingEnded, rewritten],
      problems: [`${record}: its last line was cut short (the process died while writing it): ignored`],
    });
    assert.deepEqual(readdirSync(root).sort(), ['cut.tmp', 'ended.tmp'], 'a path whose tracking had ended, and one on a cut line, stay');
  } finally {
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
    writeFileSync(join(root, `${other}.jsonl`), 'not json\n');
    writeFileSync(join(root, 'unrelated.txt'), 'kept');
    const report = await reapDeadRunners(root);
    assert.deepEqual(report.removed, []);
    assert.deepEqual([...report.owners].sort(), [owner, other].sort());
    assert.deepEqual(report.problems, [`${join(root, `${other}.jsonl`)}: not a runner process record; removed`]);
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
