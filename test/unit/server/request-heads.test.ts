// RequestHeadCounter: the requests in a connection's raw bytes, bodies
// skipped by their framing, however the bytes are split.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RequestHeadCounter } from '../../../src/server/request-heads.ts';

const MAX_HEAD = 16 * 1024;
const GET = 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n';

/** Heads counted in `text` fed whole, and fed in pieces split at every offset (two pieces each). */
function countedEverySplit(text: string): { whole: number; splits: Set<number>; lost: boolean } {
  const bytes = Buffer.from(text, 'latin1');
  const whole = new RequestHeadCounter(MAX_HEAD);
  whole.feed(bytes);
  const splits = new Set<number>();
  for (let at = 1; at < bytes.length; at++) {
    const counter = new RequestHeadCounter(MAX_HEAD);
    counter.feed(bytes.subarray(0, at));
    counter.feed(bytes.subarray(at));
    splits.add(counter.heads);
  }
  return { whole: whole.heads, splits, lost: whole.lost };
}

test('pipelined GETs are counted one per head, however the bytes are split; empty lines between them are not requests', () => {
  const text = GET.repeat(3) + '\r\n\r\n' + GET + 'GET / HTTP/1.1\nHost: x\n\n';
  const { whole, splits, lost } = countedEverySplit(text);
  assert.equal(whole, 5);
  assert.deepEqual([...splits], [5]);
  assert.equal(lost, false);
});

test('a head not yet ended is not counted', () => {
  const counter = new RequestHeadCounter(MAX_HEAD);
  assert.equal(counter.feed(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n')), 0);
  assert.equal(counter.feed(Buffer.from('\r\n')), 1);
});

test('a Content-Length body is skipped, even when it looks like requests', () => {
  const body = GET.repeat(4);
  const text = `POST /x HTTP/1.1\r\nHost: x\r\ncontent-length: ${body.length}\r\n\r\n${body}${GET}`;
  const { whole, splits, lost } = countedEverySplit(text);
  assert.equal(whole, 2);
  assert.deepEqual([...splits], [2]);
  assert.equal(lost, false);
});

test('a chunked body is skipped, chunk extensions and trailers included', () => {
  const data = GET.repeat(2);
  const chunked = `${data.length.toString(16)};ext=1\r\n${data}\r\n3\r\n\r\n\r\r\n0\r\nX-Trailer: ${GET.length}\r\n\r\n`;
  const text = `POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}${GET}`;
  const { whole, splits, lost } = countedEverySplit(text);
  assert.equal(whole, 2);
  assert.deepEqual([...splits], [2]);
  assert.equal(lost, false);
});

test('framing the parser refuses stops the counting (the parser answers 400 and closes)', () => {
  for (
    const head of [
      'POST /x HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n',
      'POST /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n',
      'POST /x HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n',
      'POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n',
      'POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    ]
  ) {
    const counter = new RequestHeadCounter(MAX_HEAD);
    counter.feed(Buffer.from(head + GET.repeat(3)));
    assert.equal(counter.lost, true, head);
    assert.equal(counter.heads, 1, head);
  }
});

test('a head longer than the limit stops the counting (the parser answers 431)', () => {
  const counter = new RequestHeadCounter(64);
  counter.feed(Buffer.from(`GET / HTTP/1.1\r\nX-Long: ${'a'.repeat(100)}`));
  assert.equal(counter.lost, true);
  counter.feed(Buffer.from(`\r\n\r\n${GET}`));
  assert.equal(counter.heads, 0);
});

test('with stopAt, counting ends at that many heads in all', () => {
  const counter = new RequestHeadCounter(MAX_HEAD);
  counter.feed(Buffer.from(GET.repeat(2)));
  assert.equal(counter.feed(Buffer.from(GET.repeat(1000)), 9), 7);
  assert.equal(counter.heads, 9);
});
