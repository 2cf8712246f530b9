// perConnectionLimits: a connection with too many requests unanswered, or too
// many answer bytes unread, is closed instead of served.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { perConnectionLimits, SERVER_LIMITS } from '../../../src/server/http-server.ts';

class FakeSocket {
  destroyed = false;
  writableLength = 0;
  destroy(): void {
    this.destroyed = true;
  }
}

function request(socket: FakeSocket): { req: IncomingMessage; res: ServerResponse & EventEmitter } {
  return { req: { socket } as unknown as IncomingMessage, res: new EventEmitter() as unknown as ServerResponse & EventEmitter };
}

test('the request past the unanswered limit closes its connection; answered ones free their place; other connections are untouched', () => {
  const served: number[] = [];
  let n = 0;
  const listener = perConnectionLimits(() => served.push(++n));
  const socket = new FakeSocket();
  const open = Array.from({ length: SERVER_LIMITS.maxUnansweredPerConnection }, () => request(socket));
  for (const { req, res } of open) listener(req, res);
  assert.equal(served.length, SERVER_LIMITS.maxUnansweredPerConnection);
  // One answered: its place is free again.
  open[0]!.res.emit('close');
  const next = request(socket);
  listener(next.req, next.res);
  assert.equal(served.length, SERVER_LIMITS.maxUnansweredPerConnection + 1);
  assert.equal(socket.destroyed, false);
  // One more while all are unanswered: closed, not served.
  const over = request(socket);
  listener(over.req, over.res);
  assert.equal(served.length, SERVER_LIMITS.maxUnansweredPerConnection + 1);
  assert.equal(socket.destroyed, true);
  // Another connection is served as before.
  const other = request(new FakeSocket());
  listener(other.req, other.res);
  assert.equal(served.length, SERVER_LIMITS.maxUnansweredPerConnection + 2);
});

test('a connection that has left more answer bytes unread than the limit is closed at its next request', () => {
  let served = 0;
  const listener = perConnectionLimits(() => served++);
  const socket = new FakeSocket();
  socket.writableLength = SERVER_LIMITS.maxUnreadBytesPerConnection + 1;
  const { req, res } = request(socket);
  listener(req, res);
  assert.equal(served, 0);
  assert.equal(socket.destroyed, true);
});
