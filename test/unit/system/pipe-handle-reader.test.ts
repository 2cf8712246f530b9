import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openNamedPipe, spareNamedPipes } from '../../../src/system/named-pipe.ts';
import { PIPE_HANDLES_READ_FIFOS, PipeHandleReader, readPipe } from '../../../src/system/pipe-handle-reader.ts';
import { PipeReader } from '../../../src/system/pipe-reader.ts';
import { runtime } from '../../../src/runtime/runtime.ts';

interface Read {
  bytes: number;
  /** Every chunk's first byte matched the pattern's byte at its offset. */
  ordered: boolean;
  buffers: Set<ArrayBufferLike>;
}

/** Starts `sh -c script` writing into a fresh named pipe and reads it with readPipe. */
async function readFromShell(script: string) {
  const pipe = await openNamedPipe();
  const child = spawn('/bin/sh', ['-c', script], { stdio: ['ignore', pipe.writeFd, 'ignore'] });
  await new Promise((resolve, reject) => child.once('spawn', resolve).once('error', reject));
  closeSync(pipe.writeFd);
  const read: Read = { bytes: 0, ordered: true, buffers: new Set() };
  const reading = readPipe(pipe.readFd, (chunk) => {
    // The script prints the bytes 0..255 over and over: each chunk starts where the last ended.
    if (chunk[0] !== read.bytes % 256 || chunk[chunk.length - 1] !== (read.bytes + chunk.length - 1) % 256) read.ordered = false;
    read.bytes += chunk.length;
    read.buffers.add(chunk.buffer);
  });
  return { reading, read, child, readFd: pipe.readFd };
}

/** A script printing `bytes` bytes of 0..255 repeated. */
function patternScript(bytes: number): string {
  const octal = Array.from({ length: 256 }, (_, i) => `\\${i.toString(8).padStart(3, '0')}`).join('');
  return `i=0; while [ $i -lt ${
    Math.ceil(bytes / 65_536)
  } ]; do j=0; while [ $j -lt 256 ]; do printf '${octal}'; j=$((j+1)); done; i=$((i+1)); done | head -c ${bytes}`;
}

async function openFds(): Promise<number> {
  const spares = await spareNamedPipes();
  return readdirSync('/proc/self/fd').length - 2 * spares;
}

test("readPipe reads through the event loop's pipe handle on Node only, where it works", () => {
  assert.equal(PIPE_HANDLES_READ_FIFOS, runtime.name === 'node');
});

test('readPipe: every byte in order, into one reused buffer, and the fd closed at the end', async () => {
  const before = await openFds();
  const bytes = 3 * 1024 * 1024 + 123;
  const { reading, read } = await readFromShell(patternScript(bytes));
  assert.equal(reading instanceof PipeHandleReader, runtime.name === 'node');
  assert.equal(reading instanceof PipeReader, runtime.name !== 'node');
  await reading.done;
  assert.equal(read.bytes, bytes);
  assert.ok(read.ordered, 'a chunk did not start where the last one ended');
  assert.equal(read.buffers.size, 1, 'chunks came in more than one buffer');
  assert.equal(await openFds(), before);
});

test('readPipe: output is delivered as it is written, and the end seen when the writer exits', async () => {
  const started = performance.now();
  const times: number[] = [];
  const pipe = await openNamedPipe();
  const child = spawn('/bin/sh', ['-c', 'echo first; sleep 1; echo second'], { stdio: ['ignore', pipe.writeFd, 'ignore'] });
  await new Promise((resolve) => child.once('spawn', resolve));
  closeSync(pipe.writeFd);
  let text = '';
  const reading = readPipe(pipe.readFd, (chunk) => {
    text += new TextDecoder().decode(chunk);
    times.push(performance.now() - started);
  });
  await reading.done;
  assert.equal(text, 'first\nsecond\n');
  assert.ok(times[0]! < 900, `first line after ${times[0]} ms`);
  assert.ok(times[times.length - 1]! >= 900, `second line after ${times[times.length - 1]} ms`);
});

test('readPipe: stop() ends the reading while a writer still holds the pipe, and closes the fd', async () => {
  const before = await openFds();
  const { reading, read, child } = await readFromShell(`${patternScript(65_536)}; sleep 30`);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    while (read.bytes < 65_536) await new Promise((resolve) => setTimeout(resolve, 10));
    reading.stop();
    await reading.done;
  } finally {
    child.kill('SIGKILL');
  }
  // Bun and Deno hold an fd for a running child (its pidfd): counted once it has gone.
  await exited;
  assert.equal(await openFds(), before);
});

test('readPipe: an fd that is not a pipe is read by polling, to its end', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'pipe-handle-reader-'));
  try {
    const path = join(directory, 'file');
    writeFileSync(path, 'x'.repeat(200_000));
    const fd = openSync(path, 'r');
    let bytes = 0;
    const reading = readPipe(fd, (chunk) => {
      bytes += chunk.length;
    });
    assert.ok(reading instanceof PipeReader, 'a regular file went to the pipe handle');
    await reading.done;
    assert.equal(bytes, 200_000);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});
