import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import type { LogStats } from '../../../src/job/log.ts';
import { JobLog, SecretMasker } from '../../../src/trace/job-log.ts';

interface Run {
  output: Buffer;
  stats: LogStats;
  sinkCalls: number;
}

/** Feeds the chunks through a JobLog and returns everything its sink received. */
function run(secrets: readonly string[], chunks: readonly Uint8Array[], limitBytes = Infinity): Run {
  const parts: Buffer[] = [];
  const log = new JobLog({ secrets, limitBytes, sink: (chunk) => parts.push(Buffer.from(chunk)) });
  for (const chunk of chunks) log.write(chunk);
  log.end();
  return { output: Buffer.concat(parts), stats: log.stats, sinkCalls: parts.length };
}

function mask(secrets: readonly string[], ...chunks: string[]): string {
  return run(secrets, chunks.map((chunk) => Buffer.from(chunk))).output.toString('utf8');
}

/** Cuts bytes at the given offsets. */
function cut(bytes: Uint8Array, ...offsets: number[]): Uint8Array[] {
  const points = [0, ...offsets, bytes.length];
  return points.slice(1).map((end, i) => bytes.subarray(points[i], end));
}

/** Mulberry32: a small seeded PRNG, so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('secrets in one chunk are replaced', () => {
  assert.equal(mask(['hunter2'], 'login: admin password: hunter2\n'), 'login: admin password: [MASKED]\n');
  assert.equal(mask(['s3cret', 'tok'], 's3cret tok s3cret'), '[MASKED] [MASKED] [MASKED]');
  assert.equal(mask(['x'], 'axbxx'), 'a[MASKED]b[MASKED][MASKED]');
  assert.equal(mask([], 'nothing to hide'), 'nothing to hide');
  assert.equal(mask(['', 'ab'], 'abc'), '[MASKED]c', 'empty secrets are ignored');
  assert.equal(mask(['hunter2'], 'hunter 2 Hunter2'), 'hunter 2 Hunter2');
});

test('a secret split at every position across two chunks is masked', () => {
  const secrets = ['hunter2', 'pässwörd🔑'];
  for (const secret of secrets) {
    const input = Buffer.from(`before ${secret} after`);
    const expected = 'before [MASKED] after';
    for (let at = 0; at <= input.length; at++) {
      assert.equal(run(secrets, cut(input, at)).output.toString(), expected, `${secret} cut at ${at}`);
    }
  }
});

test('a short secret split into three chunks at every pair of positions is masked', () => {
  const input = Buffer.from('<abcd>');
  for (let i = 0; i <= input.length; i++) {
    for (let j = i; j <= input.length; j++) {
      assert.equal(run(['abcd'], cut(input, i, j)).output.toString(), '<[MASKED]>', `cut at ${i} and ${j}`);
    }
  }
  // One byte per chunk.
  const bytes = [...Buffer.from('xabcdabcx')].map((b) => Uint8Array.of(b));
  assert.equal(run(['abcd'], bytes).output.toString(), 'x[MASKED]abcx');
});

test('a secret split inside a multi-byte character is masked and no byte is lost', () => {
  const secret = 'pässwörd';
  const input = Buffer.from(`ä ${secret} ö`);
  const inside = input.indexOf(Buffer.from('ä', 'utf8'), 2) + 1; // between the two bytes of the secret's ä
  assert.equal(input[inside - 1], 0xc3);
  assert.equal(run([secret], cut(input, inside)).output.toString(), 'ä [MASKED] ö');
  // The same split in a character that is not part of a secret keeps the character whole.
  assert.equal(run([secret], cut(input, 1)).output.toString(), 'ä [MASKED] ö');
});

test('adjacent, overlapping and nested secrets', () => {
  assert.equal(mask(['abc'], 'abcabc'), '[MASKED][MASKED]', 'adjacent occurrences are masked one by one');
  assert.equal(mask(['abc', 'cde'], 'xabcdey'), 'x[MASKED]y', 'overlapping occurrences are masked as one');
  assert.equal(mask(['aa'], 'baaab'), 'b[MASKED]b', 'a secret overlapping itself');
  assert.equal(mask(['pass', 'password'], 'my password, my pass'), 'my [MASKED], my [MASKED]');
  assert.equal(mask(['pass', 'password'], 'passwor'), '[MASKED]wor', 'the shorter secret when the longer is incomplete');
  assert.equal(mask(['word', 'password'], 'password'), '[MASKED]');
  // The same across chunks, at every split.
  const input = Buffer.from('xabcdey password passwor');
  for (let at = 0; at <= input.length; at++) {
    assert.equal(
      run(['abc', 'cde', 'pass', 'password'], cut(input, at)).output.toString(),
      'x[MASKED]y [MASKED] [MASKED]wor',
      `cut at ${at}`,
    );
  }
});

test('a prefix of a secret at the end of the stream is held back, then flushed unmasked', () => {
  const parts: string[] = [];
  const masker = new SecretMasker(['hunter2', 'abc'], (chunk) => parts.push(Buffer.from(chunk).toString()));
  masker.write(Buffer.from('xx hunte'));
  assert.deepEqual(parts, ['xx ']);
  assert.equal(masker.heldBytes, 5);
  masker.write(Buffer.from('r'));
  assert.equal(masker.heldBytes, 6, 'at most the longest secret length - 1');
  masker.end();
  assert.equal(parts.join(''), 'xx hunter');
  assert.throws(() => masker.write(Buffer.from('more')), /after end/);
  assert.equal(mask(['hunter2'], 'hunter2hunte'), '[MASKED]hunte');
});

test('a random byte stream with secrets, cut at random, is masked byte-exactly', () => {
  const secrets = ['hunter2', 'pässwörd', '🔑key🔑', 'Q', 'zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz9'];
  const encoded = secrets.map((secret) => Buffer.from(secret));
  // Filler bytes never occur in a secret, so the only occurrences are the inserted ones...
  const secretBytes = new Set(encoded.flatMap((secret) => [...secret]));
  const filler = [...Array(256).keys()].filter((b) => !secretBytes.has(b));
  // ...and no two inserted secrets side by side make another one.
  for (const a of encoded) {
    for (const b of encoded) {
      const both = Buffer.concat([a, b]);
      for (const s of encoded) {
        for (let at = both.indexOf(s); at >= 0; at = both.indexOf(s, at + 1)) {
          assert.ok(at === 0 || at === a.length, `${s.toString()} in ${both.toString()}`);
        }
      }
    }
  }
  for (let seed = 1; seed <= 20; seed++) {
    const random = prng(seed);
    const input: Buffer[] = [];
    const expected: Buffer[] = [];
    for (let i = 0; i < 300; i++) {
      if (random() < 0.4) {
        const secret = encoded[Math.floor(random() * encoded.length)]!;
        input.push(secret);
        expected.push(Buffer.from('[MASKED]'));
      } else {
        const bytes = Buffer.from(Array.from({ length: Math.floor(random() * 40) }, () => filler[Math.floor(random() * filler.length)]!));
        input.push(bytes);
        expected.push(bytes);
      }
    }
    const stream = Buffer.concat(input);
    const chunks: Uint8Array[] = [];
    for (let at = 0; at < stream.length;) {
      const size = random() < 0.2 ? 0 : Math.floor(random() * 60);
      chunks.push(stream.subarray(at, at + size));
      at += size;
    }
    const result = run(secrets, chunks);
    assert.ok(result.output.equals(Buffer.concat(expected)), `seed ${seed}`);
    assert.equal(result.stats.receivedBytes, stream.length);
    assert.equal(result.stats.droppedBytes, 0);
  }
});

/** Masking by definition: merge the byte ranges of all occurrences into runs, one [MASKED] per run. */
function reference(secrets: readonly string[], input: Buffer): Buffer {
  const ranges: [number, number][] = [];
  for (const secret of secrets.filter((s) => s.length > 0).map((s) => Buffer.from(s))) {
    for (let at = input.indexOf(secret); at >= 0; at = input.indexOf(secret, at + 1)) ranges.push([at, at + secret.length]);
  }
  ranges.sort((a, b) => a[0] - b[0]);
  const out: Buffer[] = [];
  let done = 0;
  let runEnd = 0;
  for (const [start, end] of ranges) {
    if (start >= runEnd) {
      out.push(input.subarray(done, start), Buffer.from('[MASKED]'));
    }
    runEnd = Math.max(runEnd, end);
    done = runEnd;
  }
  out.push(input.subarray(done));
  return Buffer.concat(out);
}

