// The connection front (src/server/connection-front.ts) in the real server:
// connections that pipeline many requests and read nothing are closed before
// the runtime's parser hands their requests to the handler, another client is
// served, and ordinary traffic (keep-alive, bodies, TLS) goes through as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { connect as connectTcp, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as connectTls } from 'node:tls';
import { httpConnectionFront } from '../../../src/runtime/runtime.ts';
import { installConnectionFront } from '../../../src/server/connection-front.ts';
import { perConnectionLimits, SERVER_LIMITS, startHttpServer } from '../../../src/server/http-server.ts';
import type { RequestListener } from '../../../src/server/router.ts';
import { loadWebConfig } from '../../../src/server/web-config/load-web-config.ts';
import type { ServerTls } from '../../../src/server/web-config/tls-options.ts';
import { privateCa, writeWebConfig } from '../../support/tls.ts';

const ATTACKERS = 4;
const PIPELINED = 300;
const NO_FRONT = !httpConnectionFront && 'this runtime runs without the front (runtime.ts httpConnectionFront)';

/** A listener that counts the requests it is handed by path and answers each with its body's length. */
function countingListener(): { listener: RequestListener; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const listener: RequestListener = (req, res) => {
    calls.set(req.url ?? '', (calls.get(req.url ?? '') ?? 0) + 1);
    let length = 0;
    req.on('data', (chunk: Buffer) => (length += chunk.length));
    req.on('end', () => res.end(`${req.method} ${req.url} ${length}`));
  };
  return { listener, calls };
}

/**
 * ATTACKERS sockets that each send PIPELINED requests at once and read
 * nothing; `closed` waits until all are closed, reading from then on (a
 * paused socket never sees the server's close).
 */
function attack(open: () => Socket): { closed: () => Promise<void> } {
  const requests = 'GET /attack HTTP/1.1\r\nHost: test\r\n\r\n'.repeat(PIPELINED);
  const sockets = Array.from({ length: ATTACKERS }, () => {
    const socket = open();
    socket.on('error', () => undefined);
    socket.write(requests);
    socket.pause();
    return socket;
  });
  return {
    closed: () =>
      Promise.all(sockets.map((socket) =>
        new Promise<void>((resolve) => {
          if (socket.destroyed) resolve();
          socket.on('close', () => resolve());
          socket.resume();
        })
      )).then(() => undefined),
  };
}

