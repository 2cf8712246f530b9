// The Docker Engine API client: against the real daemon (skipped where none
// answers, failed on CI), and against a fake daemon for the answers a real
// one gives only with a registry or a fault (a failure inside a 200 pull
// stream, a stalled or broken connection).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import type { Buffer } from 'node:buffer';
import { DockerApiError, DockerEngine, type PullProgress, splitImageReference } from '../../../../src/executors/docker/engine.ts';
import { dockerAvailable, removeLabelled, TEST_LABEL, testDockerHost, uniqueName } from '../../../support/docker.ts';

const skip = await dockerAvailable(['runner-test/sh:1', 'runner-test/kv:1']);
const engine = skip === undefined ? new DockerEngine(testDockerHost()) : undefined;
/** This run's objects: removed in `after`, whatever the tests left. */
const RUN = uniqueName('engine');
const LABELS = { [TEST_LABEL]: 'engine', 'runner-test-run': RUN };

after(async () => {
  if (engine === undefined) return;
  await removeLabelled(engine, { 'runner-test-run': RUN });
  engine.close();
});

function docker(): DockerEngine {
  assert.ok(engine, 'skipped without a daemon');
  return engine;
}

/** Creates a labelled sh container; its output is read through an attach made before it starts. */
async function runContainer(script: string, options: { init?: boolean } = {}) {
  const name = uniqueName('runner-test-engine');
  const { id, warnings } = await docker().containerCreate(name, {
    Image: 'runner-test/sh:1',
    Cmd: ['sh', '-c', script],
    Labels: LABELS,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    OpenStdin: false,
    HostConfig: { Init: options.init ?? false },
  });
  assert.deepEqual(warnings, []);
  // Small outputs are kept as they came; of a large one, only counts.
  const chunks: { stream: string; text: string }[] = [];
  const bytes = { stdout: 0, stderr: 0 };
  let stdoutNotA = 0;
  const attached = await docker().containerAttach(id, {
    onOutput: (payload, stream) => {
      bytes[stream] += payload.length;
      if (stream === 'stdout') { for (const byte of payload) if (byte !== 0x61) stdoutNotA++; }
      if (bytes.stdout + bytes.stderr <= 4096) chunks.push({ stream, text: new TextDecoder().decode(payload) });
    },
  });
  const wait = await docker().beginContainerWait(id, 'next-exit');
  await docker().containerStart(id);
  return { id, name, attached, wait, output: () => ({ chunks, bytes, stdoutNotA }) };
}

test('the host: unix, tcp and http addresses; anything else, and TLS, refused in one line naming the value', () => {
  assert.deepEqual(new DockerEngine('unix:///run/docker.sock').endpoint, { host: 'unix:///run/docker.sock', socketPath: '/run/docker.sock' });
  assert.deepEqual(new DockerEngine('tcp://10.0.0.1:2375', { tlsVerify: false }).endpoint, { host: 'tcp://10.0.0.1:2375', hostname: '10.0.0.1', port: 2375 });
  assert.deepEqual(new DockerEngine('http://[::1]:4243').endpoint, { host: 'http://[::1]:4243', hostname: '::1', port: 4243 });
  assert.deepEqual(new DockerEngine('tcp://docker', { tlsVerify: false }).endpoint, { host: 'tcp://docker', hostname: 'docker', port: 2375 });
  for (const host of ['docker.sock', '/var/run/docker.sock', 'unix://relative.sock', 'npipe:////./pipe/docker_engine', 'ssh://me@host', 'tcp://h:1/base']) {
    assert.throws(() => new DockerEngine(host, { tlsVerify: false }), (error: Error) => {
      assert.ok(error.message.startsWith(`invalid Docker host ${JSON.stringify(host)}: `), error.message);
      assert.match(error.message, /expected unix:\/\/\/path\/to\/docker\.sock, tcp:\/\/host:port or http:\/\/host:port$/);
      assert.ok(!error.message.includes('\n'));
      return true;
    });
  }
  assert.throws(
    () => new DockerEngine('tcp://docker:2376', { tlsVerify: true }),
    /^Error: Docker host "tcp:\/\/docker:2376" asks for TLS \(DOCKER_TLS_VERIFY is set\), which this client does not support/,
  );
  assert.throws(() => new DockerEngine('https://docker:2376'), /asks for TLS, which this client does not support/);
});

