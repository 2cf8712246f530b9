// The CLI as users run it: a child process on the same runtime as the test.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runtime } from '../../src/runtime/runtime.ts';
import { packageRoot, versionInfo } from '../../src/version.ts';
import { runCli, startProcess, startRunner } from '../support/runner-process.ts';
import { assertOneLineError } from '../support/assertions.ts';

/** Every directory the tests made, removed when they are done. */
const made: string[] = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
});
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'runner-cli-'));
  made.push(dir);
  return dir;
};

/** The checkout's revision when git can tell (it can in CI), else undefined. */
function gitRevision(): string | undefined {
  const result = spawnSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: packageRoot(), encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

test('--version prints name, version, revision, runtime and its version', async () => {
  const { code, stdout } = await runCli(['--version']);
  assert.equal(code, 0);
  assert.match(stdout, /^runner \d+\.\d+\.\d+\n/);
  const revision = gitRevision();
  // build-info.json is written at build time, so a later commit makes it lag: compare lengths, not values.
  assert.match(stdout, revision === undefined ? /Git revision: \S+/ : /Git revision: [0-9a-f]{12}\n/);
  assert.ok(stdout.includes(`Runtime:      ${runtime.name} ${runtime.version}`), stdout);
});

test('extra arguments after --version are a usage error', async () => {
  const { code, stderr } = await runCli(['--version', 'extra']);
  assert.equal(code, 2);
  assertOneLineError(stderr, '"extra"');
});

test('an empty --config is a usage error, not the current directory', async () => {
  const { code, stderr } = await runCli(['run', '--config=']);
  assert.equal(code, 2);
  assertOneLineError(stderr, '--config is empty (expected a file path)');
});

test('--help lists the commands and run --help describes every flag', async () => {
  const main = await runCli(['--help']);
  assert.equal(main.code, 0);
  for (const word of ['runner run', '--version', '--help']) assert.ok(main.stdout.includes(word), word);
  const run = await runCli(['run', '--help']);
  assert.equal(run.code, 0);
  for (const flag of ['--config', '--metrics-server', '--listen-address', '--working-directory', '--help', '9252']) {
    assert.ok(run.stdout.includes(flag), `${flag} in run --help`);
  }
  // The defaults, the signals and the exit codes, as submit --help gives its own.
  assert.match(run.stdout, /metrics server is\s+off unless --metrics-server or metrics_server sets its address/);
  assert.match(run.stdout, /queue \.\/queue/);
  for (const signal of ['SIGINT, SIGTERM', 'SIGQUIT', 'SIGHUP']) assert.match(run.stdout, new RegExp(`^  ${signal}\\s`, 'm'), signal);
  assert.match(run.stdout, /^Exit codes: 0 stopped by a signal, 1 the runner failed .*\n.*, 2 bad usage/m);
  for (const command of ['runner list', 'runner cancel']) assert.ok(main.stdout.includes(command), command);
});

test('an unknown flag is a one-line usage error with exit code 2', async () => {
  const { code, stderr } = await runCli(['run', '--bogus']);
  assert.equal(code, 2);
  assertOneLineError(stderr, '--bogus', 'runner run --help');
});

test('a flag without its value is a usage error', async () => {
  const { code, stderr } = await runCli(['run', '--config']);
  assert.equal(code, 2);
  assertOneLineError(stderr, '--config needs a value');
});

test('an unknown command is a usage error', async () => {
  const { code, stderr } = await runCli(['sprint']);
  assert.equal(code, 2);
  assertOneLineError(stderr, '"sprint"', 'expected run');
});

test('a bad metrics server address is a one-line error naming the value', async () => {
  for (const bad of [':99999', '[::1', 'host:port:extra', ':nope']) {
    const { code, stderr } = await runCli(['run', '--metrics-server', bad]);
    assert.equal(code, 2, bad);
    assertOneLineError(stderr, JSON.stringify(bad), 'expected [HOST][:PORT]');
  }
});

test('a bad config value is a one-line error naming the key', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'bad.toml'), 'concurrent = 0\n');
  const { code, stderr } = await runCli(['run', '--config', join(dir, 'bad.toml')]);
  assert.equal(code, 2);
  assertOneLineError(stderr, 'bad.toml: concurrent: expected an integer from 1 to 10000, got integer 0');
});

