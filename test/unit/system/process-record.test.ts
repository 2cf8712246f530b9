// A runner process's record of what it owns (process-record.ts): a journal
// of one line per change, rewritten whole only once it has grown well beyond
// what it describes, and read back by the next start (replayRecord of
// dead-runners.ts), which also reads the version-1 records of earlier runners.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ReplayedRecord, replayRecord } from '../../../src/system/dead-runners.ts';
import {
  closeProcessRecord,
  COMPACT_FACTOR,
  COMPACT_MIN_LINES,
  openProcessRecord,
  RECORD_VERSION,
  RECORD_VERSION_1,
  recordLine,
  selfOwner,
  trackGroup,
  trackPath,
} from '../../../src/system/process-record.ts';

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'runner-record-'));
}

function replayed(file: string): ReplayedRecord {
  const record = replayRecord(readFileSync(file, 'utf8'));
  assert.ok(record, `${file} replays`);
  return record;
}

const lineCount = (file: string): number => readFileSync(file, 'utf8').split('\n').length - 1;

test('the record lists what the process owns, one appended line per change, 0600 in a 0700 directory, and goes once nothing is left in it', () => {
  const root = scratch();
  const dir = join(root, 'records');
  try {
    const file = openProcessRecord(dir, (error) => assert.fail(error));
    try {
      assert.equal(statSync(dir).mode & 0o777, 0o700);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.match(file, /\/[0-9]+-[0-9]+\.jsonl$/);
      const header = JSON.parse(readFileSync(file, 'utf8').split('\n')[0]!) as Record<string, unknown>;
      assert.deepEqual({ version: header['version'], pid: header['pid'], startTime: header['startTime'] }, { version: RECORD_VERSION, ...selfOwner() });
      const inode = statSync(file).ino;
      const untrackGroup = trackGroup({ pgid: 1234, startTime: '99', graceMs: 500 });
      const untrackPath = trackPath('/tmp/x.tmp');
      const again = trackPath('/tmp/x.tmp');
      assert.deepEqual(replayed(file).groups, [{ pgid: 1234, startTime: '99', graceMs: 500 }]);
      assert.deepEqual(replayed(file).paths, ['/tmp/x.tmp']);
      assert.equal(lineCount(file), 3, 'the header and one line per change; a second holder of a path adds none');
      untrackGroup();
      untrackGroup();
      untrackPath();
      untrackPath();
      assert.deepEqual(replayed(file).groups, []);
      assert.deepEqual(replayed(file).paths, ['/tmp/x.tmp'], 'tracked twice, it stays until both holders are done');
      again();
      assert.deepEqual(replayed(file).paths, []);
      assert.equal(lineCount(file), 5, 'an untrack called twice writes once');
      assert.equal(statSync(file).ino, inode, 'appended to, not rewritten');
      assert.deepEqual(replayed(file).notes, []);
    } finally {
      closeProcessRecord();
    }
    assert.deepEqual(readdirSync(dir), [], 'an empty record is removed');
    openProcessRecord(dir, (error) => assert.fail(error));
    const late = trackPath('/tmp/late.tmp');
    trackPath('/tmp/left.tmp');
    closeProcessRecord();
    assert.equal(readdirSync(dir).length, 1, 'a record still listing something stays for the next start');
    const left = join(dir, readdirSync(dir)[0]!);
    trackPath('/tmp/after-close');
    late();
    assert.deepEqual(replayed(left).paths, ['/tmp/late.tmp', '/tmp/left.tmp'], 'closed, tracking and untracking do nothing');
  } finally {
    closeProcessRecord();
    rmSync(root, { recursive: true, force: true });
  }
});