test('image references split into the name and the tag or digest the pull takes', () => {
  const digest = 'sha256:' + 'a'.repeat(64);
  const cases: [string, string, string][] = [
    ['alpine', 'alpine', 'latest'],
    ['alpine:3.20', 'alpine', '3.20'],
    ['library/alpine:3', 'library/alpine', '3'],
    ['localhost:5000/a/b:1', 'localhost:5000/a/b', '1'],
    ['localhost:5000/a/b', 'localhost:5000/a/b', 'latest'],
    ['registry.example.com/group/image@' + digest, 'registry.example.com/group/image', digest],
    ['localhost:5000/image:1.0@' + digest, 'localhost:5000/image', digest],
  ];
  for (const [reference, name, tag] of cases) assert.deepEqual(splitImageReference(reference), { name, tag }, reference);
  for (const bad of ['', ':1', 'alpine:', 'alpine@', 'al pine']) assert.throws(() => splitImageReference(bad), /^Error: invalid image reference/, bad);
});

test('ping, version and info', { skip }, async () => {
  await docker().ping();
  const version = await docker().version();
  assert.match(version.apiVersion, /^1\.\d+$/);
  assert.ok(Number(version.apiVersion.split('.')[1]) >= 41, version.apiVersion);
  assert.match(version.version, /^\d+\.\d+/);
  assert.equal(version.os, 'linux');
  assert.ok(version.arch !== '');
  const info = await docker().info();
  assert.ok(['1', '2'].includes(info.cgroupVersion));
  assert.ok(['cgroupfs', 'systemd'].includes(info.cgroupDriver), info.cgroupDriver);
  assert.ok(info.name !== '');
  assert.equal(info.serverVersion, version.version);
});

test('imageInspect: a test image, its exposed ports, and undefined for a missing one', { skip }, async () => {
  const sh = await docker().imageInspect('runner-test/sh:1');
  assert.ok(sh);
  assert.match(sh.id, /^sha256:[0-9a-f]{64}$/);
  assert.deepEqual(sh.cmd, ['sh']);
  assert.equal(sh.entrypoint, null);
  assert.deepEqual(sh.exposedTcpPorts, []);
  assert.deepEqual(sh.repoDigests, []);
  assert.equal(sh.os, 'linux');
  assert.ok(sh.architecture !== '');
  assert.equal((await docker().imageInspect(sh.id))?.id, sh.id, 'by id');
  assert.deepEqual((await docker().imageInspect('runner-test/kv:1'))?.exposedTcpPorts, [6379]);
  assert.equal(await docker().imageInspect(`runner-test/missing-${RUN}:1`), undefined);
});

test('imagePull of an image no registry has fails fast with the daemon message, naming the image', { skip }, async () => {
  const reference = `localhost:1/runner-test/missing-${RUN}:1`;
  const started = Date.now();
  const error = await docker().imagePull(reference, { signal: AbortSignal.timeout(20_000) }).then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof DockerApiError, String(error));
  assert.ok(error.message.startsWith(`docker: pull ${reference}: POST /images/create: `), error.message);
  assert.ok(error.daemonMessage !== undefined && error.daemonMessage !== '' && error.message.includes(error.daemonMessage), error.message);
  assert.ok(error.kind === 'status' || error.kind === 'stream', error.kind);
  assert.ok(Date.now() - started < 15_000);
});

test('create, attach, start, wait: both output lines in order, exit code 3; logs and inspect tell the same', { skip }, async () => {
  // The daemon copies stdout and stderr in two goroutines: without a pause between them, their order is the race's.
  const run = await runContainer('echo out; sleep 0.1; echo err >&2; exit 3');
  assert.equal(await run.wait.exitCode, 3);
  await run.attached.done;
  assert.deepEqual(run.output().chunks, [{ stream: 'stdout', text: 'out\n' }, { stream: 'stderr', text: 'err\n' }]);

  assert.equal(await docker().containerLogs(run.id, { tail: 10 }), 'out\nerr\n');
  assert.equal(await docker().containerLogs(run.id, { tail: 1 }), 'err\n');
  assert.equal(await docker().containerLogs(run.id, { tail: 10, maxBytes: 2 }), 'r\n');
  const info = await docker().containerInspect(run.id);
  assert.ok(info);
  assert.equal(info.id, run.id);
  assert.equal(info.name, run.name);
  assert.deepEqual(info.state, { status: 'exited', running: false, exitCode: 3, pid: 0, oomKilled: false });
  assert.deepEqual(info.labels, LABELS);
  assert.equal(await docker().containerWait(run.id, 'not-running'), 3, 'a wait on a stopped container returns at once');
  assert.equal(await docker().containerKill(run.id, 'SIGTERM'), false, 'nothing to kill');
});

