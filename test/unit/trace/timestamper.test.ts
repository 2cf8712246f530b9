// GitLab Runner's log line prefixes (FF_TIMESTAMPS,
// common/buildlogger/internal/timestamper): `2006-01-02T15:04:05.000000Z`,
// the writer (00 the runner, 01 the job's script), O, then ` ` for a new line
// or `+` for the continuation of one the prefixer had to cut.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { JobLog } from '../../../src/trace/job-log.ts';
import { type LogStream, timestamp, Timestamper } from '../../../src/trace/timestamper.ts';

/** 2021-01-01T01:00:00.020010Z in microseconds, GitLab's own example. */
const T0 = Date.UTC(2021, 0, 1, 1, 0, 0, 20) * 1000 + 10;

/** A clock that advances one microsecond each time it is read. */
function ticking(start = T0): () => number {
  let now = start;
  return () => now++;
}

function stamper(clock = ticking()): { write: (stream: LogStream, text: string) => void; close: (stream: LogStream) => void; text: () => string } {
  const parts: Buffer[] = [];
  const timestamper = new Timestamper((chunk) => parts.push(Buffer.from(chunk)), clock);
  return {
    write: (stream, text) => timestamper.write(stream, Buffer.from(text)),
    close: (stream) => timestamper.close(stream),
    text: () => Buffer.concat(parts).toString('utf8'),
  };
}

test('the time is UTC to the microsecond, six digits, truncated', () => {
  assert.equal(timestamp(T0), '2021-01-01T01:00:00.020010Z');
  assert.equal(timestamp(Date.UTC(2026, 11, 6, 23, 59, 59, 999) * 1000 + 999), '2026-12-06T23:59:59.999999Z');
  assert.equal(timestamp(Date.UTC(2026, 0, 2, 3, 4, 5, 0) * 1000), '2026-01-02T03:04:05.000000Z');
});

test('every line gets its own 32-byte prefix: 00O for the runner, 01O for the job; lines of one write share its time', () => {
  const s = stamper();
  s.write('runner', 'Running with runner\n');
  s.write('script', 'one\ntwo\n');
  s.write('script', 'three\n');
  assert.equal(
    s.text(),
    '2021-01-01T01:00:00.020010Z 00O Running with runner\n2021-01-01T01:00:00.020011Z 01O one\n2021-01-01T01:00:00.020011Z 01O two\n' +
      '2021-01-01T01:00:00.020012Z 01O three\n',
  );
  for (const line of s.text().split('\n').slice(0, -1)) assert.equal(line.indexOf('O ') + 2, 32);
});

test('a line written in parts gets the time it began; a \\r\\n keeps its \\r', () => {
  const clock = ticking();
  const s = stamper(clock);
  s.write('script', 'hel');
  clock();
  clock();
  s.write('script', 'lo\nwor');
  s.write('script', 'ld\r\n');
  assert.equal(s.text(), '2021-01-01T01:00:00.020010Z 01O hello\n2021-01-01T01:00:00.020013Z 01O world\r\n');
});

test("a write ending in a line with \\r but no \\n is closed at once; that writer's next line is marked + (continued)", () => {
  const s = stamper();
  s.write('script', 'section_start:123:foo\r\x1b[0K');
  s.write('script', 'section_end:123:foo\r\x1b[0K');
  s.write('script', 'done\n');
  s.write('script', 'next\n');
  assert.equal(
    s.text(),
    '2021-01-01T01:00:00.020010Z 01O section_start:123:foo\r\x1b[0K\n' +
      '2021-01-01T01:00:00.020011Z 01O+section_end:123:foo\r\x1b[0K\n' +
      '2021-01-01T01:00:00.020012Z 01O+done\n' +
      '2021-01-01T01:00:00.020013Z 01O next\n',
  );
});

test('a line past 8 KiB is cut and continued with +; 8 KiB exactly is still one line', () => {
  const s = stamper();
  s.write('script', 'a'.repeat(8192));
  s.write('script', '\n');
  s.write('script', 'b'.repeat(5000));
  s.write('script', 'c'.repeat(5000));
  s.write('script', 'd\n');
  const lines = s.text().split('\n');
  assert.equal(lines.length, 4);
  assert.equal(lines[0], `2021-01-01T01:00:00.020010Z 01O ${'a'.repeat(8192)}`);
  assert.equal(lines[1], `2021-01-01T01:00:00.020011Z 01O ${'b'.repeat(5000)}${'c'.repeat(5000)}`, 'cut once the buffer would pass 8 KiB');
  assert.equal(lines[2], '2021-01-01T01:00:00.020012Z 01O+d');
  assert.equal(lines[3], '');
});

test('what a writer leaves unterminated is closed with a newline when it ends; its next line starts afresh', () => {
  const s = stamper();
  s.write('script', 'no newline at the end');
  assert.equal(s.text(), '', 'held until the line ends');
  s.close('script');
  s.write('script', 'x'.repeat(9000));
  s.close('script');
  s.write('script', 'next stage\n');
  assert.equal(
    s.text(),
    '2021-01-01T01:00:00.020010Z 01O no newline at the end\n' +
      `2021-01-01T01:00:00.020011Z 01O ${'x'.repeat(9000)}\n` +
      '2021-01-01T01:00:00.020012Z 01O next stage\n',
  );
  s.close('runner');
  assert.ok(s.text().endsWith('01O next stage\n'), 'closing a writer with nothing held writes nothing');
});

test('the writers keep their own lines: a runner line amid a partial line of the job does not break it', () => {
  const s = stamper();
  s.write('script', 'half ');
  s.write('runner', 'WARNING: something\n');
  s.write('script', 'and the rest\n');
  assert.equal(s.text(), '2021-01-01T01:00:00.020011Z 00O WARNING: something\n2021-01-01T01:00:00.020010Z 01O half and the rest\n');
});

test('in the job log the prefixes come after masking and before the output limit', () => {
  const parts: Buffer[] = [];
  const log = new JobLog({
    secrets: ['hunter2'],
    tokenPrefixes: ['glpat-'],
    timestamps: true,
    clock: ticking(),
    limitBytes: 100,
    sink: (chunk) => parts.push(Buffer.from(chunk)),
  });
  log.writeRunner('header\n');
  log.write(Buffer.from('pass hunter2 glpat-abc ?private_token=x\n'));
  log.write(Buffer.from('no newline'));
  log.endScript();
  log.writeRunner('x'.repeat(200));
  log.end();
  const text = Buffer.concat(parts).toString();
  const lines = [
    '2021-01-01T01:00:00.020010Z 00O header\n',
    '2021-01-01T01:00:00.020011Z 01O pass [MASKED] glpat-[MASKED] ?private_token=[MASKED]\n',
  ];
  // The limit counts the prefixes: 100 bytes end inside the second line.
  assert.equal(
    text,
    (lines.join('')).slice(0, 100) +
      `\n\x1b[33;1mJob's log exceeded limit of 100 bytes.\nJob execution will continue but no more output will be collected.\x1b[0;m\n`,
  );
  assert.equal(log.stats.writtenBytes, 100);
  assert.equal(log.stats.truncated, true);
});