test('overlapping secrets over a two-letter alphabet match the definition however the stream is cut', () => {
  const secrets = ['aba', 'abba', 'bb', 'babbab', 'aaaaab'];
  for (let seed = 1; seed <= 300; seed++) {
    const random = prng(seed);
    const input = Buffer.from(Array.from({ length: Math.floor(random() * 80) }, () => (random() < 0.5 ? 0x61 : 0x62)));
    const offsets: number[] = [];
    for (let at = Math.floor(random() * 8); at < input.length; at += Math.floor(random() * 8)) offsets.push(at);
    const expected = reference(secrets, input).toString();
    assert.equal(run(secrets, cut(input, ...offsets)).output.toString(), expected, `seed ${seed}: ${input.toString()} cut at ${offsets.join(',')}`);
  }
});

test('50 MiB in 64 KiB chunks keeps the heap flat', () => {
  const chunkSize = 64 * 1024;
  const total = 50 * 1024 * 1024;
  const secrets = ['hunter2', 'pässwörd', 'AKIAIOSFODNN7EXAMPLE'];
  const chunk = Buffer.alloc(chunkSize, 'The quick brown fox jumps over the lazy dog. ');
  chunk.write('hunter2', 1000);
  chunk.write('pässwörd', 30_000);
  chunk.write('AKIAIOSF', chunkSize - 8); // completed by the next chunk's first bytes
  chunk.write('ODNN7EXAMPLE', 0);
  let out = 0;
  let calls = 0;
  const log = new JobLog({
    secrets,
    limitBytes: Infinity,
    sink: (part) => {
      out += part.length;
      calls++;
    },
  });
  // Warm up, so JIT code and first allocations are not counted as growth.
  for (let i = 0; i < 16; i++) log.write(chunk);
  const before = process.memoryUsage().heapUsed;
  const started = performance.now();
  for (let written = 16 * chunkSize; written < total; written += chunkSize) log.write(chunk);
  log.end();
  const seconds = (performance.now() - started) / 1000;
  const growth = process.memoryUsage().heapUsed - before;
  const chunks = total / chunkSize;
  // Per chunk: hunter2 (7 -> 8 bytes) and pässwörd (10 -> 8); per boundary between chunks the split key (20 -> 8).
  assert.equal(out, total + chunks * (1 - 2) + (chunks - 1) * (8 - 20));
  assert.equal(log.stats.receivedBytes, total);
  const mbps = (total - 16 * chunkSize) / 1e6 / seconds;
  console.log(`job-log: ${mbps.toFixed(0)} MB/s masking 3 secrets in 64 KiB chunks, heap growth ${(growth / 1048576).toFixed(2)} MiB, ${calls} sink calls`);
  assert.ok(growth < 16 * 1048576, `heap grew by ${growth} bytes`);
});

test('a failing sink (a full disk) stops the log but not the job, and says why', () => {
  let calls = 0;
  const log = new JobLog({
    secrets: [],
    limitBytes: Infinity,
    sink: () => {
      calls++;
      throw new Error('ENOSPC: no space left on device, write');
    },
  });
  assert.doesNotThrow(() => log.write(Buffer.from('first\n')));
  assert.doesNotThrow(() => log.write(Buffer.from('second\n')));
  log.end();
  assert.equal(calls, 1);
  assert.equal(log.stats.sinkError, 'ENOSPC: no space left on device, write');
  assert.equal(log.stats.receivedBytes, 13);
});