test('5 MB of output arrive byte-exact through the attach', { skip }, async () => {
  const run = await runContainer("head -c 5000000 /dev/zero | tr '\\0' a; echo; echo done >&2");
  assert.equal(await run.wait.exitCode, 0);
  await run.attached.done;
  const { bytes, stdoutNotA, chunks } = run.output();
  assert.deepEqual(bytes, { stdout: 5_000_000 + 1, stderr: 'done\n'.length });
  assert.equal(stdoutNotA, 1, 'all a, and the newline');
  assert.ok(chunks.length < 10, 'a large output is not kept');
});

test('a running container: listed by its label, inspected, measured, killed with SIGTERM through its init', { skip }, async () => {
  const run = await runContainer('echo ready; exec sleep 100', { init: true });
  const unique = { 'runner-test-run': RUN, 'runner-test-name': true } as const;
  const listed = await docker().containerList({ labels: { 'runner-test-run': RUN, [TEST_LABEL]: 'engine' }, all: true });
  assert.ok(listed.some((container) => container.id === run.id && container.names.includes(run.name) && container.labels[TEST_LABEL] === 'engine'));
  assert.deepEqual(await docker().containerList({ labels: unique, all: true }), [], 'a label no container has');
  const running = listed.find((container) => container.id === run.id);
  assert.equal(running?.state, 'running');

  const info = await docker().containerInspect(run.id);
  assert.equal(info?.state.running, true);
  assert.ok((info?.state.pid ?? 0) > 0);
  assert.match(info?.networkIps['bridge'] ?? '', /^\d+\.\d+\.\d+\.\d+$/);
  const stats = await docker().containerStats(run.id);
  assert.ok(stats.cpuTotalNs > 0, JSON.stringify(stats));
  assert.ok(stats.memoryUsage > 0, JSON.stringify(stats));
  if ((await docker().info()).cgroupVersion === '1') assert.ok((stats.memoryMaxUsage ?? 0) >= stats.memoryUsage, JSON.stringify(stats));

  const started = Date.now();
  assert.equal(await docker().containerKill(run.id, 'SIGTERM'), true);
  const code = await run.wait.exitCode;
  assert.ok(code === 143 || code === 137, String(code));
  assert.ok(Date.now() - started < 5000, `${Date.now() - started} ms`);
  await run.attached.done;
  assert.deepEqual(run.output().chunks, [{ stream: 'stdout', text: 'ready\n' }]);
});

test('an attach closed, or canceled by its signal, ends; a canceled wait rejects at once', { skip }, async () => {
  const { id } = await docker().containerCreate(uniqueName('runner-test-engine'), {
    Image: 'runner-test/sh:1',
    Cmd: ['sleep', '100'],
    Labels: LABELS,
    HostConfig: { Init: true },
  });
  const closed = await docker().containerAttach(id, { onOutput: () => undefined });
  const controller = new AbortController();
  const canceled = await docker().containerAttach(id, { onOutput: () => undefined, signal: controller.signal });
  await docker().containerStart(id);
  closed.close();
  await closed.done;
  controller.abort();
  await assert.rejects(canceled.done, (error: unknown) => error instanceof DockerApiError && error.kind === 'canceled');
  const waiting = docker().containerWait(id, 'not-running', AbortSignal.timeout(300));
  await assert.rejects(
    waiting,
    (error: unknown) => error instanceof DockerApiError && error.kind === 'canceled' && /^docker: POST \/containers\/\w+\/wait: canceled$/.test(error.message),
  );
  assert.equal((await docker().containerInspect(id))?.state.running, true, 'the container runs on');
  await docker().containerRemove(id, { force: true });
});