test('a config syntax error names file, line and column', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'config.toml'), 'concurrent = 1\n[[runners]\nname = "x"\n');
  const { code, stderr } = await runCli(['run'], { cwd: dir });
  assert.equal(code, 2);
  assertOneLineError(stderr, `${join(dir, 'config.toml')}:2:`, 'TOML syntax error');
});

test('a missing config file given with --config is an error', async () => {
  const { code, stderr } = await runCli(['run', '--config', '/nonexistent/config.toml']);
  assert.equal(code, 2);
  assertOneLineError(stderr, '/nonexistent/config.toml', 'no such file');
});

test('a working directory that does not exist is an error', async () => {
  const { code, stderr } = await runCli(['run', '--working-directory', '/nonexistent/dir']);
  assert.equal(code, 2);
  assertOneLineError(stderr, '"/nonexistent/dir"', 'does not exist');
});

test('a port in use is a one-line error with exit code 1', async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const { port } = blocker.address() as AddressInfo;
  const dir = tempDir();
  try {
    const { code, stderr } = await runCli(['run', '--metrics-server', `127.0.0.1:${port}`], { cwd: dir });
    assert.equal(code, 1);
    const errorLine = stderr.trimEnd().split('\n').at(-1)!;
    assert.ok(errorLine.includes(`127.0.0.1:${port} is already in use`), stderr);
    assert.doesNotMatch(stderr, /\n\s+at /);
  } finally {
    blocker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`${signal} stops the runner cleanly: server closed, exit 0`, async () => {
    // In a directory of its own: the runner writes its .runner_system_id beside ./config.toml.
    const dir = tempDir();
    const runner = await startRunner([], { cwd: dir });
    try {
      assert.equal((await fetch(`${runner.url}/health/ready`)).status, 200);
      const result = await runner.stop(signal);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, new RegExp(`Stopping runner\\s+signal=${signal}`));
      assert.match(result.stderr, /Runner stopped/);
      await assert.rejects(fetch(`${runner.url}/health/ready`), 'server no longer answers');
    } finally {
      runner.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('without config.toml the runner starts on built-in defaults with the server disabled', async () => {
  const dir = tempDir();
  const runner = await startProcess(['run'], /Runner ready/, { cwd: dir });
  try {
    const logs = runner.logs();
    assert.match(logs, /No config\.toml found: using built-in defaults/);
    assert.match(logs, /metrics server disabled/);
    // Where `runner submit` must put jobs for this runner to take them.
    assert.ok(logs.includes(`Serving runner  runner=local executor=shell queue_dir=${join(realpathSync(dir), 'queue')}`), logs);
    assert.equal((await runner.stop()).code, 0);
  } finally {
    runner.kill();
  }
});

test('./config.toml is read; the flag wins over metrics_server in the file', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'config.toml'), 'concurrent = 3\nmetrics_server = "127.0.0.1:1"\nunknown_thing = true\n');
  const runner = await startRunner([], { cwd: dir });
  try {
    assert.notEqual(new URL(runner.url).port, '1');
    assert.match(runner.logs(), /Configuration loaded\s+file=\S*config\.toml/);
    assert.match(runner.logs(), /WARN\s+\S*config\.toml: unknown key unknown_thing \(ignored\)/);
    const body = await (await fetch(`${runner.url}/metrics`)).text();
    assert.match(body, /^ci_runner_concurrent 3$/m);
  } finally {
    runner.kill();
  }
});