function tlsFixture(): { tls: ServerTls; ca: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'runner-front-'));
  const ca = privateCa(dir);
  const loaded = loadWebConfig(writeWebConfig(ca, 'web.yml'), dir);
  return {
    tls: { config: loaded.config.tls!, material: loaded.material! },
    ca: readFileSync(ca.caFile, 'utf8'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

function get(url: string, options: https.RequestOptions = {}): Promise<{ status: number; body: string }> {
  const send = url.startsWith('https:') ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = send(url, options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Reads the bytes a socket receives into `count.bytes` (counted once it is resumed). */
function countBytes(socket: Socket, count: { bytes: number }): Socket {
  socket.on('data', (chunk: Buffer) => (count.bytes += chunk.length));
  return socket;
}

/**
 * The attack on a server the front is installed on, as startHttpServer
 * builds it; the requests the runtime's parser dispatched are counted on the
 * server's `request` event (the handler behind the per-connection limits
 * returns at once for a closed connection, so its own calls say less).
 */
async function dispatchedUnderAttack(
  tls: { key: string; cert: string; ca: string } | undefined,
): Promise<{ dispatched: number; client: { status: number; body: string } }> {
  const { listener } = countingListener();
  const limits = { maxUnanswered: SERVER_LIMITS.maxUnansweredPerConnection, maxHeadBytes: SERVER_LIMITS.maxHeaderSize };
  const server = tls === undefined
    ? http.createServer(perConnectionLimits(listener))
    : https.createServer({ key: tls.key, cert: tls.cert }, perConnectionLimits(listener));
  installConnectionFront(server as http.Server, tls === undefined ? 'connection' : 'secureConnection', limits);
  let dispatched = 0;
  server.on('request', (req: http.IncomingMessage) => {
    if (req.url === '/attack') dispatched++;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    const attackers = attack(() => tls === undefined ? connectTcp(port, '127.0.0.1') : connectTls({ host: '127.0.0.1', port, ca: tls.ca }));
    const client = await get(`${tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}/client`, tls === undefined ? {} : { ca: tls.ca });
    await attackers.closed();
    return { dispatched, client };
  } finally {
    server.close();
    server.closeAllConnections();
  }
}

test('the front closes pipelining connections before the parser dispatches their requests; another client is served', { skip: NO_FRONT }, async () => {
  const { dispatched, client } = await dispatchedUnderAttack(undefined);
  assert.deepEqual(client, { status: 200, body: 'GET /client 0' });
  // Without the front, node and deno dispatch all 4 x 300 (the handler then closes the connections).
  assert.ok(dispatched <= ATTACKERS * SERVER_LIMITS.maxUnansweredPerConnection, `requests dispatched: ${dispatched}`);
});

test('over TLS, the front counts the decrypted requests', { skip: NO_FRONT }, async () => {
  const fixture = tlsFixture();
  try {
    const { dispatched, client } = await dispatchedUnderAttack({ key: fixture.tls.material.key, cert: fixture.tls.material.cert, ca: fixture.ca });
    assert.deepEqual(client, { status: 200, body: 'GET /client 0' });
    assert.ok(dispatched <= ATTACKERS * SERVER_LIMITS.maxUnansweredPerConnection, `requests dispatched: ${dispatched}`);
  } finally {
    fixture.cleanup();
  }
});

test('the server (plain and TLS) serves another client during the attack, and the attackers get no answer', async () => {
  const fixture = tlsFixture();
  try {
    for (const tls of [undefined, fixture.tls]) {
      const { listener } = countingListener();
      const server = await startHttpServer({ host: '127.0.0.1', port: 0 }, listener, {}, tls);
      const scheme = tls === undefined ? 'http' : 'https';
      try {
        const received = { bytes: 0 };
        const port = server.address.port;
        const attackers = attack(() =>
          countBytes(tls === undefined ? connectTcp(port, '127.0.0.1') : connectTls({ host: '127.0.0.1', port, ca: fixture.ca }), received)
        );
        const client = await get(`${scheme}://127.0.0.1:${port}/client`, tls === undefined ? {} : { ca: fixture.ca });
        assert.deepEqual(client, { status: 200, body: 'GET /client 0' }, scheme);
        await attackers.closed();
        // Each batch of 300 arrives in one read, so the front closes it before any is answered;
        // Bun, without the front, answers the first 8 of each before its limit closes the connection.
        if (httpConnectionFront) assert.equal(received.bytes, 0, `${scheme}: answer bytes the attackers got`);
      } finally {
        await server.close();
      }
    }
  } finally {
    fixture.cleanup();
  }
});

test('a keep-alive connection is served request after request, many more than the limit, and the server still stops', async () => {
  const { listener, calls } = countingListener();
  const server = await startHttpServer({ host: '127.0.0.1', port: 0 }, listener);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const ports = new Set<number>();
    for (let i = 0; i < SERVER_LIMITS.maxUnansweredPerConnection * 3; i++) {
      const answer = await new Promise<{ status: number; port: number }>((resolve, reject) => {
        const req = http.get(`http://127.0.0.1:${server.address.port}/k`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, port: req.socket?.localPort ?? 0 }));
        });
        req.on('error', reject);
      });
      assert.equal(answer.status, 200);
      ports.add(answer.port);
    }
    assert.equal(ports.size, 1, 'one connection for all');
    assert.equal(calls.get('/k'), SERVER_LIMITS.maxUnansweredPerConnection * 3);
  } finally {
    // The idle keep-alive connection must not hold the stop.
    await server.close();
    agent.destroy();
  }
});

/** Writes `raw` on one connection and reads until `answers` answers have come or the connection ends. */
function exchange(port: number, raw: string, answers: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp(port, '127.0.0.1', () => socket.write(raw));
    let text = '';
    const bodies = (): string[] => [...text.matchAll(/HTTP\/1\.1 (\d+)[^]*?\r\n\r\n(?:[0-9a-f]+\r\n)?([A-Z]+ \/\S* \d+)/g)].map((m) => `${m[1]} ${m[2]}`);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (bodies().length >= answers) {
        socket.destroy();
        resolve(bodies());
      }
    });
    socket.on('close', () => resolve(bodies()));
    socket.on('error', reject);
  });
}

test('requests with bodies that look like many requests are served, pipelined, and the request after them too', async () => {
  const { listener } = countingListener();
  const server = await startHttpServer({ host: '127.0.0.1', port: 0 }, listener);
  try {
    const inside = 'GET /inside HTTP/1.1\r\nHost: test\r\n\r\n'.repeat(SERVER_LIMITS.maxUnansweredPerConnection * 2);
    const chunked = `${inside.length.toString(16)}\r\n${inside}\r\n0\r\n\r\n`;
    const raw = `POST /length HTTP/1.1\r\nHost: test\r\nContent-Length: ${inside.length}\r\n\r\n${inside}` +
      `POST /chunked HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}` +
      'GET /after HTTP/1.1\r\nHost: test\r\n\r\n';
    const answers = await exchange(server.address.port, raw, 3);
    assert.deepEqual(answers, [`200 POST /length ${inside.length}`, `200 POST /chunked ${inside.length}`, '200 GET /after 0']);
  } finally {
    await server.close();
  }
});