test('the daemon refusing a call: status, its message, the call named', { skip }, async () => {
  const name = uniqueName('runner-test-engine');
  const body = { Image: 'runner-test/sh:1', Cmd: ['true'], Labels: LABELS };
  const { id } = await docker().containerCreate(name, body);
  const error = await docker().containerCreate(name, body).then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof DockerApiError);
  assert.equal(error.status, 409);
  assert.equal(error.kind, 'status');
  assert.match(error.message, new RegExp(`^docker: POST /containers/create: 409 Conflict\\. The container name "/${name}" is already in use`));
  assert.match(error.daemonMessage ?? '', /^Conflict\. The container name/);
  await assert.rejects(
    docker().containerStart('runner-test-no-such-container'),
    /^DockerApiError: docker: POST \/containers\/runner-test-no-such-container\/start: 404 Not Found\. No such container/,
  );

  await docker().containerRemove(id, { force: true, volumes: true });
  assert.equal(await docker().containerInspect(id), undefined);
  await docker().containerRemove(id, { force: true });
  assert.equal(await docker().containerKill(id), false);
});

test('networks and volumes: created with labels, listed by them, removed (twice is fine)', { skip }, async () => {
  const networkName = uniqueName('runner-test-engine');
  const networkId = await docker().networkCreate(networkName, LABELS);
  assert.match(networkId, /^[0-9a-f]{64}$/);
  assert.deepEqual(await docker().networkList({ labels: { 'runner-test-run': RUN } }), [{ id: networkId, name: networkName, labels: LABELS }]);

  // A container on the network under an alias gets an address on it.
  const { id } = await docker().containerCreate(uniqueName('runner-test-engine'), {
    Image: 'runner-test/sh:1',
    Cmd: ['sleep', '100'],
    Labels: LABELS,
    HostConfig: { NetworkMode: networkName, Init: true },
    NetworkingConfig: { EndpointsConfig: { [networkName]: { Aliases: ['kv'] } } },
  });
  await docker().containerStart(id);
  assert.deepEqual(Object.keys((await docker().containerInspect(id))?.networkIps ?? {}), [networkName]);
  await docker().containerRemove(id, { force: true });

  await docker().networkRemove(networkId);
  await docker().networkRemove(networkId);
  assert.deepEqual(await docker().networkList({ labels: { 'runner-test-run': RUN } }), []);

  const volumeName = uniqueName('runner-test-engine');
  assert.equal(await docker().volumeCreate(volumeName, LABELS), volumeName);
  assert.deepEqual(await docker().volumeList({ labels: { 'runner-test-run': RUN, [TEST_LABEL]: true } }), [{ name: volumeName, labels: LABELS }]);
  await docker().volumeRemove(volumeName);
  await docker().volumeRemove(volumeName);
  assert.deepEqual(await docker().volumeList({ labels: { 'runner-test-run': RUN } }), []);
});