test('--metrics-server "" disables a server the file configures', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'config.toml'), 'metrics_server = "127.0.0.1:0"\nshutdown_timeout = 0\n');
  const runner = await startProcess(['run', '--metrics-server', ''], /Runner ready/, { cwd: dir });
  try {
    assert.match(runner.logs(), /metrics server disabled/);
    assert.doesNotMatch(runner.logs(), /Metrics server listening/);
    // shutdown_timeout = 0 means the default (as in GitLab Runner), not "exit at once".
    const result = await runner.stop();
    assert.equal(result.code, 0, result.stderr);
  } finally {
    runner.kill();
  }
});

test('metrics_server from the file is used without a flag; --listen-address is an alias', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'config.toml'), 'listen_address = "127.0.0.1:0"\nlog_format = "json"\n');
  const fromFile = await startProcess(['run'], /"msg":"Runner ready"/, { cwd: dir });
  try {
    const lines = fromFile.logs().trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    const listening = lines.find((line) => line['msg'] === 'Metrics server listening');
    assert.match(String(listening?.['address']), /^127\.0\.0\.1:\d+$/);
    assert.ok(lines.every((line) => typeof line['time'] === 'string' && typeof line['level'] === 'string'));
  } finally {
    fromFile.kill();
  }
  const alias = await startProcess(['run', '--listen-address', '127.0.0.1:0'], /Metrics server listening\s+address=127\.0\.0\.1:\d+/, { cwd: tempDir() });
  alias.kill();
});

/** The system ID `runner run` logged at startup. */
function loggedSystemId(logs: string): string | undefined {
  return /Runner system ID\s+system_id=(\S+)/.exec(logs)?.[1];
}

test('runner run keeps its system ID in .runner_system_id beside config.toml (0600), logs it and labels ci_runner_version_info with it', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'config.toml'), 'runners = []\n');
  const path = join(dir, '.runner_system_id');
  const first = await startRunner([], { cwd: dir });
  let id: string | undefined;
  try {
    id = loggedSystemId(first.logs());
    assert.match(id ?? '', /^[sr]_[0-9a-zA-Z]{12}$/, first.logs());
    assert.equal(readFileSync(path, 'utf8'), id, 'the ID alone, no newline');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const body = await (await fetch(`${first.url}/metrics`)).text();
    const info = body.split('\n').find((line) => line.startsWith('ci_runner_version_info{'));
    assert.ok(info?.includes(`system_id="${id}"`) && info.endsWith('} 1'), info);
  } finally {
    first.kill();
  }
  // A kept ID is used as it is (here one GitLab Runner could have written on a machine without a machine ID).
  writeFileSync(path, 'r_KeptBefore12\n');
  const second = await startRunner([], { cwd: dir });
  try {
    assert.equal(loggedSystemId(second.logs()), 'r_KeptBefore12');
    assert.equal(readFileSync(path, 'utf8'), 'r_KeptBefore12\n', 'a valid file is left as it is');
    assert.match(await (await fetch(`${second.url}/metrics`)).text(), /^ci_runner_version_info\{[^}]*system_id="r_KeptBefore12"[^}]*\} 1$/m);
  } finally {
    second.kill();
  }
  // A corrupt file is replaced with a valid ID, as GitLab Runner does.
  writeFileSync(path, 'not an id');
  const third = await startRunner([], { cwd: dir });
  try {
    const replaced = loggedSystemId(third.logs());
    assert.match(replaced ?? '', /^[sr]_[0-9a-zA-Z]{12}$/);
    assert.equal(readFileSync(path, 'utf8'), replaced);
  } finally {
    third.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the system ID file goes beside the --config file; one that cannot be read is a one-line error', async () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'etc'));
  writeFileSync(join(dir, 'etc', 'runner.toml'), 'runners = []\n');
  const runner = await startRunner(['--config', 'etc/runner.toml'], { cwd: dir });
  try {
    assert.equal(readFileSync(join(dir, 'etc', '.runner_system_id'), 'utf8'), loggedSystemId(runner.logs()));
  } finally {
    runner.kill();
    rmSync(dir, { recursive: true, force: true });
  }
  const broken = tempDir();
  try {
    writeFileSync(join(broken, 'config.toml'), 'runners = []\n');
    mkdirSync(join(broken, '.runner_system_id'));
    const { code, stderr } = await runCli(['run'], { cwd: broken });
    assert.equal(code, 2);
    assertOneLineError(stderr, `${join(broken, '.runner_system_id')}: cannot read the runner's system ID: EISDIR`);
  } finally {
    rmSync(broken, { recursive: true, force: true });
  }
});

