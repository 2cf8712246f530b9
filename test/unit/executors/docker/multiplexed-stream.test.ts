// Docker's multiplexed stream, cut the ways the network cuts it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Demultiplexer, MultiplexedStreamError, type OutputStream } from '../../../../src/executors/docker/multiplexed-stream.ts';

/** One frame: [type, 0, 0, 0, size as uint32 big-endian] + payload. */
function frame(type: number, payload: string | Uint8Array): Uint8Array {
  const bytes = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
  const out = new Uint8Array(8 + bytes.length);
  out[0] = type;
  new DataView(out.buffer).setUint32(4, bytes.length, false);
  out.set(bytes, 8);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** What the demultiplexer hands on for these chunks: runs of the same stream joined, as `stream:text`. */
function demultiplex(chunks: readonly Uint8Array[]): string[] {
  const runs: { stream: OutputStream; text: string }[] = [];
  const decoder = new TextDecoder();
  const demultiplexer = new Demultiplexer((payload, stream) => {
    assert.ok(payload.length > 0, 'no empty payloads');
    const last = runs.at(-1);
    const text = decoder.decode(payload);
    if (last?.stream === stream) last.text += text;
    else runs.push({ stream, text });
  });
  for (const chunk of chunks) demultiplexer.write(chunk);
  demultiplexer.end();
  return runs.map((run) => `${run.stream}:${run.text}`);
}

const STREAM = concat(frame(1, 'out one\n'), frame(2, 'err one\n'), frame(1, ''), frame(1, 'out two\n'), frame(2, ''), frame(2, 'err two\n'), frame(0, 'in\n'));
const EXPECTED = ['stdout:out one\n', 'stderr:err one\n', 'stdout:out two\n', 'stderr:err two\n', 'stdout:in\n'];

test('frames in one chunk: stdout and stderr payloads in order, zero-length frames skipped, stdin read as stdout', () => {
  assert.deepEqual(demultiplex([STREAM]), EXPECTED);
});

test('the same stream cut at every byte boundary, once and twice, and fed byte by byte', () => {
  for (let i = 0; i <= STREAM.length; i++) {
    assert.deepEqual(demultiplex([STREAM.subarray(0, i), STREAM.subarray(i)]), EXPECTED, `cut at ${i}`);
    for (let j = i; j <= STREAM.length; j += 3) {
      assert.deepEqual(demultiplex([STREAM.subarray(0, i), STREAM.subarray(i, j), STREAM.subarray(j)]), EXPECTED, `cut at ${i} and ${j}`);
    }
  }
  assert.deepEqual(demultiplex(Array.from(STREAM, (byte) => Uint8Array.of(byte))), EXPECTED);
});

test('a frame spanning many chunks is handed on chunk by chunk as views of them, never gathered', () => {
  const payload = new Uint8Array(1024 * 1024).fill(0x61);
  const stream = concat(frame(1, payload), frame(2, 'tail\n'));
  const chunkSize = 1000;
  let stdout = 0;
  let largest = 0;
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < stream.length; at += chunkSize) chunks.push(stream.slice(at, at + chunkSize));
  let current: Uint8Array | undefined;
  const stderr: string[] = [];
  const demultiplexer = new Demultiplexer((part, kind) => {
    assert.equal(part.buffer, current?.buffer, 'a payload is a view of the chunk written');
    largest = Math.max(largest, part.length);
    if (kind === 'stdout') {
      stdout += part.length;
      assert.ok(part.every((byte) => byte === 0x61));
    } else stderr.push(new TextDecoder().decode(part));
  });
  for (const chunk of chunks) {
    current = chunk;
    demultiplexer.write(chunk);
  }
  demultiplexer.end();
  assert.equal(stdout, payload.length);
  assert.equal(stderr.join(''), 'tail\n');
  assert.ok(largest <= chunkSize, `largest payload ${largest}`);
});

test('a stream that is not multiplexed (a TTY stream, garbage) fails at its first header, saying where', () => {
  const text = new TextEncoder().encode('hello world\n');
  assert.throws(
    () => demultiplex([text]),
    (error: Error) => error instanceof MultiplexedStreamError && /not a multiplexed stream: frame header 68 65 6c 6c 6f 20 77 6f at byte 0/.test(error.message),
  );
  // A bad stream type after a good frame: the offset is the second header's.
  const badType = concat(frame(1, 'ok\n'), frame(7, 'x'));
  assert.throws(() => demultiplex([badType]), /not a multiplexed stream: frame header 07 00 00 00 00 00 00 01 at byte 11/);
  const badPadding = frame(1, 'x');
  badPadding[2] = 1;
  assert.throws(() => demultiplex([badPadding]), MultiplexedStreamError);
});

test('the payloads before a bad header are handed on before it fails', () => {
  const seen: string[] = [];
  const demultiplexer = new Demultiplexer((payload) => seen.push(new TextDecoder().decode(payload)));
  assert.throws(() => demultiplexer.write(concat(frame(1, 'first\n'), Uint8Array.of(9, 0, 0, 0, 0, 0, 0, 0))), MultiplexedStreamError);
  assert.deepEqual(seen, ['first\n']);
});

test('a stream that ends inside a header or a payload fails at its end; one that ends between frames does not', () => {
  const two = concat(frame(1, 'abc'), frame(2, 'def'));
  for (const cut of [3, 9, 13, 17]) {
    const demultiplexer = new Demultiplexer(() => undefined);
    demultiplexer.write(two.subarray(0, cut));
    assert.throws(() => demultiplexer.end(), /multiplexed stream ended inside a frame/, `cut at ${cut}`);
  }
  const demultiplexer = new Demultiplexer(() => undefined);
  demultiplexer.write(two.subarray(0, 11));
  demultiplexer.end();
});

test("the daemon's own error frame (type 3), even split, fails with its message", () => {
  const stream = concat(frame(1, 'before\n'), frame(3, 'error from daemon: log file is gone\n'));
  assert.throws(
    () => demultiplex([stream.subarray(0, 20), stream.subarray(20)]),
    /the daemon reported an error in the stream: error from daemon: log file is gone$/,
  );
});