/** A fake daemon on 127.0.0.1 (a tcp:// host): `handle` answers every request. */
async function fakeDaemon(handle: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<{ engine: DockerEngine; close(): Promise<void> }> {
  const server = http.createServer(handle);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const client = new DockerEngine(`tcp://127.0.0.1:${port}`, { tlsVerify: false });
  return {
    engine: client,
    close: async () => {
      client.close();
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

test('a pull whose stream reports a failure after a 200 rejects with that message; progress arrives line by line', async () => {
  const seen: string[] = [];
  const fake = await fakeDaemon((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(200, { 'content-type': 'application/json' });
    // Lines split across writes, as a network splits them.
    res.write('{"status":"Pulling from a/b","id":"1"}\n{"status":"Down');
    res.write('loading","id":"layer","progress":"[=>  ] 1kB/2kB"}\n');
    setTimeout(() => res.end('{"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown"}\n'), 20);
  });
  try {
    const progress: PullProgress[] = [];
    const error = await fake.engine.imagePull('localhost:5000/a/b@sha256:abc', { onProgress: (line) => progress.push(line), platform: 'linux/amd64' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.deepEqual(seen, ['POST /v1.41/images/create?fromImage=localhost%3A5000%2Fa%2Fb&tag=sha256%3Aabc&platform=linux%2Famd64']);
    assert.ok(error instanceof DockerApiError, String(error));
    assert.equal(error.message, 'docker: pull localhost:5000/a/b@sha256:abc: POST /images/create: manifest unknown');
    assert.equal(error.kind, 'stream');
    assert.equal(error.status, 200);
    assert.deepEqual(progress, [
      { status: 'Pulling from a/b', id: '1', progress: undefined },
      { status: 'Downloading', id: 'layer', progress: '[=>  ] 1kB/2kB' },
    ]);
  } finally {
    await fake.close();
  }
});

test('a fake daemon: a plain-text error, a non-JSON answer, a stalled call canceled and not sent again', async () => {
  const requests: string[] = [];
  const fake = await fakeDaemon((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if (req.url?.startsWith('/v1.41/info')) {
      res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway\n');
    } else if (req.url?.startsWith('/v1.41/version')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end('<html>');
    } else {
      // Never answers.
    }
  });
  try {
    await assert.rejects(fake.engine.info(), (error: unknown) => {
      assert.ok(error instanceof DockerApiError);
      assert.equal(error.message, 'docker: GET /info: 502 Bad Gateway. bad gateway');
      assert.equal(error.status, 502);
      return true;
    });
    await assert.rejects(fake.engine.version(), /^DockerApiError: docker: GET \/version: the answer is not JSON: "<html>"$/);
    const started = Date.now();
    await assert.rejects(fake.engine.ping(AbortSignal.timeout(200)), (error: unknown) => {
      assert.ok(error instanceof DockerApiError);
      assert.equal(error.kind, 'canceled');
      assert.equal(error.message, 'docker: GET /_ping: canceled');
      return true;
    });
    assert.ok(Date.now() - started < 5000);
    // A POST canceled on a connection that served a call before is sent once (Deno would resend it on a reused one).
    await assert.rejects(
      fake.engine.containerKill('abc', 'SIGTERM', AbortSignal.timeout(200)),
      /^DockerApiError: docker: POST \/containers\/abc\/kill: canceled$/,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(requests, ['GET /v1.41/info', 'GET /v1.41/version', 'GET /v1.41/_ping', 'POST /v1.41/containers/abc/kill?signal=SIGTERM']);
  } finally {
    await fake.close();
  }
});

/** A fake daemon that answers every request on its socket itself, as the daemon answers an attach. */
async function rawDaemon(answer: (socket: Socket) => void): Promise<{ engine: DockerEngine; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      if (head.includes('\r\n\r\n')) return;
      head += chunk.toString('latin1');
      if (head.includes('\r\n\r\n')) answer(socket);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const client = new DockerEngine(`http://127.0.0.1:${port}`);
  return {
    engine: client,
    close: async () => {
      client.close();
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

test('an attach the daemon takes over: 200, then frames split anywhere until it closes the connection; a corrupt one fails', async () => {
  let corrupt = false;
  const fake = await rawDaemon((socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n');
    if (corrupt) {
      socket.end('plain text, as a TTY stream would be\n');
      return;
    }
    socket.write(Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 3, 0x68, 0x69, 0x0a, 2, 0, 0, 0));
    setTimeout(() => socket.end(Uint8Array.of(0, 0, 0, 3, 0x21, 0x21, 0x0a)), 20);
  });
  try {
    const output: string[] = [];
    const attached = await fake.engine.containerAttach('abc', { onOutput: (payload, stream) => output.push(`${stream}:${new TextDecoder().decode(payload)}`) });
    await attached.done;
    assert.deepEqual(output, ['stdout:hi\n', 'stderr:!!\n']);

    corrupt = true;
    const broken = await fake.engine.containerAttach('abc', { onOutput: () => undefined });
    await assert.rejects(broken.done, (error: unknown) => {
      assert.ok(error instanceof DockerApiError);
      assert.equal(error.kind, 'response');
      assert.match(error.message, /^docker: POST \/containers\/abc\/attach: not a multiplexed stream: frame header 70 6c 61 69 6e 20 74 65 at byte 0$/);
      return true;
    });
  } finally {
    await fake.close();
  }
});

test('no daemon at the address: a network error that names it and keeps its cause', async () => {
  const client = new DockerEngine(`unix:///tmp/runner-test-no-docker-${RUN}.sock`);
  try {
    await assert.rejects(client.ping(), (error: unknown) => {
      assert.ok(error instanceof DockerApiError);
      assert.equal(error.kind, 'network');
      assert.equal(error.status, undefined);
      assert.match(error.message, new RegExp(`^docker: GET /_ping: cannot talk to the daemon at unix:///tmp/runner-test-no-docker-${RUN}\\.sock: .*ENOENT`));
      assert.ok(error.cause instanceof Error);
      return true;
    });
  } finally {
    client.close();
  }
});
