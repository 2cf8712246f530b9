import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { type GroupCommand, type GroupResult, runInProcessGroup } from '../../../src/system/process-group.ts';
import { spareNamedPipes } from '../../../src/system/named-pipe.ts';
import { skipUnless } from '../../support/tools.ts';

const PIPES = ['named', 'runtime'] as const;

interface Output {
  result: GroupResult;
  text: string;
  /** Milliseconds from the start to each chunk. */
  times: number[];
  chunks: number;
}

async function runSh(script: string, extra: Partial<GroupCommand> = {}): Promise<Output> {
  const parts: Buffer[] = [];
  const times: number[] = [];
  const started = performance.now();
  const result = await runInProcessGroup({
    command: '/bin/sh',
    args: ['-c', script],
    cwd: tmpdir(),
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
    timeoutMs: 20_000,
    graceMs: 500,
    cancelSignals: [],
    onOutput: (chunk) => {
      parts.push(Buffer.from(chunk));
      times.push(performance.now() - started);
    },
    ...extra,
  });
  return { result, text: Buffer.concat(parts).toString('latin1'), times, chunks: parts.length };
}

/** Open fds but those of the pipes made ahead for later commands. */
async function openFds(): Promise<number> {
  const spares = await spareNamedPipes();
  return readdirSync('/proc/self/fd').length - 2 * spares;
}

test('named pipe: stdout and stderr arrive byte-exact, in the order written, however large', async () => {
  const script = 'i=0; while [ $i -lt 300 ]; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); done; head -c 3000000 /dev/zero | tr "\\0" x; echo end >&2';
  let expected = '';
  for (let i = 0; i < 300; i++) expected += `out ${i}\nerr ${i}\n`;
  expected += `${'x'.repeat(3_000_000)}end\n`;
  const { result, text, chunks } = await runSh(script);
  assert.deepEqual(result, { outcome: 'exited', exitCode: 0, signal: undefined });
  assert.equal(text.length, expected.length);
  assert.ok(text === expected, 'output differs');
  assert.ok(chunks > 1);
});

for (const outputPipe of PIPES) {
  test(`${outputPipe} pipes: large output is byte-exact and the exit status is kept`, async () => {
    const { result, text } = await runSh('head -c 5000000 /dev/zero | tr "\\0" y; exit 3', { outputPipe });
    assert.deepEqual(result, { outcome: 'exited', exitCode: 3, signal: undefined });
    assert.equal(text.length, 5_000_000);
    assert.ok(/^y*$/.test(text));
  });

  test(`${outputPipe} pipes: output is delivered as it is written, not at the end`, async () => {
    const { text, times } = await runSh('echo first; sleep 1.5; echo second', { outputPipe });
    assert.equal(text, 'first\nsecond\n');
    assert.ok(times[0]! < 1_000, `first line after ${times[0]} ms`);
    assert.ok(times[times.length - 1]! >= 1_400);
  });

  test(`${outputPipe} pipes: a process that leaves the group and keeps the output open is cut off after the grace period`, {
    skip: skipUnless('setsid', 'util-linux'),
  }, async () => {
    const started = performance.now();
    // The shell waits until the child really is in a session of its own: killed before that, it would not escape.
    const { result, text } = await runSh(
      'setsid sleep 30 & pid=$!; while [ "$(cut -d" " -f6 /proc/$pid/stat)" != "$pid" ]; do sleep 0.01; done; echo "escaped $pid"; echo done',
      { outputPipe },
    );
    const elapsed = performance.now() - started;
    const pid = Number(/escaped (\d+)/.exec(text)?.[1]);
    try {
      assert.deepEqual(result, { outcome: 'exited', exitCode: 0, signal: undefined });
      assert.ok(text.endsWith('done\n'), text);
      // Bun's own pipes end with the command's process: only the named pipe waits for the grace period.
      const least = outputPipe === 'named' ? 500 : 0;
      assert.ok(elapsed >= least && elapsed < 5_000, `took ${elapsed} ms (grace 500 ms)`);
    } finally {
      if (pid > 0) process.kill(pid, 'SIGKILL');
    }
  });
}

test("named pipe: the command's stdout is a blocking pipe", async () => {
  const { text } = await runSh('cat /proc/self/fdinfo/1; test -p /dev/stdout && echo fifo');
  const flags = /flags:\s+([0-7]+)/.exec(text)?.[1];
  assert.ok(flags !== undefined, text);
  assert.equal(Number.parseInt(flags, 8) & 0o4000, 0, `O_NONBLOCK set: flags ${flags}`);
  assert.ok(text.endsWith('fifo\n'), text);
});

test('named pipe: no fd is left open, after commands that ran, timed out, or could not start', async () => {
  await runSh('true');
  const before = await openFds();
  await runSh('echo hello');
  const timedOut = await runSh('echo x; sleep 30', { timeoutMs: 200 });
  assert.equal(timedOut.result.outcome, 'timeout');
  await assert.rejects(runSh('true', { command: '/nonexistent/command' }));
  for (let i = 0; i < 40; i++) await runSh('echo $$'); // pipes made ahead, and more batches
  assert.equal(await openFds(), before);
});
