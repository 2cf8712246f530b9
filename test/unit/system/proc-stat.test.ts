// What src/system/proc-stat.ts reads from /proc, checked against what the
// runtime and the shell say about the same processes. Every read shares one
// buffer, so the tests also read files of different sizes one after another:
// a shorter file must not show the tail of a longer one read before it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { countOpenFds, readChildren, readOpenFilesLimit, readProcStat, readStatusMemory } from '../../../src/system/proc-stat.ts';

test('readProcStat gives this process its parent, group and start time', () => {
  const stat = readProcStat(process.pid);
  assert.ok(stat, 'this process has a stat');
  assert.equal(stat.ppid, process.ppid);
  assert.match(stat.state, /^[RS]$/);
  assert.match(stat.startTime, /^[0-9]+$/);
  assert.equal(readProcStat(process.pid)?.startTime, stat.startTime, 'the start time does not change');
  // Read after a longer file (status), the stat line is whole and nothing follows it.
  readStatusMemory('self');
  assert.equal(readProcStat(process.pid)?.ppid, process.ppid);
});

test('readProcStat of a pid that does not exist is undefined', () => {
  // pid_max is at most 4194304 on Linux: this pid cannot exist.
  assert.equal(readProcStat(4_194_305), undefined);
});

test('readStatusMemory agrees with the runtime on the resident set size', () => {
  const memory = readStatusMemory('self');
  assert.ok(memory?.residentBytes, 'VmRSS is read');
  const rss = process.memoryUsage().rss;
  assert.ok(Math.abs(memory.residentBytes - rss) < rss * 0.25, `VmRSS ${memory.residentBytes} is near memoryUsage().rss ${rss}`);
  assert.ok(memory.peakResidentBytes !== undefined && memory.peakResidentBytes >= memory.residentBytes, 'VmHWM >= VmRSS');
});

test('readOpenFilesLimit is the soft limit the shell sees; countOpenFds counts real descriptors', () => {
  const soft = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
  assert.equal(String(readOpenFilesLimit('self') ?? 'unlimited'), soft);
  const fds = countOpenFds('self');
  assert.ok(fds !== undefined && fds >= 3, `at least stdin, stdout and stderr are open (${fds})`);
});

test('readChildren lists a child while it runs, whichever thread of the runtime spawned it', async () => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    await new Promise((resolve) => child.once('spawn', resolve));
    assert.ok(readChildren(process.pid).includes(child.pid!), `child ${child.pid} is listed`);
    assert.equal(readProcStat(child.pid!)?.ppid, process.pid);
  } finally {
    child.kill('SIGKILL');
  }
});