test("runner submit --wait shows a local job's log framed as GitLab Runner frames it: header, stage titles, commands, closing line", async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'config.toml'), 'check_interval = 0.1\n');
  writeFileSync(join(dir, 'ok.toml'), 'name = "ok"\nscript = ["echo hello"]\n');
  writeFileSync(join(dir, 'bad.toml'), 'name = "bad"\nscript = ["exit 4"]\n');
  // HOME there: each stage is a login shell, and must not depend on the tester's ~/.profile.
  const runner = await startRunner([], { cwd: dir, env: { HOME: dir } });
  try {
    const ok = await runCli(['submit', '--wait', 'ok.toml'], { cwd: dir });
    assert.equal(ok.code, 0, ok.stderr);
    const lines = ok.stdout.split('\n');
    assert.match(lines[0]!, /^\S+$/, 'the job id first');
    // Runner-side lines as GitLab Runner writes them (\x1b[0K ... \x1b[0;m), no timestamps for a local job.
    assert.equal(lines[1], `\x1b[0KRunning with ${versionInfo.name} ${versionInfo.version} (${versionInfo.revision.slice(0, 8)})\x1b[0;m`);
    for (
      const expected of [
        '\x1b[0K\x1b[36;1mPreparing the "shell" executor\x1b[0;m\x1b[0;m',
        '\x1b[0K\x1b[36;1mPreparing environment\x1b[0;m\x1b[0;m',
        '\x1b[0K\x1b[36;1mExecuting "step_script" stage of the job script\x1b[0;m\x1b[0;m',
        '\x1b[32;1m$ echo hello\x1b[0;m',
        'hello',
        '\x1b[0K\x1b[36;1mCleaning up project directory and file based variables\x1b[0;m\x1b[0;m',
      ]
    ) {
      assert.ok(lines.includes(expected), `${JSON.stringify(expected)} in:\n${ok.stdout}`);
    }
    assert.equal(lines.at(-2), '\x1b[32;1mJob succeeded\x1b[0;m');
    assert.match(ok.stderr, /: success\n$/);
    const bad = await runCli(['submit', '--wait', 'bad.toml'], { cwd: dir });
    assert.notEqual(bad.code, 0);
    assert.ok(bad.stdout.includes('\x1b[32;1m$ exit 4\x1b[0;m\n'), bad.stdout);
    assert.ok(bad.stdout.endsWith('\x1b[31;1mERROR: Job failed: exit status 4\x1b[0;m\n'), bad.stdout);
  } finally {
    runner.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a runner added by a reload (SIGHUP) gets its own start line naming its queue; the unchanged ones are not repeated', async () => {
  const dir = realpathSync(tempDir());
  writeFileSync(join(dir, 'config.toml'), '[[runners]]\nname = "first"\n');
  const runner = await startProcess(['run'], /Runner ready/, { cwd: dir });
  try {
    writeFileSync(join(dir, 'config.toml'), '[[runners]]\nname = "first"\n[[runners]]\nname = "added"\nqueue_dir = "other-queue"\n');
    process.kill(runner.pid, 'SIGHUP');
    await runner.waitForLog(/Serving runner\s+runner=added executor=shell queue_dir=\S+/);
    const logs = runner.logs();
    assert.ok(logs.includes(`Serving runner  runner=added executor=shell queue_dir=${join(dir, 'other-queue')}`), logs);
    assert.equal(logs.match(/Serving runner\s+runner=first /g)?.length, 1, logs);
  } finally {
    runner.kill();
  }
});
