// `runner --version` and `--help` answer without loading the server, the OpenTelemetry SDK or the
// job engine (issue 17): the modules Node loads for them, traced by a module hook, hold none of
// those. Node only: Bun and Deno have no module hooks to trace loads with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runtime } from '../../src/runtime/runtime.ts';
import { READY, runCli, RUNNER_ENTRY, startProcess } from '../support/runner-process.ts';

const TRACE = fileURLToPath(new URL('../support/module-load-trace.js', import.meta.url));
const NOT_NODE = runtime.name === 'node' ? false : "module hooks are Node's (no counterpart on Bun and Deno)";

async function loadedModules(args: readonly string[]): Promise<string[]> {
  const result = await runCli(args, { command: [process.execPath, '--import', TRACE, RUNNER_ENTRY] });
  assert.equal(result.code, 0, result.stderr);
  return result.stderr.split('\n').filter((line) => line.startsWith('LOADED ')).map((line) => line.slice('LOADED '.length));
}

const HEAVY = /\/src\/(server|telemetry|agent|build|executors|sources|profiling\/(cpu|heap)-pprof|artifacts|cache)\/|@opentelemetry|yazl|yauzl|bcryptjs/;

for (const args of [['--version'], ['--help'], ['run', '--help'], ['submit', '--help']]) {
  test(`runner ${args.join(' ')} loads only the command line's own modules`, { skip: NOT_NODE }, async () => {
    const loaded = await loadedModules(args);
    // The trace works: it saw the entry and the command line.
    assert.ok(loaded.some((url) => url.endsWith('/src/cli/main.js')), loaded.join('\n'));
    assert.deepEqual(loaded.filter((url) => HEAVY.test(url)), []);
  });
}

test('the trace sees the heavy modules where the run command loads them (the checks above could fail)', { skip: NOT_NODE }, async () => {
  // A config file that is not there fails after `run` was chosen: its modules, the server's among them, are loaded by then.
  const result = await runCli(['run', '--config', '/nonexistent/config.toml'], { command: [process.execPath, '--import', TRACE, RUNNER_ENTRY] });
  assert.equal(result.code, 2, result.stderr);
  const loaded = result.stderr.split('\n').filter((line) => line.startsWith('LOADED ')).map((line) => line.slice('LOADED '.length));
  assert.ok(loaded.some((url) => /\/src\/server\//.test(url) && HEAVY.test(url)), loaded.join('\n'));
  assert.ok(loaded.some((url) => url.includes('@opentelemetry')), loaded.join('\n'));
});

/** The job engine: stages, logs, artifacts, caches and the zip libraries. */
const JOB_ENGINE = /\/src\/(build|trace|artifacts|cache)\/|\/yazl\/|\/yauzl\//;
/** The docker executor past what a runner knows of it before it is loaded (docker-info.ts, docker-host.ts). */
const DOCKER_EXECUTOR = /\/src\/executors\/docker\/(?!docker-(info|host)\.js$)/;

test('runner run loads the job engine with its first job, not at start', { skip: NOT_NODE }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runner-lazy-'));
  const runner = await startProcess(['run', '--working-directory', dir], READY, { command: [process.execPath, '--import', TRACE, RUNNER_ENTRY] });
  try {
    const loaded = (): string[] => runner.logs().split('\n').filter((line) => line.startsWith('LOADED ')).map((line) => line.slice('LOADED '.length));
    assert.ok(loaded().some((url) => url.includes('/src/agent/')), 'the trace sees the agent');
    assert.deepEqual(loaded().filter((url) => JOB_ENGINE.test(url)), [], 'nothing of the job engine before a job');
    assert.deepEqual(loaded().filter((url) => DOCKER_EXECUTOR.test(url)), [], 'a runner without a docker runner never loads its executor');
    writeFileSync(join(dir, 'job.toml'), 'name = "lazy"\nscript = ["true"]\n');
    const submitted = await runCli(['submit', '--wait', '--working-directory', dir, join(dir, 'job.toml')]);
    assert.equal(submitted.code, 0, submitted.stderr);
    assert.ok(loaded().some((url) => url.endsWith('/src/build/build.js')), 'the first job loaded it');
  } finally {
    await runner.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The web config's loader and what it needs only with a web config: the YAML parser, and bcrypt only with a user to check. */
const WEB_CONFIG_LOADER = /\/src\/server\/web-config\/(load|parse)-web-config\.js$|\/node_modules\/yaml\//;
const BCRYPT = /\/node_modules\/bcryptjs\//;

test('runner run without a web config loads neither the web config loader nor YAML nor bcrypt', { skip: NOT_NODE }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runner-lazy-'));
  const runner = await startProcess(['run', '--working-directory', dir, '--metrics-server', '127.0.0.1:0'], READY, {
    cwd: dir,
    command: [process.execPath, '--import', TRACE, RUNNER_ENTRY],
  });
  try {
    const loaded = runner.logs().split('\n').filter((line) => line.startsWith('LOADED ')).map((line) => line.slice('LOADED '.length));
    assert.ok(loaded.some((url) => url.endsWith('/src/server/web-config/web-access.js')), 'the trace sees the web access rules');
    assert.deepEqual(loaded.filter((url) => WEB_CONFIG_LOADER.test(url) || BCRYPT.test(url)), []);
  } finally {
    await runner.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('runner run loads YAML with its web config, and bcrypt with the first basic auth check', { skip: NOT_NODE }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runner-lazy-'));
  // The exporter toolkit's hash of "fakepassword" (cost 10).
  writeFileSync(join(dir, 'web.yml'), "basic_auth_users:\n  alice: '$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi'\n");
  const runner = await startProcess(['run', '--working-directory', dir, '--metrics-server', '127.0.0.1:0', '--web-config-file', 'web.yml'], READY, {
    cwd: dir,
    command: [process.execPath, '--import', TRACE, RUNNER_ENTRY],
  });
  try {
    const loaded = (): string[] => runner.logs().split('\n').filter((line) => line.startsWith('LOADED ')).map((line) => line.slice('LOADED '.length));
    assert.ok(loaded().some((url) => /\/node_modules\/yaml\//.test(url)), 'the web config loaded YAML');
    assert.deepEqual(loaded().filter((url) => BCRYPT.test(url)), [], 'no bcrypt before a check');
    const response = await fetch(`${runner.url}/metrics`, { headers: { authorization: `Basic ${Buffer.from('alice:fakepassword').toString('base64')}` } });
    await response.arrayBuffer();
    assert.equal(response.status, 200);
    assert.ok(loaded().some((url) => BCRYPT.test(url)), 'the first check loaded bcrypt');
  } finally {
    await runner.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
