// The job log's output limit, as GitLab Runner's trace buffer has it: the
// write that reaches the limit is cut there (on a UTF-8 character boundary)
// and followed by GitLab's notice; nothing after it reaches the log, but all
// of it is read and counted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import type { LogStats } from '../../../src/job/log.ts';
import { JobLog, limitNotice, outputLimitBytes } from '../../../src/trace/job-log.ts';

function run(chunks: readonly (string | Uint8Array)[], limitBytes: number, secrets: readonly string[] = []): { output: string; stats: LogStats } {
  const parts: Buffer[] = [];
  const log = new JobLog({ secrets, limitBytes, sink: (chunk) => parts.push(Buffer.from(chunk)) });
  for (const chunk of chunks) log.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  log.end();
  return { output: Buffer.concat(parts).toString('utf8'), stats: log.stats };
}

test("the notice is GitLab Runner's, in bold yellow", () => {
  assert.equal(
    limitNotice(4194304),
    "\n\x1b[33;1mJob's log exceeded limit of 4194304 bytes.\nJob execution will continue but no more output will be collected.\x1b[0;m\n",
  );
  assert.equal(outputLimitBytes(0), 4096 * 1024, "0 is GitLab's default, 4 MiB");
  assert.equal(outputLimitBytes(1), 1024);
  assert.throws(() => new JobLog({ secrets: [], limitBytes: -1, sink: () => {} }), RangeError);
});

test('past the limit: exactly the limit is passed on, the notice once, and the rest is counted', () => {
  const input = '0123456789'.repeat(25);
  const chunks = [0, 7, 14, 99, 100, 101, 180, 250].slice(1).map((end, i, ends) => input.slice(i === 0 ? 0 : ends[i - 1], end));
  const result = run(chunks, 100);
  assert.equal(result.output, input.slice(0, 100) + limitNotice(100));
  assert.deepEqual(result.stats, { receivedBytes: 250, writtenBytes: 100, droppedBytes: 150, truncated: true, sinkError: undefined });
});

test('a write that reaches the limit exactly is followed by the notice, as in GitLab Runner', () => {
  // GitLab's limit writer: `if len(p) >= capacity` - a log that fills its limit has "exceeded" it.
  const exact = run(['0123456789'], 10);
  assert.equal(exact.output, '0123456789' + limitNotice(10));
  assert.deepEqual(exact.stats, { receivedBytes: 10, writtenBytes: 10, droppedBytes: 0, truncated: true, sinkError: undefined });

  const below = run(['012345678'], 10);
  assert.equal(below.output, '012345678');
  assert.equal(below.stats.truncated, false);

  // Written 100 times, as GitLab's own test does: the first write fills the limit.
  const repeated = run(Array.from({ length: 100 }, () => '0123456789'), 10);
  assert.equal(repeated.output, '0123456789' + limitNotice(10));
  assert.equal(repeated.stats.droppedBytes, 990);
});

test('the log is cut on a UTF-8 character boundary, never inside a character', () => {
  // Limits and characters from GitLab Runner's trace buffer tests: 2-, 3- and 4-byte characters, on and off their boundaries.
  const cases: Array<[character: string, limit: number, kept: number]> = [
    ['ǲ', 5, 2],
    ['ǲ', 6, 3],
    ['─', 20, 6],
    ['─', 1, 0],
    ['🐤', 23, 5],
    ['🐤', 24, 6],
  ];
  for (const [character, limit, kept] of cases) {
    const result = run(Array.from({ length: 100 }, () => character), limit);
    assert.equal(result.output, character.repeat(kept) + limitNotice(limit), `${character} with a limit of ${limit}`);
    assert.equal(result.stats.writtenBytes, Buffer.byteLength(character) * kept);
  }
  // One write holding many characters is cut the same way.
  const one = run(['aé🐤'.repeat(10)], 9);
  assert.equal(one.output, 'aé🐤' + 'a' + limitNotice(9), 'a (1) é (2) 🐤 (4) a (1) = 8 bytes, the next é would end past 9');
});

test('the limit counts what the log shows: masked output, not the input', () => {
  // 10 x "ab" is 20 bytes in, 80 out.
  const masked = run(['ab'.repeat(10)], 20, ['ab']);
  assert.equal(masked.output, '[MASKED][MASKED][MAS' + limitNotice(20));
  assert.deepEqual(masked.stats, { receivedBytes: 20, writtenBytes: 20, droppedBytes: 60, truncated: true, sinkError: undefined });

  const zero = run(['abc'], 0, ['x']);
  assert.equal(zero.output, limitNotice(0));
  assert.equal(zero.stats.droppedBytes, 3);
});

test('with no limit (Infinity) nothing is cut', () => {
  const big = 'x'.repeat(100_000);
  const result = run([big, big], Infinity);
  assert.equal(result.output.length, 200_000);
  assert.equal(result.stats.truncated, false);
});
