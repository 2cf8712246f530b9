// The trace buffer's checksum is taken from the slices read back for PATCHes and from the file for the rest:
// whatever order the slices are read in (a 416 moves the offset back or on), it is the CRC-32 of the whole log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TraceBuffer } from '../../../../src/sources/gitlab/trace-buffer.ts';
import { traceChecksum } from '../../../support/coordinator/coordinator.ts';

async function withBuffer(use: (trace: TraceBuffer) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'trace-buffer-'));
  const trace = new TraceBuffer(join(dir, 'job.log'));
  try {
    await use(trace);
  } finally {
    trace.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const bytes = (n: number, seed: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

test('the checksum covers the whole log, read back in slices or not, in any order', async () => {
  await withBuffer(async (trace) => {
    const log: Buffer[] = [];
    const append = (chunk: Buffer): void => {
      log.push(chunk);
      trace.append(chunk);
    };
    append(bytes(1000, 1));
    assert.equal(trace.checksum, traceChecksum(Buffer.concat(log)), 'nothing read back yet');
    append(bytes(300_000, 2));
    assert.deepEqual(await trace.read(0, 4096), Buffer.concat(log).subarray(0, 4096));
    assert.deepEqual(await trace.read(100, 50), Buffer.concat(log).subarray(100, 150), 'a slice moved back (416)');
    append(bytes(70_000, 3));
    const whole = Buffer.concat(log);
    assert.deepEqual(await trace.read(200_000, 1024 * 1024), whole.subarray(200_000), 'a slice moved on past what was read');
    assert.equal(trace.checksum, traceChecksum(whole));
    append(bytes(10, 4));
    assert.equal(trace.checksum, traceChecksum(Buffer.concat(log)), 'asked again after more output');
    assert.equal(trace.size, Buffer.concat(log).length);
  });
});

test('a slice is valid until the next read, which reuses its buffer; one read at a time', async () => {
  await withBuffer(async (trace) => {
    trace.append(Buffer.from('abcdef'));
    const first = Buffer.from(await trace.read(0, 3));
    const reading = trace.read(3, 3);
    await assert.rejects(trace.read(0, 3), /being read already/);
    const second = await reading;
    assert.equal(first.toString(), 'abc');
    assert.equal(second.toString(), 'def');
    assert.equal((await trace.read(6, 3)).length, 0, 'nothing past the end');
  });
});

test('closed while a slice is read: the read ends whole, then the file is gone', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trace-buffer-'));
  try {
    const path = join(dir, 'job.log');
    const trace = new TraceBuffer(path);
    const log = bytes(2 * 1024 * 1024, 5);
    trace.append(log);
    const reading = trace.read(0, 1024 * 1024);
    trace.close();
    assert.equal(existsSync(path), false);
    assert.deepEqual(await reading, log.subarray(0, 1024 * 1024));
    await assert.rejects(trace.read(0, 10), /closed/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