test('the journal is rewritten whole once it outgrows what it describes, and goes on from there', () => {
  const root = scratch();
  try {
    const file = openProcessRecord(root, (error) => assert.fail(error));
    try {
      const held = Array.from({ length: 3 }, (_, i) => trackPath(`/tmp/held-${i}.tmp`));
      trackGroup({ pgid: 4321, startTime: '7', graceMs: 100 });
      const inode = statSync(file).ino;
      let longest = 0;
      for (let job = 0; job < 100; job++) {
        const path = trackPath(`/tmp/job-${job}.tmp`);
        const group = trackGroup({ pgid: 10_000 + job, startTime: `${job}`, graceMs: 100 });
        group();
        if (job % 10 !== 0) path();
        longest = Math.max(longest, lineCount(file));
      }
      held[1]!();
      const record = replayed(file);
      const kept = Array.from({ length: 10 }, (_, i) => `/tmp/job-${i * 10}.tmp`);
      assert.deepEqual([...record.paths].sort(), ['/tmp/held-0.tmp', '/tmp/held-2.tmp', ...kept].sort());
      assert.deepEqual(record.groups, [{ pgid: 4321, startTime: '7', graceMs: 100 }]);
      assert.deepEqual(record.notes, []);
      assert.notEqual(statSync(file).ino, inode, 'rewritten');
      const live = 1 + 1 + 3 + 10 + 2;
      assert.ok(longest <= Math.max(COMPACT_MIN_LINES, COMPACT_FACTOR * live) + 1, `at most ${longest} lines`);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.deepEqual(readdirSync(root), [file.slice(root.length + 1)], 'no temporary file left');
    } finally {
      closeProcessRecord();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("the journal's descriptor, kept open, is not inherited by the processes the runner starts (a job must not write the record)", {
  skip: existsSync('/proc/self/fd') ? false : 'needs /proc',
}, () => {
  const root = scratch();
  try {
    const file = openProcessRecord(root, (error) => assert.fail(error));
    try {
      trackPath('/tmp/x.tmp');
      const fds = execFileSync('/bin/sh', ['-c', 'ls -l /proc/$$/fd'], { encoding: 'utf8' });
      assert.ok(fds.includes(' -> '), fds);
      assert.ok(!fds.includes(file), fds);
    } finally {
      closeProcessRecord();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('replaying: changes in order, a group replaced by one of the same id, lines that are no entry and a torn last line ignored and named', () => {
  const header = recordLine({ version: RECORD_VERSION, pid: 42, startTime: '5', bootId: 'boot' });
  const text = header +
    recordLine({ op: '+group', pgid: 100, startTime: '1', graceMs: 10 }) +
    recordLine({ op: '+path', path: '/tmp/a' }) +
    'garbage\n' +
    recordLine({ op: '+group', pgid: 100, startTime: '2', graceMs: 20 }) +
    recordLine({ op: '+group', pgid: 200, startTime: '3', graceMs: 30 }) +
    '{"op":"+path"}\n' +
    recordLine({ op: '-group', pgid: 200 }) +
    recordLine({ op: '+path', path: '/tmp/b' }) +
    recordLine({ op: '-path', path: '/tmp/a' }) +
    recordLine({ op: '+path', path: 'relative' }) +
    '{"op":"+path","path":"/tmp/c"}';
  assert.deepEqual(replayRecord(text), {
    bootId: 'boot',
    groups: [{ pgid: 100, startTime: '2', graceMs: 20 }],
    paths: ['/tmp/b'],
    notes: ['its last line was cut short (the process died while writing it): ignored', '2 lines, the first 4, not a record entry: ignored'],
  });
  assert.deepEqual(replayRecord(header), { bootId: 'boot', groups: [], paths: [], notes: [] });
  assert.equal(replayRecord(header.slice(0, -1)), undefined, 'a header without its newline was never written whole');
  assert.equal(replayRecord(''), undefined);
  assert.equal(replayRecord(recordLine({ version: 3, pid: 42, startTime: '5', bootId: '' })), undefined, 'a version this runner does not know');
});

test('a version-1 record (one JSON object, from runners before the journal) is read as it was written', () => {
  const v1 = {
    version: RECORD_VERSION_1,
    pid: 42,
    startTime: '5',
    bootId: 'boot',
    groups: [{ pgid: 100, startTime: '1', graceMs: 10 }, { pgid: 1, startTime: '1', graceMs: 10 }, 'nonsense'],
    paths: ['/tmp/a', '/', 7],
  };
  const expected = { bootId: 'boot', groups: [{ pgid: 100, startTime: '1', graceMs: 10 }], paths: ['/tmp/a'], notes: [] };
  assert.deepEqual(replayRecord(`${JSON.stringify(v1)}\n`), expected);
  assert.deepEqual(replayRecord(JSON.stringify(v1)), expected);
  assert.equal(replayRecord(JSON.stringify({ ...v1, paths: undefined })), undefined);
});
